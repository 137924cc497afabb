"""``ShardedPubSub``: shard channels over one connection per Redis shard.

A node subscribes to a channel when it needs it and drops it when it does
not (``want``/``unwant``); ``ready`` waits until Redis confirmed it. Changes
are coalesced: the wants of every task that ran since the last flush go out
together, pipelined on each shard's connection (one ``SSUBSCRIBE`` naming
many channels, one per hash slot in a cluster), and every waiter is
released by its channel's confirmation.

With a single Redis there is one shard. With a Redis Cluster the slot
owners come from ``CLUSTER SLOTS`` (``ShardMap``); a link that fails, a
``MOVED`` reply or a ``sunsubscribe`` Redis sent on its own (the slot
moved) makes the map be read again, and each channel is subscribed where
its slot now lives. A lost connection is retried every
``RESUBSCRIBE_DELAY`` seconds and resubscribes everything wanted.

redis-py's asyncio cluster client has sharded pub/sub only from 8.0, and
it polls its per-node connections in turn; one reader task per shard here
works the same on every redis-py chatio allows.
"""
from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import AsyncIterator, Callable
from typing import Any

from redis.crc import key_slot
from redis.exceptions import ResponseError

from ..redis_client import REDIS_FAILURES, new_client
from .shards import Address, ShardMap
from .subscription_book import SubscriptionBook

log = logging.getLogger(__name__)

# A link pings Redis after this many quiet seconds, and gives its
# connection up when nothing at all was heard for DEAD_AFTER seconds.
PING_AFTER = 2.0
DEAD_AFTER = 6.0
# Seconds between attempts while Redis (or a shard) is unreachable.
RESUBSCRIBE_DELAY = 0.5
# Channels named by one SSUBSCRIBE or SUNSUBSCRIBE at most.
MAX_CHANNELS_PER_COMMAND = 1000
NOT_CONNECTED_YET = "not connected yet"
# Seconds ``close`` waits for a task to end after cancelling it.
STOP_TIMEOUT = 1.0

MessageHandler = Callable[[str, bytes], None]
CommandsHook = Callable[[str, int], None]
Hook = Callable[[], None]


def _ignore(*_: Any) -> None:
    return None


