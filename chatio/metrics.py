"""Prometheus metrics: every metric of a node, and the calls that record them.

One ``Metrics`` per application, with its own ``CollectorRegistry``, so
several nodes in one process (the tests) never share a series. The rest of
the code calls only the recording methods below; each is a counter
increment or a histogram observation, never I/O. Labels are bounded: an
event name, namespace or code that chatio does not define is recorded as
``unknown``, whatever a client sends.

``GET /metrics`` (``Metrics.serve``) renders the registry in the Prometheus
text format. Every metric is listed in ``docs/metrics.md``.
"""
from __future__ import annotations

import importlib.metadata
from collections.abc import Callable
from typing import Any

from aiohttp import web
from prometheus_client import (GC_COLLECTOR, PLATFORM_COLLECTOR,
                               PROCESS_COLLECTOR, CollectorRegistry, Counter,
                               Gauge, Histogram, Info, generate_latest)
from prometheus_client.aiohttp import make_aiohttp_handler

from . import constants as c

UNKNOWN = "unknown"
OK = "ok"

NAMESPACES = frozenset({c.CHAT_NAMESPACE, c.PRESENCE_NAMESPACE,
                        c.TYPING_NAMESPACE})
# Events a client may send, on any namespace.
CLIENT_EVENTS = frozenset({
    c.EVENT_JOIN, c.EVENT_LEAVE, c.EVENT_MESSAGE, c.EVENT_HISTORY,
    c.EVENT_SUBSCRIBE, c.EVENT_UNSUBSCRIBE, c.EVENT_TYPING,
    c.EVENT_EDIT, c.EVENT_DELETE, c.EVENT_REACT, c.EVENT_READ,
    c.EVENT_READERS,
})
# Events the server broadcasts to rooms.
BROADCAST_EVENTS = frozenset({c.EVENT_MESSAGE, c.EVENT_PRESENCE,
                              c.EVENT_TYPING, c.EVENT_REACTION,
                              c.EVENT_RECEIPTS, c.EVENT_READ})
# Codes of failed events and of refused connections.
ERROR_CODES = frozenset(c.ERROR_CODES) | {c.UNAUTHORIZED, c.TOKEN_EXPIRED}

# Codes a connection is closed with, or a bad packet answered with, by the
# transport (see chatio.transport.socket and chatio.transport.wire).
TRANSPORT_CODES = frozenset({"PROTOCOL_ERROR", "BINARY_UNSUPPORTED",
                             "PAYLOAD_TOO_LARGE", "INVALID_PAYLOAD"})

STORE_APPEND = "append"
STORE_READ = "read"
STORE_OPERATIONS = (STORE_APPEND, STORE_READ)
PUBSUB_COMMANDS = ("ssubscribe", "sunsubscribe")
# From a memory store's microseconds to a struggling disk's seconds.
STORE_BUCKETS = (0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1,
                 0.25, 0.5, 1.0, 2.5, 5.0)


def _bounded(value: Any, known: frozenset[str]) -> str:
    return value if isinstance(value, str) and value in known else UNKNOWN


def chatio_version() -> str:
    try:
        return importlib.metadata.version("chatio")
    except importlib.metadata.PackageNotFoundError:
        return UNKNOWN


