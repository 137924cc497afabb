"""The history store interface: ordered, idempotent, bounded room history."""
from __future__ import annotations

import dataclasses
import os
from typing import Any, NamedTuple, Protocol

from ..constants import KIND_DELETE, KIND_EDIT

EPOCH_BYTES = 8


def new_epoch() -> str:
    """A fresh room epoch: 16 random lowercase hex characters."""
    return os.urandom(EPOCH_BYTES).hex()


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

    def stored_as(self, seq: int, epoch: str) -> dict[str, Any]:
        """The wire form of this message at position ``seq`` of ``epoch``."""
        message: dict[str, Any] = {
            "id": self.id,
            "seq": seq,
            "epoch": epoch,
            "room": self.room,
            "user": {"id": self.user_id, "name": self.user_name},
            "text": self.text,
            "ts": self.ts,
        }
        if self.client_id is not None:
            message["client_id"] = self.client_id
        return message


@dataclasses.dataclass(frozen=True)
class Change:
    """An edit (``text`` given) or delete (``text`` None) of the message at
    ``target``, before the store gives it its own ``seq``. ``by_backend``
    lifts the rule that only the author may change a message."""

    id: str
    room: str
    user_id: str
    user_name: str
    target: int
    ts: int
    text: str | None = None
    client_id: str | None = None
    by_backend: bool = False

    @property
    def kind(self) -> str:
        return KIND_DELETE if self.text is None else KIND_EDIT

    def stored_as(self, seq: int, epoch: str) -> dict[str, Any]:
        """The wire form of this log entry at position ``seq`` of ``epoch``."""
        entry: dict[str, Any] = {
            "id": self.id,
            "seq": seq,
            "epoch": epoch,
            "room": self.room,
            "user": {"id": self.user_id, "name": self.user_name},
            "kind": self.kind,
            "target": self.target,
            "ts": self.ts,
        }
        if self.text is not None:
            entry["text"] = self.text
        if self.client_id is not None:
            entry["client_id"] = self.client_id
        return entry


class Reacted(NamedTuple):
    """The outcome of a reaction: the emoji's count on the message now, and
    whether this call changed it."""

    count: int
    changed: bool


class ReadState(NamedTuple):
    """A user's read position in a room and the messages of others after it
    (counted up to ``UNREAD_COUNT_LIMIT``)."""

    seq: int
    unread: int


@dataclasses.dataclass(frozen=True)
class Reader:
    """Someone whose read position is ``seq``."""

    user_id: str
    name: str
    seq: int


@dataclasses.dataclass(frozen=True)
class Appended:
    """The outcome of an append: the stored message, and whether it was a retry."""

    message: dict[str, Any]
    duplicate: bool


@dataclasses.dataclass(frozen=True)
class Page:
    """Messages oldest first; ``more`` says whether others lie beyond them in
    the direction of the read, ``gap`` that retention dropped messages the
    reader asked for. ``epoch`` and ``last_seq`` are the room's position,
    read in the same atomic step as the messages."""

    messages: list[dict[str, Any]]
    more: bool
    gap: bool = False
    epoch: str = dataclasses.field(kw_only=True)
    last_seq: int = dataclasses.field(kw_only=True)


class HistoryStore(Protocol):
    """Room history. Implementations raise ``errors.Unavailable`` when the
    backend cannot be reached; a failed append has stored nothing.

    Every room's history has an epoch (``new_epoch``), created with it (by
    the first append, or the first read of an empty room) and kept as long
    as that history is: a history that starts over (lost or replaced
    storage) has a new one, and its ``seq`` starts again at 1. Every entry
    returned carries its ``epoch``."""

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

    async def amend(self, change: Change) -> Appended:
        """Store ``change`` as a log entry with the room's next ``seq`` and
        apply it to its target, atomically; idempotent by ``client_id`` like
        ``append``. A delete removes the text from the target, from the
        edits of it and from their idempotency records. Raises ``NotFound``
        unless the target is a kept, undeleted message, and ``Forbidden``
        when ``change.user_id`` is not its author (unless ``by_backend``)."""

    async def react(self, room: str, seq: int, user_id: str, emoji: str,
                    on: bool) -> Reacted:
        """Add (``on``) or remove ``user_id``'s ``emoji`` on the message at
        ``seq``, atomically. Raises ``NotFound`` like ``amend``, and
        ``TooManyReactions`` for a new emoji beyond the per-message limit."""

    async def mark_read(self, room: str, user_id: str, user_name: str,
                        seq: int) -> tuple[int, bool]:
        """Move the read position forward to ``seq`` (never back, never
        past the newest entry); return the position now and whether it
        moved."""

    async def read_state(self, room: str, user_id: str) -> ReadState:
        """The read position (0 when none) and the unread count."""

    async def readers(self, room: str, seq: int, limit: int) -> list[Reader]:
        """Up to ``limit`` readers whose position is at least ``seq``,
        furthest first."""

    async def latest(self, room: str, limit: int,
                     viewer: str | None = None) -> Page:
        """The newest ``limit`` entries. Every page holds messages in their
        current state, with ``reactions`` as seen by ``viewer``."""

    async def after(self, room: str, seq: int, limit: int,
                    viewer: str | None = None) -> Page:
        """Up to ``limit`` entries with ``seq`` greater than ``seq``."""

    async def before(self, room: str, seq: int, limit: int,
                     viewer: str | None = None) -> Page:
        """Up to ``limit`` entries with ``seq`` less than ``seq``, the
        nearest ones."""

    async def last_seq(self, room: str) -> int:
        """The ``seq`` of the room's newest entry; 0 for a new room."""

    async def epoch(self, room: str) -> str:
        """The room's epoch, created now if its history has none yet."""