class ShardedPubSub:
    """Subscriptions and publishes over shard channels.

    ``on_message(channel, data)`` hears every publication received;
    ``on_commands(kind, count)`` each ``SSUBSCRIBE``/``SUNSUBSCRIBE`` sent
    (``count`` channels); ``on_reconnect`` each shard link that is
    subscribed again after losing its connection.
    """

    def __init__(self, url: str, *, on_message: MessageHandler,
                 cluster: bool | None = None,
                 on_commands: CommandsHook = _ignore,
                 on_reconnect: Hook = _ignore) -> None:
        self._shards = ShardMap(url, cluster)
        self._book = SubscriptionBook(self._shards.owner_of)
        self._on_message = on_message
        self._on_commands = on_commands
        self._on_reconnect = on_reconnect
        self._links: dict[Address, _Link] = {}
        self._publishers: dict[Address, Any] = {}
        self._kick = asyncio.Event()
        self._refresh_needed = True
        self._task: asyncio.Task[None] | None = None
        self._topology_error: str | None = "not started"
        self._essential: set[str] = set()
        self.closing = False
        self.received = 0
        self.commands_sent = 0

    # -- subscriptions ---------------------------------------------------

    def want(self, channel: str, essential: bool = False) -> None:
        """Subscribe to ``channel`` at the next flush. ``listening`` is
        false while an ``essential`` channel is not confirmed."""
        if essential:
            self._essential.add(channel)
        self._book.want(channel)
        if self._book.has_changes:
            self._kick.set()

    def unwant(self, channel: str) -> None:
        """Unsubscribe from ``channel`` at the next flush."""
        self._book.unwant(channel)
        if self._book.has_changes:
            self._kick.set()

    async def ready(self, channel: str, timeout: float) -> None:
        """Return once Redis confirmed ``channel``; ``TimeoutError`` after
        ``timeout`` s, or at once while its shard is unreachable;
        ``LookupError`` if it was dropped meanwhile."""
        link = self._links.get(self._shards.owner_of(channel))
        if link is not None and not link.connected and link.error is not None \
                and link.error != NOT_CONNECTED_YET:
            raise TimeoutError(f"shard unreachable: {link.error}")
        await self._book.ready(channel, timeout)

    def is_ready(self, channel: str) -> bool:
        """Whether ``channel`` is subscribed and confirmed now."""
        return self._book.is_ready(channel)

    @property
    def wanted(self) -> frozenset[str]:
        """The channels this node wants."""
        return frozenset(self._book.wanted)

    @property
    def listening(self) -> bool:
        """Whether the essential channels are confirmed and every shard
        holding a wanted channel is connected."""
        if self._task is None or self._topology_error is not None:
            return False
        if not all(self._book.is_ready(ch) for ch in self._essential):
            return False
        return all(link.connected for link in self._links.values())

    @property
    def listen_error(self) -> str | None:
        """Why ``listening`` is false, when it is."""
        if self.listening:
            return None
        if self._topology_error is not None:
            return self._topology_error
        for link in self._links.values():
            if link.error is not None:
                return link.error
        return "subscriptions not confirmed yet"

    # -- publishing ------------------------------------------------------

    async def publish(self, channel: str, data: str | bytes) -> None:
        """``SPUBLISH`` on the shard that owns ``channel``; raises one of
        ``REDIS_FAILURES``. A ``MOVED`` reply reads the map again and the
        publish is tried once more."""
        try:
            await self._publisher(channel).execute_command(
                "SPUBLISH", channel, data)
        except ResponseError as exc:
            if not _moved(exc):
                raise
            self._refresh_needed = True
            await self._shards.refresh()
            self._book.owners_changed()
            self._kick.set()
            await self._publisher(channel).execute_command(
                "SPUBLISH", channel, data)

    def _publisher(self, channel: str) -> Any:
        address = self._shards.owner_of(channel)
        client = self._publishers.get(address)
        if client is None:
            # Publishing is safe to repeat once: a duplicate delivery is
            # harmless (clients de-duplicate by seq), a lost one is not.
            client = new_client(self._shards.url_for(address), retries=1)
            self._publishers[address] = client
        return client

    # -- lifecycle -------------------------------------------------------

    def start(self) -> None:
        """Start connecting and subscribing (in a task of its own)."""
        if self._task is None:
            self._task = asyncio.ensure_future(self._supervise())

    async def close(self) -> None:
        """Stop every link and close every connection."""
        self.closing = True
        tasks = [t for t in [self._task, *(link.task for link in
                                           self._links.values())]
                 if t is not None]
        # redis-py may turn a cancellation inside a connect into a
        # connection error; the loops also stop on ``closing``, and a task
        # that carried on anyway is cancelled again.
        for _ in range(3):
            pending = [t for t in tasks if not t.done()]
            if not pending:
                break
            for task in pending:
                task.cancel()
            await asyncio.wait(pending, timeout=STOP_TIMEOUT)
        for task in tasks:
            if task.done() and not task.cancelled():
                task.exception()  # retrieved: it was logged where it arose
        self._task = None
        self._links.clear()
        for client in self._publishers.values():
            with contextlib.suppress(*REDIS_FAILURES):
                await client.aclose()
        self._publishers.clear()

    # -- the supervisor --------------------------------------------------

    async def _supervise(self) -> None:
        while not self.closing:
            try:
                await self._step()
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("pub/sub supervisor failed; carrying on")
            healthy = self.listening and not self._refresh_needed
            try:
                await asyncio.wait_for(
                    self._kick.wait(), None if healthy else RESUBSCRIBE_DELAY)
            except asyncio.TimeoutError:
                if self._shards.cluster:
                    self._refresh_needed = True
            self._kick.clear()

    async def _step(self) -> None:
        if self._refresh_needed:
            try:
                if await self._shards.refresh():
                    self._book.owners_changed()
                self._refresh_needed = False
                self._topology_error = None
            except REDIS_FAILURES as exc:
                # Until Redis says otherwise, the URL is the one shard: its
                # link reports the outage and retries.
                self._topology_error = f"{type(exc).__name__}: {exc}"
        self._sync_links()
        await self._flush()

    def _sync_links(self) -> None:
        if self._shards.cluster and not self._shards.loaded:
            return  # every channel would go to the first seed
        needed = self._book.addresses()
        for address in needed:
            if address not in self._links:
                link = _Link(self, address, self._shards.url_for(address))
                self._links[address] = link
                link.task = asyncio.ensure_future(link.run())
        for address, link in list(self._links.items()):
            if address not in needed and link.task is not None:
                link.stopped = True
                link.task.cancel()
                del self._links[address]
                self._book.link_reset(address)

    async def _flush(self) -> None:
        online = [a for a, link in self._links.items() if link.connected]
        plans = self._book.plan(online)
        for address, plan in plans.items():
            commands: list[tuple[str, ...]] = []
            for group in self._groups(plan.unsubscribe):
                commands.append(("SUNSUBSCRIBE", *group))
            for group in self._groups(plan.subscribe):
                commands.append(("SSUBSCRIBE", *group))
            await self._links[address].send(commands)
            self.commands_sent += len(commands)
            for command in commands:
                self._on_commands(command[0].lower(), len(command) - 1)

    def _groups(self, channels: list[str]) -> list[list[str]]:
        if not channels:
            return []
        if self._shards.cluster:
            by_slot: dict[int, list[str]] = {}
            for channel in channels:
                by_slot.setdefault(key_slot(channel.encode("utf-8")),
                                   []).append(channel)
            groups = list(by_slot.values())
        else:
            groups = [channels]
        return [group[i:i + MAX_CHANNELS_PER_COMMAND] for group in groups
                for i in range(0, len(group), MAX_CHANNELS_PER_COMMAND)]

    # -- what links report -----------------------------------------------

    def _link_up(self, link: _Link, again: bool) -> None:
        self._book.link_reset(link.address)
        link.resubscribing = again
        self._kick.set()

    def _link_down(self, link: _Link) -> None:
        self._book.link_reset(link.address)
        if self._shards.cluster:
            self._refresh_needed = True
        self._kick.set()

    def _reply(self, link: _Link, message: dict[str, Any]) -> None:
        kind = message.get("type")
        if isinstance(kind, bytes):
            kind = kind.decode()
        if kind == "smessage":
            self.received += 1
            self._on_message(_text(message["channel"]), message["data"])
        elif kind in ("ssubscribe", "sunsubscribe"):
            if self._book.confirmed(link.address, kind,
                                    _text(message["channel"])):
                # Redis dropped it: its slot moved to another shard.
                self._refresh_needed = True
                self._kick.set()
            if link.resubscribing and not self._book.has_changes and \
                    self._book.confirmed_channels(link.address) >= len(
                        self._book.owned(link.address)):
                link.resubscribing = False
                self._on_reconnect()
                log.info("resubscribed to Redis pub/sub", extra={"fields": {
                    "shard": f"{link.address[0]}:{link.address[1]}"}})


