"""The /presence namespace: subscribe to who is in a room."""
from __future__ import annotations

from typing import Any

from .. import constants as c
from ..schemas import RoomSchema
from ..services.presence import PresenceService
from ..services.session import SocketSession
from ..settings import Network
from ..tokens import TokenIssuer
from .base import EventNamespace, handles


class PresenceNamespace(EventNamespace):
    """Handlers for ``subscribe`` and ``unsubscribe``."""

    def __init__(self, presence: PresenceService, *, issuer: TokenIssuer,
                 trusted_proxies: tuple[Network, ...]) -> None:
        super().__init__(c.PRESENCE_NAMESPACE, issuer=issuer,
                         trusted_proxies=trusted_proxies, schemas={
                             c.EVENT_SUBSCRIBE: RoomSchema(),
                             c.EVENT_UNSUBSCRIBE: RoomSchema(),
                         })
        self._presence = presence

    async def restore(self, session: SocketSession,
                      rooms: list[str]) -> list[tuple[str, Any]]:
        return [(c.EVENT_MEMBERS, payload)
                for payload in await self._presence.resubscribe(session, rooms)]

    @handles(c.EVENT_SUBSCRIBE)
    async def subscribe(self, session: SocketSession, payload: dict[str, Any]) -> dict[str, Any]:
        return await self._presence.subscribe(session, **payload)

    @handles(c.EVENT_UNSUBSCRIBE)
    async def unsubscribe(self, session: SocketSession, payload: dict[str, Any]) -> dict[str, Any]:
        return await self._presence.unsubscribe(session, **payload)
