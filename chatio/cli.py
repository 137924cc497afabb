"""The ``chatio`` command: ``serve`` runs a node, ``token`` mints a token."""
from __future__ import annotations

import argparse
import sys

from .settings import Settings, SettingsError


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="chatio", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)

    serve = commands.add_parser("serve", help="run a chatio node")
    serve.add_argument("--host", help="address to listen on (default: $HOST)")
    serve.add_argument("--port", type=int, help="port (default: $PORT)")

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
        print(f"chatio: {exc}", file=sys.stderr)
        return 2
    if args.command == "serve":
        return _serve(settings, args.host, args.port)
    return _token(settings, args)


def _serve(settings: Settings, host: str | None, port: int | None) -> int:
    import asyncio

    from aiohttp import web

    from .app import HTTP_SHARE, create_app
    from .logs import configure_logging

    settings = settings.replace(host=host or settings.host,
                                port=port or settings.port)
    configure_logging(settings.log_level, settings.node_id)
    try:
        import uvloop
    except ImportError:  # pragma: no cover - platforms without uvloop
        loop = asyncio.new_event_loop()
    else:
        loop = uvloop.new_event_loop()
    web.run_app(create_app(settings), host=settings.host, port=settings.port,
                backlog=settings.backlog,
                shutdown_timeout=settings.shutdown_timeout * HTTP_SHARE,
                access_log=None,
                print=None, loop=loop)
    return 0


def _token(settings: Settings, args: argparse.Namespace) -> int:
    from .constants import GUEST_PREFIX
    from .secret_file import load_or_create_secret
    from .tokens import TokenError, TokenIssuer

    if args.user_id.startswith(GUEST_PREFIX):
        print(f"chatio: ids starting with {GUEST_PREFIX!r} are reserved for "
              "guest login", file=sys.stderr)
        return 2
    if args.ttl is not None and args.ttl <= 0:
        print("chatio: --ttl must be > 0", file=sys.stderr)
        return 2
    secret = settings.secret or load_or_create_secret(settings.data_dir)
    issuer = TokenIssuer(secret, settings.token_ttl)
    try:
        print(issuer.mint(args.user_id, name=args.name, rooms=args.rooms,
                          ttl=args.ttl))
    except TokenError as exc:
        print(f"chatio: cannot mint that token: {exc.reason}", file=sys.stderr)
        return 2
    return 0
