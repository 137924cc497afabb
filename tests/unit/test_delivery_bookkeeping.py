"""FrameDelivery's connection bookkeeping, which python-socketio's own
would leave behind when a namespace's last socket goes."""
from __future__ import annotations

from chatio.transport.delivery import FrameDelivery


def connect(manager: FrameDelivery, sid: str, eio_sid: str) -> None:
    manager.basic_enter_room(sid, "/chat", None, eio_sid=eio_sid)
    manager.basic_enter_room(sid, "/chat", sid, eio_sid=eio_sid)


def test_the_last_socket_of_a_namespace_leaves_nothing_pending() -> None:
    manager = FrameDelivery()
    connect(manager, "a", "eio-a")
    manager.basic_enter_room("a", "/chat", "lobby")
    manager.pre_disconnect("a", "/chat")
    manager.basic_disconnect("a", "/chat")
    assert manager.pending_disconnect == {}
    assert "/chat" not in manager.rooms
    # The same sid can come back (a recovered socket) as connected.
    connect(manager, "a", "eio-b")
    assert manager.is_connected("a", "/chat")


def test_other_sockets_keep_their_rooms() -> None:
    manager = FrameDelivery()
    connect(manager, "a", "eio-a")
    connect(manager, "b", "eio-b")
    for sid in ("a", "b"):
        manager.basic_enter_room(sid, "/chat", "lobby")
    manager.pre_disconnect("a", "/chat")
    manager.basic_disconnect("a", "/chat")
    assert manager.pending_disconnect == {}
    assert manager.get_rooms("b", "/chat") in (["lobby", "b"], ["b", "lobby"])
    assert manager.get_rooms("a", "/chat") == []
