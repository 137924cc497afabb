"""Recovery records across a graceful restart of a single node.

On SIGTERM every client is dropped, which leaves a record per socket; the
snapshot hands them to the next process on the same data directory, so
clients that reconnect to it within the window are recovered. A node killed
with SIGKILL leaves no snapshot: its clients start new sessions.
"""
from __future__ import annotations

import json
import logging
from pathlib import Path

from ..snapshot_file import take, write_atomically
from .memory import MemoryRecoveryStore

log = logging.getLogger(__name__)

SNAPSHOT_FILE = "recovery.json"


def save_snapshot(store: MemoryRecoveryStore, data_dir: Path) -> int:
    """Write the valid records to ``data_dir``; returns how many."""
    records = store.export()
    try:
        write_atomically(data_dir / SNAPSHOT_FILE, json.dumps(
            {key: [expires, record] for key, (expires, record) in records.items()}))
    except OSError as exc:
        log.warning("could not save recovery records",
                    extra={"fields": {"error": str(exc)}})
        return 0
    return len(records)


def load_snapshot(store: MemoryRecoveryStore, data_dir: Path) -> int:
    """Adopt and remove the snapshot the previous process left."""
    text = take(data_dir / SNAPSHOT_FILE)
    if text is None:
        return 0
    try:
        raw = json.loads(text)
        records = {str(key): (float(value[0]), str(value[1]))
                   for key, value in raw.items()}
    except (ValueError, TypeError, KeyError, IndexError, AttributeError) as exc:
        log.warning("ignoring an unreadable recovery snapshot",
                    extra={"fields": {"error": str(exc)}})
        return 0
    return store.restore(records)
