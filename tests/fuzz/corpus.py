"""Fixed cases every fuzz run starts with, one at a time: the smallest
packet sequences known to have broken a chatio node. Each one runs alone,
so what it leaves behind is its own."""
from __future__ import annotations

import dataclasses
import json

from .packets import Script, sio
from .target import Target

DEEP = 5_000


@dataclasses.dataclass(frozen=True)
class Case:
    """Packets sent as they are: each step is one WebSocket frame per
    packet, or one long-polling POST body."""

    name: str
    transport: str  # "websocket" or "polling"
    steps: Script
    # Long-polling only: whether a GET is pending while the POSTs go out.
    polling: bool = True
    # Seconds between steps. The server's state cannot be observed from
    # outside, so this is how a case makes sure a GET is already held.
    pause: float = 0.0

    @property
    def packets(self) -> int:
        return sum(len(step) for step in self.steps)


def cases(target: Target) -> list[Case]:
    connect = sio(0, "/chat", data=json.dumps({"token": target.tokens[0]}))
    event = sio(2, "/chat", 1, '["history",{"room":"lobby"}]')
    bad_placeholder = sio(5, "/chat", 2, json.dumps(
        ["message", {"room": "lobby", "text": {"_placeholder": True, "num": 5}}]),
        attachments=1)
    oversize = "4" + "2" * target.max_payload
    ws = "websocket"
    return [
        Case("empty text frame", ws, ((connect,), ("",))),
        Case("text frame that is no engine.io packet", ws, ((connect,), ("x",))),
        Case("engine.io message too deep to decode", ws,
             ((connect,), ("4" + "[" * DEEP + "]" * DEEP,))),
        Case("binary placeholder out of range", ws,
             ((connect,), (bad_placeholder, b"\x00"), (event,))),
        Case("binary event without its attachments", ws,
             ((connect,), (sio(5, "/chat", 3, '["message",{}]', attachments=2),),
              (event,))),
        Case("binary placeholder out of range", "polling",
             ((connect,), (bad_placeholder, b"\x00"), (event,))),
        Case("oversize POST, no GET pending", "polling",
             ((connect,), (oversize,)), polling=False),
        Case("POST after the engine.io close", "polling",
             ((connect,), ("1",), (event,)), polling=False),
        Case("unknown engine.io packet in a POST", "polling",
             ((connect,), ("6",)), polling=False),
        Case("engine.io close with a GET pending", "polling", ((connect,), ("1",)),
             pause=0.3),
    ]
