"""One fuzz session over a raw WebSocket: hostile frames, then a probe.

The server may close the connection at any point; what it must not do is
keep it open and stop answering (checked by the probe), or keep the
session after the TCP connection is gone (checked by the run at the end).
"""
from __future__ import annotations

import asyncio
import contextlib
import json
import random

from . import rawws
from .findings import Finding, Stats, Trail
from .packets import PacketFactory, Script, Wire, sio
from .replies import Listener, probe_answered, probe_packet
from .target import (PROBE_TIMEOUT, RELEASE_TIMEOUT, REQUEST_TIMEOUT, Target)

PATH = "/socket.io/?EIO=4&transport=websocket"
TRANSPORT = "websocket"


class WsSession:
    """Sends up to ``budget`` packets, probes, closes."""

    def __init__(self, index: int, rng: random.Random, target: Target,
                 stats: Stats, budget: int, profile: str = "protocol",
                 flood: bool = False, script: Script | None = None) -> None:
        self.index = index
        self.rng = rng
        self.target = target
        self.stats = stats
        self.budget = budget
        self.flood = flood
        self.script = script
        self.profile = profile
        self.factory = PacketFactory(rng, list(target.tokens),
                                     list(target.bad_tokens), target.max_payload,
                                     profile)
        self.trail = Trail()
        self.listener = Listener()
        self.sent = 0
        self.ws: rawws.RawWebSocket | None = None

    def _found(self, kind: str, detail: str) -> None:
        self.stats.found(Finding(kind, TRANSPORT, self.index, detail,
                                 self.trail.snapshot()))

    async def run(self) -> int:
        try:
            self.ws = await rawws.RawWebSocket.connect(
                self.target.host, self.target.port, PATH, REQUEST_TIMEOUT)
        except rawws.HandshakeRefused as exc:
            self.stats.status(exc.status)
            return 0
        except (OSError, asyncio.TimeoutError) as exc:
            self.stats.outcomes["ws-connect-failed"] += 1
            self._found("connect-failed", f"WebSocket upgrade failed: {exc!r}")
            return 0
        self.stats.status(101)
        reader = asyncio.create_task(self._read())
        try:
            await self._fuzz()
            await self._probe()
        finally:
            await self._close(reader)
        return self.sent

    async def _read(self) -> None:
        assert self.ws is not None
        while True:
            message = await self.ws.receive()
            if message is None or message.opcode == rawws.CLOSE:
                self.listener.closed.set()
                self.trail.note("the server closed the connection" + _close_reason(message))
                return
            if message.opcode == rawws.TEXT and self.listener.heard(message.text) == "ping":
                with contextlib.suppress(Exception):
                    await self.ws.send_text("3")

    async def _send(self, packet: Wire, style: str = "plain") -> bool:
        """One frame; False once the connection is unusable."""
        assert self.ws is not None
        ws = self.ws
        data = rawws.encode_text(packet) if isinstance(packet, str) else packet
        opcode = rawws.TEXT if isinstance(packet, str) else rawws.BINARY
        self.trail.add(packet, "" if style == "plain" else f"[{style}] ")
        self.sent += 1
        self.stats.sent(TRANSPORT)
        try:
            if style == "plain":
                await ws.send_frame(opcode, data)
            elif style == "fragmented":
                await ws.send_fragmented(opcode, data, self.rng.randrange(2, 6))
            elif style == "flipped":  # text as binary and the reverse
                await ws.send_frame(rawws.BINARY + rawws.TEXT - opcode, data)
            elif style == "opcode":
                await ws.send_frame(self.rng.choice((3, 4, 5, 6, 7, 0xB, 0xF)), data)
            elif style == "rsv":
                await ws.send_frame(opcode, data, rsv=self.rng.randrange(1, 8))
            elif style == "unmasked":
                await ws.send_frame(opcode, data, masked=False)
            elif style == "stray-continuation":
                await ws.send_frame(rawws.CONTINUATION, data)
            elif style == "unfinished":
                await ws.send_frame(opcode, data, fin=False)
            elif style == "big-ping":
                await ws.send_frame(rawws.PING, data[:200].ljust(126, b"p"))
            elif style == "close-code":
                code = self.rng.choice((0, 999, 1005, 1006, 1015, 2999, 4000, 65535))
                await ws.send_frame(rawws.CLOSE, code.to_bytes(2, "big") + data[:100])
            elif style == "false-length":
                await ws.send_frame(opcode, data, declared=len(data) + 1000)
            else:
                raise ValueError(style)
        except (OSError, asyncio.TimeoutError):
            return False
        return not self.listener.closed.is_set()

    def _style(self) -> str:
        roll = self.rng.random()
        if self.profile == "payloads":  # legal frames only
            return "fragmented" if roll < 0.05 else "plain"
        if roll < 0.93:
            return "plain"
        return self.rng.choice(("fragmented", "fragmented", "flipped", "opcode",
                                "rsv", "unmasked", "stray-continuation",
                                "unfinished", "big-ping", "close-code",
                                "false-length"))

    async def _fuzz(self) -> None:
        rng = self.rng
        if self.script is not None:
            for step in self.script:
                for packet in step:
                    if not await self._send(packet):
                        return
            return
        if self.flood:
            for packet in self.factory.attachment_flood(self.budget - 2):
                if not await self._send(packet):
                    return
            return
        if rng.random() < 0.8:
            for namespace in rng.sample(("/chat", "/typing", "/presence"),
                                        rng.randrange(1, 4)):
                if not await self._send(self.factory.connect(namespace)):
                    return
        while self.sent < self.budget:
            packets = self.factory.next()
            if self.profile == "protocol" and rng.random() < 0.01:
                packets = [""]  # an empty text frame
            for packet in packets:
                if not await self._send(packet, self._style()):
                    return

    async def _probe(self) -> None:
        """Closed by the server, or still answering: nothing in between."""
        assert self.ws is not None
        if self.listener.closed.is_set() or self.ws.closed:
            self.stats.outcomes["ws-closed-by-server"] += 1
            return
        replies = self.listener.connect_replies["/chat"]
        ack, answer = self.listener.expect_ack()
        closed = asyncio.ensure_future(self.listener.closed.wait())
        try:
            connect = sio(0, "/chat", data=json.dumps({"token": self.target.tokens[0]}))
            for packet in (connect, probe_packet(ack)):
                self.trail.add(packet, "[probe] ")
                await self.ws.send_text(packet)
        except (OSError, asyncio.TimeoutError):
            closed.cancel()
            self.stats.outcomes["ws-closed-by-server"] += 1
            return
        done, _ = await asyncio.wait({answer, closed}, timeout=PROBE_TIMEOUT,
                                     return_when=asyncio.FIRST_COMPLETED)
        closed.cancel()
        if answer in done:
            if probe_answered(answer.result()):
                self.stats.outcomes["ws-probe-answered"] += 1
            else:
                self._found("bad-probe-answer", f"probe acked with {answer.result()!r}")
        elif self.listener.closed.is_set():
            self.stats.outcomes["ws-closed-by-server"] += 1
        else:
            how = self.listener.connect_answered_since("/chat", replies)
            self._found("deaf", f"the WebSocket stayed open but the probe got no "
                                f"ack within {PROBE_TIMEOUT:.0f} s ({how})")

    async def _close(self, reader: asyncio.Task[None]) -> None:
        assert self.ws is not None
        ws = self.ws
        how = self.rng.choice(("close-frame", "abort", "eio-close"))
        try:
            if not ws.closed and how == "close-frame":
                await ws.send_frame(rawws.CLOSE, (1000).to_bytes(2, "big"))
            elif not ws.closed and how == "eio-close":
                await ws.send_text("1")
        except (OSError, asyncio.TimeoutError):
            pass
        if how != "abort":
            # The server answers a close by closing the connection.
            with contextlib.suppress(asyncio.TimeoutError):
                await asyncio.wait_for(asyncio.shield(reader), RELEASE_TIMEOUT)
            if not reader.done():
                self._found("not-closed", f"the server did not close the "
                                          f"WebSocket within {RELEASE_TIMEOUT:.0f} s "
                                          f"of a {how}")
        ws.abort()
        reader.cancel()
        with contextlib.suppress(asyncio.CancelledError, Exception):
            await reader


def _close_reason(message: rawws.Message | None) -> str:
    if message is None:
        return ""
    if len(message.data) < 2:
        return " with a close frame"
    code = int.from_bytes(message.data[:2], "big")
    return f" with close code {code} {message.data[2:].decode('utf-8', 'replace')!r}"
