"""Presence across a graceful restart of a single node.

On SIGTERM every client is dropped into its grace period; the snapshot keeps
those users present, so clients that reconnect within the grace period to
the restarted node cause no ``left``/``joined`` pair for everyone else.
"""
from __future__ import annotations

import json
import logging
from pathlib import Path

from ..snapshot_file import take, write_atomically
from .memory import MemoryPresenceStore

log = logging.getLogger(__name__)

SNAPSHOT_FILE = "presence.json"


def save_snapshot(store: MemoryPresenceStore, data_dir: Path, grace: float) -> int:
    """Write the absent users to ``data_dir``; returns how many."""
    entries = store.export_absent(grace)
    try:
        write_atomically(data_dir / SNAPSHOT_FILE, json.dumps(entries))
    except OSError as exc:
        log.warning("could not save presence", extra={"fields": {"error": str(exc)}})
        return 0
    return len(entries)


def load_snapshot(store: MemoryPresenceStore, data_dir: Path) -> int:
    """Restore and remove a snapshot left by the previous process."""
    text = take(data_dir / SNAPSHOT_FILE)
    if text is None:
        return 0
    try:
        entries = json.loads(text)
        store.import_absent(entries)
    except (ValueError, TypeError, KeyError) as exc:
        log.warning("ignoring an unreadable presence snapshot",
                    extra={"fields": {"error": str(exc)}})
        return 0
    return len(entries)
