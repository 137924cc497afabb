"""What the server knows about one connected socket."""
from __future__ import annotations

import dataclasses

from ..tokens import Identity


@dataclasses.dataclass
class SocketSession:
    """One namespace connection: who it is and which rooms it joined."""

    sid: str
    identity: Identity
    address: str
    rooms: set[str] = dataclasses.field(default_factory=set)
    # Connection state recovery: the socket's secret session id, and per
    # /chat room what the client is known to have: every seq up to the
    # first item and those listed, of the room's epoch (the third).
    pid: str | None = None
    positions: dict[str, tuple[int, tuple[int, ...], str]] = dataclasses.field(
        default_factory=dict)

    @property
    def user_id(self) -> str:
        return self.identity.user_id
