"""Structured logging: one JSON object per line on stdout."""
from __future__ import annotations

import json
import logging
import sys
import time
from typing import Any

from .settings import log_level_number


class JsonFormatter(logging.Formatter):
    """Formats a record as JSON; ``extra={"fields": {...}}`` adds keys."""

    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "ts": time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(record.created))
            + f".{int(record.msecs):03d}Z",
            "level": record.levelname.lower(),
            "logger": record.name,
            "msg": record.getMessage(),
        }
        fields = getattr(record, "fields", None)
        if isinstance(fields, dict):
            entry.update(fields)
        if record.exc_info:
            entry["traceback"] = self.formatException(record.exc_info)
        return json.dumps(entry, default=str, ensure_ascii=False)


def configure_logging(level: str, node_id: str) -> None:
    """Send every log record to stdout as JSON, tagged with the node id."""
    handler = logging.StreamHandler(sys.stdout)
    handler.setFormatter(JsonFormatter())
    handler.addFilter(_NodeTag(node_id))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(log_level_number(level))
    # Library chatter (per-packet INFO lines) stays out of the log.
    for noisy in ("socketio", "engineio", "aiohttp.access"):
        logging.getLogger(noisy).setLevel(logging.WARNING)


class _NodeTag(logging.Filter):
    def __init__(self, node_id: str) -> None:
        super().__init__()
        self._node_id = node_id

    def filter(self, record: logging.LogRecord) -> bool:
        fields = getattr(record, "fields", None)
        record.fields = {"node": self._node_id, **(fields or {})}
        return True
