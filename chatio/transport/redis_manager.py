"""The cluster client manager: emits reach the nodes that need them.

python-socketio's ``AsyncRedisManager`` publishes every emit on one channel
that every node reads. This subclass keeps its message format and its
dispatch (``_thread``, ``_handle_*``) but routes each publication over
Redis shard channels (``SPUBLISH``/``SSUBSCRIBE``, see ``channels.py``):

* an emit to a room goes to the room's channel, which a node listens to
  while the room has a member on it (``room_opened``/``room_closed``, the
  membership hooks of ``FrameDelivery``). An emit to one of this node's
  own sockets is not published at all;
* acks of remote sockets and replies to a remote Admin UI socket go to the
  channel of the node that asked;
* disconnects by sid or user, the Admin UI sync and emits to several rooms
  at once go to the one channel every node listens to;
* a join waits (``enter_room``) until Redis confirmed the room's
  subscription, so nothing published after the join is acked is missed;
  history covers what came before. Concurrent joins share subscribe
  commands (``ShardedPubSub``).

It also keeps chatio's other guarantees: a failed publish is counted and
logged (the message was stored first, so other nodes' clients notice the
gap in ``seq`` and read history); after a Redis outage each shard link
resubscribes within about a second; links ping Redis while quiet, and
``listening`` tells readiness checks whether cross-node delivery works;
volatile emits let each receiving node skip its own lagging sockets;
``disconnect_user`` reaches every node; ``publish_admin_sync`` asks every
node to report its sockets to a new Admin UI socket (``on_admin_sync``).
"""
from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections import OrderedDict
from collections.abc import AsyncIterator, Callable
from typing import Any

import socketio

from ..errors import Unavailable
from ..metrics import Metrics
from ..redis_client import COMMAND_TIMEOUT, REDIS_FAILURES
from .channels import ChannelNames
from .delivery import FrameDelivery
from .sharded_pubsub import ShardedPubSub

log = logging.getLogger(__name__)

# Publish failures are logged at most once per this many seconds.
FAILURE_LOG_INTERVAL = 5.0
# Remote sockets whose node is known (Admin UI sockets that asked for a
# sync): replies to them go to that node alone.
REMOTE_SIDS_LIMIT = 1024

Hook = Callable[[], None]
SyncHook = Callable[[str], None]


def _ignore() -> None:
    return None


