"""Presence in Redis, shared by every node of a cluster.

Keys (``P`` is ``{prefix}:presence``):

``P:room:{<room>}:users``
    hash: user id → display name, for every user present in the room,
    those in their grace period included;
``P:room:{<room>}:conns:<user>``
    hash: connection id → owning node id, the user's live connections in
    the room (absent when there are none);
``P:grace``
    sorted set of ``(room, user)`` pairs in their grace period, scored by
    the time it ends;
``P:nodes``
    sorted set of live node ids, scored by their last heartbeat;
``P:node:<node>``
    set of the ``(room, user, connection)`` entries a node owns;
``P:sweeping``
    hash: node id → last heartbeat, for dead nodes whose entries are being
    removed;
``P:alive``
    hash: node id → when its current stretch of heartbeats began.

Pairs and entries are length-prefixed (``<len>:<room><user>``), so no user
id or connection id can make two of them look alike.

Every transition is one Lua script, so the first join, the last leave and
each grace expiry are reported to exactly one caller however many nodes
race. Times come from the Redis server's ``TIME``, so nodes need not agree
on their clocks (tests may pass a ``clock`` instead).

A node whose heartbeat is older than ``ttl`` is dead. The first ``expire``
that sees it claims it (moves it from ``P:nodes`` to ``P:sweeping``, in
one script) and removes its entries, ``batch`` at a time. Only a node that
has itself heartbeated for a whole ``ttl`` may claim: after a Redis outage
longer than ``ttl`` every heartbeat looks stale, and the first node back
must not declare the others dead before they had a ``ttl`` to return. Users left with
no connection anywhere enter the grace period, counted from the dead node's
last heartbeat; they then depart, once, through the ordinary grace expiry.

The scripts compute key names from their arguments, so presence needs one
Redis server, not Redis Cluster.
"""
from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Callable, Sequence
from typing import Any

import redis.asyncio as aioredis

from ..errors import Unavailable
from ..lua import NOW_AND_PAIRS
from ..redis_client import REDIS_FAILURES
from .base import Departure, Member
from .memory import Connection

# The defaults of CHATIO_PRESENCE_TTL and CHATIO_PRESENCE_GRACE.
DEFAULT_TTL = 30.0
DEFAULT_GRACE = 5.0
# Entries swept and departures returned per ``expire`` call, at most.
DEFAULT_BATCH = 1000

# Shared by every script. ARGV[1] is the key prefix, ARGV[2] the time in
# seconds (empty for the Redis server's TIME), ARGV[3] the presence TTL.
_PRELUDE = NOW_AND_PAIRS + """
local P = ARGV[1] .. ':presence'
local TTL = tonumber(ARGV[3])
local NODES = P .. ':nodes'
local ALIVE = P .. ':alive'
local SWEEPING = P .. ':sweeping'
local GRACE = P .. ':grace'

local function num(x) return string.format('%.17g', x) end
local function users_key(room) return P .. ':room:{' .. room .. '}:users' end
local function conns_key(room, user)
  return P .. ':room:{' .. room .. '}:conns:' .. user
end
local function node_key(node) return P .. ':node:' .. node end
local function entry(room, user, conn)
  return #room .. ':' .. room .. #user .. ':' .. user .. conn
end
local function unentry(s)
  local room, rest = unpair(s)
  local user, conn = unpair(rest)
  return room, user, conn
end

-- Records that ``node`` is alive and stops any sweep of it. True when the
-- node was not registered as alive (never seen, swept, or data lost). A
-- node unseen for a TTL starts a new stretch of life in ALIVE.
local function touch_node(node)
  local known = tonumber(redis.call('ZSCORE', NODES, node))
  if not known or known < now - TTL then
    redis.call('HSET', ALIVE, node, num(now))
  end
  redis.call('ZADD', NODES, num(now), node)
  redis.call('HDEL', SWEEPING, node)
  return not known
end

-- Registers ``conn`` of ``user`` in ``room`` as owned by ``node``. True
-- when the user was not present (neither connected nor in grace).
local function attach(room, user, name, conn, node, rename)
  local users = users_key(room)
  local first = redis.call('HEXISTS', users, user) == 0
  if first or rename then
    redis.call('HSET', users, user, name)
  end
  local conns = conns_key(room, user)
  local owner = redis.call('HGET', conns, conn)
  if owner and owner ~= node then
    redis.call('SREM', node_key(owner), entry(room, user, conn))
  end
  redis.call('HSET', conns, conn, node)
  redis.call('SADD', node_key(node), entry(room, user, conn))
  redis.call('ZREM', GRACE, pair(room, user))
  return first
end

-- Removes ``conn`` when ``node`` owns it (the node's set is the caller's
-- business). A user left with no connection enters grace until ``deadline``.
local function detach(room, user, conn, node, deadline)
  local conns = conns_key(room, user)
  if redis.call('HGET', conns, conn) ~= node then return end
  redis.call('HDEL', conns, conn)
  if redis.call('EXISTS', conns) == 0
      and redis.call('HEXISTS', users_key(room), user) == 1 then
    redis.call('ZADD', GRACE, num(deadline), pair(room, user))
  end
end
"""

