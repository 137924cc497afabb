"""One fuzz session over engine.io long-polling: hostile POST bodies and
requests, then a probe, then a close.

Like a real client, a session usually keeps one GET pending; some sessions
never poll until the probe, which is when a server that needs a GET to
finish a POST shows it. Every request but that pending GET must be
answered within ``REQUEST_TIMEOUT``; the pending GET must come back within
``RELEASE_TIMEOUT`` of the session's close.
"""
from __future__ import annotations

import asyncio
import contextlib
import json
import random

import aiohttp

from .findings import Finding, Stats, Trail
from .packets import PacketFactory, Script, Wire, polling_encode, sio
from .replies import Listener, probe_answered, probe_packet
from .target import (PROBE_TIMEOUT, RELEASE_TIMEOUT, REQUEST_TIMEOUT,
                     SESSION_DEADLINE, Target)

TRANSPORT = "polling"
SEPARATOR = "\x1e"


class PollSession:
    """Sends up to ``budget`` packets in POST bodies, probes, closes."""

    def __init__(self, index: int, rng: random.Random, target: Target,
                 stats: Stats, budget: int, http: aiohttp.ClientSession,
                 profile: str = "protocol", flood: bool = False,
                 script: Script | None = None, polling: bool | None = None,
                 pause: float = 0.0) -> None:
        self.index = index
        self.rng = rng
        self.target = target
        self.stats = stats
        self.budget = budget
        self.http = http
        self.flood = flood
        self.script = script
        self.pause = pause
        self.keep_polling = rng.random() < 0.8 if polling is None else polling
        self.factory = PacketFactory(rng, list(target.tokens),
                                     list(target.bad_tokens), target.max_payload,
                                     profile)
        self.trail = Trail()
        self.listener = Listener()
        self.sent = 0
        self.sid = ""
        self.gone = False  # the server said the session no longer exists
        self.poller: asyncio.Task[None] | None = None
        self.pongs = 0
        self.requests = 0
        # A GET this client gave up on while the server may still hold it.
        self.abandoned_get = False

    def _found(self, kind: str, detail: str) -> None:
        self.stats.found(Finding(kind, TRANSPORT, self.index, detail,
                                 self.trail.snapshot()))

    def _query(self, sid: str | None = None, **extra: str) -> dict[str, str]:
        # A counter, not the RNG: how many requests a session makes depends
        # on the server, and the packets must not.
        self.requests += 1
        query = {"EIO": "4", "transport": "polling", "t": f"{self.index}.{self.requests}"}
        if sid is not None:
            query["sid"] = sid
        query.update(extra)
        return query

    async def _request(self, method: str, query: dict[str, str], body: bytes | None = None,
                       timeout: float = REQUEST_TIMEOUT) -> tuple[int | str, bytes]:
        try:
            async with self.http.request(
                    method, self.target.endpoint, params=query, data=body,
                    headers={"Content-Type": "text/plain;charset=UTF-8"},
                    timeout=aiohttp.ClientTimeout(total=timeout)) as response:
                data = await response.read()
                self.stats.status(response.status)
                if response.status >= 500:
                    self._found("5xx", f"a {method} with {len(body or b'')} bytes was "
                                       f"answered {response.status}")
                return response.status, data
        except asyncio.TimeoutError:
            return "timeout", b""
        except aiohttp.ClientError:
            self.stats.status("conn-error")
            return "conn-error", b""

    async def run(self) -> int:
        status, body = await self._request("GET", self._query())
        self.sent += 1
        self.stats.sent(TRANSPORT)
        if status != 200 or not body.startswith(b"0"):
            if status == "timeout":
                self._found("hang", "the handshake GET was not answered "
                                    f"within {REQUEST_TIMEOUT:.0f} s")
            return self.sent
        self.sid = json.loads(body[1:])["sid"]
        if self.keep_polling:
            self._start_polling()
        try:
            async with asyncio.timeout(SESSION_DEADLINE):
                await self._fuzz()
                await self._probe()
        except TimeoutError:
            self._found("session-deadline", f"the session took over "
                                            f"{SESSION_DEADLINE:.0f} s")
        await self._close()
        return self.sent

    # -- the pending GET --------------------------------------------------------

    def _start_polling(self) -> None:
        if self.poller is None or self.poller.done():
            self.poller = asyncio.create_task(self._poll())

    async def _poll(self) -> None:
        """GET after GET while the session lasts, like a real client."""
        while not self.gone:
            status, body = await self._request(
                "GET", self._query(self.sid), timeout=SESSION_DEADLINE + RELEASE_TIMEOUT)
            if status != 200:
                self.gone = status != "timeout"
                self.listener.closed.set()
                self.trail.note(f"a GET was answered {status}: the session is gone")
                return
            for packet in body.decode("utf-8", "replace").split(SEPARATOR):
                if self.listener.heard(packet) == "ping":
                    self.pongs += 1
                    asyncio.create_task(self._post_text("3"))
            if self.listener.closed.is_set():
                self.gone = True
                return

    # -- POSTs ----------------------------------------------------------------

    async def _post_text(self, text: str) -> int | str:
        return await self._post(text.encode("utf-8", "surrogatepass"))

    async def _post(self, body: bytes, sid: str | None = None) -> int | str:
        status, _ = await self._request("POST", self._query(sid or self.sid), body)
        if status == "timeout":
            self._found("hang", f"a POST of {len(body)} bytes was not answered "
                                f"within {REQUEST_TIMEOUT:.0f} s"
                                + ("" if self._polling else " (no GET was pending)"))
            # A real client would poll now; so do we, to let the server
            # finish whatever it waits for.
            self._start_polling()
        elif status == 400:
            self.gone = True
        return status

    @property
    def _polling(self) -> bool:
        return self.poller is not None and not self.poller.done()

    def _body(self, packets: list[Wire]) -> bytes:
        return SEPARATOR.join(map(polling_encode, packets)).encode(
            "utf-8", "surrogatepass")

    async def _fuzz(self) -> None:
        rng = self.rng
        if self.script is not None:
            for step in self.script:
                await self._send(list(step))
                if self.pause:
                    await asyncio.sleep(self.pause)
            return
        if self.flood:
            for packet in self.factory.attachment_flood(self.budget - 3):
                if self.gone:
                    return
                await self._send([packet])
            return
        if rng.random() < 0.8:
            namespaces = rng.sample(("/chat", "/typing", "/presence"), rng.randrange(1, 4))
            await self._send([self.factory.connect(ns) for ns in namespaces])
        while self.sent < self.budget and not self.gone:
            roll = rng.random()
            if roll < 0.08:
                await self._hostile_request()
                continue
            packets: list[Wire] = []
            for _ in range(rng.choice((1, 1, 2, 3, 5))):
                packets.extend(self.factory.next())
            await self._send(packets)

    async def _send(self, packets: list[Wire]) -> None:
        for packet in packets:
            self.trail.add(packet)
        self.sent += len(packets)
        self.stats.sent(TRANSPORT, len(packets))
        await self._post(self._body(packets))

    async def _hostile_request(self) -> None:
        rng = self.rng
        self.sent += 1
        self.stats.sent(TRANSPORT)
        choice = rng.randrange(10)
        if choice == 0:
            body = rng.randbytes(rng.randrange(1, 300))  # rarely valid UTF-8
            self.trail.add(body, "[raw body] ")
            await self._post(body)
        elif choice == 1:
            size = self.target.max_payload + rng.choice((1, 1000, 100_000))
            body = b"4" + b"2" * (size - 1)
            self.trail.add(body, "[oversize body] ")
            await self._post(body)
        elif choice == 2:
            self.trail.add(b"", "[empty body] ")
            await self._post(b"")
        elif choice == 3:
            sid = rng.choice(("", "x", self.sid[:-1], self.sid + "x", "../" * 50,
                              "A" * 5000, self.sid.lower(), "%00"))
            self.trail.add(sid, "[POST to sid] ")
            status, _ = await self._request("POST", self._query(sid), b"40")
            self._hang_if(status, f"a POST to sid {sid[:40]!r}")
        elif choice == 4:
            sid = rng.choice(("nope", self.sid + "0", ""))
            self.trail.add(sid, "[GET of sid] ")
            status, _ = await self._request("GET", self._query(sid))
            self._hang_if(status, f"a GET of sid {sid[:40]!r}")
        elif choice == 5:
            method = rng.choice(("PUT", "DELETE", "PATCH", "OPTIONS"))
            self.trail.add(method, "[method] ")
            status, _ = await self._request(method, self._query(self.sid), b"40")
            self._hang_if(status, f"a {method}")
        elif choice == 6:
            extra = rng.choice(({"transport": "websocket"}, {"transport": "nope"},
                                {"EIO": "3"}, {"j": "x"}, {"j": "1"}, {"b64": "1"}))
            self.trail.add(json.dumps(extra), "[query] ")
            status, _ = await self._request("POST", self._query(self.sid, **extra), b"6")
            self._hang_if(status, f"a POST with {extra}")
        elif choice == 7:
            # JSONP-style form bodies, which engine.io 4 has no use for.
            body = rng.choice((b"d=", b"d=%ZZ", b"d=" + b"4" * 100, b"d=40%1e41"))
            self.trail.add(body, "[form body] ")
            await self._post(body)
        elif choice == 8:
            # A second GET while one is pending.
            self.trail.add("GET", "[overlapping] ")
            if self._polling:
                status, _ = await self._request("GET", self._query(self.sid), timeout=1.0)
                self.stats.outcomes[f"overlapping-get-{status}"] += 1
                self.abandoned_get = self.abandoned_get or status == "timeout"
            else:
                self._start_polling()
        else:
            # The engine.io CLOSE, then more POSTs to the closed session.
            self.trail.add("1", "[close, then POST] ")
            await self._post_text("1")
            for packet in self.factory.next():
                self.trail.add(packet, "[after close] ")
                await self._post(self._body([packet]))

    def _hang_if(self, status: int | str, what: str) -> None:
        if status == "timeout":
            self._found("hang", f"{what} was not answered within "
                                f"{REQUEST_TIMEOUT:.0f} s")

    # -- probe and close --------------------------------------------------------

    async def _probe(self) -> None:
        """Gone, closed by the server, or still answering."""
        if self.gone or self.listener.closed.is_set():
            self.stats.outcomes["polling-closed-by-server"] += 1
            return
        replies = self.listener.connect_replies["/chat"]
        ack, answer = self.listener.expect_ack()
        self._start_polling()
        probe = SEPARATOR.join((
            sio(0, "/chat", data=json.dumps({"token": self.target.tokens[0]})),
            probe_packet(ack)))
        self.trail.add(probe, "[probe] ")
        status = await self._post_text(probe)
        if status != 200:
            self.stats.outcomes["polling-closed-by-server"] += 1
            return
        closed = asyncio.ensure_future(self.listener.closed.wait())
        done, _ = await asyncio.wait({answer, closed}, timeout=PROBE_TIMEOUT,
                                     return_when=asyncio.FIRST_COMPLETED)
        closed.cancel()
        if answer in done:
            if probe_answered(answer.result()):
                self.stats.outcomes["polling-probe-answered"] += 1
            else:
                self._found("bad-probe-answer", f"probe acked with {answer.result()!r}")
        elif self.listener.closed.is_set():
            self.stats.outcomes["polling-closed-by-server"] += 1
        else:
            how = self.listener.connect_answered_since("/chat", replies)
            self._found("deaf", f"the session stayed open but the probe got no "
                                f"ack within {PROBE_TIMEOUT:.0f} s ({how})")

    async def _close(self) -> None:
        if not self.gone:
            close = self.rng.choice(("1", "41/chat,\x1e1"))
            self.trail.add(close, "[close] ")
            await self._post_text(close)
        if self.poller is None:
            return
        try:
            await asyncio.wait_for(asyncio.shield(self.poller), RELEASE_TIMEOUT)
        except asyncio.TimeoutError:
            if self.abandoned_get:
                # engine.io allows one pending GET: a server that accepts a
                # second one can hand its packets to a request nobody reads.
                self._found("abandoned-get-kept", "an overlapping GET was accepted "
                            "and held; after the client gave up on it, the live GET "
                            f"was not released within {RELEASE_TIMEOUT:.0f} s of the "
                            "session's close")
            else:
                self._found("poll-not-released", "the pending GET did not return "
                                                  f"within {RELEASE_TIMEOUT:.0f} s "
                                                  "of the session's close")
        finally:
            self.poller.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await self.poller
