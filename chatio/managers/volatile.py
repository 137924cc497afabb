"""Volatile delivery: skip recipients that are falling behind."""
from __future__ import annotations

from typing import Any

from ..constants import VOLATILE_QUEUE_LIMIT


def lagging_sids(manager: Any, namespace: str, room: str,
                 skip: list[str]) -> list[str]:
    """Sockets of ``room`` on this node, not in ``skip``, whose outgoing
    queue is already deep.

    ``manager`` is a python-socketio client manager attached to a server.
    A volatile emit skips them: the next update supersedes what they miss.
    They are counted in the server's metrics, when it has them.
    """
    sockets = manager.server.eio.sockets
    lagging = []
    for sid, eio_sid in manager.get_participants(namespace, room):
        sock = sockets.get(eio_sid)
        if (sock is not None and sid not in skip
                and sock.queue.qsize() >= VOLATILE_QUEUE_LIMIT):
            lagging.append(sid)
    metrics = getattr(manager.server, "metrics", None)
    if lagging and metrics is not None:
        metrics.volatile_skipped(namespace, len(lagging))
    return lagging


def skip_list(skip_sid: str | list[str] | None) -> list[str]:
    """``skip_sid`` as python-socketio accepts it, as a fresh list."""
    if skip_sid is None:
        return []
    if isinstance(skip_sid, str):
        return [skip_sid]
    return list(skip_sid)
