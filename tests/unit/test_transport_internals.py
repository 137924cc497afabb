"""The library internals ``chatio.transport`` relies on, checked directly,
so that an upgrade which moves one fails here with its name rather than
somewhere in a functional test. setup.cfg pins the minor versions."""
from __future__ import annotations

import inspect

import aiohttp
import engineio
import socketio
from aiohttp import web_protocol
from engineio import async_socket, base_server
from socketio import async_pubsub_manager

from chatio.transport import websocket, wire


def test_socketio_dispatch_methods_chatio_overrides_exist() -> None:
    for name in ("_handle_connect", "_handle_disconnect", "_handle_ack",
                 "_handle_eio_message", "_handle_eio_disconnect",
                 "_handle_eio_connect", "_send_packet", "_engineio_server_class"):
        assert callable(getattr(socketio.AsyncServer, name)), name
    params = inspect.signature(socketio.AsyncServer._handle_connect).parameters
    assert list(params) == ["self", "eio_sid", "namespace", "data"]


def test_pubsub_manager_delivers_through_the_next_manager_in_line() -> None:
    # RedisManager puts FrameDelivery after AsyncPubSubManager in its MRO;
    # _handle_emit must reach it through super().emit.
    source = inspect.getsource(async_pubsub_manager.AsyncPubSubManager._handle_emit)
    assert "super().emit(" in source


def test_manager_connect_bookkeeping_a_recovered_sid_reuses() -> None:
    # FrameDelivery.pre_connect_as repeats pre_connect with a given sid.
    source = inspect.getsource(socketio.base_manager.BaseManager.pre_connect)
    for part in ("basic_enter_room(sid, namespace, None, eio_sid=eio_sid)",
                 "basic_enter_room(sid, namespace, sid, eio_sid=eio_sid)",
                 "self.pending_connect[namespace].append(sid)"):
        assert part in source, part
    assert callable(socketio.base_manager.BaseManager.eio_sid_from_sid)


def test_engineio_socket_fields_chatio_uses() -> None:
    sock = async_socket.AsyncSocket.__new__(async_socket.AsyncSocket)
    base = engineio.base_socket.BaseSocket
    source = inspect.getsource(base.__init__)
    for field in ("queue", "last_ping", "connected", "upgrading", "upgraded",
                  "closing", "closed"):
        assert f"self.{field}" in source, field
    assert sock is not None
    for helper in ("_ok", "_bad_request", "_unauthorized", "_method_not_found",
                   "_cors_allowed_origins", "_cors_headers", "_service_task"):
        assert hasattr(base_server.BaseServer, helper) or hasattr(
            engineio.AsyncServer, helper), helper


def test_aiohttp_request_handler_can_be_detached() -> None:
    handler = web_protocol.RequestHandler
    assert "_message_tail" in handler.__slots__
    assert "transport" in dir(handler)
    source = inspect.getsource(handler.force_close)
    assert "self.transport is not None" in source
    lost = inspect.getsource(handler.connection_lost)
    assert "_manager.connection_lost" in lost
    assert aiohttp.__version__.startswith("3.14.")


def test_accept_key_matches_rfc_6455_example() -> None:
    assert websocket.accept_key("dGhlIHNhbXBsZSBub25jZQ==") == \
        "s3pPLMBiTxaQ9kYGzzhZRbK+xOo="


def test_text_frames_use_the_shortest_length_form() -> None:
    assert websocket.text_frame(b"hi") == b"\x81\x02hi"
    assert websocket.text_frame(b"x" * 200)[:4] == b"\x81\x7e\x00\xc8"
    assert websocket.text_frame(b"x" * 70000)[:2] == b"\x81\x7f"


def test_wire_round_trip_and_refusals() -> None:
    text = wire.encode(wire.EVENT, "/chat", ["message", {"a": 1}], id=12)
    assert text == '2/chat,12["message",{"a":1}]'
    packet = wire.decode(text)
    assert (packet.type, packet.namespace, packet.id, packet.data) == (
        wire.EVENT, "/chat", 12, ["message", {"a": 1}])
    for bad, code, fatal in [
            ("", wire.PROTOCOL_ERROR, True),
            ("51-/chat,[]", wire.BINARY_UNSUPPORTED, True),
            ("4/chat,{}", wire.PROTOCOL_ERROR, True),
            ("2/chat," + "1" * 16 + "[]", wire.INVALID_PAYLOAD, False),
            ("2/chat,3[" + "[" * 2000, wire.INVALID_PAYLOAD, False),
            ("2/chat,3[NaN]", wire.INVALID_PAYLOAD, False)]:
        try:
            wire.decode(bad)
        except wire.ProtocolError as exc:
            assert (exc.code, exc.fatal) == (code, fatal), bad
        else:
            raise AssertionError(f"{bad!r} was accepted")


def test_what_the_admin_ui_relies_on() -> None:
    from socketio.admin import EventBuffer
    buffer = EventBuffer()
    buffer.push("packetsIn")
    assert [e["type"] for e in buffer.get_and_clear()] == ["packetsIn"]
    params = inspect.signature(socketio.AsyncServer._trigger_event).parameters
    assert list(params) == ["self", "event", "namespace", "args"]
    source = inspect.getsource(socketio.AsyncServer._handle_eio_connect)
    assert "self.environ[eio_sid] = environ" in source
    for name in ("basic_enter_room", "basic_leave_room", "get_rooms",
                 "get_participants", "get_namespaces"):
        assert callable(getattr(socketio.AsyncManager, name)), name
