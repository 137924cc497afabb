"""A clock that tests move by hand."""
from __future__ import annotations


class FakeClock:
    """Callable like ``time.monotonic``; advance it by setting ``now``."""

    def __init__(self, start: float = 1000.0) -> None:
        self.now = start

    def __call__(self) -> float:
        return self.now
