"""Random and mutated Socket.IO / engine.io packets, from one seeded RNG.

Every generator returns what goes on the wire: ``str`` for a text packet,
``bytes`` for a binary one (a WebSocket binary frame, or ``b<base64>`` in a
long-polling body). Nothing here does I/O.
"""
from __future__ import annotations

import base64
import json
import random
from collections.abc import Callable
from typing import Any

Wire = str | bytes
# Fixed packets in steps: one WebSocket frame per packet, one POST per step.
Script = tuple[tuple[Wire, ...], ...]

NAMESPACES = ("/chat", "/typing", "/presence")
OTHER_NAMESPACES = ("/", "/admin", "/chat/", "/Chat", "/chat?x=1", "//chat",
                    "/" + "n" * 300, "/ch\u00e4t", "/chat\x00")
ROOMS = ("lobby", "fuzz", "r-1", "a:b@c.d", "x" * 64)
EVENTS = {
    "/chat": ("join", "leave", "message", "history"),
    "/typing": ("subscribe", "unsubscribe", "typing"),
    "/presence": ("subscribe", "unsubscribe"),
}
ODD_NAMES = ("connect", "disconnect", "disconnecting", "connect_error",
             "newListener", "removeListener", "*", "", "error",
             "chatio_error", "Join", "join ", "presence", "__proto__",
             "constructor", "x" * 5000)
BIG_INT = "1" + "0" * 5000
# The largest JSON nesting sent; past any recursive parser's default limit.
DEEP = 5_000
# Weights of the generators per session profile: "payloads" sends only
# well-formed Socket.IO packets (hostile in their content), which a server
# answers rather than closes on; "protocol" sends anything.
PROFILES = {
    "payloads": {"valid_event": 35, "hostile_event": 35, "odd_event": 12,
                 "event_ack_ids": 6, "legal_connects": 12},
    "protocol": {"valid_event": 14, "hostile_event": 12, "odd_event": 6,
                 "bad_ack": 6, "connects": 8, "binary": 10, "engineio": 10,
                 "mutated": 24, "random_text": 8, "oversize": 2},
}


def sio(kind: int, namespace: str = "/", ack: int | str | None = None,
        data: str = "", attachments: int | str | None = None) -> str:
    """A Socket.IO packet inside an engine.io MESSAGE, as text."""
    head = f"4{kind}"
    if attachments is not None:
        head += f"{attachments}-"
    if namespace != "/":
        head += namespace + ","
    if ack is not None:
        head += str(ack)
    return head + data


