"""Presence in Redis, shared by every node of a cluster.

Keys (``P`` is ``{prefix}:presence``). A room's keys share the room's hash
slot, the registry of nodes has a slot of its own, and so does each node's
list of rooms, so that no script spans two slots and presence works on a
Redis Cluster as on one server:

``P:room:{<room>}:users``
    hash: user id → display name, for every user present in the room,
    those in their grace period included;
``P:room:{<room>}:conns``
    hash: ``(user, connection)`` → owner, ``<generation> <node id>``: the
    live connections in the room;
``P:room:{<room>}:devices``
    hash: user id → how many live connections the user has in the room;
``P:room:{<room>}:grace``
    sorted set of the room's users in their grace period, scored by the
    time it ends;
``P:{P}:nodes``, ``P:{P}:alive``, ``P:{P}:gens``, ``P:{P}:sweeping``
    the node registry: live nodes scored by their last heartbeat, when
    each one's current stretch of heartbeats began, each one's generation,
    and the ``(generation, node)`` pairs of dead nodes being swept, with
    their last heartbeat;
``P:node:{<node>}:rooms:<generation>``
    set of the rooms where the node, in that generation, has had
    connections;
``P:grace:{P:grace:<n>}:...``
    the ``DueRooms`` index of rooms with grace periods.

Pairs are length-prefixed (``<len>:<user><connection>``), so no user id or
connection id can make two of them look alike.

Every transition of a room is one Lua script in the room's slot, so the
first join, the last leave and each grace expiry are reported to exactly
one caller however many nodes race. Times come from the Redis server's
``TIME``, so nodes need not agree on their clocks (tests may pass a
``clock`` instead). On a Redis Cluster each shard's clock times its own
rooms.

A node has a **generation**, given by the registry when it first
heartbeats and again whenever it was swept; it owns its connections under
``<generation> <node>``. A node whose heartbeat is older than ``ttl`` is
dead. The first ``expire`` that sees it claims it (moves it from the live
nodes to ``sweeping``, in one script of the registry's slot), then every
``expire`` walks the rooms of that generation, one room script each, which
removes the connections that generation owns there; users left with no
connection enter the grace period, counted from the dead node's last
heartbeat, and later depart, once, through the ordinary grace expiry. A
room script only removes connections of the swept generation, so a node
that was only slow, and re-registered under its new generation, keeps its
connections however late a sweeper comes. Only a node that has itself
heartbeated for a whole ``ttl`` may claim: after a Redis outage longer than
``ttl`` every heartbeat looks stale, and the first node back must not
declare the others dead before they had a ``ttl`` to return.
"""
from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Callable, Sequence
from typing import Any

from ..due_rooms import DueRooms
from ..errors import Unavailable
from ..lua import NOW_AND_PAIRS
from ..redis_client import REDIS_FAILURES, RedisClient
from .base import Departure, Member
from .memory import Connection

# The defaults of CHATIO_PRESENCE_TTL and CHATIO_PRESENCE_GRACE.
DEFAULT_TTL = 30.0
DEFAULT_GRACE = 5.0
# Entries swept and departures returned per ``expire`` call, at most.
DEFAULT_BATCH = 1000
# Dead nodes claimed per ``expire`` call, at most.
_CLAIMS = 100
# Rooms ``reregister`` works on concurrently.
_ROOMS_AT_ONCE = 16

# -- the node registry (KEYS: nodes, alive, gens, sweeping) --------------------

_REGISTRY = NOW_AND_PAIRS + """
local NODES, ALIVE, GENS, SWEEPING = KEYS[1], KEYS[2], KEYS[3], KEYS[4]
local TTL = tonumber(ARGV[2])

-- Records that ``node`` is alive. Returns whether it was not registered
-- (never seen, swept, or data lost), and its generation.
local function touch_node(node)
  local known = tonumber(redis.call('ZSCORE', NODES, node))
  if not known or known < now - TTL then
    redis.call('HSET', ALIVE, node, num(now))
  end
  local gen = redis.call('HGET', GENS, node)
  if not known or not gen then
    gen = num(now)
    redis.call('HSET', GENS, node, gen)
  end
  redis.call('ZADD', NODES, num(now), node)
  return not known, gen
end
"""

# ARGV: now, ttl, node
# Returns {node was not registered (0/1), generation}.
HEARTBEAT_SCRIPT = _REGISTRY + """
local lost, gen = touch_node(ARGV[3])
return {lost and 1 or 0, gen}
"""