class _Link:
    """One pub/sub connection to one shard, and the task reading it."""

    def __init__(self, owner: ShardedPubSub, address: Address,
                 url: str) -> None:
        self.owner = owner
        self.address = address
        self.url = url
        self.task: asyncio.Task[None] | None = None
        self.connected = False
        self.stopped = False
        self.resubscribing = False
        self.error: str | None = NOT_CONNECTED_YET
        self._pubsub: Any = None

    async def send(self, commands: list[tuple[str, ...]]) -> None:
        """Write ``commands`` in one go; their replies come to ``run``."""
        if not commands or self._pubsub is None:
            return
        connection = self._pubsub.connection
        try:
            await connection.send_packed_command(
                connection.pack_commands(commands), check_health=False)
        except REDIS_FAILURES as exc:
            # redis-py closed the connection; the reader sees it and
            # starts over with everything wanted.
            self.error = f"{type(exc).__name__}: {exc}"

    async def run(self) -> None:
        lost_once = False
        while not (self.owner.closing or self.stopped):
            client = new_client(self.url, command_timeout=None)
            pubsub = client.pubsub()
            try:
                await pubsub.ping()
                self._pubsub, self.connected, self.error = pubsub, True, None
                self.owner._link_up(self, lost_once)
                async for message in _replies(pubsub):
                    self.owner._reply(self, message)
            except REDIS_FAILURES as exc:
                if self.connected or not lost_once:
                    log.warning(
                        "Redis pub/sub lost; resubscribing" if self.connected
                        else "cannot subscribe to Redis pub/sub; retrying",
                        extra={"fields": {
                            "shard": f"{self.address[0]}:{self.address[1]}",
                            "error": f"{type(exc).__name__}: {exc}"}})
                self.error = f"{type(exc).__name__}: {exc}"
                lost_once = True
            except Exception as exc:  # a bug must not end the link
                log.exception("Redis pub/sub link failed; reconnecting")
                self.error = f"{type(exc).__name__}: {exc}"
                lost_once = True
            finally:
                was_connected = self.connected
                self._pubsub, self.connected = None, False
                if was_connected:
                    self.owner._link_down(self)
                with contextlib.suppress(*REDIS_FAILURES):
                    await pubsub.aclose()
                with contextlib.suppress(*REDIS_FAILURES):
                    await client.aclose()
            await asyncio.sleep(RESUBSCRIBE_DELAY)


async def _replies(pubsub: Any) -> AsyncIterator[dict[str, Any]]:
    """Replies until the connection fails (raises) or goes silent."""
    heard = time.monotonic()
    pinged = False
    while True:
        if not pubsub.connection.is_connected:
            # Never let redis-py reconnect behind the book's back.
            raise ConnectionError("pub/sub connection closed")
        message = await pubsub.get_message(
            ignore_subscribe_messages=False, timeout=PING_AFTER / 2)
        now = time.monotonic()
        if message is not None:
            heard, pinged = now, False
            yield message
        elif now - heard > DEAD_AFTER:
            raise ConnectionError(f"no answer from Redis for {DEAD_AFTER:g} s")
        elif now - heard > PING_AFTER and not pinged:
            await pubsub.ping()
            pinged = True


def _moved(exc: ResponseError) -> bool:
    return str(exc).startswith(("MOVED", "ASK"))


def _text(value: Any) -> str:
    return value.decode("utf-8") if isinstance(value, bytes) else str(value)
