"""The TypingState contract, run against every implementation."""
from __future__ import annotations

import pytest
from support.clock import FakeClock

from chatio.typing_state import MemoryTypingState, Typist, TypingState

ANN = Typist("r", "ann", "Ann")



@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture(params=["memory"])
def state(request: pytest.FixtureRequest, clock: FakeClock) -> TypingState:
    return MemoryTypingState(clock=clock)


async def test_only_the_first_start_is_a_transition(state: TypingState) -> None:
    assert await state.start(ANN, ttl=6) is True
    assert await state.start(ANN, ttl=6) is False


async def test_stop_reports_whether_it_was_typing(state: TypingState) -> None:
    assert await state.stop("r", "ann") is None
    await state.start(ANN, ttl=6)
    assert await state.stop("r", "ann") == ANN
    assert await state.stop("r", "ann") is None


async def test_refresh_extends_the_expiry(state: TypingState, clock: FakeClock) -> None:
    await state.start(ANN, ttl=6)
    clock.now += 5
    await state.start(ANN, ttl=6)
    clock.now += 5
    assert await state.expire() == []
    clock.now += 1.5
    assert await state.expire() == [ANN]
    assert await state.start(ANN, ttl=6) is True
