"""LogLimiter: one line per key per interval, with the count it left out."""
from __future__ import annotations

import logging

import pytest

from chatio.log_limits import OVERFLOW_KEY, LogLimiter
from support.clock import FakeClock

NAME = "chatio.test.hostile"


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def limiter(clock: FakeClock) -> LogLimiter:
    return LogLimiter(logging.getLogger(NAME), interval=10.0, max_keys=3,
                      clock=clock)


class Records:
    """The records logged under ``NAME`` during the test."""

    def __init__(self, caplog: pytest.LogCaptureFixture) -> None:
        self._caplog = caplog

    def __len__(self) -> int:
        return len(self._caplog.records)

    def __getitem__(self, index: int) -> logging.LogRecord:
        return self._caplog.records[index]

    def __iter__(self):
        return iter(self._caplog.records)


@pytest.fixture
def records(caplog: pytest.LogCaptureFixture) -> Records:
    caplog.set_level(logging.DEBUG, logger=NAME)
    return Records(caplog)


def fields(record: logging.LogRecord) -> dict:
    return record.fields  # type: ignore[attr-defined]


def test_first_occurrence_is_a_warning_without_traceback(
        limiter: LogLimiter, records: Records) -> None:
    try:
        raise ValueError("bad json at 1:1")
    except ValueError as exc:
        assert limiter.log("bad-packet", "dropped a packet", error=exc,
                           fields={"sid": "s1"}) is True
    [record] = records
    assert record.levelno == logging.WARNING
    assert record.exc_info is None
    assert record.getMessage() == "dropped a packet"
    assert fields(record) == {"sid": "s1", "key": "bad-packet",
                              "error": "ValueError: bad json at 1:1"}


def test_repeats_are_counted_and_reported_once_per_interval(
        limiter: LogLimiter, clock: FakeClock,
        records: Records) -> None:
    assert limiter.log("bad-packet", "dropped a packet")
    assert [limiter.log("bad-packet", "dropped a packet")
            for _ in range(9999)] == [False] * 9999
    assert len(records) == 1
    clock.now += 9.9
    assert not limiter.log("bad-packet", "dropped a packet")
    clock.now += 0.1
    assert limiter.log("bad-packet", "dropped a packet")
    assert len(records) == 2
    assert fields(records[1])["suppressed"] == 10_000
    assert records[1].getMessage() == "dropped a packet"
    # The count starts again after each line.
    clock.now += 10
    assert limiter.log("bad-packet", "dropped a packet")
    assert "suppressed" not in fields(records[2])


def test_keys_are_limited_independently(
        limiter: LogLimiter, records: Records) -> None:
    assert limiter.log("a", "one")
    assert limiter.log("b", "two")
    assert not limiter.log("a", "one")
    assert [fields(r)["key"] for r in records] == ["a", "b"]


def test_keys_beyond_the_cap_share_one_budget(
        limiter: LogLimiter, records: Records) -> None:
    for key in ("a", "b", "c"):
        assert limiter.log(key, key)
    assert limiter.log("d", "d")
    assert not limiter.log("e", "e")
    assert not limiter.log("a", "a")  # a known key keeps its own budget
    assert [fields(r)["key"] for r in records] == ["a", "b", "c",
                                                   OVERFLOW_KEY]


def test_flush_reports_what_was_held_back(
        limiter: LogLimiter, records: Records) -> None:
    limiter.log("a", "one")
    limiter.log("b", "two")
    for _ in range(4):
        limiter.log("a", "one")
    limiter.flush()
    assert len(records) == 3
    assert fields(records[2]) == {"key": "a", "suppressed": 4}
    limiter.flush()  # nothing more to report
    assert len(records) == 3


def test_long_error_text_is_shortened(
        limiter: LogLimiter, records: Records) -> None:
    limiter.log("a", "one", error=ValueError("x" * 10_000))
    assert len(fields(records[0])["error"]) == 200


def test_message_text_is_never_formatted(
        limiter: LogLimiter, records: Records) -> None:
    limiter.log("a", "100% %s %d")
    assert records[0].getMessage() == "100% %s %d"


def test_level_can_be_chosen(clock: FakeClock,
                             records: Records) -> None:
    limiter = LogLimiter(logging.getLogger(NAME), level=logging.INFO,
                         clock=clock)
    limiter.log("a", "one")
    assert records[0].levelno == logging.INFO
