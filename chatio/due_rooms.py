"""An index, in Redis, of the rooms that may hold something due.

Typing and presence keep each room's state in the room's own hash slot
(``{room}``), so a room's transitions are single-slot scripts on a Redis
Cluster. Sweeping needs to find the rooms whose typists or grace periods
end; this index answers that without a script that spans slots.

The index is ``buckets`` sorted sets ``<base>:{<base>:<n>}:rooms`` (a room
goes to bucket ``crc32(room) % buckets``) scoring each room no later than
its earliest deadline, plus a hash ``<base>:{<base>:<n>}:marks`` holding
each room's last mark, numbered by the bucket's counter
``<base>:{<base>:<n>}:marked``. A writer first changes the room (one script in the
room's slot), then ``mark``s the deadline it got. A sweeper takes ``due``
rooms, runs the room's own expiry script, and ``settle``s the room with the
room's next deadline; ``settle`` only applies when no mark came in between,
so a concurrent writer's mark is never lost. A room is at worst visited
once more than needed, never forgotten.
"""
from __future__ import annotations

import zlib
from collections.abc import Callable

from .lua import NOW_AND_PAIRS
from .redis_client import RedisClient

DEFAULT_BUCKETS = 8

# KEYS: rooms, marks, mark counter; ARGV: now, room, deadline, or empty and a delay
# from now
MARK_SCRIPT = NOW_AND_PAIRS + """
local at = tonumber(ARGV[3]) or (now + tonumber(ARGV[4]))
redis.call('ZADD', KEYS[1], 'LT', num(at), ARGV[2])
redis.call('HSET', KEYS[2], ARGV[2], redis.call('INCR', KEYS[3]))
return 1
"""

# KEYS: rooms, marks; ARGV: now, limit
# Returns {room, marks, room, marks, ...} of rooms due by now.
DUE_SCRIPT = NOW_AND_PAIRS + """
local due = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', num(now),
                       'LIMIT', 0, tonumber(ARGV[2]))
local out = {}
for _, room in ipairs(due) do
  out[#out + 1] = room
  out[#out + 1] = redis.call('HGET', KEYS[2], room) or '0'
end
return out
"""

# KEYS: rooms, marks; ARGV: now (unused), room, marks seen, next deadline
# or empty when the room holds nothing due any more.
SETTLE_SCRIPT = """
if (redis.call('HGET', KEYS[2], ARGV[2]) or '0') ~= ARGV[3] then
  return 0
end
if ARGV[4] == '' then
  redis.call('ZREM', KEYS[1], ARGV[2])
  redis.call('HDEL', KEYS[2], ARGV[2])
else
  redis.call('ZADD', KEYS[1], ARGV[4], ARGV[2])
end
return 1
"""


class DueRooms:
    """The due-room index under ``base`` (for example ``chatio:typing``).
    ``clock`` replaces the Redis server's ``TIME``, for tests. Redis errors
    propagate; callers map them."""

    def __init__(self, client: RedisClient, base: str, *,
                 buckets: int = DEFAULT_BUCKETS,
                 clock: Callable[[], float] | None = None) -> None:
        self._base = base
        self._buckets = max(1, buckets)
        self._clock = clock
        self._mark = client.register_script(MARK_SCRIPT)
        self._due = client.register_script(DUE_SCRIPT)
        self._settle = client.register_script(SETTLE_SCRIPT)

    def keys(self, bucket: int) -> list[str]:
        """The keys of ``bucket``: its sorted set, each room's last mark,
        and the bucket's mark counter."""
        tag = f"{{{self._base}:{bucket}}}"
        return [f"{self._base}:{tag}:rooms", f"{self._base}:{tag}:marks",
                f"{self._base}:{tag}:marked"]

    def bucket_of(self, room: str) -> int:
        return zlib.crc32(room.encode()) % self._buckets

    async def mark(self, room: str, deadline: float) -> None:
        """Something in ``room`` falls due at ``deadline`` (or later)."""
        await self._mark(keys=self.keys(self.bucket_of(room)),
                         args=[self._now(), room, _num(deadline), ""])

    async def mark_in(self, room: str, delay: float) -> None:
        """Something in ``room`` may fall due ``delay`` seconds from now
        (by this index's clock): call it before the room's own change, so
        that a writer that dies right after that change leaves the room
        indexed."""
        await self._mark(keys=self.keys(self.bucket_of(room)),
                         args=[self._now(), room, "", _num(delay)])

    async def due(self, limit: int) -> list[tuple[str, str]]:
        """Up to ``limit`` rooms due now, each with the mark count to pass
        to ``settle``, over every bucket."""
        found: list[tuple[str, str]] = []
        for bucket in range(self._buckets):
            if len(found) >= limit:
                break
            flat = await self._due(keys=self.keys(bucket),
                                   args=[self._now(), limit - len(found)])
            texts = [_text(v) for v in flat]
            found += [(texts[i], texts[i + 1])
                      for i in range(0, len(texts), 2)]
        return found

    async def settle(self, room: str, marks: str,
                     next_deadline: float | None) -> None:
        """After a sweep of ``room``: score it by ``next_deadline``, or drop
        it when None, unless it was marked since ``due`` saw ``marks``."""
        nxt = "" if next_deadline is None else _num(next_deadline)
        await self._settle(keys=self.keys(self.bucket_of(room)),
                           args=["", room, marks, nxt])

    def _now(self) -> str:
        return "" if self._clock is None else _num(self._clock())


def _num(value: float) -> str:
    return repr(float(value))


def _text(value: bytes | str) -> str:
    return value.decode() if isinstance(value, bytes) else value
