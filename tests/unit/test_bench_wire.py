"""The hand-written protocol pieces and the report logic of ``bench/``."""
import base64
import hashlib
import importlib
import json
import sys
from pathlib import Path
from types import ModuleType

import pytest

_BENCH = Path(__file__).resolve().parents[2] / "bench"


def _import_bench(*names: str) -> list[ModuleType]:
    """Import bench modules (they import each other by bare name) without
    leaving ``bench/`` on the path or its modules under generic names."""
    sys.path.insert(0, str(_BENCH))
    try:
        return [importlib.import_module(name) for name in names]
    finally:
        sys.path.remove(str(_BENCH))
        for name, module in list(sys.modules.items()):
            if str(getattr(module, "__file__", "")).startswith(str(_BENCH)):
                del sys.modules[name]


wire, report, workloads = _import_bench("wire", "report", "workloads")


def _unmask(frame: bytes) -> tuple[int, bytes]:
    """Opcode and payload of one masked client frame."""
    assert frame[0] & 0x80 and frame[1] & 0x80  # final, masked
    size, at = frame[1] & 0x7F, 2
    if size == 126:
        size, at = int.from_bytes(frame[2:4], "big"), 4
    elif size == 127:
        size, at = int.from_bytes(frame[2:10], "big"), 10
    key, body = frame[at:at + 4], frame[at + 4:]
    assert len(body) == size
    return frame[0] & 0x0F, bytes(b ^ key[i % 4] for i, b in enumerate(body))


@pytest.mark.parametrize("size", [0, 1, 125, 126, 65535, 65536])
def test_client_frames_unmask_to_their_payload(size: int) -> None:
    payload = bytes(i % 251 for i in range(size))
    assert _unmask(wire.client_frame(payload)) == (wire.OP_TEXT, payload)


def test_client_frames_use_a_fresh_mask() -> None:
    assert wire.client_frame(b"same") != wire.client_frame(b"same")


def test_upgrade_accept_key_follows_rfc_6455() -> None:
    request, accept = wire.upgrade_request("127.0.0.1", 8000)
    key = next(line.split(b": ")[1] for line in request.split(b"\r\n")
               if line.startswith(b"Sec-WebSocket-Key"))
    assert base64.b64decode(key) and len(base64.b64decode(key)) == 16
    assert accept == base64.b64encode(
        hashlib.sha1(key + wire.WS_GUID).digest())
    wire.check_upgrade(b"HTTP/1.1 101 Switching Protocols\r\n"
                       b"Sec-WebSocket-Accept: " + accept, accept)
    with pytest.raises(ConnectionError):
        wire.check_upgrade(b"HTTP/1.1 503 Service Unavailable", accept)
    with pytest.raises(ConnectionError):
        wire.check_upgrade(b"HTTP/1.1 101 OK\r\nSec-WebSocket-Accept: x",
                           accept)


def test_socketio_packets() -> None:
    assert wire.connect_packet("/chat", {"token": "t"}) == \
        b'40/chat,{"token":"t"}'
    assert wire.event_packet("/chat", 7, "join", {"room": "r"}) == \
        b'42/chat,7["join",{"room":"r"}]'
    assert wire.event_packet("/chat", None, "x", 1) == b'42/chat,["x",1]'
    ack = b"43/chat,12" + json.dumps([{"ok": True}]).encode()
    assert wire.parse_ack(ack, len(b"43/chat,")) == (12, {"ok": True})


@pytest.mark.parametrize(("chatio", "node", "expected"), [
    ("", "", "0.500"),
    ("≥", "", "≥0.500"),   # chatio's rate is a lower bound
    ("", "≥", "≤0.500"),   # node's is: the ratio can only be smaller
    ("≤", "≥", "≤0.500"),
    ("≥", "≥", "?0.500"),  # both: no direction
])
def test_ratio_of_bounds(chatio: str, node: str, expected: str) -> None:
    assert report._ratio({"chatio": (1.0, chatio),
                          "node": (2.0, node)}) == expected


def test_percentile_is_nearest_rank() -> None:
    values = list(range(1, 101))
    assert workloads.percentile(values, 50) == 50
    assert workloads.percentile(values, 99) == 99
    assert workloads.percentile([5.0], 99) == 5.0
    assert workloads.percentile([], 50) is None