# ARGV: prefix, now, ttl, room, user, name, conn, node
# Returns {first join (0/1), node was not registered (0/1)}.
ADD_SCRIPT = _PRELUDE + """
local lost = touch_node(ARGV[8])
local first = attach(ARGV[4], ARGV[5], ARGV[6], ARGV[7], ARGV[8], true)
return {first and 1 or 0, lost and 1 or 0}
"""

# ARGV: prefix, now, ttl, room, user, conn, grace
# Returns the user's name when their presence ended now, else nil.
REMOVE_SCRIPT = _PRELUDE + """
local room, user, conn = ARGV[4], ARGV[5], ARGV[6]
local grace = tonumber(ARGV[7])
local conns = conns_key(room, user)
local owner = redis.call('HGET', conns, conn)
if not owner then return false end
redis.call('HDEL', conns, conn)
redis.call('SREM', node_key(owner), entry(room, user, conn))
if redis.call('EXISTS', conns) == 1 then return false end
local users = users_key(room)
local name = redis.call('HGET', users, user)
if not name then return false end
if grace > 0 then
  redis.call('ZADD', GRACE, num(now + grace), pair(room, user))
  return false
end
redis.call('HDEL', users, user)
redis.call('ZREM', GRACE, pair(room, user))
return name
"""

# ARGV: prefix, now, ttl, node
# Returns 1 when the node was not registered as alive.
HEARTBEAT_SCRIPT = _PRELUDE + """
return touch_node(ARGV[4]) and 1 or 0
"""

# ARGV: prefix, now, ttl, grace, batch, the calling node
# Returns {entries swept, room, user, name, room, user, name, ...}.
EXPIRE_SCRIPT = _PRELUDE + """
local grace, batch, me = tonumber(ARGV[4]), tonumber(ARGV[5]), ARGV[6]
-- Claim nodes whose heartbeat is older than the TTL: only this call sees
-- them in NODES, and from now on they are in SWEEPING. Only a node that has
-- itself been alive for a whole TTL may claim: after an outage of Redis
-- longer than the TTL every heartbeat looks stale, and the nodes that come
-- back first must give the others a TTL to come back too.
local since = tonumber(redis.call('HGET', ALIVE, me))
if since and now - since >= TTL then
  local dead = redis.call('ZRANGEBYSCORE', NODES, '-inf',
                          '(' .. num(now - TTL), 'WITHSCORES', 'LIMIT', 0, 100)
  for i = 1, #dead, 2 do
    redis.call('ZREM', NODES, dead[i])
    redis.call('HDEL', ALIVE, dead[i])
    redis.call('HSET', SWEEPING, dead[i], dead[i + 1])
  end
end
-- Remove the entries of claimed nodes, at most batch of them per call.
local swept, budget = 0, batch
local sweeping = redis.call('HGETALL', SWEEPING)
for i = 1, #sweeping, 2 do
  if budget <= 0 then break end
  local node, beat = sweeping[i], tonumber(sweeping[i + 1])
  local deadline = math.max(now, beat + grace)
  local owned = node_key(node)
  local entries = redis.call('SPOP', owned, budget)
  for _, e in ipairs(entries) do
    local room, user, conn = unentry(e)
    detach(room, user, conn, node, deadline)
  end
  swept = swept + #entries
  budget = budget - #entries
  if redis.call('EXISTS', owned) == 0 then
    redis.call('HDEL', SWEEPING, node)
  end
end
-- End the presence of users whose grace period is over.
local out = {swept}
local due = redis.call('ZRANGEBYSCORE', GRACE, '-inf', num(now),
                       'LIMIT', 0, batch)
for _, p in ipairs(due) do
  redis.call('ZREM', GRACE, p)
  local room, user = unpair(p)
  if redis.call('EXISTS', conns_key(room, user)) == 0 then
    local users = users_key(room)
    local name = redis.call('HGET', users, user)
    if name then
      redis.call('HDEL', users, user)
      out[#out + 1] = room
      out[#out + 1] = user
      out[#out + 1] = name
    end
  end
end
return out
"""

