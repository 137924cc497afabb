"""Logging hostile input without letting a flood of it fill the log.

A ``LogLimiter`` logs the first occurrence of a key at WARNING, without a
traceback, then at most one line per key every ``interval`` seconds, whose
field ``suppressed`` counts the occurrences left out since the previous
line::

    BAD_PACKETS = LogLimiter(logging.getLogger("chatio.server"))
    ...
    except ValueError as exc:
        BAD_PACKETS.log("bad-packet", "dropped a malformed packet", error=exc,
                        fields={"sid": sid})

Keys must be a small fixed set chosen by the code, never text from a
client. As a safeguard, keys beyond ``max_keys`` share one budget, under
``OVERFLOW_KEY``.
"""
from __future__ import annotations

import logging
import time
from collections.abc import Callable, Mapping
from typing import Any

OVERFLOW_KEY = "(other)"
_ERROR_CHARS = 200


class LogLimiter:
    """Rate-limited log lines, counted per key."""

    def __init__(self, logger: logging.Logger, interval: float = 60.0, *,
                 level: int = logging.WARNING, max_keys: int = 64,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self._logger = logger
        self._interval = interval
        self._level = level
        self._max_keys = max_keys
        self._clock = clock
        self._keys: dict[str, _Key] = {}

    def log(self, key: str, message: str, *,
            error: BaseException | None = None,
            fields: Mapping[str, Any] | None = None) -> bool:
        """Log ``message`` under ``key`` unless that key logged within the
        interval; return whether a line was written. ``error`` is given as
        its type and (shortened) text, never as a traceback."""
        now = self._clock()
        if key not in self._keys and len(self._keys) >= self._max_keys:
            key = OVERFLOW_KEY
        state = self._keys.get(key)
        if state is not None and now - state.logged_at < self._interval:
            state.suppressed += 1
            return False
        suppressed = 0 if state is None else state.suppressed
        self._keys[key] = _Key(now)
        line: dict[str, Any] = dict(fields or {})
        line["key"] = key
        if error is not None:
            line["error"] = _describe(error)
        if suppressed:
            line["suppressed"] = suppressed
        self._logger.log(self._level, message, extra={"fields": line})
        return True

    def flush(self) -> None:
        """Log the counts still held back (for example at shutdown)."""
        for key, state in self._keys.items():
            if state.suppressed:
                self._logger.log(
                    self._level, "%d more of %s were not logged",
                    state.suppressed, key,
                    extra={"fields": {"key": key,
                                      "suppressed": state.suppressed}})
                state.suppressed = 0


class _Key:
    __slots__ = ("logged_at", "suppressed")

    def __init__(self, logged_at: float) -> None:
        self.logged_at = logged_at
        self.suppressed = 0


def _describe(error: BaseException) -> str:
    text = f"{type(error).__name__}: {error}"
    if len(text) > _ERROR_CHARS:
        text = text[:_ERROR_CHARS - 1] + "…"
    return text