class PacketFactory:
    """Makes hostile and valid packets; ``tokens`` are valid auth tokens,
    ``bad_tokens`` are forged, expired or malformed ones."""

    def __init__(self, rng: random.Random, tokens: list[str],
                 bad_tokens: list[str], max_payload: int,
                 profile: str = "protocol") -> None:
        self.rng = rng
        self.tokens = tokens
        self.bad_tokens = bad_tokens
        self.max_payload = max_payload
        weights = PROFILES[profile]
        self._kinds: list[Callable[[], list[Wire]]] = [
            getattr(self, name) for name in weights]
        self._weights = list(weights.values())

    # -- picking ------------------------------------------------------------

    def next(self) -> list[Wire]:
        """One or a few packets (a binary event brings its attachments)."""
        make = self.rng.choices(self._kinds, self._weights)[0]
        return make()

    def namespace(self) -> str:
        return self.rng.choice(NAMESPACES)

    def ack_id(self) -> int | None:
        return self.rng.choice((None, None, self.rng.randrange(1, 10**6)))

    # -- valid traffic --------------------------------------------------------

    def connect(self, namespace: str | None = None) -> str:
        """A CONNECT with a valid token: a namespace socket that works."""
        auth = {"token": self.rng.choice(self.tokens)}
        return sio(0, namespace or self.namespace(), data=json.dumps(auth))

    def valid_payload(self, event: str) -> dict[str, Any]:
        rng = self.rng
        room = rng.choice(ROOMS)
        if event == "message":
            return {"room": room, "text": rng.choice(("hi", "x" * 2000, "☃")),
                    "client_id": f"c{rng.randrange(100)}"}
        if event == "join":
            return {"room": room, "since": rng.randrange(0, 5), "limit": 5}
        if event == "history":
            return {"room": room, "before": rng.randrange(1, 50), "limit": 3}
        if event == "typing":
            return {"room": room, "typing": rng.random() < 0.5}
        return {"room": room}

    def valid_event(self) -> list[Wire]:
        namespace = self.namespace()
        event = self.rng.choice(EVENTS[namespace])
        body = json.dumps([event, self.valid_payload(event)])
        return [sio(2, namespace, self.ack_id(), body)]

    # -- hostile events -------------------------------------------------------

    def hostile_value(self, depth: int = 0) -> str:
        """JSON text a client could send where a payload is expected."""
        rng = self.rng
        choice = rng.randrange(16)
        if choice == 0:
            return BIG_INT
        if choice == 1:
            return "-" + BIG_INT[: rng.randrange(20, 400)]
        if choice == 2:
            n = rng.randrange(100, DEEP)
            return "[" * n + "]" * n
        if choice == 3:
            n = rng.randrange(100, DEEP // 2)
            return '{"a":' * n + "1" + "}" * n
        if choice == 4:
            return rng.choice(("NaN", "Infinity", "-Infinity", "1e999",
                               "-0", "1.0", "9007199254740993", "true",
                               "null", '""', "[]", "{}"))
        if choice == 5:
            return '"\\ud800"' if rng.random() < 0.5 else '"\\udfff\\u0000"'
        if choice == 6:
            return json.dumps("y" * rng.randrange(1, 60_000))
        if choice == 7:
            return json.dumps({f"k{i}": i for i in range(rng.randrange(1, 3000))})
        if choice == 8:
            return '{"room":"lobby","room":5}'
        if choice == 9:
            return json.dumps({"_placeholder": True,
                               "num": rng.choice((0, 1, -1, 10**12, "0"))})
        if choice == 10:
            return json.dumps({"room": rng.choice(ROOMS), "text": None,
                               "since": rng.choice((-1, 2**53, 1.5, "3"))})
        if choice == 11 and depth < 3:
            inner = ",".join(self.hostile_value(depth + 1)
                             for _ in range(rng.randrange(1, 4)))
            return "[" + inner + "]"
        if choice == 12:
            return json.dumps({"room": "\u202e" * 10, "typing": "yes"})
        if choice == 13:
            return '{"room":"lobby"' + rng.choice(("", ",", ":", "}}", "]"))
        if choice == 14:
            return json.dumps({"room": rng.choice(ROOMS), "limit": 10**30,
                               "before": 0, "after": 0})
        return json.dumps(rng.choice(ROOMS))

    def hostile_event(self) -> list[Wire]:
        namespace = self.namespace()
        event = self.rng.choice(EVENTS[namespace])
        args = ",".join(self.hostile_value()
                        for _ in range(self.rng.choice((1, 1, 1, 2, 3))))
        return [sio(2, namespace, self.ack_id(),
                    f"[{json.dumps(event)},{args}]")]

    def odd_event(self) -> list[Wire]:
        rng = self.rng
        name = rng.choice((json.dumps(rng.choice(ODD_NAMES)), "123", "null",
                           "true", "{}", '["join"]', "1.5", BIG_INT))
        # The events of one namespace sent to another are unknown there too.
        if rng.random() < 0.3:
            name = json.dumps(rng.choice(("typing", "join", "subscribe")))
        body = rng.choice((f"[{name}]", f"[{name},{{}}]",
                           f"[{name},{self.hostile_value()}]", "[]",
                           '{"0":"join"}', '"join"', "5"))
        return [sio(2, self.namespace(), self.ack_id(), body)]

    def bad_ack(self) -> list[Wire]:
        rng = self.rng
        ack = rng.choice(("0", "00001", "9" * 99, "9" * 100, "9" * 101,
                          "1" * 2000, "-1", "1.5", "1e3", " 1", "1 ",
                          str(2**63), str(2**64 + 1)))
        event = self.rng.choice(("history", "nope"))
        body = json.dumps([event, {"room": "lobby"}])
        if rng.random() < 0.2:  # an ACK packet the server never asked for
            return [sio(3, self.namespace(), ack, "[1]")]
        return [sio(2, self.namespace(), ack, body)]

    def event_ack_ids(self) -> list[Wire]:
        """Odd ack ids on EVENT packets only (never an ACK the server did
        not ask for)."""
        ack = self.rng.choice(("0", "00001", "9" * 15, "9" * 16, "9" * 99, str(2**63)))
        return [sio(2, self.namespace(), ack, json.dumps(["history", {"room": "lobby"}]))]

    # -- connections ----------------------------------------------------------

    def legal_connects(self) -> list[Wire]:
        """CONNECT and DISCONNECT packets a client may send, good or bad
        tokens, to namespaces of legal length."""
        rng = self.rng
        choice = rng.randrange(5)
        if choice == 0:
            return [self.connect()]
        if choice == 1:
            auth = {"token": rng.choice(self.bad_tokens)}
            return [sio(0, self.namespace(), data=json.dumps(auth))]
        if choice == 2:
            return [sio(0, self.namespace(), data=rng.choice((
                "", "null", "[]", '"token"', '{"token":5}', '{"token":null}',
                '{"token":["a"]}', '{"token":""}')))]
        if choice == 3:
            name = rng.choice(("/", "/admin", "/chat/", "/Chat", "/chat?x=1"))
            return [sio(0, name, data=json.dumps({"token": rng.choice(self.tokens)}))]
        return [sio(1, self.namespace()), self.connect()]

    def connects(self) -> list[Wire]:
        rng = self.rng
        choice = rng.randrange(9)
        if choice == 0:
            return [self.connect()]
        if choice == 1:
            auth = {"token": rng.choice(self.bad_tokens)}
            return [sio(0, self.namespace(), data=json.dumps(auth))]
        if choice == 2:
            return [sio(0, self.namespace(), data=rng.choice((
                "", "null", "[]", '"token"', '{"token":5}', '{"token":null}',
                '{"token":["a"]}', '{"token":"' + "t" * 9000 + '"}',
                '{"token":""}', "{", BIG_INT)))]
        if choice == 3:
            return [sio(0, rng.choice(OTHER_NAMESPACES),
                        data=json.dumps({"token": rng.choice(self.tokens)}))]
        if choice == 4:  # leave a namespace, then maybe come back
            packets: list[Wire] = [sio(1, self.namespace())]
            if rng.random() < 0.5:
                packets.append(self.connect())
            return packets
        if choice == 5:
            return [sio(1, rng.choice(OTHER_NAMESPACES))]
        if choice == 6:  # a CONNECT_ERROR only a server may send
            return [sio(4, self.namespace(), data='{"message":"x"}')]
        if choice == 7:
            return [sio(rng.choice((7, 8, 9)), self.namespace(), data="[]")]
        return [self.connect(), self.connect()]

    # -- binary ---------------------------------------------------------------

    def attachment(self) -> bytes:
        size = self.rng.choice((0, 1, 16, 1024, 30_000))
        return self.rng.randbytes(size)

    def binary(self) -> list[Wire]:
        rng = self.rng
        namespace = self.namespace()
        count = rng.choice((0, 1, 1, 2, 3, 9, 10**9, "01", "99999999999"))
        placeholder = {"_placeholder": True,
                       "num": rng.choice((0, 0, 1, 2, 5, -1, "0", None,
                                          10**20, 1.5))}
        payload = rng.choice((
            {"room": "lobby", "text": placeholder},
            {"room": placeholder},
            placeholder,
            {"room": "lobby", "blob": [placeholder, placeholder]},
        ))
        event = rng.choice(EVENTS[namespace])
        kind = rng.choice((5, 5, 5, 6))
        head = sio(kind, namespace, self.ack_id(),
                   json.dumps([event, payload]), attachments=count)
        sent = rng.choice((0, 1, 1, 2, 3))
        packets: list[Wire] = [head]
        packets.extend(self.attachment() for _ in range(sent))
        if rng.random() < 0.15:  # attachments nobody announced
            packets = [self.attachment() for _ in range(rng.randrange(1, 3))]
        return packets

    def attachment_flood(self, count: int) -> list[Wire]:
        """A CONNECT, then a binary event announcing far more attachments
        than it sends, followed by ``count`` large ones: memory a server
        must not keep."""
        head = sio(5, "/chat", 1, json.dumps(
            ["message", {"room": "lobby", "text": {"_placeholder": True,
                                                   "num": 0}}]),
            attachments=10**9)
        # Room for base64 and the separator in a long-polling body.
        size = max(1, min(self.max_payload * 2 // 3, 40_000))
        chunk = self.rng.randbytes(size)
        return [self.connect("/chat"), head, *([chunk] * count)]

    # -- engine.io ------------------------------------------------------------

    def engineio(self) -> list[Wire]:
        rng = self.rng
        n = rng.randrange(50, DEEP)
        return [rng.choice((
            "", "0", "1", "2", "2probe", "3", "3probe", "5", "6", "7", "9",
            "x", " ", "\x1e", "4", "40", "4" + "[" * n + "]" * n,
            '4{"a":1}', "4\ud800", "b", "b!!!", "bAAAA", "b" + "A" * 10,
            "1" + "x" * 100, "-1", "42",
        ))]

    # -- mutations ------------------------------------------------------------

    def seed_packet(self) -> str:
        candidates = self.valid_event() + [self.connect()]
        return self.rng.choice(candidates)  # type: ignore[return-value]

    def mutated(self) -> list[Wire]:
        rng = self.rng
        text = self.seed_packet()
        for _ in range(rng.randrange(1, 4)):
            text = self._mutate(text)
        return [text]

    def _mutate(self, text: str) -> str:
        rng = self.rng
        if not text:
            return rng.choice(("4", "42", "40"))
        i = rng.randrange(len(text))
        choice = rng.randrange(9)
        if choice == 0:
            return text[:i] + text[i + 1:]
        if choice == 1:
            return text[:i] + chr(rng.randrange(0x20, 0x7F)) + text[i + 1:]
        if choice == 2:
            return text[:i] + rng.choice(
                ',[]{}"-:/0123456789\\\x1e\x00\ufffd') + text[i:]
        if choice == 3:
            return text[:i]
        if choice == 4:
            j = rng.randrange(i, len(text))
            return text[:j] + text[i:j] * rng.randrange(2, 5) + text[j:]
        if choice == 5:
            return text + self.seed_packet()
        if choice == 6:
            return text[:i] + chr(rng.randrange(0x80, 0x10FFFF)) + text[i:]
        if choice == 7:
            return text[:2] + rng.choice(("0", "9", "99-", "1-", "/")) + text[2:]
        return text.replace(",", ",,", 1)

    def random_text(self) -> list[Wire]:
        rng = self.rng
        size = rng.randrange(0, 200)
        if rng.random() < 0.5:
            return [rng.randbytes(size)]
        return ["".join(chr(rng.choice((rng.randrange(0x20, 0x7F),
                                        rng.randrange(0, 0x3000))))
                        for _ in range(size))]

    def oversize(self) -> list[Wire]:
        """A packet over ``CHATIO_MAX_PAYLOAD`` (the connection closes)."""
        size = self.max_payload + self.rng.choice((1, 100, 200_000))
        body = json.dumps(["message", {"room": "lobby", "text": "z" * size}])
        return [sio(2, "/chat", 1, body)]


def polling_encode(packet: Wire) -> str:
    """One packet as it goes into a long-polling body."""
    if isinstance(packet, bytes):
        return "b" + base64.b64encode(packet).decode()
    return packet
