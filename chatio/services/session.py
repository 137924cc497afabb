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

    @property
    def user_id(self) -> str:
        return self.identity.user_id
