#!/usr/bin/env python3
"""Render chatio's nginx configuration from the templates beside this file.

    nginx/render.py --node 10.0.0.11:8000 --node 10.0.0.12:8000 \\
        --server-name chat.example.com \\
        --tls-cert /etc/ssl/chat.pem --tls-key /etc/ssl/chat.key \\
        -o /etc/nginx/conf.d/chatio.conf

Without ``--tls-cert``/``--tls-key`` it renders the plain-HTTP variant for
local use. ``--standalone DIR`` renders a whole nginx.conf that keeps its pid,
logs and temporary files in DIR, for ``make cluster`` and the tests. Only the
standard library is used, so it runs with any Python 3.11+.
"""
from __future__ import annotations

import argparse
import dataclasses
import ipaddress
import re
import sys
from collections.abc import Mapping, Sequence
from pathlib import Path

TEMPLATES = Path(__file__).resolve().parent / "templates"

HASH = "hash"
# Not sticky, so long-polling breaks: only for the test that proves it.
ROUND_ROBIN = "round-robin"
BALANCES = (HASH, ROUND_ROBIN)

# Comfortably above CHATIO_PING_INTERVAL + CHATIO_PING_TIMEOUT (25 + 20 s).
DEFAULT_TIMEOUT = 75
ERROR_LOG_LEVELS = ("debug", "info", "notice", "warn", "error", "crit")

_PLACEHOLDER = re.compile(r"\{\{(\w+)\}\}")
_HOSTNAME = re.compile(r"^(?=.{1,253}$)[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?"
                       r"(\.[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?)*$")
_SERVER_NAME = re.compile(r"^(_|\*?\.?[A-Za-z0-9.-]+\*?)$")
_USER = re.compile(r"^[A-Za-z_][A-Za-z0-9_.-]{0,31}$")
# Characters that would end or escape a quoted nginx string, or start a
# variable (ssl_certificate accepts variables).
_UNSAFE_PATH = re.compile(r'["\\$;{}\x00-\x1f\x7f]')


class ConfigError(ValueError):
    """An option that cannot go into the configuration; says which."""


@dataclasses.dataclass(frozen=True)
class Listen:
    """Where a server block listens: ``port`` on ``address`` (all when None)."""

    port: int
    address: str | None = None

    def __str__(self) -> str:
        if self.address is None:
            return str(self.port)
        if ":" in self.address:
            return f"[{self.address}]:{self.port}"
        return f"{self.address}:{self.port}"

    def with_port(self, port: int) -> Listen:
        return Listen(port, self.address)


@dataclasses.dataclass(frozen=True)
class Site:
    """Everything the site configuration is rendered from.

    ``listen`` defaults to port 443 with TLS and 80 without; with TLS,
    ``redirect_listen`` (default port 80 on the same address) answers plain
    HTTP with a redirect to HTTPS.
    """

    nodes: tuple[str, ...]
    server_name: str = "localhost"
    listen: Listen | None = None
    tls_cert: Path | None = None
    tls_key: Path | None = None
    redirect_listen: Listen | None = None
    balance: str = HASH
    timeout: int = DEFAULT_TIMEOUT

    @property
    def tls(self) -> bool:
        return self.tls_cert is not None

    @property
    def effective_listen(self) -> Listen:
        return self.listen or Listen(443 if self.tls else 80)

    @property
    def effective_redirect_listen(self) -> Listen:
        return self.redirect_listen or self.effective_listen.with_port(80)

    def validate(self) -> None:
        if not self.nodes:
            raise ConfigError("at least one node (--node HOST:PORT) is needed")
        for node in self.nodes:
            parse_node(node)
        if not self.server_name.split() or not all(
                _SERVER_NAME.match(name) for name in self.server_name.split()):
            raise ConfigError(f"server name {self.server_name!r} is invalid")
        if (self.tls_cert is None) != (self.tls_key is None):
            raise ConfigError("--tls-cert and --tls-key go together")
        for path in (self.tls_cert, self.tls_key):
            if path is not None:
                _check_path(path)
        if self.redirect_listen is not None and not self.tls:
            raise ConfigError("--redirect-listen needs TLS (--tls-cert/--tls-key)")
        if self.tls and self.effective_listen == self.effective_redirect_listen:
            raise ConfigError("the TLS server and the HTTP redirect cannot "
                              f"both listen on {self.effective_listen}")
        if self.balance not in BALANCES:
            raise ConfigError(f"balance {self.balance!r} is not one of "
                              f"{', '.join(BALANCES)}")
        if not 1 <= self.timeout <= 3600:
            raise ConfigError(f"timeout {self.timeout} is not 1 to 3600 seconds")


