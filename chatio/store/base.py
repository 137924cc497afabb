"""The history store interface: ordered, idempotent, bounded room history."""
from __future__ import annotations

import dataclasses
from typing import Any, Protocol


@dataclasses.dataclass(frozen=True)
class Draft:
    """A message before the store gives it its place (``seq``) in the room."""

    id: str
    room: str
    user_id: str
    user_name: str
    text: str
    ts: int
    client_id: str | None = None

    def stored_as(self, seq: int) -> dict[str, Any]:
        """The wire form of this message at position ``seq``."""
        message: dict[str, Any] = {
            "id": self.id,
            "seq": seq,
            "room": self.room,
            "user": {"id": self.user_id, "name": self.user_name},
            "text": self.text,
            "ts": self.ts,
        }
        if self.client_id is not None:
            message["client_id"] = self.client_id
        return message


@dataclasses.dataclass(frozen=True)
class Appended:
    """The outcome of an append: the stored message, and whether it was a retry."""

    message: dict[str, Any]
    duplicate: bool


@dataclasses.dataclass(frozen=True)
class Page:
    """Messages oldest first; ``more`` says whether others lie beyond them in
    the direction of the read, ``gap`` that retention dropped messages the
    reader asked for."""

    messages: list[dict[str, Any]]
    more: bool
    gap: bool = False


class HistoryStore(Protocol):
    """Room history. Implementations raise ``errors.Unavailable`` when the
    backend cannot be reached; a failed append has stored nothing."""

    async def open(self) -> None: ...

    async def close(self) -> None: ...

    async def ping(self) -> None:
        """Return when the backend answers; raise ``Unavailable`` otherwise."""

    async def append(self, draft: Draft) -> Appended:
        """Store ``draft`` with the room's next ``seq``, atomically, unless
        ``(room, user_id, client_id)`` was stored within the idempotency
        window: then return that message with ``duplicate=True``."""

    async def find_sent(self, room: str, user_id: str,
                        client_id: str) -> dict[str, Any] | None:
        """The message ``user_id`` stored with ``client_id`` in ``room``
        within the idempotency window, if any."""

    async def latest(self, room: str, limit: int) -> Page:
        """The newest ``limit`` messages."""

    async def after(self, room: str, seq: int, limit: int) -> Page:
        """Up to ``limit`` messages with ``seq`` greater than ``seq``."""

    async def before(self, room: str, seq: int, limit: int) -> Page:
        """Up to ``limit`` messages with ``seq`` less than ``seq``, the
        nearest ones."""

    async def last_seq(self, room: str) -> int:
        """The ``seq`` of the room's newest message; 0 for a new room."""
