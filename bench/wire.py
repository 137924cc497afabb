"""Socket.IO v5 over engine.io v4 over WebSocket, written by hand.

Just enough of the three protocols for cheap load clients: the HTTP upgrade
request, masked client frames and the socket.io packets the load clients
send; the frame scanner lives in ``rawclient``, on the hot path.
"""
from __future__ import annotations

import base64
import hashlib
import json
import random
from typing import Any

WS_GUID = b"258EAFA5-E914-47DA-95CA-C5AB0DC85B11"
OP_TEXT = 0x1
OP_CLOSE = 0x8
OP_PING = 0x9
OP_PONG = 0xA

# engine.io packet types, as the first payload byte of a text frame.
EIO_OPEN = ord("0")
EIO_PING = ord("2")
EIO_MESSAGE = ord("4")
# socket.io packet types, the second byte of an engine.io message.
SIO_CONNECT = ord("0")
SIO_EVENT = ord("2")
SIO_ACK = ord("3")
SIO_CONNECT_ERROR = ord("4")


def upgrade_request(host: str, port: int) -> tuple[bytes, bytes]:
    """The HTTP request that opens an engine.io WebSocket, and the
    ``Sec-WebSocket-Accept`` value the server must answer with."""
    key = base64.b64encode(random.randbytes(16))
    request = (
        "GET /socket.io/?EIO=4&transport=websocket HTTP/1.1\r\n"
        f"Host: {host}:{port}\r\n"
        "Upgrade: websocket\r\nConnection: Upgrade\r\n"
        f"Sec-WebSocket-Key: {key.decode()}\r\n"
        "Sec-WebSocket-Version: 13\r\n\r\n").encode()
    accept = base64.b64encode(hashlib.sha1(key + WS_GUID).digest())
    return request, accept


def check_upgrade(head: bytes, accept: bytes) -> None:
    """Raise ``ConnectionError`` unless ``head`` (the response up to the
    blank line) is a 101 with the expected accept key."""
    lines = head.split(b"\r\n")
    if not lines[0].startswith(b"HTTP/1.1 101"):
        raise ConnectionError(f"upgrade refused: {lines[0]!r}")
    for line in lines[1:]:
        name, _, value = line.partition(b":")
        if name.strip().lower() == b"sec-websocket-accept":
            if value.strip() != accept:
                raise ConnectionError("wrong Sec-WebSocket-Accept")
            return
    raise ConnectionError("no Sec-WebSocket-Accept")


def client_frame(payload: bytes, opcode: int = OP_TEXT) -> bytes:
    """One final client frame, masked with a random key as RFC 6455 asks."""
    size = len(payload)
    if size < 126:
        header = bytes((0x80 | opcode, 0x80 | size))
    elif size < 65536:
        header = bytes((0x80 | opcode, 0x80 | 126)) + size.to_bytes(2, "big")
    else:
        header = bytes((0x80 | opcode, 0x80 | 127)) + size.to_bytes(8, "big")
    key = random.randbytes(4)
    if not size:
        return header + key
    stream = (key * (size // 4 + 1))[:size]
    masked = int.from_bytes(payload, "big") ^ int.from_bytes(stream, "big")
    return header + key + masked.to_bytes(size, "big")


def connect_packet(namespace: str, auth: dict[str, Any]) -> bytes:
    """The socket.io CONNECT of ``namespace`` with an auth payload."""
    return f"40{namespace},{json.dumps(auth, separators=(',', ':'))}".encode()


def event_packet(namespace: str, ack_id: int | None, name: str,
                 data: Any) -> bytes:
    """A socket.io EVENT with one argument, asking for an ack if
    ``ack_id`` is given."""
    ack = "" if ack_id is None else str(ack_id)
    body = json.dumps([name, data], separators=(",", ":"))
    return f"42{namespace},{ack}{body}".encode()


def parse_ack(payload: bytes, prefix_len: int) -> tuple[int, Any]:
    """The ack id and first argument of ``43<ns>,<id>[arg]``, where
    ``prefix_len`` is the length of ``43<ns>,``."""
    bracket = payload.index(b"[", prefix_len)
    ack_id = int(payload[prefix_len:bracket])
    args = json.loads(payload[bracket:])
    return ack_id, args[0] if args else None
