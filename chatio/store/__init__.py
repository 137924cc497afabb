"""History stores: the interface and its implementations."""
from __future__ import annotations

from ..settings import Settings
from .base import (Appended, Change, Draft, HistoryStore, Page, Reacted,
                   Reader, ReadState)
from .memory import MemoryHistoryStore
from .sqlite import SqliteHistoryStore

__all__ = ["Appended", "Change", "Draft", "HistoryStore", "Page", "Reacted",
           "ReadState", "Reader", "build_history_store"]


def build_history_store(settings: Settings) -> HistoryStore:
    """The store the settings ask for (not yet opened)."""
    if settings.history_backend == "memory":
        return MemoryHistoryStore(settings.history_retention)
    return SqliteHistoryStore(settings.data_dir / "chatio.sqlite3",
                              settings.history_retention)
