"""Presence: the store interface and its implementations."""
from .base import Departure, Member, PresenceStore
from .memory import MemoryPresenceStore

__all__ = ["Departure", "Member", "MemoryPresenceStore", "PresenceStore"]
