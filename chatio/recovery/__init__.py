"""Connection state recovery: what a dropped socket needs to come back.

A socket whose transport dropped leaves a ``SessionRecord`` (its sid, user,
rooms and, per /chat room, what was sent to it) under its ``pid`` for
``CHATIO_RECOVERY_WINDOW`` seconds. A CONNECT presenting that pid, with a
token of the same user, takes the record back once (``RecoveryStore.take``)
and the socket resumes with its sid and rooms; ``chatio.services.recovery``
works out which messages it missed.
"""
from .base import RecoveryStore
from .memory import MemoryRecoveryStore
from .record import RoomTrail, SessionRecord

__all__ = ["MemoryRecoveryStore", "RecoveryStore", "RoomTrail",
           "SessionRecord"]
