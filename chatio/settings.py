"""The node's configuration: the only module that reads the environment.

``Settings.from_env()`` parses and checks every variable once; a bad value
raises ``SettingsError`` naming the variable, and start-up stops there.
Every variable is documented in ``docs/configuration.md``.
"""
from __future__ import annotations

import dataclasses
import ipaddress
import logging
import os
import uuid
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any, TypeVar

T = TypeVar("T")

_TRUE = {"1", "true", "yes", "on"}
_FALSE = {"0", "false", "no", "off", ""}
_LOG_LEVELS = {"debug", "info", "warning", "error", "critical"}
# Variables whose values never appear in an error message.
_SECRETS = frozenset({"CHATIO_SECRET", "CHATIO_API_KEY"})


# URL schemes that name a Redis Cluster rather than one server.
REDIS_CLUSTER_SCHEMES = ("redis+cluster", "rediss+cluster")


class SettingsError(ValueError):
    """A configuration variable has a value chatio cannot use."""


@dataclasses.dataclass(frozen=True)
class Rate:
    """A token bucket: ``per_second`` tokens refill a bucket of ``burst``."""

    per_second: float
    burst: int

    @property
    def enabled(self) -> bool:
        return self.per_second > 0 and self.burst > 0

    @classmethod
    def parse(cls, text: str) -> Rate:
        text = text.strip()
        if text == "0":
            return cls(0.0, 0)
        rate, sep, burst = text.partition("/")
        expected = "expected RATE/BURST, for example 10/20, or 0"
        if not sep:
            raise ValueError(expected)
        per_second = _number(rate, expected)
        size = _whole(burst, expected)
        if per_second <= 0 or size < 1:
            raise ValueError("RATE must be > 0 and BURST >= 1")
        return cls(per_second, size)

    def __str__(self) -> str:
        return "0" if not self.enabled else f"{self.per_second:g}/{self.burst}"


Network = ipaddress.IPv4Network | ipaddress.IPv6Network


