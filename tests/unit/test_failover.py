"""Presence and typing fall back to the node's own knowledge while the shared
store fails, and presence re-registers the node's connections after."""
from __future__ import annotations

from chatio.errors import Unavailable
from chatio.presence import Member, MemoryPresenceStore
from chatio.presence.failover import FailoverPresenceStore
from chatio.typing_state import MemoryTypingState, Typist
from chatio.typing_state.failover import FailoverTypingState

ALICE = Member("alice", "Alice")
BOB = Member("bob", "Bob")


class Switchable:
    """Wraps an in-memory store; every call raises ``Unavailable`` while
    ``down`` is set, like a Redis store during an outage."""

    def __init__(self, inner):
        self.inner = inner
        self.down = False
        self.calls = 0
        self.reregistered = None

    def __getattr__(self, name):
        method = getattr(self.inner, name)

        async def call(*args, **kwargs):
            self.calls += 1
            if self.down:
                raise Unavailable("redis is down")
            return await method(*args, **kwargs)
        return call

    async def reregister(self, node_id, connections):
        self.calls += 1
        if self.down:
            raise Unavailable("redis is down")
        self.reregistered = (node_id, connections)


async def test_presence_uses_the_shared_store_while_it_answers():
    shared = Switchable(MemoryPresenceStore())
    store = FailoverPresenceStore(shared, "n1")
    # Another node's device is already present: no transition here.
    await shared.inner.add("lobby", ALICE, "other-sid", "n2")
    assert await store.add("lobby", ALICE, "sid-1", "n1") is False
    assert await store.members("lobby") == [ALICE]
    assert not store.degraded


async def test_presence_degrades_to_local_knowledge_and_reregisters():
    shared = Switchable(MemoryPresenceStore())
    store = FailoverPresenceStore(shared, "n1")
    assert await store.add("lobby", ALICE, "sid-1", "n1") is True

    shared.down = True
    assert await store.add("lobby", BOB, "sid-2", "n1") is True
    assert store.degraded
    calls = shared.calls
    # While degraded only the heartbeat probes the shared store.
    assert await store.remove("lobby", "alice", "sid-1", 0) == ALICE
    assert await store.members("lobby") == [BOB]
    assert await store.is_connected("lobby", "bob") is True
    assert await store.expire() == []
    assert shared.calls == calls
    await store.heartbeat("n1")
    assert store.degraded and shared.reregistered is None

    shared.down = False
    await store.heartbeat("n1")
    assert not store.degraded
    node_id, connections = shared.reregistered
    assert node_id == "n1"
    assert [(c.room, c.member, c.conn_id) for c in connections] == \
        [("lobby", BOB, "sid-2")]


class Clock:
    def __init__(self):
        self.now = 100.0

    def __call__(self):
        return self.now


def typing_state():
    clock = Clock()
    shared = Switchable(MemoryTypingState(clock))
    state = FailoverTypingState(shared, MemoryTypingState(clock),
                                probe_interval=1.0, clock=clock)
    return clock, shared, state


async def test_typing_degrades_to_local_transitions():
    clock, shared, state = typing_state()
    typist = Typist("lobby", "bob", "Bob")
    # Typing started on another node: refreshing here is no transition.
    await shared.inner.start(typist, 6)
    assert await state.start(typist, 6) is False

    shared.down = True
    other = Typist("lobby", "carol", "Carol")
    assert await state.start(other, 6) is True
    assert state.degraded
    assert await state.stop("lobby", "carol") == other
    clock.now += 1
    shared.down = False
    assert await state.stop("lobby", "bob") == typist
    assert not state.degraded


async def test_typing_probes_a_failed_store_at_most_once_per_interval():
    clock, shared, state = typing_state()
    shared.down = True
    dave = Typist("lobby", "dave", "Dave")
    assert await state.start(dave, 6) is True
    calls = shared.calls
    assert await state.stop("lobby", "dave") == dave
    assert await state.expire() == []
    assert shared.calls == calls
    clock.now += 1
    await state.expire()
    assert shared.calls == calls + 1


async def test_typing_started_during_an_outage_still_stops_after_it():
    clock, shared, state = typing_state()
    shared.down = True
    erin, frank = Typist("lobby", "erin", "Erin"), Typist("lobby", "frank", "F")
    assert await state.start(erin, 6) is True
    assert await state.start(frank, 6) is True
    clock.now += 1
    shared.down = False
    # The shared store never heard of them; this node announced them, so
    # it announces their end too.
    assert await state.stop("lobby", "erin") == erin
    clock.now += 6
    assert await state.expire() == [frank]
    assert await state.expire() == []
