"""Run ``chatio.app.create_app`` in-process on a free local port."""
from __future__ import annotations

import contextlib
import dataclasses
from collections.abc import AsyncIterator

from aiohttp import web

from chatio.settings import Settings


@dataclasses.dataclass(frozen=True)
class Server:
    """A running in-process server."""

    url: str
    settings: Settings


@contextlib.asynccontextmanager
async def serve_app(settings: Settings,
                    host: str = "127.0.0.1") -> AsyncIterator[str]:
    """Serve a chatio app built from ``settings``; yields its base URL."""
    from chatio.app import create_app

    app = await create_app(settings)
    runner = web.AppRunner(app, shutdown_timeout=5, handle_signals=False)
    await runner.setup()
    try:
        site = web.TCPSite(runner, host, 0)
        await site.start()
        port = runner.addresses[0][1]
        yield f"http://{host}:{port}"
    finally:
        await runner.cleanup()
