"""Malformed HTTP requests to the engine.io endpoint, written by hand.

Each must get a status line or a closed connection within
``REQUEST_TIMEOUT``, never silence.
"""
from __future__ import annotations

import random
import re

from . import rawhttp
from .findings import Finding, Stats, Trail
from .target import REQUEST_TIMEOUT, Target

TRANSPORT = "http"
PATH = "/socket.io/"


class HttpSession:
    """Up to ``budget`` hostile requests, each on its own connection."""

    def __init__(self, index: int, rng: random.Random, target: Target,
                 stats: Stats, budget: int) -> None:
        self.index = index
        self.rng = rng
        self.target = target
        self.stats = stats
        self.budget = budget
        self.trail = Trail()

    def _request(self) -> tuple[bytes, bool]:
        """A request, and whether to half-close after it (for bodies that
        lie about their length: the server must see them end)."""
        request = self._make()
        lies = b"Transfer-Encoding" in request or b"Content-Length: 1" in request \
            or b"Content-Length: a" in request or b"Content-Length: -" in request
        return request, lies

    def _make(self) -> bytes:
        rng = self.rng
        host = f"{self.target.host}:{self.target.port}"
        query = rng.choice((
            "EIO=4&transport=polling", "EIO=4&transport=polling&sid=" + "x" * 20,
            "EIO=4&transport=websocket", "EIO=3&transport=polling", "EIO=4",
            "EIO=4&transport=polling&j=" + "9" * 30, "transport=polling",
            "EIO=4&transport=polling&sid=" + "%" * 10, "EIO=4&" + "a=1&" * 500,
            "EIO=4&transport=polling&sid=\ud800",
        ))
        target = f"{PATH}?{query}"
        choice = rng.randrange(8)
        if choice == 0:  # a Content-Length that is not a number
            return rawhttp.request("POST", target, host, body=b"40",
                                   content_length=rng.choice(("abc", "-1", "1e3", "4 0")))
        if choice == 1:  # a declared body far over the limit, then EOF
            return rawhttp.request("POST", target, host, body=b"40",
                                   content_length=str(10**rng.randrange(6, 12)))
        if choice == 2:  # chunked, with a lying or broken chunk size
            body = rng.choice((b"2\r\n40\r\n0\r\n\r\n", b"ffffffff\r\n40",
                               b"zz\r\n40\r\n", b"10000\r\n" + b"4" * 100))
            return rawhttp.request("POST", target, host, body=body, content_length="",
                                   headers={"Transfer-Encoding": "chunked"})
        if choice == 3:  # an upgrade that is not quite one
            return rawhttp.request("GET", target, host, content_length="", headers={
                "Upgrade": rng.choice(("websocket", "h2c", "WebSocket")),
                "Connection": "Upgrade",
                "Sec-WebSocket-Version": rng.choice(("13", "8", "x")),
                "Sec-WebSocket-Key": rng.choice(("", "short", "dGhlIHNhbXBsZSBub25jZQ==")),
            })
        if choice == 4:  # an unusual method
            return rawhttp.request(rng.choice(("PROPFIND", "TRACE", "CONNECT", "X" * 100)),
                                   target, host)
        if choice == 5:  # oversized or broken headers
            return rawhttp.request("GET", target, host, headers={
                rng.choice(("X-Big", "Cookie", "Origin")): "v" * rng.choice((100, 9000, 70_000)),
            })
        if choice == 6:  # a path outside the endpoint
            path = rng.choice(("/socket.io", "/socket.io/../metrics", "/socket.io//",
                               "/socket.io/%2e%2e/", "/" + "a" * 9000))
            return rawhttp.request("GET", f"{path}?{query}", host)
        return rawhttp.request("POST", target, host, body=rng.randbytes(rng.randrange(0, 500)))

    async def _close_opened(self, answer: bytes) -> None:
        """A request that opened a long-polling session closes it again:
        the server cannot tell an abandoned session from a slow client
        until its ping timeout."""
        match = re.search(rb'0\{"sid":"([A-Za-z0-9_-]+)"', answer)
        if match is None:
            return
        close = rawhttp.request(
            "POST", f"{PATH}?EIO=4&transport=polling&sid={match[1].decode()}",
            f"{self.target.host}:{self.target.port}", body=b"1")
        self.stats.status(await rawhttp.exchange(self.target.host, self.target.port,
                                                 close, REQUEST_TIMEOUT))

    async def run(self) -> int:
        sent = 0
        while sent < self.budget:
            request, half_close = self._request()
            self.trail.add(request)
            status, rest = await rawhttp.exchange_read(
                self.target.host, self.target.port, request, REQUEST_TIMEOUT,
                eof=half_close)
            sent += 1
            await self._close_opened(rest)
            self.stats.sent(TRANSPORT)
            self.stats.status(status)
            if status == "timeout":
                self.stats.found(Finding("hang", TRANSPORT, self.index,
                                         f"a hand-written request got no answer within "
                                         f"{REQUEST_TIMEOUT:.0f} s", self.trail.snapshot()))
        return sent
