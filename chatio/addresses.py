"""The client's address, believing X-Forwarded-For only from trusted proxies."""
from __future__ import annotations

import ipaddress
from collections.abc import Sequence

from aiohttp import web

from .settings import Network


def client_address(request: web.BaseRequest, trusted: Sequence[Network]) -> str:
    """The nearest address in the forwarding chain that is not a trusted proxy."""
    return forwarded_address(request.remote or "",
                             ",".join(request.headers.getall("X-Forwarded-For", [])),
                             trusted)


def forwarded_address(peer: str, forwarded: str,
                      trusted: Sequence[Network]) -> str:
    """``client_address`` from the peer's address and the X-Forwarded-For
    header (all its values joined by commas)."""
    if not is_trusted(peer, trusted):
        return peer
    hops = [hop.strip() for hop in forwarded.split(",") if hop.strip()]
    for hop in reversed(hops):
        if not is_trusted(hop, trusted):
            return hop if _is_address(hop) else peer
    return hops[0] if hops and _is_address(hops[0]) else peer


def is_trusted(address: str | None, trusted: Sequence[Network]) -> bool:
    """Whether ``address`` is an IP address in one of the ``trusted`` networks."""
    if not address or not trusted:
        return False
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        return False
    return any(ip in network for network in trusted)


def _is_address(text: str) -> bool:
    try:
        ipaddress.ip_address(text)
    except ValueError:
        return False
    return True
