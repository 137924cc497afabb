"""SessionRecovery: single-use records bound to a user, and which messages
a recovering socket is replayed."""
from __future__ import annotations

import pytest

from chatio.recovery import MemoryRecoveryStore, RoomTrail, SessionRecord
from chatio.services import recovery as recovery_module
from chatio.services.recovery import SessionRecovery
from chatio.store import Draft
from chatio.store.memory import MemoryHistoryStore


@pytest.fixture
def history() -> MemoryHistoryStore:
    return MemoryHistoryStore(retention=50)


@pytest.fixture
def recovery(history: MemoryHistoryStore) -> SessionRecovery:
    return SessionRecovery(MemoryRecoveryStore(), history, window=60)


async def fill(history: MemoryHistoryStore, room: str, count: int) -> str:
    for n in range(count):
        await history.append(Draft(id=f"{room}-{n}", room=room, user_id="bob",
                                   user_name="Bob", text=str(n), ts=0))
    return await history.epoch(room)


def record(user: str = "alice", **trails: RoomTrail) -> SessionRecord:
    return SessionRecord("/chat", "sid-1", user, "node", sorted(trails),
                         dict(trails))


async def test_a_record_is_claimed_once_by_its_user(
        recovery: SessionRecovery) -> None:
    pid = recovery.new_pid()
    assert len(pid) >= 24 and pid != recovery.new_pid()
    await recovery.suspend(pid, record())
    assert await recovery.claim(pid, "/chat", "mallory") is None
    assert await recovery.claim(pid, "/typing", "alice") is None
    claimed = await recovery.claim(pid, "/chat", "alice")
    assert claimed == record()
    assert await recovery.claim(pid, "/chat", "alice") is None


async def test_missed_is_what_the_client_lacks_in_seq_order(
        recovery: SessionRecovery, history: MemoryHistoryStore) -> None:
    epoch = await fill(history, "r", 8)
    # It had 1..3 and 5; 6 reached it (stamp 20), 7 may not have (stamp 30).
    trail = RoomTrail(base=3, confirmed=[5], sent=[(20, 6), (30, 7)],
                      epoch=epoch)
    missed = await recovery.missed(record(r=trail), stamp=20)
    assert [m["seq"] for m in missed["r"]] == [4, 7, 8]
    missed = await recovery.missed(record(r=trail), stamp=None)
    assert [m["seq"] for m in missed["r"]] == [4, 6, 7, 8]
    later = await recovery.missed(record(r=trail), stamp=20, after={"r": 7})
    assert [m["seq"] for m in later["r"]] == [8]


async def test_nothing_is_replayed_across_an_epoch_or_a_trim(
        recovery: SessionRecovery, history: MemoryHistoryStore) -> None:
    await fill(history, "r", 3)
    stale = RoomTrail(base=1, epoch="0123456789abcdef")
    assert await recovery.missed(record(r=stale), stamp=None) is None
    epoch = await fill(history, "long", 60)  # retention keeps the last 50
    assert await recovery.missed(
        record(long=RoomTrail(base=2, epoch=epoch)), stamp=None) is None


async def test_too_many_missed_messages_start_a_new_session(
        recovery: SessionRecovery, history: MemoryHistoryStore,
        monkeypatch: pytest.MonkeyPatch) -> None:
    epoch = await fill(history, "r", 6)
    monkeypatch.setattr(recovery_module, "MAX_REPLAY", 5)
    assert await recovery.missed(
        record(r=RoomTrail(base=0, epoch=epoch)), stamp=None) is None
    missed = await recovery.missed(
        record(r=RoomTrail(base=1, epoch=epoch)), stamp=None)
    assert missed is not None and len(missed["r"]) == 5
