"""Which browser origins may talk to the node.

``allowed_origins`` is the one decision behind the Socket.IO endpoint's
origin check and CORS headers and the guest login's origin check. It has
python-engineio's meaning of ``cors_allowed_origins``, with one change:
``X-Forwarded-Proto`` and ``X-Forwarded-Host`` are believed only from a peer
in ``CHATIO_TRUSTED_PROXIES``, so a client cannot name its own origin as the
node's.
"""
from __future__ import annotations

from collections.abc import Sequence

from aiohttp import web

from .addresses import is_trusted
from .settings import Network

_SCHEMES = frozenset({"http", "https"})


def allowed_origins(*, configured: Sequence[str], scheme: str,
                    host: str | None, forwarded_proto: str | None,
                    forwarded_host: str | None, peer: str | None,
                    trusted: Sequence[Network]) -> list[str] | None:
    """The origins a request may come from; None means any origin.

    ``configured`` is ``CHATIO_CORS_ORIGINS``: an item ``*`` allows any
    origin, other items are the whole list. Unset, only the node's own
    origin is allowed: ``scheme://host`` of the request itself (``scheme``
    of the connection, ``host`` the ``Host`` header) and, when ``peer`` is
    a trusted proxy that forwarded a protocol or host, the forwarded one.
    Of a forwarded header's comma-separated values the last, added by the
    nearest proxy, counts.
    """
    if "*" in configured:
        return None
    if configured:
        return list(configured)
    if not host:
        return []
    origins = [f"{scheme}://{host}"]
    if is_trusted(peer, trusted):
        proto = _last(forwarded_proto)
        proto = proto.lower() if proto and proto.lower() in _SCHEMES else None
        outer_host = _last(forwarded_host)
        if proto or outer_host:
            forwarded = f"{proto or scheme}://{outer_host or host}"
            if forwarded not in origins:
                origins.append(forwarded)
    return origins


def request_origins(request: web.BaseRequest, configured: Sequence[str],
                    trusted: Sequence[Network]) -> list[str] | None:
    """``allowed_origins`` for an aiohttp request."""
    headers = request.headers
    return allowed_origins(
        configured=configured, scheme=request.scheme,
        host=headers.get("Host"),
        forwarded_proto=_joined(headers.getall("X-Forwarded-Proto", [])),
        forwarded_host=_joined(headers.getall("X-Forwarded-Host", [])),
        peer=request.remote, trusted=trusted)


def origin_allowed(origin: str, allowed: list[str] | None) -> bool:
    """Whether a request's ``Origin`` header value passes."""
    return allowed is None or origin in allowed


def _joined(values: list[str]) -> str | None:
    return ",".join(values) if values else None


def _last(header: str | None) -> str | None:
    if header is None:
        return None
    return header.rsplit(",", 1)[-1].strip() or None
