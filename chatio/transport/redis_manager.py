"""The cluster client manager: every emit reaches every node through Redis.

python-socketio's ``AsyncRedisManager`` does the fan-out; this subclass
closes the gaps a chat service cannot live with:

* a failed publish is counted and logged (the stock manager drops it
  silently). The message itself was stored first, so clients on other nodes
  notice the gap in ``seq`` and read it from history;
* after a Redis outage the listener resubscribes within about a second of
  Redis answering again (the stock manager backs off up to 60 s);
* the listener pings Redis while the channel is quiet, so a connection that
  died without closing is noticed, and ``listening`` tells readiness checks
  whether cross-node delivery works right now;
* volatile emits: each receiving node skips its own lagging sockets;
* publications from other nodes are delivered like local emits, through
  ``FrameDelivery`` (one frame per publication, no task per recipient);
* ``disconnect_user``: a ``disconnect`` publication that names a user
  instead of a sid; each node disconnects that user's sockets.
* ``publish_admin_sync`` asks every other node to report its sockets to a
  new Admin UI socket (``on_admin_sync``).
"""
from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import AsyncIterator, Callable
from typing import Any

import socketio

from ..metrics import Metrics
from ..redis_client import REDIS_FAILURES, new_client
from .delivery import FrameDelivery

log = logging.getLogger(__name__)

# The listener pings Redis after this many quiet seconds, and gives the
# connection up when nothing at all was heard for DEAD_AFTER seconds.
PING_AFTER = 2.0
DEAD_AFTER = 6.0
# Seconds between attempts to resubscribe while Redis is unreachable.
RESUBSCRIBE_DELAY = 0.5
# Publish failures are logged at most once per this many seconds.
FAILURE_LOG_INTERVAL = 5.0

Hook = Callable[[], None]
SyncHook = Callable[[str], None]


def _ignore() -> None:
    return None