class RedisManager(socketio.AsyncRedisManager, FrameDelivery):
    """``AsyncRedisManager`` with per-room routing over shard channels,
    counted publish failures, prompt resubscription and volatile emits.

    ``on_publish_failure`` and ``on_reconnect`` are called once per failed
    publish and per shard link subscribed again after a lost connection.
    ``cluster`` says whether ``url`` names a Redis Cluster (None: ask it).
    ``subscribe_timeout`` bounds how long a join waits for its room's
    subscription before it fails with ``UNAVAILABLE``.
    """

    def __init__(self, url: str, channel: str, *,
                 metrics: Metrics | None = None,
                 on_publish_failure: Hook = _ignore,
                 on_reconnect: Hook = _ignore,
                 cluster: bool | None = None,
                 subscribe_timeout: float = COMMAND_TIMEOUT) -> None:
        super().__init__(url, channel=channel)
        self.metrics = metrics if metrics is not None else Metrics()
        self._on_publish_failure = on_publish_failure
        self._on_reconnect = on_reconnect
        self.channels = ChannelNames(channel)
        self.node_channel = self.channels.node(self.host_id)
        self.subscribe_timeout = subscribe_timeout
        # Not ``self.pubsub``: that is the stock manager's redis-py PubSub.
        self.sharded = ShardedPubSub(
            url, cluster=cluster, on_message=self._received,
            on_commands=self.metrics.pubsub_command,
            on_reconnect=self._reconnected)
        self._inbox: asyncio.Queue[bytes] | None = None
        self._remote_sids: OrderedDict[str, str] = OrderedDict()
        self.publish_failures = 0
        self.reconnects = 0
        self._unlogged_failures = 0
        self._next_failure_log = 0.0
        self.on_admin_sync: SyncHook | None = None
        self.metrics.count_pubsub_channels(lambda: len(self.sharded.wanted))
        for essential in (self.node_channel, self.channels.everyone):
            self.sharded.want(essential, essential=True)

    @property
    def listening(self) -> bool:
        """Whether this node is subscribed and hears the other nodes."""
        return self.sharded.listening

    @property
    def listen_error(self) -> str | None:
        """Why the node is not subscribed, when it is not."""
        return self.sharded.listen_error

    def start(self) -> None:
        """Subscribe now rather than at the first connection, so readiness
        and cross-node delivery do not wait for a client."""
        if not self.server.manager_initialized:
            self.server.manager_initialized = True
            self.initialize()

    def initialize(self) -> None:
        self._inbox = asyncio.Queue()
        self.sharded.start()
        super().initialize()

    async def close(self) -> None:
        """Stop listening and close the Redis connections."""
        task = getattr(self, "thread", None)
        if task is not None:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError, *REDIS_FAILURES):
                await task
        await self.sharded.close()

    # -- membership ------------------------------------------------------

    def room_opened(self, namespace: str, room: Any) -> None:
        self.sharded.want(self.channels.room(namespace, room))

    def room_closed(self, namespace: str, room: Any) -> None:
        self.sharded.unwant(self.channels.room(namespace, room))

    async def enter_room(self, sid: str, namespace: str, room: Any,
                         eio_sid: str | None = None) -> None:
        """Enter ``room``; return once this node hears the room's channel.
        Raises ``Unavailable`` when Redis does not confirm the subscription
        in time (at once while its shard is unreachable); the socket stays
        in the room, which is subscribed as soon as Redis answers."""
        namespace = namespace or "/"
        local = self.is_connected(sid, namespace) or self.is_pre_connected(
            sid, namespace)
        await super().enter_room(sid, namespace, room, eio_sid=eio_sid)
        if not local or room is None or room == sid:
            return
        channel = self.channels.room(namespace, room)
        if self.sharded.is_ready(channel):
            return
        try:
            await self.sharded.ready(channel, self.subscribe_timeout)
        except LookupError:
            return  # it left while waiting
        except TimeoutError as exc:
            raise Unavailable(
                f"room subscription not confirmed: {self.listen_error}"
            ) from exc

    # -- emits -----------------------------------------------------------

    async def emit_volatile(self, event: str, data: Any, namespace: str,
                            room: str, skip_sid: str | None = None) -> None:
        """Emit to ``room`` on every node that has members in it; each node
        skips its own sockets whose outgoing queue is deep."""
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

    async def release_elsewhere(self, key: str) -> bool:
        await self._publish({"method": "disconnect", "sid": None,
                             "chatio_release": key, "host_id": self.host_id})
        return True

    async def _handle_disconnect(self, message: dict[str, Any]) -> None:
        release = message.get("chatio_release")
        if release is not None:
            reconnections = self.server.reconnections
            if isinstance(release, str) and reconnections is not None and \
                    message.get("host_id") != self.host_id:
                reconnections.release(release)
            return
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
            sid, host = message["admin_sync"], message.get("host_id")
            if isinstance(sid, str) and isinstance(host, str):
                self._remember_remote(sid, host)
            if self.on_admin_sync is not None:
                self.on_admin_sync(str(sid))
            return
        if message.get("volatile"):
            data = message.get("data")
            self.deliver(message.get("event"),
                         data[0] if isinstance(data, list) and data else None,
                         message.get("namespace") or "/", message.get("room"),
                         message.get("skip_sid"), volatile=True)
            return
        await super()._handle_emit(message)

    def _remember_remote(self, sid: str, host_id: str) -> None:
        self._remote_sids[sid] = host_id
        self._remote_sids.move_to_end(sid)
        while len(self._remote_sids) > REMOTE_SIDS_LIMIT:
            self._remote_sids.popitem(last=False)

    # -- routing ---------------------------------------------------------

    def route(self, data: dict[str, Any]) -> str | None:
        """The channel a publication goes to; None: no other node needs
        it (an emit to one of this node's own sockets)."""
        method = data.get("method")
        namespace = data.get("namespace") or "/"
        if method == "callback":
            return self.channels.node(str(data.get("host_id")))
        if method == "emit" and "admin_sync" not in data:
            room = data.get("room")
            if room is None:
                return self.channels.room(namespace, None)
            if isinstance(room, str):
                if self.is_sid_room(namespace, room):
                    return None
                host = self._remote_sids.get(room)
                if host is not None:
                    return self.channels.node(host)
                return self.channels.room(namespace, room)
            return self.channels.everyone
        if method == "close_room" and isinstance(data.get("room"), str):
            return self.channels.room(namespace, data["room"])
        if method in ("disconnect", "enter_room", "leave_room"):
            host = self._remote_sids.get(data.get("sid"))  # type: ignore[arg-type]
            if host is not None:
                return self.channels.node(host)
        return self.channels.everyone

    async def _publish(self, data: Any) -> None:
        channel = self.route(data)
        if channel is None:
            return
        try:
            await self.sharded.publish(channel, self.json.dumps(data))
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

    # -- receiving -------------------------------------------------------

    def _received(self, channel: str, data: bytes) -> None:
        self.metrics.pubsub_received()
        if self._inbox is not None:
            self._inbox.put_nowait(data)

    def _reconnected(self) -> None:
        self.reconnects += 1
        self._on_reconnect()

    async def _listen(self) -> AsyncIterator[Any]:
        assert self._inbox is not None
        while True:
            yield await self._inbox.get()