# ARGV: now, ttl, the calling node, limit
# Claims nodes whose heartbeat is older than the TTL (only a node that has
# itself been alive for a whole TTL may: after an outage of Redis longer
# than the TTL every heartbeat looks stale, and the nodes that come back
# first must give the others a TTL to come back too).
# Returns {generation, node, last heartbeat, ...} of every sweep under way.
CLAIM_SCRIPT = _REGISTRY + """
local me = ARGV[3]
local since = tonumber(redis.call('HGET', ALIVE, me))
if since and now - since >= TTL then
  local dead = redis.call('ZRANGEBYSCORE', NODES, '-inf',
                          '(' .. num(now - TTL), 'WITHSCORES', 'LIMIT', 0,
                          tonumber(ARGV[4]))
  for i = 1, #dead, 2 do
    local gen = redis.call('HGET', GENS, dead[i]) or '0'
    redis.call('ZREM', NODES, dead[i])
    redis.call('HDEL', ALIVE, dead[i])
    redis.call('HDEL', GENS, dead[i])
    redis.call('HSET', SWEEPING, pair(gen, dead[i]), dead[i + 1])
  end
end
local out = {}
local sweeping = redis.call('HGETALL', SWEEPING)
for i = 1, #sweeping, 2 do
  local gen, node = unpair(sweeping[i])
  out[#out + 1] = gen
  out[#out + 1] = node
  out[#out + 1] = sweeping[i + 1]
end
return out
"""

# ARGV: now, ttl, generation, node
SWEPT_SCRIPT = _REGISTRY + """
redis.call('HDEL', SWEEPING, pair(ARGV[3], ARGV[4]))
return 1
"""

# -- one room (KEYS: users, conns, devices, grace) ----------------------------

_ROOM = NOW_AND_PAIRS + """
local USERS, CONNS, DEVICES, GRACE = KEYS[1], KEYS[2], KEYS[3], KEYS[4]

-- Registers ``conn`` of ``user`` as owned by ``owner``. True when the user
-- was not present (neither connected nor in grace).
local function attach(user, name, conn, owner, rename)
  local first = redis.call('HEXISTS', USERS, user) == 0
  if first or rename then
    redis.call('HSET', USERS, user, name)
  end
  local p = pair(user, conn)
  if redis.call('HSETNX', CONNS, p, owner) == 1 then
    redis.call('HINCRBY', DEVICES, user, 1)
  else
    redis.call('HSET', CONNS, p, owner)
  end
  redis.call('ZREM', GRACE, user)
  return first
end

-- Removes ``conn`` of ``user``. When it was the user's last, returns the
-- user's name (the user is still in USERS).
local function detach(user, conn)
  if redis.call('HDEL', CONNS, pair(user, conn)) == 0 then return false end
  if redis.call('HINCRBY', DEVICES, user, -1) > 0 then return false end
  redis.call('HDEL', DEVICES, user)
  return redis.call('HGET', USERS, user)
end

-- The earliest end of a grace period in the room, or ''.
local function next_grace()
  local first = redis.call('ZRANGE', GRACE, 0, 0, 'WITHSCORES')
  return first[2] or ''
end
"""

# ARGV: now, user, name, conn, owner
# Returns 1 when the user was not present, else 0.
ADD_SCRIPT = _ROOM + """
return attach(ARGV[2], ARGV[3], ARGV[4], ARGV[5], true) and 1 or 0
"""

# ARGV: now, user, conn, grace
# Returns {'left', name} when the presence ended now, {'grace', deadline}
# when the grace period began, else {}.
REMOVE_SCRIPT = _ROOM + """
local user, grace = ARGV[2], tonumber(ARGV[4])
local name = detach(user, ARGV[3])
if not name then return {} end
if grace > 0 then
  redis.call('ZADD', GRACE, num(now + grace), user)
  return {'grace', num(now + grace)}
end
redis.call('HDEL', USERS, user)
redis.call('ZREM', GRACE, user)
return {'left', name}
"""

