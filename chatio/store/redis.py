"""History in Redis, shared by every node of a cluster.

Each room has these keys, plus one short-lived key per remembered send:

``{prefix}:room:{<room>}:seq``
    the last ``seq`` given out (``INCR``);
``{prefix}:room:{<room>}:epoch``
    the room's epoch, created with the ``seq`` counter: when the counter is
    gone (keys deleted, Redis flushed or restarted without its data) the
    next append or read starts a new epoch at ``seq`` 1;
``{prefix}:room:{<room>}:log``
    a hash of the kept log entries, ``seq`` -> entry JSON, each in its
    current state (an edited or deleted message is overwritten in place);
``{prefix}:room:{<room>}:edits``
    a hash ``seq`` -> JSON list of the seqs of the edits of that message,
    so a delete can remove their text too;
``{prefix}:room:{<room>}:reactions``
    a hash ``seq`` -> JSON ``{emoji: [user ids]}``;
``{prefix}:room:{<room>}:reads`` and ``:readnames``
    a sorted set of read positions (user id scored by seq) and the name
    each reader had;
``{prefix}:room:{<room>}:sent:<len(user)>:<user>:<client_id>``
    the stored entry of a send that carried a ``client_id``, expiring
    after the idempotency window.

The room name sits between braces. That is a Redis Cluster hash tag, so all
of a room's keys hash to one slot and a script may touch them together; it
also makes the key unambiguous, because a room name (``[A-Za-z0-9_.:@-]``)
cannot contain ``}``: the ``:`` that room names may contain can never make
one room's key look like another room's. The user id is length-prefixed for
the same reason, so ``("a:b", "c")`` and ``("a", "b:c")`` stay distinct.

Every write runs as one Lua script (``redis_scripts``), so the idempotency
check, the ``INCR``, the entry and the idempotency record happen atomically
on the server: two nodes racing on the same ``client_id`` still store
exactly one entry, and nothing is read by Python and written back.

Retention is exact: the append that gives out ``seq`` drops entry
``seq - retention`` with its reactions and edit list. Idempotency records
live in their own keys with a TTL of the idempotency window (24 h), so
trimming never breaks a retry. A delete overwrites the message, its edits
and their idempotency records, so the text is no longer held by Redis; an
append-only file still holds it until Redis next rewrites that file.

Nodes before the log hash kept entries in a stream,
``{prefix}:room:{<room>}:stream``; reads still fall back to it, and appends
trim it away as retention passes.
"""
from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any, NamedTuple

import redis.asyncio as aioredis
from redis.exceptions import RedisError

from ..constants import (IDEMPOTENCY_WINDOW_SECONDS,
                         MAX_REACTIONS_PER_MESSAGE, UNREAD_COUNT_LIMIT)
from ..errors import Forbidden, NotFound, TooManyReactions, Unavailable
from ..redis_client import REDIS_FAILURES, new_client
from .base import (Appended, Change, Draft, Page, Reacted, Reader, ReadState,
                   new_epoch)
from .entries import decorated
from .redis_scripts import (MARK_READ_SCRIPT, READ_SCRIPT, READ_STATE_SCRIPT,
                            REACT_SCRIPT, WRITE_SCRIPT)

# Python ints beyond this are clamped before they reach Lua's doubles.
_MAX_SEQ = 2 ** 52

ClientFactory = Callable[[], "aioredis.Redis"]


