"""Counting what a client manager delivers to this node's sockets."""
from __future__ import annotations

from typing import Any


def count_deliveries(manager: Any, namespace: str | None, room: Any,
                     skip_sid: Any) -> None:
    """Record in the server's metrics how many of this node's sockets an
    emit to ``room`` reaches: the room's size here, less the skipped ones.
    Costs no iteration over the room."""
    metrics = getattr(manager.server, "metrics", None)
    if metrics is None:
        return
    namespace = namespace or "/"
    members = manager.rooms.get(namespace, {}).get(room)
    if not members:
        return
    if skip_sid is None:
        skipped = 0
    elif isinstance(skip_sid, str):
        skipped = int(skip_sid in members)
    else:
        skipped = sum(1 for sid in skip_sid if sid in members)
    metrics.delivered(namespace, len(members) - skipped)
