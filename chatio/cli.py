"""The chatio command: "serve" runs a node, "token" mints a token."""
from __future__ import annotations

import argparse
import errno
import os
import sys

from .release import release
from .secret_file import DataDirError
from .settings import Settings, SettingsError, parse_port


# Why a node may fail to listen: reported in one line, exit status 2.
_BIND_ERRORS = frozenset({errno.EADDRINUSE, errno.EACCES,
                          errno.EADDRNOTAVAIL})


def _port_argument(text: str) -> int:
    try:
        return parse_port(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="chatio", description=__doc__)
    parser.add_argument("--version", action="version",
                        version=f"chatio {release()}")
    commands = parser.add_subparsers(dest="command", required=True)

    serve = commands.add_parser("serve", help="run a chatio node")
    serve.add_argument("--host", help="address to listen on (default: $HOST)")
    serve.add_argument("--port", type=_port_argument,
                       help="port from 1 to 65535 (default: $PORT)")

    token = commands.add_parser("token", help="print a token for a user")
    token.add_argument("user_id")
    token.add_argument("--name", help="display name (default: the user id)")
    token.add_argument("--rooms", nargs="+", metavar="PATTERN",
                       help="fnmatch patterns of the rooms the token may use")
    token.add_argument("--ttl", type=float, metavar="S",
                       help="seconds until the token expires (sets exp)")

    args = parser.parse_args(argv)
    try:
        settings = Settings.from_env()
    except SettingsError as exc:
        return _fail(str(exc))
    try:
        if args.command == "serve":
            return _serve(settings, args.host, args.port)
        return _token(settings, args)
    except DataDirError as exc:
        return _fail(str(exc))


def _fail(message: str) -> int:
    print(f"chatio: {message}", file=sys.stderr)
    return 2


def _serve(settings: Settings, host: str | None, port: int | None) -> int:
    import asyncio

    from aiohttp import web

    from .app import HTTP_SHARE, create_app, log_started
    from .logs import configure_logging
    from .runtime import tune_garbage_collector

    settings = settings.replace(host=host or settings.host,
                                port=settings.port if port is None else port)
    configure_logging(settings.log_level, settings.node_id)
    tune_garbage_collector()
    try:
        import uvloop
    except ImportError:  # pragma: no cover - platforms without uvloop
        loop = asyncio.new_event_loop()
    else:
        loop = uvloop.new_event_loop()
    try:
        web.run_app(create_app(settings), host=settings.host,
                    port=settings.port, backlog=settings.backlog,
                    shutdown_timeout=settings.shutdown_timeout * HTTP_SHARE,
                    access_log=None,
                    # run_app prints once every site listens.
                    print=lambda _: log_started(settings), loop=loop)
    except OSError as exc:
        if exc.errno not in _BIND_ERRORS:
            raise
        return _fail(f"cannot listen on {settings.host}:{settings.port}: "
                     f"{os.strerror(exc.errno)}")
    return 0


def _token(settings: Settings, args: argparse.Namespace) -> int:
    from .constants import GUEST_PREFIX
    from .secret_file import load_or_create_secret
    from .tokens import TokenError, TokenIssuer

    if args.user_id.startswith(GUEST_PREFIX):
        return _fail(f"ids starting with {GUEST_PREFIX!r} are reserved for "
                     "guest login")
    if args.ttl is not None and args.ttl <= 0:
        return _fail("--ttl must be > 0")
    secret = settings.secret or load_or_create_secret(settings.data_dir)
    issuer = TokenIssuer(secret, settings.token_ttl)
    try:
        print(issuer.mint(args.user_id, name=args.name, rooms=args.rooms,
                          ttl=args.ttl))
    except TokenError as exc:
        return _fail(f"cannot mint that token: {exc.reason}")
    return 0