class Metrics:
    """The metrics of one node and the only way to record them."""

    def __init__(self, node_id: str = "", version: str | None = None) -> None:
        self.registry = CollectorRegistry()
        reg = self.registry
        # prometheus-client's process_*, python_gc_* and python_info series.
        for collector in (PROCESS_COLLECTOR, PLATFORM_COLLECTOR, GC_COLLECTOR):
            reg.register(collector)
        self._handler = make_aiohttp_handler(reg)
        # Labelled children of the hot counters, looked up once; their keys
        # are bounded label values, so the caches stay small.
        self._event_children: dict[tuple[Any, ...], Any] = {}
        self._broadcast_children: dict[tuple[Any, ...], Any] = {}
        self._delivery_children: dict[Any, Any] = {}
        self._sockets = Gauge(
            "chatio_connected_sockets",
            "Authenticated sockets connected to this node, per namespace.",
            ["namespace"], registry=reg)
        self._events = Counter(
            "chatio_events",
            "Client events handled, per namespace, event name and outcome "
            "(ok or the error code).",
            ["namespace", "event", "outcome"], registry=reg)
        self._errors = Counter(
            "chatio_errors",
            "Errors sent to clients, per code: failed events and refused "
            "connections.",
            ["code"], registry=reg)
        self._stored = Counter(
            "chatio_messages_stored",
            "Messages stored by this node (retries of a stored message "
            "excluded).", registry=reg)
        self._broadcasts = Counter(
            "chatio_broadcasts",
            "Room broadcasts this node started, per namespace and event.",
            ["namespace", "event"], registry=reg)
        self._deliveries = Counter(
            "chatio_deliveries",
            "Packets this node queued for its own sockets by emits to rooms "
            "(from this node or, in a cluster, from others), per namespace.",
            ["namespace"], registry=reg)
        self._volatile_skips = Counter(
            "chatio_volatile_skips",
            "Recipients a volatile broadcast skipped because their queue "
            "was full, per namespace.",
            ["namespace"], registry=reg)
        self._sessions = Gauge(
            "chatio_transport_sessions",
            "engine.io sessions open on this node, authenticated or not.",
            registry=reg)
        self._protocol_errors = Counter(
            "chatio_protocol_errors",
            "Packets that broke the protocol or its limits, per code.",
            ["code"], registry=reg)
        self._slow_consumers = Counter(
            "chatio_slow_consumer_disconnects",
            "Clients disconnected because more than CHATIO_MAX_BUFFERED "
            "bytes waited for them.", registry=reg)
        self._recoveries = Counter(
            "chatio_recoveries",
            "Reconnecting sockets that presented a pid, per namespace and "
            "outcome: recovered (same sid, rooms and missed messages) or "
            "new (a new session).", ["namespace", "outcome"], registry=reg)
        self._publish_failures = Counter(
            "chatio_redis_publish_failures",
            "Fan-out publishes to Redis that failed (the emit was dropped).",
            registry=reg)
        self._reconnects = Counter(
            "chatio_redis_reconnects",
            "Times the Redis pub/sub listener connected again after losing "
            "its connection.", registry=reg)
        self._pubsub_received = Counter(
            "chatio_pubsub_messages_received",
            "Publications this node received from Redis pub/sub (cluster "
            "mode): only rooms with members here, and what is addressed to "
            "this node or every node.", registry=reg)
        self._pubsub_commands = Counter(
            "chatio_pubsub_commands",
            "SSUBSCRIBE and SUNSUBSCRIBE commands this node sent, per "
            "command; concurrent joins share one.", ["command"], registry=reg)
        self._pubsub_command_channels = Counter(
            "chatio_pubsub_command_channels",
            "Channels named by those commands, per command.", ["command"],
            registry=reg)
        self._pubsub_channels = Gauge(
            "chatio_pubsub_channels",
            "Shard channels this node subscribes to (rooms with members "
            "here, plus its own and the cluster-wide one).", registry=reg)
        self._pubsub_command_children = {
            command: (self._pubsub_commands.labels(command),
                      self._pubsub_command_channels.labels(command))
            for command in PUBSUB_COMMANDS}
        self._store_seconds = Histogram(
            "chatio_store_latency_seconds",
            "Time spent in history store calls, per operation.",
            ["operation"], buckets=STORE_BUCKETS, registry=reg)
        self._store_children = {operation: self._store_seconds.labels(operation)
                                for operation in STORE_OPERATIONS}
        self._node = Info("chatio_node", "This node's id and chatio version.",
                          registry=reg)
        self._node.info({"node_id": node_id,
                         "version": version or chatio_version()})
        # Series that exist from the start, so rates over them are defined
        # before the first occurrence.
        for code in sorted(ERROR_CODES):
            self._errors.labels(code)
        for operation in STORE_OPERATIONS:
            self._store_seconds.labels(operation)

    # -- sockets ----------------------------------------------------------

    def count_sockets(self, namespace: str, count: Callable[[], int]) -> None:
        """Report ``count()`` as the namespace's connected sockets; it is
        called at scrape time only."""
        self._sockets.labels(_bounded(namespace, NAMESPACES)).set_function(count)

    def connection_refused(self, code: str) -> None:
        """A connection was refused with ``code`` (``UNAUTHORIZED``, ...)."""
        self._errors.labels(_bounded(code, ERROR_CODES)).inc()

    def recovered(self, namespace: str, recovered: bool = True) -> None:
        """A socket that presented a pid was recovered, or not."""
        self._recoveries.labels(_bounded(namespace, NAMESPACES),
                                "recovered" if recovered else "new").inc()

    # -- events -----------------------------------------------------------

    def event_handled(self, namespace: str, event: Any,
                      result: dict[str, Any]) -> None:
        """A client event was answered with ``result`` (its ack payload)."""
        if result.get("ok"):
            outcome = OK
        else:
            outcome = _bounded(result["error"]["code"], ERROR_CODES)
            self._errors.labels(outcome).inc()
        key = (_bounded(namespace, NAMESPACES), _bounded(event, CLIENT_EVENTS),
               outcome)
        child = self._event_children.get(key)
        if child is None:
            child = self._event_children[key] = self._events.labels(*key)
        child.inc()

    def message_stored(self) -> None:
        """A new message was stored (not a retry of a stored one)."""
        self._stored.inc()

    # -- fan-out ----------------------------------------------------------

    def broadcast(self, namespace: str, event: str) -> None:
        """This node broadcast ``event`` to a room of ``namespace``."""
        key = (_bounded(namespace, NAMESPACES), _bounded(event, BROADCAST_EVENTS))
        child = self._broadcast_children.get(key)
        if child is None:
            child = self._broadcast_children[key] = self._broadcasts.labels(*key)
        child.inc()

    def delivered(self, namespace: str, recipients: int) -> None:
        """An emit reached ``recipients`` sockets of this node."""
        if recipients:
            key = _bounded(namespace, NAMESPACES)
            child = self._delivery_children.get(key)
            if child is None:
                child = self._delivery_children[key] = self._deliveries.labels(key)
            child.inc(recipients)

    def volatile_skipped(self, namespace: str, recipients: int) -> None:
        """A volatile broadcast left out ``recipients`` slow sockets."""
        if recipients:
            self._volatile_skips.labels(
                _bounded(namespace, NAMESPACES)).inc(recipients)

    # -- transport --------------------------------------------------------

    def count_sessions(self, count: Callable[[], int]) -> None:
        """Report ``count()`` as the open engine.io sessions (at scrape)."""
        self._sessions.set_function(count)

    def protocol_error(self, code: str) -> None:
        """A client broke the protocol (``code``, see docs/protocol.md)."""
        self._protocol_errors.labels(_bounded(code, TRANSPORT_CODES)).inc()

    def slow_consumer_dropped(self) -> None:
        """A client that stopped reading was disconnected."""
        self._slow_consumers.inc()

    # -- Redis (cluster mode) ---------------------------------------------

    def redis_publish_failed(self) -> None:
        """Publishing an emit to Redis failed and the emit was dropped."""
        self._publish_failures.inc()

    def redis_reconnected(self) -> None:
        """The pub/sub listener is subscribed again after an outage."""
        self._reconnects.inc()

    def pubsub_received(self) -> None:
        """A publication arrived from Redis pub/sub."""
        self._pubsub_received.inc()

    def pubsub_command(self, command: str, channels: int) -> None:
        """An ``ssubscribe`` or ``sunsubscribe`` naming ``channels`` was
        sent."""
        children = self._pubsub_command_children.get(command)
        if children is not None:
            children[0].inc()
            children[1].inc(channels)

    def count_pubsub_channels(self, count: Callable[[], int]) -> None:
        """Report ``count()`` as the subscribed channels, at scrape time."""
        self._pubsub_channels.set_function(count)

    # -- history store ----------------------------------------------------

    def store_call(self, operation: str, seconds: float) -> None:
        """A history store call (``STORE_APPEND`` or ``STORE_READ``) took
        ``seconds``, whether or not it succeeded."""
        child = self._store_children.get(operation) if isinstance(
            operation, str) else None
        if child is None:
            child = self._store_seconds.labels(UNKNOWN)
        child.observe(seconds)

    # -- exposition -------------------------------------------------------

    def render(self) -> bytes:
        """Every metric in the Prometheus text format."""
        return generate_latest(self.registry)

    async def serve(self, request: web.Request) -> web.StreamResponse:
        """``GET /metrics``: the text format, or OpenMetrics when the
        scraper asks for it; compressed when it accepts that."""
        return await self._handler(request)
