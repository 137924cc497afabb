"""History kept in process memory: for tests and throwaway nodes."""
from __future__ import annotations

import time
from collections import deque
from typing import Any

from ..constants import IDEMPOTENCY_WINDOW_SECONDS, UNREAD_COUNT_LIMIT
from .base import (Appended, Change, Draft, Page, Reacted, Reader, ReadState,
                   new_epoch)
from .entries import (applied, check_change, check_reaction, decorated,
                      is_live_message, scrubbed)

SendKey = tuple[str, str, str]


class MemoryHistoryStore:
    """Implements ``HistoryStore`` with a bounded deque per room."""

    def __init__(self, retention: int,
                 idempotency_window: float = IDEMPOTENCY_WINDOW_SECONDS) -> None:
        self._retention = retention
        self._window = idempotency_window
        self._rooms: dict[str, deque[dict[str, Any]]] = {}
        self._last_seq: dict[str, int] = {}
        self._epochs: dict[str, str] = {}
        self._sends: dict[SendKey, tuple[float, dict[str, Any]]] = {}
        # (room, target seq) -> seqs of the edits of that message
        self._edits: dict[tuple[str, int], list[int]] = {}
        # (room, seq) -> emoji -> users, in the order emoji were first used
        self._reactions: dict[tuple[str, int], dict[str, set[str]]] = {}
        # room -> user -> (seq, name)
        self._reads: dict[str, dict[str, tuple[int, str]]] = {}

    async def open(self) -> None:
        pass

    async def close(self) -> None:
        pass

    async def ping(self) -> None:
        pass

    async def append(self, draft: Draft) -> Appended:
        return self._store(draft, lambda: None)

    async def amend(self, change: Change) -> Appended:
        def apply() -> None:
            check_change(self._entry(change.room, change.target), change)
        return self._store(change, apply)

    def _store(self, draft: Draft | Change,
               check: Any) -> Appended:
        now = time.monotonic()
        key = None
        if draft.client_id is not None:
            key = (draft.room, draft.user_id, draft.client_id)
            seen = self._sends.get(key)
            if seen is not None and now - seen[0] < self._window:
                return Appended(seen[1], duplicate=True)
        check()
        seq = self._last_seq.get(draft.room, 0) + 1
        self._last_seq[draft.room] = seq
        message = draft.stored_as(seq, self._epoch(draft.room))
        # Applied before the append trims: a delete scrubs its target even
        # when the delete itself pushes the target out of retention.
        if isinstance(draft, Change):
            self._apply(draft, seq)
        room = self._rooms.setdefault(draft.room, deque(maxlen=self._retention))
        if len(room) == self._retention:
            self._forget(draft.room, room[0])
        room.append(message)
        if key is not None:
            self._sends.pop(key, None)  # keep the dict in time order
            self._sends[key] = (now, message)
            self._forget_old_sends(now)
        return Appended(message, duplicate=False)

    def _apply(self, change: Change, seq: int) -> None:
        target = self._entry(change.room, change.target)
        assert target is not None
        self._replace(change.room, applied(target, change))
        edits = self._edits.setdefault((change.room, change.target), [])
        if change.text is not None:
            edits.append(seq)
            return
        self._reactions.pop((change.room, change.target), None)
        for edit_seq in self._edits.pop((change.room, change.target), []):
            edit = self._entry(change.room, edit_seq)
            if edit is not None:
                self._replace(change.room, scrubbed(edit))

    def _replace(self, room: str, body: dict[str, Any]) -> None:
        kept = self._rooms[room]
        kept[body["seq"] - kept[0]["seq"]] = body
        client_id = body.get("client_id")
        if client_id is not None:
            key = (room, body["user"]["id"], client_id)
            seen = self._sends.get(key)
            if seen is not None and seen[1]["seq"] == body["seq"]:
                self._sends[key] = (seen[0], body)

    def _entry(self, room: str, seq: int) -> dict[str, Any] | None:
        kept = self._rooms.get(room)
        if not kept or not kept[0]["seq"] <= seq <= kept[-1]["seq"]:
            return None
        return kept[seq - kept[0]["seq"]]

    def _forget(self, room: str, oldest: dict[str, Any]) -> None:
        self._reactions.pop((room, oldest["seq"]), None)
        self._edits.pop((room, oldest["seq"]), None)

    async def react(self, room: str, seq: int, user_id: str, emoji: str,
                    on: bool) -> Reacted:
        reactions = self._reactions.get((room, seq), {})
        check_reaction(self._entry(room, seq), reactions, emoji, on)
        users = reactions.get(emoji, set())
        changed = (user_id in users) != on
        if changed and on:
            reactions = self._reactions.setdefault((room, seq), reactions)
            reactions.setdefault(emoji, users).add(user_id)
        elif changed:
            users.discard(user_id)
            if not users:
                del reactions[emoji]
        return Reacted(len(users), changed)

    async def mark_read(self, room: str, user_id: str, user_name: str,
                        seq: int) -> tuple[int, bool]:
        readers = self._reads.setdefault(room, {})
        current = readers.get(user_id, (0, user_name))[0]
        position = max(current, min(seq, self._last_seq.get(room, 0)))
        if position > current or user_id not in readers:
            readers[user_id] = (position, user_name)
        return position, position > current

    async def read_state(self, room: str, user_id: str) -> ReadState:
        position = self._reads.get(room, {}).get(user_id, (0, ""))[0]
        unread = 0
        for entry in self._rooms.get(room, ()):
            if (entry["seq"] > position and is_live_message(entry)
                    and entry["user"]["id"] != user_id):
                unread += 1
                if unread == UNREAD_COUNT_LIMIT:
                    break
        return ReadState(position, unread)

    async def readers(self, room: str, seq: int, limit: int) -> list[Reader]:
        found = [Reader(user_id, name, at) for user_id, (at, name)
                 in self._reads.get(room, {}).items() if at >= seq]
        found.sort(key=lambda r: (-r.seq, r.user_id))
        return found[:limit]

    async def find_sent(self, room: str, user_id: str,
                        client_id: str) -> dict[str, Any] | None:
        seen = self._sends.get((room, user_id, client_id))
        if seen is None or time.monotonic() - seen[0] >= self._window:
            return None
        return seen[1]

    async def latest(self, room: str, limit: int,
                     viewer: str | None = None) -> Page:
        kept = self._rooms.get(room, ())
        start = max(0, len(kept) - limit)
        return self._page(room, list(kept)[start:], start > 0, viewer)

    async def after(self, room: str, seq: int, limit: int,
                    viewer: str | None = None) -> Page:
        kept = list(self._rooms.get(room, ()))
        newer = [m for m in kept if m["seq"] > seq]
        gap = bool(kept) and kept[0]["seq"] > seq + 1
        return self._page(room, newer[:limit], len(newer) > limit, viewer,
                          gap)

    async def before(self, room: str, seq: int, limit: int,
                     viewer: str | None = None) -> Page:
        older = [m for m in self._rooms.get(room, ()) if m["seq"] < seq]
        start = max(0, len(older) - limit)
        return self._page(room, older[start:], start > 0, viewer)

    def _page(self, room: str, entries: list[dict[str, Any]], more: bool,
              viewer: str | None, gap: bool = False) -> Page:
        return Page([decorated(e, self._reactions.get((room, e["seq"])),
                               viewer) for e in entries], more=more, gap=gap,
                    epoch=self._epoch(room),
                    last_seq=self._last_seq.get(room, 0))

    def _epoch(self, room: str) -> str:
        epoch = self._epochs.get(room)
        if epoch is None:
            epoch = self._epochs[room] = new_epoch()
        return epoch

    async def last_seq(self, room: str) -> int:
        return self._last_seq.get(room, 0)

    async def epoch(self, room: str) -> str:
        return self._epoch(room)

    def _forget_old_sends(self, now: float) -> None:
        # Sends are inserted in time order, so the oldest come first.
        while self._sends:
            key, (at, _) = next(iter(self._sends.items()))
            if now - at < self._window:
                break
            del self._sends[key]
