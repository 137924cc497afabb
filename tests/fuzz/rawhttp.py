"""Hand-written HTTP/1.1 requests: what an HTTP client library will not send."""
from __future__ import annotations

import asyncio
import contextlib

MAX_HEAD = 65_536


async def exchange(host: str, port: int, request: bytes, timeout: float, *,
                   eof: bool = True) -> int | str:
    """Send ``request`` as it is; the response status, ``"closed"`` when the
    server closed without answering, or ``"timeout"`` when it did neither
    within ``timeout``. ``eof`` half-closes after sending, so a server
    waiting for a body that never comes sees its end at once."""
    status, _ = await exchange_read(host, port, request, timeout, eof=eof)
    return status


async def exchange_read(host: str, port: int, request: bytes, timeout: float, *,
                        eof: bool = True, keep: int = 1024) -> tuple[int | str, bytes]:
    """``exchange``, and the first ``keep`` bytes of what followed the
    status line."""
    try:
        reader, writer = await asyncio.wait_for(
            asyncio.open_connection(host, port), timeout)
    except (OSError, asyncio.TimeoutError):
        return "connect-failed", b""
    try:
        writer.write(request)
        await asyncio.wait_for(writer.drain(), timeout)
        if eof and writer.can_write_eof():
            writer.write_eof()
        line = await asyncio.wait_for(reader.readline(), timeout)
        rest = b""
        if line.startswith(b"HTTP/1.1 200"):
            # A handshake may follow: its answer is small and sent at once.
            with contextlib.suppress(asyncio.TimeoutError, ConnectionError, OSError):
                while len(rest) < keep:
                    chunk = await asyncio.wait_for(reader.read(keep), timeout)
                    if not chunk:
                        break
                    rest += chunk
    except asyncio.TimeoutError:
        return "timeout", b""
    except (ConnectionError, OSError):
        return "closed", b""
    finally:
        writer.transport.abort()
    parts = line.split(b" ", 2)
    if len(parts) < 2 or not parts[1].isdigit():
        return "closed", b""
    return int(parts[1]), rest


def request(method: str, target: str, host: str, *, body: bytes = b"",
            headers: dict[str, str] | None = None,
            content_length: str | None = None) -> bytes:
    """A request; ``content_length`` overrides (or, as ``""``, drops) the
    Content-Length header."""
    lines = [f"{method} {target} HTTP/1.1", f"Host: {host}", "Connection: close"]
    for name, value in (headers or {}).items():
        lines.append(f"{name}: {value}")
    length = str(len(body)) if content_length is None else content_length
    if length:
        lines.append(f"Content-Length: {length}")
    return ("\r\n".join(lines) + "\r\n\r\n").encode("utf-8", "surrogatepass") + body
