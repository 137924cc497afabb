"""Hand-written HTTP/1.1 requests: what an HTTP client library will not send."""
from __future__ import annotations

import asyncio

MAX_HEAD = 65_536


async def exchange(host: str, port: int, request: bytes, timeout: float, *,
                   eof: bool = True) -> int | str:
    """Send ``request`` as it is; the response status, ``"closed"`` when the
    server closed without answering, or ``"timeout"`` when it did neither
    within ``timeout``. ``eof`` half-closes after sending, so a server
    waiting for a body that never comes sees its end at once."""
    try:
        reader, writer = await asyncio.wait_for(
            asyncio.open_connection(host, port), timeout)
    except (OSError, asyncio.TimeoutError):
        return "connect-failed"
    try:
        writer.write(request)
        await asyncio.wait_for(writer.drain(), timeout)
        if eof and writer.can_write_eof():
            writer.write_eof()
        line = await asyncio.wait_for(reader.readline(), timeout)
    except asyncio.TimeoutError:
        return "timeout"
    except (ConnectionError, OSError):
        return "closed"
    finally:
        writer.transport.abort()
    parts = line.split(b" ", 2)
    if len(parts) < 2 or not parts[1].isdigit():
        return "closed"
    return int(parts[1])


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
