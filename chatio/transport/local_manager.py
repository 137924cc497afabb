"""The single-node client manager."""
from __future__ import annotations

from .delivery import FrameDelivery


class LocalManager(FrameDelivery):
    """python-socketio's in-process manager with frame-once delivery,
    volatile emits and delivery counts."""