# ARGV: now, owner, grace deadline, batch
# Removes up to batch connections ``owner`` owns; their users left with no
# connection enter grace until the deadline (or now, if later).
# Returns {removed, 1 when none of owner's is left else 0, next grace}.
SWEEP_SCRIPT = _ROOM + """
local owner, batch = ARGV[2], tonumber(ARGV[4])
local deadline = math.max(now, tonumber(ARGV[3]))
local removed = 0
local conns = redis.call('HGETALL', CONNS)
local done = 1
for i = 1, #conns, 2 do
  if conns[i + 1] == owner then
    if removed >= batch then done = 0 break end
    local user, conn = unpair(conns[i])
    if detach(user, conn) then
      redis.call('ZADD', GRACE, num(deadline), user)
    end
    removed = removed + 1
  end
end
return {removed, done, next_grace()}
"""

# ARGV: now, batch
# Returns {next grace or '', user, name, user, name, ...} of the users whose
# grace period ended.
EXPIRE_SCRIPT = _ROOM + """
local out = {''}
local due = redis.call('ZRANGEBYSCORE', GRACE, '-inf', num(now),
                       'LIMIT', 0, tonumber(ARGV[2]))
for _, user in ipairs(due) do
  redis.call('ZREM', GRACE, user)
  if redis.call('HEXISTS', DEVICES, user) == 0 then
    local name = redis.call('HGET', USERS, user)
    if name then
      redis.call('HDEL', USERS, user)
      out[#out + 1] = user
      out[#out + 1] = name
    end
  end
end
out[1] = next_grace()
return out
"""

# ARGV: now, owner, grace, then user, name, conn per wanted connection
# Makes the room's connections of ``owner`` exactly the wanted ones: missing
# ones are added quietly, others removed into the grace period.
# Returns {connections dropped, next grace}.
REREGISTER_SCRIPT = _ROOM + """
local owner, grace = ARGV[2], tonumber(ARGV[3])
local wanted = {}
for i = 4, #ARGV, 3 do
  wanted[pair(ARGV[i], ARGV[i + 2])] = true
  attach(ARGV[i], ARGV[i + 1], ARGV[i + 2], owner, false)
end
local dropped = 0
local conns = redis.call('HGETALL', CONNS)
for i = 1, #conns, 2 do
  if conns[i + 1] == owner and not wanted[conns[i]] then
    local user, conn = unpair(conns[i])
    if detach(user, conn) then
      redis.call('ZADD', GRACE, num(now + grace), user)
    end
    dropped = dropped + 1
  end
end
return {dropped, next_grace()}
"""