# ARGV: prefix, now, ttl, node, grace, then room, user, name, conn per connection
# Returns the number of stale entries dropped.
REREGISTER_SCRIPT = _PRELUDE + """
local node, grace = ARGV[4], tonumber(ARGV[5])
touch_node(node)
local wanted = {}
for i = 6, #ARGV, 4 do
  local room, user, name, conn = ARGV[i], ARGV[i + 1], ARGV[i + 2], ARGV[i + 3]
  wanted[entry(room, user, conn)] = true
  attach(room, user, name, conn, node, false)
end
local owned = node_key(node)
local dropped = 0
for _, e in ipairs(redis.call('SMEMBERS', owned)) do
  if not wanted[e] then
    redis.call('SREM', owned, e)
    local room, user, conn = unentry(e)
    detach(room, user, conn, node, now + grace)
    dropped = dropped + 1
  end
end
return dropped
"""


class RedisPresenceStore:
    """Implements ``PresenceStore`` for every node of a cluster.

    ``client`` is a ``redis.asyncio.Redis`` the caller owns; ``prefix`` is
    ``CHATIO_REDIS_PREFIX``; ``node_id`` is this node's ``CHATIO_NODE_ID``.
    ``ttl`` (``CHATIO_PRESENCE_TTL``) is how long a node's entries outlive
    its last heartbeat; call ``heartbeat`` several times within it (the
    sweeper does, every tick). ``grace`` (``CHATIO_PRESENCE_GRACE``) is the
    grace period of the users a dead node's sweep or ``reregister`` leaves
    with no connection. ``clock`` replaces the Redis server's ``TIME``, for
    tests. Every method raises ``Unavailable`` when Redis fails; the call
    then may or may not have taken effect, and ``reregister`` repairs it.
    """

    def __init__(self, client: aioredis.Redis, prefix: str, node_id: str, *,
                 ttl: float = DEFAULT_TTL, grace: float = DEFAULT_GRACE,
                 clock: Callable[[], float] | None = None,
                 batch: int = DEFAULT_BATCH) -> None:
        if ttl <= 0:
            raise ValueError("ttl must be positive")
        self._client = client
        self._prefix = prefix
        self._node_id = node_id
        self._ttl = ttl
        self._grace = max(0.0, grace)
        self._clock = clock
        self._batch = max(1, batch)
        self._add = client.register_script(ADD_SCRIPT)
        self._remove = client.register_script(REMOVE_SCRIPT)
        self._heartbeat = client.register_script(HEARTBEAT_SCRIPT)
        self._expire = client.register_script(EXPIRE_SCRIPT)
        self._reregister = client.register_script(REREGISTER_SCRIPT)
        # Until this process re-registered, its node's entries in Redis may
        # be a previous process's.
        self._in_sync = False
        # add/remove run concurrently with each other, never with reregister.
        self._writes = 0
        self._no_writes = asyncio.Event()
        self._no_writes.set()
        self._reregistering: asyncio.Event | None = None

    @property
    def node_id(self) -> str:
        return self._node_id

    # -- PresenceStore -------------------------------------------------------

    async def add(self, room: str, member: Member, conn_id: str,
                  node_id: str) -> bool:
        async with self._write():
            first, lost = await self._run(self._add, [
                room, member.user_id, member.name, conn_id, node_id])
        if int(lost) and node_id == self._node_id:
            self._in_sync = False
        return bool(int(first))

    async def remove(self, room: str, user_id: str, conn_id: str,
                     grace: float) -> Member | None:
        async with self._write():
            name = await self._run(self._remove, [
                room, user_id, conn_id, _num(max(0.0, grace))])
        return None if name is None else Member(user_id, _text(name))

    async def heartbeat(self, node_id: str) -> bool:
        """Refresh ``node_id``'s heartbeat. True while this node's entries
        in Redis may not match its connections: this process has not called
        ``reregister`` yet, or Redis had lost the node (its data was lost,
        or the node was swept as dead while it was only slow). The caller
        should then call ``reregister``."""
        lost = await self._run(self._heartbeat, [node_id])
        if node_id != self._node_id:
            return bool(int(lost))
        if int(lost):
            self._in_sync = False
        return not self._in_sync

    async def expire(self) -> list[Departure]:
        """Sweep dead nodes (into the grace period) and end the presence of
        users whose grace period is over. At most ``batch`` entries are
        swept and ``batch`` departures returned per call; the rest wait for
        the next call."""
        reply = await self._run(self._expire, [
            _num(self._grace), str(self._batch), self._node_id])
        flat = [_text(value) for value in reply[1:]]
        return [Departure(flat[i], Member(flat[i + 1], flat[i + 2]))
                for i in range(0, len(flat), 3)]

    async def members(self, room: str) -> list[Member]:
        try:
            users = await self._client.hgetall(self._users_key(room))
        except REDIS_FAILURES as exc:
            raise _unavailable(exc) from exc
        return [Member(_text(user), _text(name))
                for user, name in users.items()]

    async def is_connected(self, room: str, user_id: str) -> bool:
        try:
            count = await self._client.exists(self._conns_key(room, user_id))
        except REDIS_FAILURES as exc:
            raise _unavailable(exc) from exc
        return bool(count)

    async def devices(self, room: str) -> dict[str, int]:
        try:
            users = await self._client.hkeys(self._users_key(room))
            async with self._client.pipeline(transaction=False) as pipe:
                for user in users:
                    pipe.hlen(self._conns_key(room, _text(user)))
                counts = await pipe.execute()
        except REDIS_FAILURES as exc:
            raise _unavailable(exc) from exc
        return {_text(user): int(count) for user, count in zip(users, counts)}

    # -- re-registration -----------------------------------------------------

    async def reregister(self, node_id: str,
                         connections: Sequence[Connection]) -> None:
        """Make ``connections`` exactly the entries ``node_id`` owns.

        Call it with every live connection of this node (none, right after
        start-up) whenever ``heartbeat`` returns True and after Redis
        failed. Missing entries are added (a user who was not present
        becomes present without a transition being reported: nobody saw them
        leave); entries the node no longer has are removed, and a user left
        with no connection enters the grace period, so they depart through
        ``expire`` as usual. It also cancels a sweep of the node.

        Take ``connections`` right before the call, without awaiting in
        between: ``add`` and ``remove`` calls made after it started wait for
        it, and calls in flight finish first, so none is lost or undone.
        Do not call it concurrently with itself. It runs as one script over
        all of the node's entries.
        """
        args = [node_id, _num(self._grace)]
        for connection in connections:
            args += [connection.room, connection.member.user_id,
                     connection.member.name, connection.conn_id]
        done = self._reregistering = asyncio.Event()
        try:
            while self._writes:
                self._no_writes.clear()
                await self._no_writes.wait()
            await self._run(self._reregister, args)
        finally:
            self._reregistering = None
            done.set()
        if node_id == self._node_id:
            self._in_sync = True

    # -- plumbing ------------------------------------------------------------

    def _users_key(self, room: str) -> str:
        return f"{self._prefix}:presence:room:{{{room}}}:users"

    def _conns_key(self, room: str, user_id: str) -> str:
        return f"{self._prefix}:presence:room:{{{room}}}:conns:{user_id}"

    @contextlib.asynccontextmanager
    async def _write(self) -> AsyncIterator[None]:
        while self._reregistering is not None:
            await self._reregistering.wait()
        self._writes += 1
        try:
            yield
        finally:
            self._writes -= 1
            if not self._writes:
                self._no_writes.set()

    async def _run(self, script: Any, args: list[str]) -> Any:
        now = "" if self._clock is None else _num(self._clock())
        try:
            return await script(args=[self._prefix, now, _num(self._ttl),
                                      *args])
        except REDIS_FAILURES as exc:
            raise _unavailable(exc) from exc


def _num(value: float) -> str:
    return repr(float(value))


def _text(value: bytes | str) -> str:
    return value.decode() if isinstance(value, bytes) else value


def _unavailable(exc: BaseException) -> Unavailable:
    return Unavailable(f"presence store error: {type(exc).__name__}: {exc}")