@dataclasses.dataclass(frozen=True)
class Settings:
    """Every setting of a chatio node, with its documented default."""

    host: str = "0.0.0.0"
    port: int = 8000
    backlog: int = 2048
    secret: str | None = None
    api_key: str | None = None
    data_dir: Path = Path("./data")
    node_id: str = dataclasses.field(
        default_factory=lambda: uuid.uuid4().hex[:12])
    token_ttl: float = 3600.0
    cors_origins: tuple[str, ...] = ()
    guest_login: bool = False
    trusted_proxies: tuple[Network, ...] = ()
    max_message_chars: int = 2000
    max_payload: int = 65536
    max_buffered: int = 4 * 1024 * 1024
    history_retention: int = 10000
    history_backend: str = "sqlite"
    rate_messages: Rate = Rate(10, 20)
    rate_guest: Rate = Rate(0.2, 10)
    rate_typing: Rate = Rate(10, 20)
    presence_grace: float = 5.0
    typing_ttl: float = 6.0
    receipt_interval: float = 1.0
    ws_compression: bool = False
    ping_interval: float = 25.0
    ping_timeout: float = 20.0
    shutdown_timeout: float = 10.0
    log_level: str = "info"
    redis_url: str | None = None
    redis_prefix: str = "chatio"
    presence_ttl: float = 30.0
    # The Socket.IO Admin UI on /admin: off unless a password is set.
    admin_user: str | None = None
    admin_password: str | None = dataclasses.field(default=None, repr=False)
    admin_mode: str = "development"

    @property
    def admin_enabled(self) -> bool:
        """Whether /admin serves the Socket.IO Admin UI."""
        return self.admin_password is not None

    @property
    def redis_cluster(self) -> bool:
        """Whether ``redis_url`` names a Redis Cluster
        (``redis+cluster://``) rather than one Redis server."""
        return self.redis_url is not None and self.redis_url.partition(
            "://")[0].lower() in REDIS_CLUSTER_SCHEMES

    @property
    def clustered(self) -> bool:
        """Whether this node shares its state with others through Redis."""
        return self.redis_url is not None

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> Settings:
        """Build settings from ``env`` (default: the process environment)."""
        env = os.environ if env is None else env
        reader = _Reader(env)
        defaults = cls()
        settings = cls(
            host=reader.get("HOST", str, defaults.host),
            port=reader.get("PORT", parse_port, defaults.port),
            backlog=reader.get("CHATIO_BACKLOG", _backlog, defaults.backlog),
            secret=reader.get("CHATIO_SECRET", _secret, None),
            api_key=reader.get("CHATIO_API_KEY", _nonempty, None),
            data_dir=reader.get("CHATIO_DATA_DIR", Path, defaults.data_dir),
            node_id=reader.get("CHATIO_NODE_ID", _nonempty, defaults.node_id),
            token_ttl=reader.get("CHATIO_TOKEN_TTL", _positive_float,
                                 defaults.token_ttl),
            cors_origins=reader.get("CHATIO_CORS_ORIGINS", _list, ()),
            guest_login=reader.get("CHATIO_GUEST_LOGIN", _bool, False),
            trusted_proxies=reader.get("CHATIO_TRUSTED_PROXIES", _networks,
                                       ()),
            max_message_chars=reader.get("CHATIO_MAX_MESSAGE_CHARS",
                                         _positive_int,
                                         defaults.max_message_chars),
            max_payload=reader.get("CHATIO_MAX_PAYLOAD", _positive_int,
                                   defaults.max_payload),
            max_buffered=reader.get("CHATIO_MAX_BUFFERED", _positive_int,
                                    defaults.max_buffered),
            history_retention=reader.get("CHATIO_HISTORY_RETENTION",
                                         _positive_int,
                                         defaults.history_retention),
            history_backend=reader.get("CHATIO_HISTORY_BACKEND", _backend,
                                       defaults.history_backend),
            rate_messages=reader.get("CHATIO_RATE_MESSAGES", Rate.parse,
                                     defaults.rate_messages),
            rate_guest=reader.get("CHATIO_RATE_GUEST", Rate.parse,
                                  defaults.rate_guest),
            rate_typing=reader.get("CHATIO_RATE_TYPING", Rate.parse,
                                   defaults.rate_typing),
            presence_grace=reader.get("CHATIO_PRESENCE_GRACE", _seconds,
                                      defaults.presence_grace),
            typing_ttl=reader.get("CHATIO_TYPING_TTL", _positive_float,
                                  defaults.typing_ttl),
            receipt_interval=reader.get("CHATIO_RECEIPT_INTERVAL", _seconds,
                                        defaults.receipt_interval),
            ws_compression=reader.get("CHATIO_WS_COMPRESSION", _bool, False),
            ping_interval=reader.get("CHATIO_PING_INTERVAL", _positive_float,
                                     defaults.ping_interval),
            ping_timeout=reader.get("CHATIO_PING_TIMEOUT", _positive_float,
                                    defaults.ping_timeout),
            shutdown_timeout=reader.get("CHATIO_SHUTDOWN_TIMEOUT",
                                        _positive_float,
                                        defaults.shutdown_timeout),
            log_level=reader.get("LOG_LEVEL", _log_level, defaults.log_level),
            redis_url=reader.get("CHATIO_REDIS_URL", _redis_url, None),
            redis_prefix=reader.get("CHATIO_REDIS_PREFIX", _redis_prefix,
                                    defaults.redis_prefix),
            presence_ttl=reader.get("CHATIO_PRESENCE_TTL", _presence_ttl,
                                    defaults.presence_ttl),
            admin_user=reader.get("CHATIO_ADMIN_USER", _nonempty, None),
            admin_password=_admin_password(env.get("CHATIO_ADMIN_PASSWORD")),
            admin_mode=reader.get("CHATIO_ADMIN_MODE", _admin_mode,
                                  defaults.admin_mode),
        )
        settings.check()
        return settings

    def check(self) -> None:
        """Refuse combinations of valid values that cannot work together."""
        if self.clustered and self.secret is None:
            raise SettingsError(
                "CHATIO_SECRET must be set when CHATIO_REDIS_URL is: every "
                "node of a cluster must sign tokens with the same secret")
        if self.admin_user is not None and self.admin_password is None:
            raise SettingsError(
                "CHATIO_ADMIN_USER is set but CHATIO_ADMIN_PASSWORD is not: "
                "the Admin UI needs both")

    def replace(self, **changes: Any) -> Settings:
        """A copy with some fields changed (for the CLI and tests)."""
        return dataclasses.replace(self, **changes)


class _Reader:
    def __init__(self, env: Mapping[str, str]) -> None:
        self._env = env

    def get(self, name: str, parse: Callable[[str], T], default: T) -> T:
        raw = self._env.get(name)
        if raw is None or (raw.strip() == "" and parse is not _bool):
            return default
        try:
            return parse(raw)
        except (ValueError, TypeError) as exc:
            shown = name if name in _SECRETS else f"{name}={raw!r}"
            raise SettingsError(f"{shown} is invalid: {exc}") from None


def _whole(text: str, expected: str) -> int:
    """``int(text)`` with ``expected`` as the error instead of Python's."""
    try:
        return int(text.strip())
    except ValueError:
        raise ValueError(expected) from None


