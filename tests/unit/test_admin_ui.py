"""The Admin UI's hooks: unset (free) when it is off, set when it is on;
and what it shows of a handshake or a payload."""
from __future__ import annotations

from pathlib import Path

from chatio.app import create_app
from chatio.appkeys import SIO
from chatio.settings import Settings
from chatio.transport.admin_view import REDACTED, handshake, redact
from chatio.transport.engine import ChatioEngine
from chatio.transport.socket import ChatioSocket


def settings(tmp_path: Path, **changes: object) -> Settings:
    return Settings(secret="s" * 32, data_dir=tmp_path,
                    history_backend="memory").replace(**changes)


async def test_no_hook_is_set_when_the_admin_ui_is_off(tmp_path: Path) -> None:
    sio = (await create_app(settings(tmp_path)))[SIO]
    assert sio.observer is None
    assert sio.manager.observer is None
    assert "socket_class" not in vars(sio.eio)
    assert ChatioEngine.socket_class is ChatioSocket
    assert "_trigger_event" not in vars(sio)
    assert "/admin" not in sio.handlers


async def test_hooks_are_set_when_the_admin_ui_is_on(tmp_path: Path) -> None:
    sio = (await create_app(settings(
        tmp_path, admin_password="a-long-password")))[SIO]
    assert sio.observer is not None
    assert sio.manager.observer is sio.observer
    assert issubclass(sio.eio.socket_class, ChatioSocket)
    assert sio.eio.socket_class is not ChatioSocket
    assert ChatioEngine.socket_class is ChatioSocket  # this instance only
    assert "connect" in sio.handlers["/admin"]


def test_handshake_hides_credentials_but_keeps_their_names() -> None:
    shown = handshake({
        "QUERY_STRING": "EIO=4&transport=websocket&token=abc.def&x=1",
        "HTTP_AUTHORIZATION": "Bearer abc.def",
        "HTTP_USER_AGENT": "test-agent",
        "HTTP_COOKIE": "session=1",
        "wsgi.url_scheme": "https",
    }, "10.0.0.1", 0.0)
    assert shown["query"] == {"EIO": "4", "transport": "websocket",
                              "token": REDACTED, "x": REDACTED}
    assert shown["headers"] == {"authorization": REDACTED,
                                "user-agent": "test-agent",
                                "cookie": REDACTED}
    assert shown["secure"] is True and shown["address"] == "10.0.0.1"
    assert "abc.def" not in repr(shown)


def test_payloads_keep_their_shape_without_secrets() -> None:
    payload = ["message", {"room": "r", "text": "hi",
                           "Token": "t", "nested": [{"password": "p"}]}]
    assert redact(payload) == ["message", {
        "room": "r", "text": "hi", "Token": REDACTED,
        "nested": [{"password": REDACTED}]}]
    deep: list = []
    cursor = deep
    for _ in range(100):
        cursor.append([])
        cursor = cursor[0]
    assert "[redacted]" in repr(redact(deep))
