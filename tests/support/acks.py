"""Checks of the acks chatio sends back, shared by the test clients."""
from __future__ import annotations

import json
from typing import Any

from chatio.constants import INVALID_PAYLOAD, RETRYABLE_CODES


def assert_ok(ack: Any) -> dict[str, Any]:
    assert isinstance(ack, dict), f"ack is not an object: {ack!r}"
    assert ack.get("ok") is True, f"expected ok, got {_short(ack)}"
    return ack


def assert_error(ack: Any, code: str) -> dict[str, Any]:
    """Check a failed ack's exact shape; return its ``error`` object."""
    assert isinstance(ack, dict), f"ack is not an object: {ack!r}"
    assert ack.get("ok") is False, f"expected {code}, got {_short(ack)}"
    error = ack.get("error")
    assert isinstance(error, dict), f"no error object in {_short(ack)}"
    assert error.get("code") == code, f"expected {code}, got {_short(ack)}"
    check_error_object(error)
    return error


def check_error_object(error: dict[str, Any]) -> None:
    assert isinstance(error.get("message"), str) and error["message"]
    assert error.get("retryable") is (error["code"] in RETRYABLE_CODES)
    assert set(error) <= {"code", "message", "retryable", "details"}, error
    if "details" in error:
        assert isinstance(error["details"], dict), error
    if error["code"] == INVALID_PAYLOAD:
        # Tracebacks never reach the client.
        assert "Traceback" not in json.dumps(error)


def _short(value: Any, limit: int = 400) -> str:
    text = repr(value)
    return text if len(text) <= limit else text[:limit] + "..."
