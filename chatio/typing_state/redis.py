"""Typing state in Redis, shared by every node of a cluster.

Keys (``T`` is ``{prefix}:typing``), each room's in the room's hash slot:

``T:room:{<room>}:until``
    sorted set of the users typing in the room, scored by the time their
    typing ends;
``T:room:{<room>}:names``
    hash: user → the typist's display name;
``T:{T:<n>}:rooms``, ``T:{T:<n>}:marks``
    the ``DueRooms`` index of rooms with typists, in a few buckets.

``start``, ``stop`` and each room's expiry are one Lua script in the room's
slot, timed by the Redis server's ``TIME``, so a transition is reported to
exactly one caller cluster-wide: one ``typing: true`` however many nodes
refresh it, one ``typing: false`` whether it came from ``stop`` or from
whichever node's ``expire`` claimed it first. No script spans two slots, so
this works on a Redis Cluster as on one server. A typist whose node died
ends with their TTL on a surviving node.
"""
from __future__ import annotations

from collections.abc import Callable
from typing import Any

from ..due_rooms import DueRooms
from ..errors import Unavailable
from ..lua import NOW_AND_PAIRS
from ..redis_client import REDIS_FAILURES, RedisClient
from .base import Typist

# Typists returned per ``expire`` call, at most.
DEFAULT_BATCH = 1000

# KEYS: until, names; ARGV: now, user, name, ttl
# Returns {1 when the user was not typing else 0, the new deadline}.
START_SCRIPT = NOW_AND_PAIRS + """
local deadline = now + tonumber(ARGV[4])
local typing = redis.call('ZSCORE', KEYS[1], ARGV[2])
redis.call('ZADD', KEYS[1], num(deadline), ARGV[2])
redis.call('HSET', KEYS[2], ARGV[2], ARGV[3])
return {typing and 0 or 1, num(deadline)}
"""

# KEYS: until, names; ARGV: now (unused), user
# Returns the typist's name when they were typing, else nil.
STOP_SCRIPT = """
if redis.call('ZREM', KEYS[1], ARGV[2]) == 0 then return false end
local name = redis.call('HGET', KEYS[2], ARGV[2])
redis.call('HDEL', KEYS[2], ARGV[2])
return name or ''
"""

# KEYS: until, names; ARGV: now, batch
# Returns {next deadline or '', user, name, user, name, ...}.
EXPIRE_SCRIPT = NOW_AND_PAIRS + """
local due = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', num(now),
                       'LIMIT', 0, tonumber(ARGV[2]))
local out = {''}
for _, user in ipairs(due) do
  redis.call('ZREM', KEYS[1], user)
  out[#out + 1] = user
  out[#out + 1] = redis.call('HGET', KEYS[2], user) or ''
  redis.call('HDEL', KEYS[2], user)
end
local first = redis.call('ZRANGE', KEYS[1], 0, 0, 'WITHSCORES')
if first[2] then out[1] = first[2] end
return out
"""


class RedisTypingState:
    """Implements ``TypingState`` for every node of a cluster.

    ``client`` is a ``redis.asyncio.Redis`` or ``RedisCluster`` the caller
    owns; ``prefix`` is ``CHATIO_REDIS_PREFIX``. ``clock`` replaces the
    Redis server's ``TIME``, for tests. ``expire`` returns at most ``batch``
    typists per call. Every method raises ``Unavailable`` when Redis fails.
    """

    def __init__(self, client: RedisClient, prefix: str, *,
                 clock: Callable[[], float] | None = None,
                 batch: int = DEFAULT_BATCH) -> None:
        self._base = f"{prefix}:typing"
        self._clock = clock
        self._batch = max(1, batch)
        self._rooms = DueRooms(client, self._base, clock=clock)
        self._start = client.register_script(START_SCRIPT)
        self._stop = client.register_script(STOP_SCRIPT)
        self._expire = client.register_script(EXPIRE_SCRIPT)

    async def start(self, typist: Typist, ttl: float) -> bool:
        try:
            started, deadline = await self._run(self._start, typist.room, [
                typist.user_id, typist.name, repr(float(ttl))])
            if int(started):
                await self._rooms.mark(typist.room, float(deadline))
        except REDIS_FAILURES as exc:
            raise _unavailable(exc) from exc
        return bool(int(started))

    async def stop(self, room: str, user_id: str) -> Typist | None:
        try:
            name = await self._run(self._stop, room, [user_id])
        except REDIS_FAILURES as exc:
            raise _unavailable(exc) from exc
        return None if name is None else Typist(room, user_id, _text(name))

    async def expire(self) -> list[Typist]:
        ended: list[Typist] = []
        try:
            for room, marks in await self._rooms.due(self._batch):
                budget = self._batch - len(ended)
                if budget <= 0:
                    break
                flat = [_text(v) for v in await self._run(
                    self._expire, room, [str(budget)])]
                ended += [Typist(room, flat[i], flat[i + 1])
                          for i in range(1, len(flat), 2)]
                await self._rooms.settle(
                    room, marks, float(flat[0]) if flat[0] else None)
        except REDIS_FAILURES as exc:
            raise _unavailable(exc) from exc
        return ended

    def _keys(self, room: str) -> list[str]:
        base = f"{self._base}:room:{{{room}}}"
        return [f"{base}:until", f"{base}:names"]

    async def _run(self, script: Any, room: str, args: list[str]) -> Any:
        now = "" if self._clock is None else repr(float(self._clock()))
        return await script(keys=self._keys(room), args=[now, *args])


def _unavailable(exc: BaseException) -> Unavailable:
    return Unavailable(f"typing state error: {type(exc).__name__}: {exc}")


def _text(value: bytes | str) -> str:
    return value.decode() if isinstance(value, bytes) else value
