"""The Socket.IO v5 packet format, decoded strictly.

python-socketio's decoder accepts attachment counts of ten digits, ack ids
of any length and any JSON its parser survives. chatio has no binary events,
so ``decode`` refuses binary packets outright and bounds everything else.
A violation raises ``ProtocolError``: ``fatal`` ones end the connection,
the others are answered on the namespace (with the ack id when one parsed).
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from . import jsonlib

CONNECT, DISCONNECT, EVENT, ACK, CONNECT_ERROR, BINARY_EVENT, BINARY_ACK = range(7)

# Ack ids are counters; JavaScript integers stay exact to 15 digits.
MAX_ID_DIGITS = 15
MAX_NAMESPACE_CHARS = 64

# Codes of ProtocolError: the reason a connection was closed, or the error
# code of the answer to one bad packet.
PROTOCOL_ERROR = "PROTOCOL_ERROR"
BINARY_UNSUPPORTED = "BINARY_UNSUPPORTED"
INVALID_PAYLOAD = "INVALID_PAYLOAD"


class ProtocolError(ValueError):
    """A packet that breaks the protocol or chatio's limits on it."""

    def __init__(self, code: str, reason: str, *, fatal: bool = True,
                 type: int | None = None, namespace: str = "/",
                 id: int | None = None) -> None:
        super().__init__(reason)
        self.code = code
        self.reason = reason
        self.fatal = fatal
        self.type = type
        self.namespace = namespace
        self.id = id


@dataclass(slots=True)
class Packet:
    """A decoded client packet."""

    type: int
    namespace: str = "/"
    id: int | None = None
    data: Any = None


def decode(text: str) -> Packet:
    """Decode one Socket.IO packet sent by a client."""
    if not text:
        raise ProtocolError(PROTOCOL_ERROR, "empty packet")
    kind = text[0]
    if not "0" <= kind <= "6":
        raise ProtocolError(PROTOCOL_ERROR, "unknown packet type")
    ptype = ord(kind) - 48
    if ptype in (BINARY_EVENT, BINARY_ACK):
        raise ProtocolError(BINARY_UNSUPPORTED,
                            "binary packets are not accepted")
    if ptype == CONNECT_ERROR:
        raise ProtocolError(PROTOCOL_ERROR, "clients do not send CONNECT_ERROR")
    end = len(text)
    at = 1
    namespace = "/"
    if at < end and text[at] == "/":
        comma = text.find(",", at, at + MAX_NAMESPACE_CHARS + 2)
        if comma < 0:
            if end - at > MAX_NAMESPACE_CHARS + 1:
                raise ProtocolError(PROTOCOL_ERROR, "namespace too long")
            comma = end
        namespace = text[at:comma]
        at = comma + 1
    digits = at
    while digits < end and "0" <= text[digits] <= "9":
        digits += 1
    ack_id: int | None = None
    if digits > at:
        if digits - at > MAX_ID_DIGITS or ptype not in (EVENT, ACK):
            raise ProtocolError(INVALID_PAYLOAD, "ack id out of range",
                                fatal=ptype != EVENT, type=ptype,
                                namespace=namespace)
        ack_id = int(text[at:digits])
    body = text[digits:]
    data: Any = None
    if body:
        try:
            data = jsonlib.loads(body)
        except ValueError:
            raise ProtocolError(INVALID_PAYLOAD, "the payload is not valid JSON",
                                fatal=ptype not in (EVENT, ACK), type=ptype,
                                namespace=namespace, id=ack_id) from None
    return Packet(ptype, namespace, ack_id, data)


def encode(ptype: int, namespace: str, data: Any = None,
           id: int | None = None) -> str:
    """A server packet as text."""
    head = str(ptype)
    if namespace != "/":
        head += namespace + ","
    if id is not None:
        head += str(id)
    if data is None:
        return head
    return head + jsonlib.dumps(data)