class RedisHistoryStore:
    """Implements ``HistoryStore`` on Redis streams.

    ``client`` is a ``redis://`` URL or a function returning a new
    ``redis.asyncio.Redis``; the store owns that client and closes it.
    ``open`` does not contact Redis, so a node can start while Redis is
    down; ``ping`` tells whether it answers. Redis keys expire in whole
    milliseconds: an ``idempotency_window`` under 1 ms remembers nothing.
    """

    def __init__(self, client: str | ClientFactory, prefix: str,
                 retention: int,
                 idempotency_window: float = IDEMPOTENCY_WINDOW_SECONDS) -> None:
        if isinstance(client, str):
            url = client
            self._factory: ClientFactory = lambda: new_client(url)
        else:
            self._factory = client
        self._prefix = prefix
        self._retention = retention
        self._window_ms = max(0, int(idempotency_window * 1000))
        self._client: aioredis.Redis | None = None
        self._scripts: dict[str, Any] = {}

    # -- keys ----------------------------------------------------------------

    def _room_key(self, room: str, part: str) -> str:
        return f"{self._prefix}:room:{{{room}}}:{part}"

    def _sent_key(self, room: str, user_id: str, client_id: str) -> str:
        return self._room_key(
            room, f"sent:{len(user_id)}:{user_id}:{client_id}")

    def _keys(self, room: str, *parts: str) -> list[str]:
        return [self._room_key(room, part) for part in parts]

    # -- HistoryStore --------------------------------------------------------

    async def open(self) -> None:
        if self._client is not None:
            return
        client = self._factory()
        self._client = client
        for name, script in (("write", WRITE_SCRIPT), ("read", READ_SCRIPT),
                             ("react", REACT_SCRIPT),
                             ("mark_read", MARK_READ_SCRIPT),
                             ("read_state", READ_STATE_SCRIPT)):
            self._scripts[name] = client.register_script(script)

    async def close(self) -> None:
        client, self._client = self._client, None
        if client is not None:
            try:
                await client.aclose()
            except (RedisError, OSError):
                pass

    async def ping(self) -> None:
        client = self._connected()
        try:
            await client.ping()
        except _FAILURES as exc:
            raise _unavailable(exc) from exc

    async def append(self, draft: Draft) -> Appended:
        return await self._write(draft, "message")

    async def amend(self, change: Change) -> Appended:
        return await self._write(change, change.kind)

    async def _write(self, draft: Draft | Change, mode: str) -> Appended:
        entry = draft.stored_as(0, "")
        del entry["seq"], entry["epoch"]
        rest = json.dumps(entry, ensure_ascii=False,
                          separators=(",", ":"))[1:]
        keys = self._keys(draft.room, "seq", "log", "stream", "reactions",
                          "edits", "epoch")
        if draft.client_id is not None:
            keys.append(self._sent_key(draft.room, draft.user_id,
                                       draft.client_id))
        change = draft if isinstance(draft, Change) else None
        args = [rest, self._retention, self._window_ms, mode,
                _clamp(change.target) if change else 0, draft.user_id,
                "1" if change and change.by_backend else "0",
                (change.text or "") if change else "", draft.ts,
                self._room_key(draft.room, "sent:"), new_epoch()]
        result = await self._call("write", keys, args)
        if result[0] == -1:
            raise NotFound()
        if result[0] == -2:
            raise Forbidden("only the author may change a message")
        message = _json(result[1])
        if "epoch" not in message and len(result) > 2 and result[2]:
            # An idempotency record stored before rooms had epochs.
            message["epoch"] = _text(result[2])
        return Appended(message, duplicate=bool(result[0]))

    async def react(self, room: str, seq: int, user_id: str, emoji: str,
                    on: bool) -> Reacted:
        result = await self._call(
            "react", self._keys(room, "seq", "log", "stream", "reactions"),
            [_clamp(seq), user_id, emoji, "1" if on else "0",
             self._retention, MAX_REACTIONS_PER_MESSAGE])
        if result[0] == -1:
            raise NotFound()
        if result[0] == -3:
            raise TooManyReactions()
        return Reacted(int(result[0]), bool(result[1]))

    async def mark_read(self, room: str, user_id: str, user_name: str,
                        seq: int) -> tuple[int, bool]:
        position, moved = await self._call(
            "mark_read", self._keys(room, "reads", "readnames", "seq"),
            [user_id, user_name, _clamp(seq)])
        return int(position), bool(moved)

    async def read_state(self, room: str, user_id: str) -> ReadState:
        position, unread = await self._call(
            "read_state", self._keys(room, "reads", "seq", "log", "stream"),
            [user_id, self._retention, UNREAD_COUNT_LIMIT])
        return ReadState(int(position), int(unread))

    async def readers(self, room: str, seq: int, limit: int) -> list[Reader]:
        client = self._connected()
        reads, names = self._keys(room, "reads", "readnames")
        try:
            found = await client.zrevrangebyscore(
                reads, "+inf", _clamp(seq), start=0, num=limit,
                withscores=True)
            if not found:
                return []
            users = [_text(user) for user, _ in found]
            shown = await client.hmget(names, users)
        except _FAILURES as exc:
            raise _unavailable(exc) from exc
        return [Reader(user, _text(name) if name is not None else user,
                       int(score))
                for user, (_, score), name in zip(users, found, shown)]

    async def find_sent(self, room: str, user_id: str,
                        client_id: str) -> dict[str, Any] | None:
        client = self._connected()
        try:
            body, epoch = await client.mget(
                self._sent_key(room, user_id, client_id),
                self._room_key(room, "epoch"))
        except _FAILURES as exc:
            raise _unavailable(exc) from exc
        if body is None:
            return None
        message = _json(body)
        if "epoch" not in message and epoch is not None:
            # An idempotency record stored before rooms had epochs.
            message["epoch"] = _text(epoch)
        return message

    async def latest(self, room: str, limit: int,
                     viewer: str | None = None) -> Page:
        read = await self._read(room, "latest", 0, limit, viewer)
        entries = read.entries
        return Page(entries[len(entries) - min(limit, len(entries)):],
                    more=len(entries) > limit, epoch=read.epoch,
                    last_seq=read.last_seq)

    async def after(self, room: str, seq: int, limit: int,
                    viewer: str | None = None) -> Page:
        read = await self._read(room, "after", seq, limit, viewer)
        gap = read.oldest > 0 and read.oldest > seq + 1
        return Page(read.entries[:limit], more=len(read.entries) > limit,
                    gap=gap, epoch=read.epoch, last_seq=read.last_seq)

    async def before(self, room: str, seq: int, limit: int,
                     viewer: str | None = None) -> Page:
        read = await self._read(room, "before", seq, limit, viewer)
        entries = read.entries
        return Page(entries[len(entries) - min(limit, len(entries)):],
                    more=len(entries) > limit, epoch=read.epoch,
                    last_seq=read.last_seq)

    async def last_seq(self, room: str) -> int:
        client = self._connected()
        try:
            value = await client.get(self._room_key(room, "seq"))
        except _FAILURES as exc:
            raise _unavailable(exc) from exc
        return 0 if value is None else int(value)

    async def epoch(self, room: str) -> str:
        return (await self._read(room, "latest", 0, 0, None)).epoch

    # -- plumbing ------------------------------------------------------------

    async def _read(self, room: str, mode: str, seq: int, limit: int,
                    viewer: str | None) -> _Read:
        count = max(0, min(int(limit), _MAX_SEQ)) + 1
        oldest, bodies, reactions, epoch, last_seq = await self._call(
            "read", self._keys(room, "seq", "log", "stream", "reactions",
                               "epoch"),
            [mode, max(-1, min(int(seq), _MAX_SEQ)), count, self._retention,
             new_epoch()])
        epoch = _text(epoch)
        entries = []
        for body, found in zip(bodies, reactions):
            users = None if found is None else {
                emoji: set(who) for emoji, who in _json(found).items()}
            entry = _json(body)
            entry["epoch"] = epoch
            entries.append(decorated(entry, users, viewer))
        return _Read(int(oldest), entries, epoch, int(last_seq))

    async def _call(self, name: str, keys: list[str], args: list[Any]) -> Any:
        self._connected()
        try:
            return await self._scripts[name](keys=keys, args=args)
        except _FAILURES as exc:
            raise _unavailable(exc) from exc

    def _connected(self) -> aioredis.Redis:
        if self._client is None:
            raise Unavailable("the history store is closed")
        return self._client


_FAILURES = REDIS_FAILURES


class _Read(NamedTuple):
    """What the read script found: the oldest kept seq (0 when none), the
    entries, and the room's position."""

    oldest: int
    entries: list[dict[str, Any]]
    epoch: str
    last_seq: int


def _clamp(seq: int) -> int:
    return max(-1, min(int(seq), _MAX_SEQ))


def _unavailable(exc: BaseException) -> Unavailable:
    return Unavailable(f"history store error: {type(exc).__name__}: {exc}")


def _text(value: bytes | str) -> str:
    return value.decode() if isinstance(value, bytes) else value


def _json(value: bytes | str) -> Any:
    return json.loads(_text(value))