def _number(text: str, expected: str) -> float:
    """``float(text)`` with ``expected`` as the error instead of Python's."""
    try:
        return float(text.strip())
    except ValueError:
        raise ValueError(expected) from None


def _bool(text: str) -> bool:
    value = text.strip().lower()
    if value in _TRUE:
        return True
    if value in _FALSE:
        return False
    raise ValueError("expected one of 1/0/true/false/yes/no/on/off")


PORT_RANGE = "expected a port number from 1 to 65535"


def parse_port(text: str) -> int:
    """A TCP port from 1 to 65535 (``PORT`` and ``chatio serve --port``)."""
    port = _whole(text, PORT_RANGE)
    if not 0 < port < 65536:
        raise ValueError(PORT_RANGE)
    return port


def _backlog(text: str) -> int:
    value = _whole(text, "expected a whole number from 1 to 65535")
    if not 1 <= value <= 65535:
        raise ValueError("expected a whole number from 1 to 65535")
    return value


def _positive_int(text: str) -> int:
    value = _whole(text, "expected a whole number >= 1")
    if value < 1:
        raise ValueError("expected a whole number >= 1")
    return value


def _positive_float(text: str) -> float:
    value = _number(text, "expected a number of seconds > 0")
    if not value > 0 or value == float("inf"):
        raise ValueError("expected a number of seconds > 0")
    return value


def _seconds(text: str) -> float:
    value = _number(text, "expected a number of seconds >= 0")
    if not 0 <= value < float("inf"):
        raise ValueError("expected a number of seconds >= 0")
    return value


def _nonempty(text: str) -> str:
    return text.strip()


def _secret(text: str) -> str:
    if len(text) < 16:
        raise ValueError("use at least 16 characters")
    return text


def _list(text: str) -> tuple[str, ...]:
    return tuple(item.strip() for item in text.split(",") if item.strip())


def _networks(text: str) -> tuple[Network, ...]:
    return tuple(ipaddress.ip_network(item, strict=False)
                 for item in _list(text))


def _backend(text: str) -> str:
    value = text.strip().lower()
    if value not in {"sqlite", "memory"}:
        raise ValueError("expected sqlite or memory")
    return value


def _redis_url(text: str) -> str:
    url = text.strip()
    scheme, _, rest = url.partition("://")
    scheme = scheme.lower()
    if scheme in REDIS_CLUSTER_SCHEMES:
        seeds = rest.rpartition("@")[2].partition("/")[0].partition("?")[0]
        if not seeds or any(not _is_host_port(seed)
                            for seed in seeds.split(",")):
            raise ValueError("expected redis+cluster://host:port[,host:port...]")
        return url
    if scheme not in {"redis", "rediss", "unix"}:
        raise ValueError("expected a redis://, rediss://, unix://, "
                         "redis+cluster:// or rediss+cluster:// URL")
    return url


def _is_host_port(seed: str) -> bool:
    host, _, port = seed.rpartition(":")
    return bool(host) and port.isdigit() and 0 < int(port) < 65536


def _redis_prefix(text: str) -> str:
    prefix = text.strip()
    if not prefix or any(ch in prefix for ch in "{}* \t"):
        raise ValueError("expected a non-empty prefix without braces, "
                         "'*' or spaces")
    return prefix


def _presence_ttl(text: str) -> float:
    value = _positive_float(text)
    if value < 1:
        raise ValueError("expected at least 1 second")
    return value


# The Admin UI password is never echoed, not even in its own error.
ADMIN_PASSWORD_MIN_CHARS = 12


def _admin_password(raw: str | None) -> str | None:
    if raw is None or raw == "":
        return None
    if len(raw) < ADMIN_PASSWORD_MIN_CHARS or raw != raw.strip():
        raise SettingsError(
            f"CHATIO_ADMIN_PASSWORD is invalid: use at least "
            f"{ADMIN_PASSWORD_MIN_CHARS} characters, without surrounding "
            "spaces (the value is not shown)")
    return raw


def _admin_mode(text: str) -> str:
    value = text.strip().lower()
    if value not in {"development", "production"}:
        raise ValueError("expected development or production")
    return value


def _log_level(text: str) -> str:
    value = text.strip().lower()
    if value not in _LOG_LEVELS:
        raise ValueError(f"expected one of {', '.join(sorted(_LOG_LEVELS))}")
    return value


def log_level_number(name: str) -> int:
    """The ``logging`` level for a ``LOG_LEVEL`` name."""
    return logging.getLevelName(name.upper())