class RedisManager(socketio.AsyncRedisManager, FrameDelivery):
    """``AsyncRedisManager`` with counted publish failures, prompt
    resubscription and volatile emits.

    ``on_publish_failure`` and ``on_reconnect`` are called once per failed
    publish and per resubscription after a lost connection (for metrics).
    """

    def __init__(self, url: str, channel: str, *,
                 metrics: Metrics | None = None,
                 on_publish_failure: Hook = _ignore,
                 on_reconnect: Hook = _ignore) -> None:
        super().__init__(url, channel=channel)
        self.metrics = metrics if metrics is not None else Metrics()
        self._on_publish_failure = on_publish_failure
        self._on_reconnect = on_reconnect
        # Publishing is safe to repeat once: a duplicate delivery is
        # harmless (clients de-duplicate by seq), a lost one is not.
        self._publisher = new_client(url, retries=1)
        self._subscriber = new_client(url, command_timeout=None)
        self._listening = False
        self._listen_error: str | None = "not subscribed yet"
        self.publish_failures = 0
        self.reconnects = 0
        self._unlogged_failures = 0
        self._next_failure_log = 0.0
        self.on_admin_sync: SyncHook | None = None

    @property
    def listening(self) -> bool:
        """Whether this node is subscribed and hears the other nodes."""
        return self._listening

    @property
    def listen_error(self) -> str | None:
        """Why the node is not subscribed, when it is not."""
        return None if self._listening else self._listen_error

    def start(self) -> None:
        """Subscribe now rather than at the first connection, so readiness
        and cross-node delivery do not wait for a client."""
        if not self.server.manager_initialized:
            self.server.manager_initialized = True
            self.initialize()

    async def close(self) -> None:
        """Stop listening and close the Redis connections."""
        task = getattr(self, "thread", None)
        if task is not None:
            task.cancel()
            try:
                await task
            except (asyncio.CancelledError, *REDIS_FAILURES):
                pass
        self._listening = False
        for client in (self._publisher, self._subscriber):
            try:
                await client.aclose()
            except REDIS_FAILURES:
                pass

    async def emit_volatile(self, event: str, data: Any, namespace: str,
                            room: str, skip_sid: str | None = None) -> None:
        """Emit to ``room`` on every node; each node skips its own sockets
        whose outgoing queue is deep."""
        message = {"method": "emit", "event": event, "data": [data],
                   "binary": False, "namespace": namespace, "room": room,
                   "skip_sid": skip_sid, "callback": None,
                   "host_id": self.host_id, "volatile": True}
        self.deliver(event, data, namespace, room, skip_sid, volatile=True)
        await self._publish(message)

    async def disconnect_user(self, user_id: str,
                              notice: dict[str, Any]) -> int:
        await self._publish({"method": "disconnect", "sid": None,
                             "chatio_user": user_id, "notice": notice,
                             "host_id": self.host_id})
        return await super().disconnect_user(user_id, notice)

    async def _handle_disconnect(self, message: dict[str, Any]) -> None:
        user_id = message.get("chatio_user")
        if user_id is None:
            await super()._handle_disconnect(message)
        elif isinstance(user_id, str) and isinstance(
                message.get("notice"), dict):
            # Queued in the sockets' lanes: the listener does not wait.
            await self.server.disconnect_local_user(
                user_id, message["notice"], wait=False)

    async def publish_admin_sync(self, namespace: str, sid: str) -> None:
        """Ask the other nodes to send their sockets to the Admin UI socket
        ``sid``: an emit of nothing that only ``on_admin_sync`` acts on."""
        await self._publish({
            "method": "emit", "event": "chatio_admin_sync", "data": [],
            "binary": False, "namespace": namespace, "room": sid,
            "skip_sid": None, "callback": None, "host_id": self.host_id,
            "admin_sync": sid})

    async def _handle_emit(self, message: dict[str, Any]) -> None:
        if "admin_sync" in message:
            if self.on_admin_sync is not None:
                self.on_admin_sync(str(message["admin_sync"]))
            return
        if message.get("volatile"):
            data = message.get("data")
            self.deliver(message.get("event"),
                         data[0] if isinstance(data, list) and data else None,
                         message.get("namespace") or "/", message.get("room"),
                         message.get("skip_sid"), volatile=True)
            return
        await super()._handle_emit(message)

    async def _publish(self, data: Any) -> None:
        try:
            await self._publisher.publish(self.channel, self.json.dumps(data))
        except REDIS_FAILURES as exc:
            self.publish_failures += 1
            self._on_publish_failure()
            self._log_publish_failure(data, exc)

    def _log_publish_failure(self, data: Any, exc: BaseException) -> None:
        self._unlogged_failures += 1
        now = time.monotonic()
        if now < self._next_failure_log:
            return
        self._next_failure_log = now + FAILURE_LOG_INTERVAL
        log.warning("publish to Redis failed: other nodes miss an event",
                    extra={"fields": {
                        "failures": self._unlogged_failures,
                        "method": data.get("method"),
                        "event": data.get("event"),
                        "namespace": data.get("namespace"),
                        "error": f"{type(exc).__name__}: {exc}"}})
        self._unlogged_failures = 0

    async def _redis_listen_with_retries(self) -> AsyncIterator[Any]:
        lost_once = False
        subscribed_once = False
        while True:
            pubsub = self._subscriber.pubsub()
            try:
                await pubsub.subscribe(self.channel)
                if lost_once:
                    self.reconnects += 1
                    self._on_reconnect()
                    log.info("resubscribed to Redis pub/sub")
                self._listening = subscribed_once = True
                async for message in self._messages(pubsub):
                    yield message
            except REDIS_FAILURES as exc:
                if self._listening or not lost_once:
                    log.warning("Redis pub/sub lost; resubscribing"
                                if subscribed_once else
                                "cannot subscribe to Redis pub/sub; retrying",
                                extra={"fields": {
                                    "error": f"{type(exc).__name__}: {exc}"}})
                self._listening = False
                self._listen_error = f"{type(exc).__name__}: {exc}"
                lost_once = True
            finally:
                try:
                    await pubsub.aclose()
                except REDIS_FAILURES:
                    pass
            await asyncio.sleep(RESUBSCRIBE_DELAY)

    async def _messages(self, pubsub: Any) -> AsyncIterator[Any]:
        """Messages until the connection fails (raises) or goes silent."""
        heard = time.monotonic()
        pinged = False
        while True:
            message = await pubsub.get_message(
                ignore_subscribe_messages=True, timeout=PING_AFTER / 2)
            now = time.monotonic()
            if message is not None:
                heard, pinged = now, False
                if message.get("type") == "message":
                    yield message
            elif now - heard > DEAD_AFTER:
                raise ConnectionError(
                    f"no answer from Redis for {DEAD_AFTER:g} s")
            elif now - heard > PING_AFTER and not pinged:
                await pubsub.ping()
                pinged = True
