"""Presence across a graceful restart of a single node.

On SIGTERM every client is dropped into its grace period; the snapshot keeps
those users present, so clients that reconnect within the grace period to
the restarted node cause no ``left``/``joined`` pair for everyone else.
"""
from __future__ import annotations

import json
import logging
import os
from pathlib import Path

from .memory import MemoryPresenceStore

log = logging.getLogger(__name__)

SNAPSHOT_FILE = "presence.json"


def save_snapshot(store: MemoryPresenceStore, data_dir: Path, grace: float) -> int:
    """Write the absent users to ``data_dir``; returns how many."""
    entries = store.export_absent(grace)
    path = data_dir / SNAPSHOT_FILE
    temporary = path.with_suffix(".tmp")
    try:
        data_dir.mkdir(parents=True, exist_ok=True)
        temporary.write_text(json.dumps(entries))
        os.replace(temporary, path)
    except OSError as exc:
        log.warning("could not save presence", extra={"fields": {"error": str(exc)}})
        return 0
    return len(entries)


def load_snapshot(store: MemoryPresenceStore, data_dir: Path) -> int:
    """Restore and remove a snapshot left by the previous process."""
    path = data_dir / SNAPSHOT_FILE
    try:
        entries = json.loads(path.read_text())
        store.import_absent(entries)
    except FileNotFoundError:
        return 0
    except (ValueError, TypeError, KeyError) as exc:
        log.warning("ignoring an unreadable presence snapshot",
                    extra={"fields": {"error": str(exc)}})
        entries = []
    path.unlink(missing_ok=True)
    return len(entries)