class RedisPresenceStore:
    """Implements ``PresenceStore`` for every node of a cluster.

    ``client`` is a ``redis.asyncio.Redis`` or ``RedisCluster`` the caller
    owns; ``prefix`` is ``CHATIO_REDIS_PREFIX``; ``node_id`` is this node's
    ``CHATIO_NODE_ID``. ``ttl`` (``CHATIO_PRESENCE_TTL``) is how long a
    node's entries outlive its last heartbeat; call ``heartbeat`` several
    times within it (the sweeper does, every tick). ``grace``
    (``CHATIO_PRESENCE_GRACE``) is the grace period of the users a dead
    node's sweep or ``reregister`` leaves with no connection. ``clock``
    replaces the Redis server's ``TIME``, for tests. Every method raises
    ``Unavailable`` when Redis fails; the call then may or may not have
    taken effect, and ``reregister`` repairs it.
    """

    def __init__(self, client: RedisClient, prefix: str, node_id: str, *,
                 ttl: float = DEFAULT_TTL, grace: float = DEFAULT_GRACE,
                 clock: Callable[[], float] | None = None,
                 batch: int = DEFAULT_BATCH) -> None:
        if ttl <= 0:
            raise ValueError("ttl must be positive")
        self._client = client
        self._base = f"{prefix}:presence"
        self._node_id = node_id
        self._ttl = ttl
        self._grace = max(0.0, grace)
        self._clock = clock
        self._batch = max(1, batch)
        self._grace_rooms = DueRooms(client, f"{self._base}:grace",
                                     clock=clock)
        registry = f"{self._base}:{{{self._base}}}"
        self._registry = [f"{registry}:nodes", f"{registry}:alive",
                          f"{registry}:gens", f"{registry}:sweeping"]
        self._heartbeat = client.register_script(HEARTBEAT_SCRIPT)
        self._claim = client.register_script(CLAIM_SCRIPT)
        self._swept = client.register_script(SWEPT_SCRIPT)
        self._add = client.register_script(ADD_SCRIPT)
        self._remove = client.register_script(REMOVE_SCRIPT)
        self._sweep = client.register_script(SWEEP_SCRIPT)
        self._expire = client.register_script(EXPIRE_SCRIPT)
        self._reregister = client.register_script(REREGISTER_SCRIPT)
        # This node's generation, as the registry last told it.
        self._gen: str | None = None
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
            try:
                owner = await self._owner(node_id)
                await self._client.sadd(self._rooms_key(owner), room)
                first = await self._run_room(self._add, room, [
                    member.user_id, member.name, conn_id, owner])
            except REDIS_FAILURES as exc:
                raise _unavailable(exc) from exc
        return bool(int(first))

    async def remove(self, room: str, user_id: str, conn_id: str,
                     grace: float) -> Member | None:
        grace = max(0.0, grace)
        async with self._write():
            try:
                if grace > 0:
                    # Indexed first: a node that dies right after the room
                    # script still leaves the grace period to be found.
                    await self._grace_rooms.mark_in(room, grace)
                reply = await self._run_room(self._remove, room, [
                    user_id, conn_id, _num(grace)])
            except REDIS_FAILURES as exc:
                raise _unavailable(exc) from exc
        if reply and _text(reply[0]) == "left":
            return Member(user_id, _text(reply[1]))
        return None

    async def heartbeat(self, node_id: str) -> bool:
        """Refresh ``node_id``'s heartbeat. True while this node's entries
        in Redis may not match its connections: this process has not called
        ``reregister`` yet, or Redis had lost the node (its data was lost,
        or the node was swept as dead while it was only slow). The caller
        should then call ``reregister``."""
        lost, _ = await self._beat(node_id)
        if node_id != self._node_id:
            return lost
        if lost:
            self._in_sync = False
        return not self._in_sync

    async def expire(self) -> list[Departure]:
        """Sweep dead nodes (into the grace period) and end the presence of
        users whose grace period is over. At most ``batch`` entries are
        swept and ``batch`` departures returned per call; the rest wait for
        the next call."""
        try:
            await self._sweep_dead()
            return await self._end_grace()
        except REDIS_FAILURES as exc:
            raise _unavailable(exc) from exc

    async def members(self, room: str) -> list[Member]:
        try:
            users = await self._client.hgetall(self._room_keys(room)[0])
        except REDIS_FAILURES as exc:
            raise _unavailable(exc) from exc
        return [Member(_text(user), _text(name))
                for user, name in users.items()]

    async def is_connected(self, room: str, user_id: str) -> bool:
        try:
            count = await self._client.hexists(self._room_keys(room)[2],
                                               user_id)
        except REDIS_FAILURES as exc:
            raise _unavailable(exc) from exc
        return bool(count)

    async def devices(self, room: str) -> dict[str, int]:
        users_key, _, devices_key, _ = self._room_keys(room)
        try:
            users = await self._client.hkeys(users_key)
            counts = await self._client.hgetall(devices_key)
        except REDIS_FAILURES as exc:
            raise _unavailable(exc) from exc
        known = {_text(user): int(count) for user, count in counts.items()}
        return {_text(user): known.get(_text(user), 0) for user in users}

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
        ``expire`` as usual. It also starts a new sweep-proof generation
        when the node had been swept.

        Take ``connections`` right before the call, without awaiting in
        between: ``add`` and ``remove`` calls made after it started wait for
        it, and calls in flight finish first, so none is lost or undone.
        Do not call it concurrently with itself. It runs one script per
        room the node has or had connections in.
        """
        done = self._reregistering = asyncio.Event()
        try:
            while self._writes:
                self._no_writes.clear()
                await self._no_writes.wait()
            try:
                await self._replace(node_id, connections)
            except REDIS_FAILURES as exc:
                raise _unavailable(exc) from exc
        finally:
            self._reregistering = None
            done.set()
        if node_id == self._node_id:
            self._in_sync = True

    async def _replace(self, node_id: str,
                       connections: Sequence[Connection]) -> None:
        _, gen = await self._beat(node_id)
        owner = _owner(gen, node_id)
        rooms_key = self._rooms_key(owner)
        wanted: dict[str, list[str]] = {}
        for connection in connections:
            wanted.setdefault(connection.room, []).extend([
                connection.member.user_id, connection.member.name,
                connection.conn_id])
        if wanted:
            await self._client.sadd(rooms_key, *wanted)
        known = {_text(room) for room in
                 await self._client.smembers(rooms_key)}
        async def one_room(room: str) -> None:
            if self._grace > 0:
                await self._grace_rooms.mark_in(room, self._grace)
            await self._run_room(self._reregister, room, [
                owner, _num(self._grace), *wanted.get(room, [])])
            if room not in wanted:
                await self._client.srem(rooms_key, room)

        rooms = sorted(known | set(wanted))
        for start in range(0, len(rooms), _ROOMS_AT_ONCE):
            outcomes = await asyncio.gather(
                *(one_room(room) for room in
                  rooms[start:start + _ROOMS_AT_ONCE]),
                return_exceptions=True)
            for outcome in outcomes:
                if isinstance(outcome, BaseException):
                    raise outcome

    # -- sweeping ------------------------------------------------------------

    async def _sweep_dead(self) -> None:
        """Claim dead nodes, then remove up to ``batch`` of their
        connections, room by room."""
        flat = [_text(v) for v in await self._run_registry(
            self._claim, [self._node_id, str(_CLAIMS)])]
        budget = self._batch
        for i in range(0, len(flat), 3):
            gen, node, beat = flat[i], flat[i + 1], float(flat[i + 2])
            owner = _owner(gen, node)
            rooms_key = self._rooms_key(owner)
            while budget > 0:
                rooms = await self._client.srandmember(rooms_key, 10)
                if not rooms:
                    await self._run_registry(self._swept, [gen, node])
                    break
                for room in map(_text, rooms):
                    if budget <= 0:
                        break
                    removed, finished, nxt = await self._run_room(
                        self._sweep, room,
                        [owner, _num(beat + self._grace), str(budget)])
                    budget -= int(removed)
                    if _text(nxt):
                        await self._grace_rooms.mark(room, float(_text(nxt)))
                    if int(finished):
                        await self._client.srem(rooms_key, room)
            if budget <= 0:
                break

    async def _end_grace(self) -> list[Departure]:
        departures: list[Departure] = []
        for room, marks in await self._grace_rooms.due(self._batch):
            budget = self._batch - len(departures)
            if budget <= 0:
                break
            flat = [_text(v) for v in await self._run_room(
                self._expire, room, [str(budget)])]
            departures += [Departure(room, Member(flat[i], flat[i + 1]))
                           for i in range(1, len(flat), 2)]
            await self._grace_rooms.settle(
                room, marks, float(flat[0]) if flat[0] else None)
        return departures

    # -- plumbing ------------------------------------------------------------

    async def _beat(self, node_id: str) -> tuple[bool, str]:
        try:
            lost, gen = await self._run_registry(self._heartbeat,
                                                    [node_id])
        except REDIS_FAILURES as exc:
            raise _unavailable(exc) from exc
        gen = _text(gen)
        if node_id == self._node_id:
            self._gen = gen
        return bool(int(lost)), gen

    async def _owner(self, node_id: str) -> str:
        """``<generation> <node>`` for this node's entries; a node this
        store does not run is registered on the spot."""
        if node_id == self._node_id and self._gen is not None:
            return _owner(self._gen, node_id)
        lost, gen = await self._beat(node_id)
        if lost and node_id == self._node_id:
            self._in_sync = False
        return _owner(gen, node_id)

    def _room_keys(self, room: str) -> list[str]:
        base = f"{self._base}:room:{{{room}}}"
        return [f"{base}:users", f"{base}:conns", f"{base}:devices",
                f"{base}:grace"]

    def _rooms_key(self, owner: str) -> str:
        gen, _, node = owner.partition(" ")
        return f"{self._base}:node:{{{node}}}:rooms:{gen}"

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

    async def _run_room(self, script: Any, room: str, args: list[str]) -> Any:
        return await script(keys=self._room_keys(room),
                            args=[self._now(), *args])

    async def _run_registry(self, script: Any, args: list[str]) -> Any:
        return await script(keys=self._registry,
                            args=[self._now(), _num(self._ttl), *args])

    def _now(self) -> str:
        return "" if self._clock is None else _num(self._clock())


def _owner(gen: str, node_id: str) -> str:
    return f"{gen} {node_id}"


def _num(value: float) -> str:
    return repr(float(value))


def _text(value: bytes | str) -> str:
    return value.decode() if isinstance(value, bytes) else value


def _unavailable(exc: BaseException) -> Unavailable:
    return Unavailable(f"presence store error: {type(exc).__name__}: {exc}")
