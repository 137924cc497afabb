"""What the delivery journal says a dropped socket may have missed."""
from __future__ import annotations

import pytest

from chatio.recovery import RoomTrail, SessionRecord
from chatio.transport.journal import DeliveryJournal, parse_offset
from chatio.transport.recovering import split_connect_data
from support.clock import FakeClock

RETENTION = 45.0


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def journal(clock: FakeClock) -> DeliveryJournal:
    return DeliveryJournal("/chat", "message", RETENTION, clock=clock)


def deliver(journal: DeliveryJournal, room: str, seq: int,
            skip: str | None = None) -> int:
    offset = journal.note(room, {"room": room, "seq": seq}, skip)
    assert offset is not None
    parsed = parse_offset(offset)
    assert parsed is not None and parsed[0] == journal.tag
    return parsed[1]


def test_offsets_are_this_node_and_increasing(journal: DeliveryJournal) -> None:
    stamps = [deliver(journal, "r", seq) for seq in (1, 2, 3)]
    assert stamps == sorted(stamps) and len(set(stamps)) == 3


def test_only_messages_with_a_seq_are_stamped(journal: DeliveryJournal) -> None:
    assert journal.note("r", {"text": "no seq"}, None) is None
    assert journal.note("r", {"seq": True}, None) is None
    assert journal.stamp == 0


def test_what_the_client_saw_decides_what_it_has(
        journal: DeliveryJournal) -> None:
    journal.entered("a", "r")
    stamps = [deliver(journal, "r", seq) for seq in (1, 2, 3, 4)]
    trail = journal.trail("a", "r", base=0, have=[], confirmed=0)
    assert trail is not None
    assert trail.received(None) == set()
    assert trail.received(stamps[1]) == {1, 2}
    assert trail.received(stamps[-1]) == {1, 2, 3, 4}


def test_a_ping_answered_confirms_what_was_sent_before_it(
        journal: DeliveryJournal) -> None:
    journal.entered("a", "r")
    stamps = [deliver(journal, "r", seq) for seq in (1, 2, 3)]
    trail = journal.trail("a", "r", base=0, have=[], confirmed=stamps[1])
    assert trail == RoomTrail(base=2, confirmed=[], sent=[(stamps[2], 3)])
    assert trail.received(None) == set()  # above base, nothing seen


def test_deliveries_before_entering_are_not_the_sockets(
        journal: DeliveryJournal) -> None:
    deliver(journal, "r", 1)
    journal.entered("a", "r")
    late = deliver(journal, "r", 2)
    trail = journal.trail("a", "r", base=1, have=[], confirmed=0)
    assert trail is not None and trail.sent == [(late, 2)]


def test_the_senders_own_message_needs_no_replay(
        journal: DeliveryJournal) -> None:
    journal.entered("a", "r")
    deliver(journal, "r", 1, skip="a")
    other = deliver(journal, "r", 2)
    trail = journal.trail("a", "r", base=0, have=[], confirmed=0)
    assert trail == RoomTrail(base=1, confirmed=[], sent=[(other, 2)])


def test_replays_count_and_held_copies_do_not(journal: DeliveryJournal) -> None:
    journal.entered("a", "r")
    held = deliver(journal, "r", 5)
    journal.undelivered("a", "r", held)
    replay = parse_offset(journal.note_direct("a", "r", 5))
    assert replay is not None
    trail = journal.trail("a", "r", base=4, have=[], confirmed=0)
    assert trail is not None and trail.sent == [(replay[1], 5)]


def test_forgotten_deliveries_are_fine_only_when_confirmed(
        journal: DeliveryJournal, clock: FakeClock) -> None:
    journal.entered("a", "r")
    journal.entered("b", "r")
    first = deliver(journal, "r", 1)
    clock.now += RETENTION + 1
    journal.prune()
    deliver(journal, "r", 2)
    assert journal.trail("a", "r", base=0, have=[], confirmed=0) is None
    trail = journal.trail("b", "r", base=0, have=[], confirmed=first)
    assert trail is not None and trail.base == 1


def test_a_socket_that_left_has_no_trail(journal: DeliveryJournal) -> None:
    journal.entered("a", "r")
    journal.left("a", "r")
    assert journal.trail("a", "r", base=0, have=[], confirmed=0) is None


@pytest.mark.parametrize("offset", [None, 5, "", "-", "abc", "t-zz",
                                    "t-" + "f" * 17, "x" * 41])
def test_malformed_offsets_parse_to_nothing(offset) -> None:
    assert parse_offset(offset) is None


def test_connect_data_keeps_auth_apart_from_recovery_fields() -> None:
    assert split_connect_data({"token": "t"}) == ({"token": "t"}, None, None)
    assert split_connect_data({"token": "t", "pid": "p", "offset": "o"}) == \
        ({"token": "t"}, "p", "o")
    assert split_connect_data({"pid": 7}) == (None, None, None)
    assert split_connect_data({"pid": "p" * 65})[1] is None
    assert split_connect_data(None) == (None, None, None)


def test_records_round_trip_and_refuse_garbage() -> None:
    record = SessionRecord("/chat", "sid", "alice", "tag", ["r"],
                           {"r": RoomTrail(3, [5], [(9, 4)])})
    assert SessionRecord.decode(record.encode()) == record
    for text in ("{}", "[]", '{"trails": 1}', "not json"):
        with pytest.raises(ValueError):
            SessionRecord.decode(text)
