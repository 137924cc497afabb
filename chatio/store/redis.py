"""History in Redis, shared by every node of a cluster.

Each room has two keys, plus one short-lived key per remembered send:

``{prefix}:room:{<room>}:seq``
    the last ``seq`` given out (``INCR``);
``{prefix}:room:{<room>}:stream``
    the messages, each under the stream id ``<seq>-0``;
``{prefix}:room:{<room>}:sent:<len(user)>:<user>:<client_id>``
    the stored message of a send that carried a ``client_id``, expiring
    after the idempotency window.

The room name sits between braces. That is a Redis Cluster hash tag, so all
of a room's keys hash to one slot and a script may touch them together; it
also makes the key unambiguous, because a room name (``[A-Za-z0-9_.:@-]``)
cannot contain ``}``: the ``:`` that room names may contain can never make
one room's key look like another room's. The user id is length-prefixed for
the same reason, so ``("a:b", "c")`` and ``("a", "b:c")`` stay distinct.

Appends run as one Lua script, so the idempotency check, the ``INCR``, the
``XADD`` and the idempotency record happen atomically on the server: two
nodes racing on the same ``client_id`` still store exactly one message, and
nothing is read by Python and written back.

Retention is kept in two layers. ``XADD ... MAXLEN ~ retention`` trims the
stream cheaply, but approximate trimming removes whole stream nodes only, so
the stream usually holds *more* than ``retention`` entries. Reads therefore
treat only the newest ``retention`` seqs (``seq > last_seq - retention``) as
kept, which gives the same pages as the exact stores. The idempotency records
live in their own keys with a TTL of the idempotency window (24 h), so
trimming never breaks a retry.

These scripts page with inclusive integer bounds on ``<seq>-0`` ids, which
every Redis with streams understands; cluster mode as a whole is documented
for Redis 6.2 or newer.
"""
from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import redis.asyncio as aioredis
from redis.exceptions import RedisError

from ..constants import IDEMPOTENCY_WINDOW_SECONDS
from ..errors import Unavailable
from ..redis_client import REDIS_FAILURES, new_client
from .base import Appended, Draft, Page

# KEYS: seq, stream[, sent]
# ARGV: message JSON without seq and without its opening brace, retention,
#       idempotency window in ms
# Returns {duplicate (0/1), message JSON}.
APPEND_SCRIPT = """
if #KEYS == 3 then
  local seen = redis.call('GET', KEYS[3])
  if seen then
    return {1, seen}
  end
end
local seq = redis.call('INCR', KEYS[1])
local body = '{"seq":' .. seq .. ',' .. ARGV[1]
redis.call('XADD', KEYS[2], 'MAXLEN', '~', ARGV[2], seq .. '-0', 'm', body)
local window = tonumber(ARGV[3])
if #KEYS == 3 and window > 0 then
  redis.call('SET', KEYS[3], body, 'PX', window)
end
return {0, body}
"""

