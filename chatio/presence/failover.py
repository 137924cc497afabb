"""Cluster-wide presence that falls back to this node's own knowledge while
the shared store is unreachable, and re-registers this node's connections
when it answers again."""
from __future__ import annotations

import logging
from typing import Protocol

from ..errors import Unavailable
from .base import Departure, Member, PresenceStore
from .memory import Connection, MemoryPresenceStore

log = logging.getLogger(__name__)


class SharedPresenceStore(PresenceStore, Protocol):
    async def reregister(self, node_id: str,
                         connections: list[Connection]) -> None:
        """Make ``connections`` exactly the entries ``node_id`` owns, adding
        missing ones and dropping others, without reporting transitions."""


class FailoverPresenceStore:
    """Implements ``PresenceStore``.

    ``shared`` decides while it answers. ``local`` mirrors the connections
    of this node and decides while ``shared`` does not, so subscribers on
    this node still see who comes and goes here. Once a call failed, only
    the heartbeat tries ``shared`` again, so an outage costs each event no
    more than a memory update. When a heartbeat succeeds
    after a failure, or ``shared.heartbeat`` says the node's entries may be
    stale (right after start-up, after Redis lost them, after the node was
    swept as dead while only slow), this node's entries in ``shared`` are
    replaced by the mirror: whatever Redis lost or kept, it then holds this
    node's connections as they are.
    """

    def __init__(self, shared: SharedPresenceStore, node_id: str,
                 local: MemoryPresenceStore | None = None) -> None:
        self._shared = shared
        self._node_id = node_id
        self._local = local or MemoryPresenceStore()
        self._down = False

    @property
    def degraded(self) -> bool:
        """Whether the shared store failed and has not been re-registered."""
        return self._down

    async def add(self, room: str, member: Member, conn_id: str,
                  node_id: str) -> bool:
        first = await self._local.add(room, member, conn_id, node_id)
        if self._down:
            return first
        try:
            return await self._shared.add(room, member, conn_id, node_id)
        except Unavailable as exc:
            self._fail(exc)
            return first

    async def remove(self, room: str, user_id: str, conn_id: str,
                     grace: float) -> Member | None:
        gone = await self._local.remove(room, user_id, conn_id, grace)
        if self._down:
            return gone
        try:
            return await self._shared.remove(room, user_id, conn_id, grace)
        except Unavailable as exc:
            self._fail(exc)
            return gone

    async def heartbeat(self, node_id: str) -> bool:
        try:
            stale = await self._shared.heartbeat(node_id)
            if self._down or stale:
                await self._shared.reregister(
                    self._node_id, self._local.connections())
            if self._down:
                self._down = False
                log.info("presence is cluster-wide again: this node's "
                         "connections are re-registered")
        except Unavailable as exc:
            self._fail(exc)
        # Whatever the shared store lost is re-registered by now.
        return False

    async def expire(self) -> list[Departure]:
        departed = await self._local.expire()
        if self._down:
            return departed
        try:
            return await self._shared.expire()
        except Unavailable as exc:
            self._fail(exc)
            return departed

    async def members(self, room: str) -> list[Member]:
        if not self._down:
            try:
                return await self._shared.members(room)
            except Unavailable as exc:
                self._fail(exc)
        return await self._local.members(room)

    async def is_connected(self, room: str, user_id: str) -> bool:
        if not self._down:
            try:
                return await self._shared.is_connected(room, user_id)
            except Unavailable as exc:
                self._fail(exc)
        return await self._local.is_connected(room, user_id)

    async def devices(self, room: str) -> dict[str, int]:
        if not self._down:
            try:
                return await self._shared.devices(room)
            except Unavailable as exc:
                self._fail(exc)
        return await self._local.devices(room)

    def _fail(self, exc: Unavailable) -> None:
        if not self._down:
            log.warning("presence falls back to this node: %s", exc.message)
            self._down = True