def parse_listen(text: str) -> Listen:
    """``PORT``, ``ADDRESS:PORT`` or ``[IPv6]:PORT``."""
    text = text.strip()
    address: str | None = None
    port_text = text
    if not text.isdigit():
        address, sep, port_text = text.rpartition(":")
        if not sep or not address:
            raise ConfigError(f"listen {text!r} is not PORT or ADDRESS:PORT")
        if address.startswith("[") and address.endswith("]"):
            address = address[1:-1]
            if ":" not in address:
                raise ConfigError(f"listen {text!r}: brackets are for IPv6")
        elif ":" in address:
            raise ConfigError(f"listen {text!r}: write IPv6 as [ADDRESS]:PORT")
        try:
            address = str(ipaddress.ip_address(address))
        except ValueError:
            raise ConfigError(f"listen {text!r}: {address!r} is not an IP "
                              "address") from None
    return Listen(_port(port_text, text), address)


def parse_node(text: str) -> tuple[str, int]:
    """``HOST:PORT`` (``[IPv6]:PORT``) of one chatio node."""
    host, sep, port_text = text.strip().rpartition(":")
    if not sep or not host:
        raise ConfigError(f"node {text!r} is not HOST:PORT")
    if host.startswith("[") and host.endswith("]"):
        try:
            ipaddress.IPv6Address(host[1:-1])
        except ValueError:
            raise ConfigError(f"node {text!r}: {host} is not an IPv6 "
                              "address") from None
    elif ":" in host:
        raise ConfigError(f"node {text!r}: write IPv6 as [ADDRESS]:PORT")
    elif not _HOSTNAME.match(host):
        raise ConfigError(f"node {text!r}: {host!r} is not a host name or "
                          "IPv4 address")
    return host, _port(port_text, text)


def _port(text: str, whole: str) -> int:
    if not text.isdigit() or not 1 <= int(text) <= 65535:
        raise ConfigError(f"{whole!r}: port {text!r} is not 1 to 65535")
    return int(text)


def _check_path(path: Path) -> None:
    if not path.is_absolute():
        raise ConfigError(f"path {str(path)!r} must be absolute")
    if _UNSAFE_PATH.search(str(path)):
        raise ConfigError(f"path {str(path)!r} has a character nginx would "
                          "not read literally")


def fill(template: str, values: Mapping[str, str]) -> str:
    """Replace ``{{name}}`` placeholders.

    A placeholder alone on its line takes the line's indentation for every
    line of its value, and an empty value removes the line. A placeholder
    without a value is an error, so a template and this script cannot drift
    apart silently.
    """
    missing = sorted(set(_PLACEHOLDER.findall(template)) - set(values))
    if missing:
        raise KeyError(f"no value for placeholders: {', '.join(missing)}")
    out: list[str] = []
    for line in template.splitlines():
        alone = _PLACEHOLDER.fullmatch(line.strip())
        if alone:
            indent = line[:len(line) - len(line.lstrip())]
            value = values[alone.group(1)]
            out.extend(indent + part if part else ""
                       for part in value.splitlines())
        else:
            out.append(_PLACEHOLDER.sub(lambda m: values[m.group(1)], line))
    return "\n".join(out) + "\n"


def template(name: str) -> str:
    return (TEMPLATES / name).read_text()


def render_site(site: Site) -> str:
    """The site configuration, for nginx's http context."""
    site.validate()
    listen = site.effective_listen
    headers = template("proxy-headers.conf")
    locations = fill(template("locations.conf"),
                     {"proxy_headers": headers, "timeout": str(site.timeout)})
    common = {
        "listen": str(listen),
        "server_name": site.server_name,
        "security_headers": template("security-headers.conf"),
        "locations": locations,
    }
    if site.tls:
        servers = fill(template("server-tls.conf"), {
            **common,
            "redirect_listen": str(site.effective_redirect_listen),
            "https_port_suffix": "" if listen.port == 443 else f":{listen.port}",
            "tls_cert": str(site.tls_cert),
            "tls_key": str(site.tls_key),
        })
    else:
        servers = fill(template("server-plain.conf"), common)
    variant = "TLS" if site.tls else "plain HTTP"
    if site.balance == ROUND_ROBIN:
        variant += ", TEST-ONLY round-robin upstream (not sticky)"
    return fill(template("site.conf"), {
        "variant": variant,
        "balance": template(f"balance-{site.balance}.conf"),
        "servers": "\n".join(f"server {node};" for node in site.nodes),
        "server_blocks": servers.rstrip("\n"),
    })


