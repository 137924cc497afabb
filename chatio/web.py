"""The web chat page: ``/`` and its assets under ``/static/``.

The files in ``chatio/static/`` are the committed build of ``client-js/``,
so serving them needs no Node on the machine.
"""
from __future__ import annotations

from pathlib import Path

from aiohttp import web

STATIC_DIR = Path(__file__).parent / "static"

# The page loads only its own script and styles, and talks only to its origin.
PAGE_HEADERS = {
    "Content-Security-Policy": (
        "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
        "connect-src 'self' ws: wss:; base-uri 'none'; form-action 'self'; "
        "frame-ancestors 'none'"),
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "Cache-Control": "no-cache",
}


async def index(request: web.Request) -> web.FileResponse:
    """The page itself."""
    return web.FileResponse(STATIC_DIR / "index.html", headers=PAGE_HEADERS)


def add_page_routes(app: web.Application) -> None:
    """Serve the page at ``/`` and its bundle at ``/static/``."""
    app.router.add_get("/", index)
    app.router.add_static("/static/", STATIC_DIR, append_version=False)
