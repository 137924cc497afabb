"""Typing state in Redis, shared by every node of a cluster.

Keys (``T`` is ``{prefix}:typing``):

``T:until``
    sorted set of ``(room, user)`` pairs that are typing, scored by the time
    their typing ends;
``T:names``
    hash: pair → the typist's display name.

A pair is length-prefixed (``<len(room)>:<room><user>``), so no user id can
make two pairs look alike. ``start``, ``stop`` and ``expire`` are each one
Lua script timed by the Redis server's ``TIME``, so a transition is reported
to exactly one caller cluster-wide: one ``typing: true`` however many nodes
refresh it, one ``typing: false`` whether it came from ``stop`` or from
whichever node's ``expire`` claimed it first. A typist whose node died ends
with their TTL on a surviving node.
"""
from __future__ import annotations

from collections.abc import Callable
from typing import Any

import redis.asyncio as aioredis

from ..errors import Unavailable
from ..lua import NOW_AND_PAIRS
from ..redis_client import REDIS_FAILURES
from .base import Typist

# Typists returned per ``expire`` call, at most.
DEFAULT_BATCH = 1000

# ARGV[1] is the key prefix; ARGV[2] the time in seconds, or empty for the
# Redis server's TIME.
_PRELUDE = NOW_AND_PAIRS + """
local T = ARGV[1] .. ':typing'
local UNTIL, NAMES = T .. ':until', T .. ':names'
"""

# ARGV: prefix, now, room, user, name, ttl
# Returns 1 when the user was not typing, 0 for a refresh.
START_SCRIPT = _PRELUDE + """
local p = pair(ARGV[3], ARGV[4])
local typing = redis.call('ZSCORE', UNTIL, p)
redis.call('ZADD', UNTIL, string.format('%.17g', now + tonumber(ARGV[6])), p)
redis.call('HSET', NAMES, p, ARGV[5])
if typing then return 0 end
return 1
"""

# ARGV: prefix, now, room, user
# Returns the typist's name when they were typing, else nil.
STOP_SCRIPT = _PRELUDE + """
local p = pair(ARGV[3], ARGV[4])
if redis.call('ZREM', UNTIL, p) == 0 then return false end
local name = redis.call('HGET', NAMES, p)
redis.call('HDEL', NAMES, p)
return name or ''
"""

# ARGV: prefix, now, batch
# Returns {room, user, name, room, user, name, ...}.
EXPIRE_SCRIPT = _PRELUDE + """
local out = {}
local due = redis.call('ZRANGEBYSCORE', UNTIL, '-inf',
                       string.format('%.17g', now), 'LIMIT', 0,
                       tonumber(ARGV[3]))
for _, p in ipairs(due) do
  redis.call('ZREM', UNTIL, p)
  local name = redis.call('HGET', NAMES, p) or ''
  redis.call('HDEL', NAMES, p)
  local room, user = unpair(p)
  out[#out + 1] = room
  out[#out + 1] = user
  out[#out + 1] = name
end
return out
"""

# ARGV: prefix, now, room
# Returns {user, name, user, name, ...} of the room's current typists.
TYPISTS_SCRIPT = _PRELUDE + """
local out = {}
local live = redis.call('ZRANGEBYSCORE', UNTIL,
                        '(' .. string.format('%.17g', now), '+inf')
for _, p in ipairs(live) do
  local room, user = unpair(p)
  if room == ARGV[3] then
    out[#out + 1] = user
    out[#out + 1] = redis.call('HGET', NAMES, p) or ''
  end
end
return out
"""


class RedisTypingState:
    """Implements ``TypingState`` for every node of a cluster.

    ``client`` is a ``redis.asyncio.Redis`` the caller owns; ``prefix`` is
    ``CHATIO_REDIS_PREFIX``. ``clock`` replaces the Redis server's ``TIME``,
    for tests. ``expire`` returns at most ``batch`` typists per call. Every
    method raises ``Unavailable`` when Redis fails.
    """

    def __init__(self, client: aioredis.Redis, prefix: str, *,
                 clock: Callable[[], float] | None = None,
                 batch: int = DEFAULT_BATCH) -> None:
        self._prefix = prefix
        self._clock = clock
        self._batch = max(1, batch)
        self._start = client.register_script(START_SCRIPT)
        self._stop = client.register_script(STOP_SCRIPT)
        self._expire = client.register_script(EXPIRE_SCRIPT)
        self._typists = client.register_script(TYPISTS_SCRIPT)

    async def start(self, typist: Typist, ttl: float) -> bool:
        started = await self._run(self._start, [
            typist.room, typist.user_id, typist.name, repr(float(ttl))])
        return bool(int(started))

    async def stop(self, room: str, user_id: str) -> Typist | None:
        name = await self._run(self._stop, [room, user_id])
        return None if name is None else Typist(room, user_id, _text(name))

    async def expire(self) -> list[Typist]:
        flat = [_text(v) for v in
                await self._run(self._expire, [str(self._batch)])]
        return [Typist(flat[i], flat[i + 1], flat[i + 2])
                for i in range(0, len(flat), 3)]

    async def typists(self, room: str) -> list[Typist]:
        flat = [_text(v) for v in await self._run(self._typists, [room])]
        return [Typist(room, flat[i], flat[i + 1])
                for i in range(0, len(flat), 2)]

    async def _run(self, script: Any, args: list[str]) -> Any:
        now = "" if self._clock is None else repr(float(self._clock()))
        try:
            return await script(args=[self._prefix, now, *args])
        except REDIS_FAILURES as exc:
            raise Unavailable(
                f"typing state error: {type(exc).__name__}: {exc}") from exc


def _text(value: bytes | str) -> str:
    return value.decode() if isinstance(value, bytes) else value