def render_standalone(site: Site, prefix: Path, *, user: str | None = None,
                      error_log_level: str = "notice") -> str:
    """A whole nginx.conf around the site that keeps everything in ``prefix``
    and stays in the foreground. ``user`` is needed only when nginx starts as
    root (its workers would otherwise run as nobody and could not reach
    ``prefix``)."""
    prefix = Path(prefix)
    _check_path(prefix)
    if user is not None and not _USER.match(user):
        raise ConfigError(f"user {user!r} is invalid")
    if error_log_level not in ERROR_LOG_LEVELS:
        raise ConfigError(f"error log level {error_log_level!r} is not one of "
                          f"{', '.join(ERROR_LOG_LEVELS)}")
    return fill(template("nginx.conf"), {
        "prefix": str(prefix),
        "user": "" if user is None else f"user {user};",
        "error_log_level": error_log_level,
        "site": render_site(site),
    })


def _listen_arg(text: str) -> Listen:
    try:
        return parse_listen(text)
    except ConfigError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="nginx/render.py",
        description="Render chatio's nginx configuration.")
    parser.add_argument("--node", action="append", default=[], required=True,
                        metavar="HOST:PORT",
                        help="a chatio node; repeat for each node")
    parser.add_argument("--server-name", default="localhost",
                        help="nginx server_name (default: localhost)")
    parser.add_argument("--listen", type=_listen_arg, metavar="[ADDRESS:]PORT",
                        help="where the site listens (default: 443 with TLS, "
                             "80 without)")
    parser.add_argument("--tls-cert", type=Path, metavar="PATH",
                        help="certificate chain (PEM); renders the TLS variant")
    parser.add_argument("--tls-key", type=Path, metavar="PATH",
                        help="private key (PEM) of --tls-cert")
    parser.add_argument("--redirect-listen", type=_listen_arg,
                        metavar="[ADDRESS:]PORT",
                        help="with TLS: where plain HTTP is redirected to HTTPS "
                             "(default: port 80 on the --listen address)")
    parser.add_argument("--timeout", type=int, default=DEFAULT_TIMEOUT,
                        metavar="SECONDS",
                        help="proxy read/send timeout on /socket.io/ "
                             f"(default: {DEFAULT_TIMEOUT})")
    parser.add_argument("--balance", choices=BALANCES, default=HASH,
                        help="hash (sticky, the default) or round-robin "
                             "(not sticky, breaks long-polling: tests only)")
    parser.add_argument("--standalone", type=Path, metavar="DIR",
                        help="render a whole nginx.conf keeping pid, logs "
                             "and temporary files in DIR")
    parser.add_argument("--user", help="with --standalone: the user nginx's "
                                       "workers run as when started as root")
    parser.add_argument("--error-log-level", default="notice",
                        choices=ERROR_LOG_LEVELS,
                        help="with --standalone (default: notice)")
    parser.add_argument("-o", "--output", type=Path, metavar="FILE",
                        help="write here instead of stdout")
    return parser.parse_args(argv)


def _absolute(path: Path | None) -> Path | None:
    return None if path is None else path.absolute()


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    site = Site(nodes=tuple(args.node), server_name=args.server_name,
                listen=args.listen, tls_cert=_absolute(args.tls_cert),
                tls_key=_absolute(args.tls_key), redirect_listen=args.redirect_listen,
                balance=args.balance, timeout=args.timeout)
    try:
        if args.standalone is not None:
            text = render_standalone(site, args.standalone.resolve(),
                                     user=args.user,
                                     error_log_level=args.error_log_level)
        elif args.user is not None:
            raise ConfigError("--user needs --standalone")
        else:
            text = render_site(site)
    except ConfigError as exc:
        print(f"render.py: {exc}", file=sys.stderr)
        return 2
    if args.output is None:
        sys.stdout.write(text)
    else:
        args.output.write_text(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