# KEYS: seq, stream
# ARGV: mode ('latest' | 'after' | 'before'), seq, count, retention
# Returns {oldest kept seq (0 when none), entries in read order}.
READ_SCRIPT = """
local last = tonumber(redis.call('GET', KEYS[1]) or '0')
local floor = last - tonumber(ARGV[4])
if floor < 0 then floor = 0 end
local oldest = 0
local first = redis.call('XRANGE', KEYS[2], '-', '+', 'COUNT', 1)[1]
if first then
  oldest = tonumber(string.match(first[1], '^(%d+)'))
  if oldest <= floor then oldest = floor + 1 end
  if oldest > last then oldest = 0 end
end
if oldest == 0 then
  return {0, {}}
end
local mode, seq, count = ARGV[1], tonumber(ARGV[2]), tonumber(ARGV[3])
local entries
if mode == 'latest' then
  entries = redis.call('XREVRANGE', KEYS[2], '+', string.format('%d', oldest),
                       'COUNT', count)
elseif mode == 'after' then
  local from = seq + 1
  if from < oldest then from = oldest end
  if from > last then return {oldest, {}} end
  entries = redis.call('XRANGE', KEYS[2], string.format('%d', from), '+',
                       'COUNT', count)
else
  local to = seq - 1
  if to > last then to = last end
  if to < oldest then return {oldest, {}} end
  entries = redis.call('XREVRANGE', KEYS[2], string.format('%d', to),
                       string.format('%d', oldest), 'COUNT', count)
end
return {oldest, entries}
"""

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
        self._append_script: Any = None
        self._read_script: Any = None

    # -- keys ----------------------------------------------------------------

    def _room_key(self, room: str, part: str) -> str:
        return f"{self._prefix}:room:{{{room}}}:{part}"

    def _sent_key(self, room: str, user_id: str, client_id: str) -> str:
        return self._room_key(
            room, f"sent:{len(user_id)}:{user_id}:{client_id}")

    # -- HistoryStore --------------------------------------------------------

    async def open(self) -> None:
        if self._client is not None:
            return
        client = self._factory()
        self._client = client
        self._append_script = client.register_script(APPEND_SCRIPT)
        self._read_script = client.register_script(READ_SCRIPT)

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
        self._connected()
        message = draft.stored_as(0)
        del message["seq"]
        rest = json.dumps(message, ensure_ascii=False,
                          separators=(",", ":"))[1:]
        keys = [self._room_key(draft.room, "seq"),
                self._room_key(draft.room, "stream")]
        if draft.client_id is not None:
            keys.append(self._sent_key(draft.room, draft.user_id,
                                       draft.client_id))
        try:
            duplicate, body = await self._append_script(
                keys=keys, args=[rest, self._retention, self._window_ms])
        except _FAILURES as exc:
            raise _unavailable(exc) from exc
        return Appended(_json(body), duplicate=bool(duplicate))

    async def find_sent(self, room: str, user_id: str,
                        client_id: str) -> dict[str, Any] | None:
        client = self._connected()
        try:
            body = await client.get(self._sent_key(room, user_id, client_id))
        except _FAILURES as exc:
            raise _unavailable(exc) from exc
        return None if body is None else _json(body)

    async def latest(self, room: str, limit: int) -> Page:
        _, entries = await self._read(room, "latest", 0, limit)
        return Page(_bodies(reversed(entries[:limit])),
                    more=len(entries) > limit)

    async def after(self, room: str, seq: int, limit: int) -> Page:
        oldest, entries = await self._read(room, "after", seq, limit)
        gap = oldest > 0 and oldest > seq + 1
        return Page(_bodies(entries[:limit]), more=len(entries) > limit,
                    gap=gap)

    async def before(self, room: str, seq: int, limit: int) -> Page:
        _, entries = await self._read(room, "before", seq, limit)
        return Page(_bodies(reversed(entries[:limit])),
                    more=len(entries) > limit)

    async def last_seq(self, room: str) -> int:
        client = self._connected()
        try:
            value = await client.get(self._room_key(room, "seq"))
        except _FAILURES as exc:
            raise _unavailable(exc) from exc
        return 0 if value is None else int(value)

    # -- plumbing ------------------------------------------------------------

    async def _read(self, room: str, mode: str, seq: int,
                    limit: int) -> tuple[int, list[Any]]:
        self._connected()
        seq = max(-1, min(int(seq), _MAX_SEQ))
        count = max(0, min(int(limit), _MAX_SEQ)) + 1
        try:
            oldest, entries = await self._read_script(
                keys=[self._room_key(room, "seq"),
                      self._room_key(room, "stream")],
                args=[mode, seq, count, self._retention])
        except _FAILURES as exc:
            raise _unavailable(exc) from exc
        return int(oldest), list(entries)

    def _connected(self) -> aioredis.Redis:
        if self._client is None:
            raise Unavailable("the history store is closed")
        return self._client


_FAILURES = REDIS_FAILURES


def _unavailable(exc: BaseException) -> Unavailable:
    return Unavailable(f"history store error: {type(exc).__name__}: {exc}")


def _text(value: bytes | str) -> str:
    return value.decode() if isinstance(value, bytes) else value


def _json(value: bytes | str) -> dict[str, Any]:
    return json.loads(_text(value))


def _bodies(entries: Any) -> list[dict[str, Any]]:
    """Message bodies of raw stream entries ``[id, [field, value, ...]]``."""
    bodies = []
    for _, fields in entries:
        values = dict(zip(fields[::2], fields[1::2]))
        body = values.get(b"m", values.get("m"))
        bodies.append(_json(body))
    return bodies
