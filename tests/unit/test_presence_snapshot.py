from pathlib import Path

from chatio.presence import Member, MemoryPresenceStore
from chatio.presence.snapshot import SNAPSHOT_FILE, load_snapshot, save_snapshot
from support.clock import FakeClock


async def test_absent_users_survive_a_restart_in_their_grace(tmp_path: Path) -> None:
    clock = FakeClock()
    before = MemoryPresenceStore(clock=clock)
    await before.add("r", Member("ann", "Ann"), "c1", "n1")
    await before.remove("r", "ann", "c1", grace=5)
    clock.now += 2
    assert save_snapshot(before, tmp_path, grace=5) == 1

    after = MemoryPresenceStore(clock=clock)
    assert load_snapshot(after, tmp_path) == 1
    assert not (tmp_path / SNAPSHOT_FILE).exists()
    assert await after.members("r") == [Member("ann", "Ann")]
    assert await after.add("r", Member("ann", "Ann"), "c2", "n1") is False

    gone = MemoryPresenceStore(clock=clock)
    save_snapshot(before, tmp_path, grace=5)
    load_snapshot(gone, tmp_path)
    clock.now += 3.1
    [departure] = await gone.expire()
    assert departure.member.user_id == "ann"


def test_unreadable_snapshot_is_ignored(tmp_path: Path) -> None:
    (tmp_path / SNAPSHOT_FILE).write_text("{not json")
    assert load_snapshot(MemoryPresenceStore(), tmp_path) == 0
    assert not (tmp_path / SNAPSHOT_FILE).exists()
