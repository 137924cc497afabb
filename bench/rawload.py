"""Load generator on raw WebSocket clients (``rawclient``).

    python rawload.py CONFIG.json

CONFIG is a JSON object: ``mode`` (``fanout``, ``chat`` or ``idle``),
``host``, ``port``, ``tokens`` (one per client) and the sizes its mode reads
(see ``workloads``). On stdout, one JSON object per line:

    {"event": "ready", ...}  clients are set up; a line "go" on stdin starts
                             the measured phase
    {"event": "done", ...}   the phase is over; the clients stay connected
                             (and answer pings) until stdin closes

Exits 0 when the run completed, whatever it measured; 1 when it could not
(a client failed to set up, for example), with the reason on stderr.
"""
from __future__ import annotations

import asyncio
import json
import resource
import sys
from pathlib import Path
from typing import Any

import workloads


def raise_nofile() -> None:
    """Allow as many open files as the hard limit does."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft != hard:
        resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))


def say(record: dict[str, Any]) -> None:
    sys.stdout.write(json.dumps(record) + "\n")
    sys.stdout.flush()


async def read_line() -> str:
    """The next line of stdin, without blocking the loop ('' at EOF)."""
    return await asyncio.get_running_loop().run_in_executor(
        None, sys.stdin.readline)


async def main(config: dict[str, Any]) -> int:
    run = workloads.MODES[config["mode"]](config)
    try:
        say({"event": "ready", **await run.setup()})
        if (await read_line()).strip() != "go":
            return 2
        say({"event": "done", **await run.measure()})
        while await read_line():
            pass  # until stdin closes
        return 0
    finally:
        run.close()


if __name__ == "__main__":
    raise_nofile()
    try:
        import uvloop
        runner = uvloop.run
    except ImportError:
        runner = asyncio.run
    settings = json.loads(Path(sys.argv[1]).read_text())
    try:
        sys.exit(runner(main(settings)))
    except (ConnectionError, TimeoutError, OSError) as error:
        print(f"rawload: {type(error).__name__}: {error}", file=sys.stderr)
        sys.exit(1)
