"""The /typing namespace: typing indicators for a room."""
from __future__ import annotations

from typing import Any

from .. import constants as c
from ..schemas import RoomSchema, TypingSchema
from ..services.session import SocketSession
from ..services.typing_indicator import TypingService
from ..settings import Network
from ..tokens import TokenIssuer
from .base import EventNamespace, handles


class TypingNamespace(EventNamespace):
    """Handlers for ``subscribe``, ``unsubscribe`` and ``typing``."""

    # Over its rate limit, a typing update without an ack is just dropped.
    quiet_failures = frozenset({(c.EVENT_TYPING, c.RATE_LIMITED)})

    def __init__(self, typing: TypingService, *, issuer: TokenIssuer,
                 trusted_proxies: tuple[Network, ...]) -> None:
        super().__init__(c.TYPING_NAMESPACE, issuer=issuer,
                         trusted_proxies=trusted_proxies, schemas={
                             c.EVENT_SUBSCRIBE: RoomSchema(),
                             c.EVENT_UNSUBSCRIBE: RoomSchema(),
                             c.EVENT_TYPING: TypingSchema(),
                         })
        self._typing = typing

    async def restore(self, session: SocketSession,
                      rooms: list[str]) -> list[tuple[str, Any]]:
        return [(c.EVENT_TYPISTS, payload)
                for payload in await self._typing.resubscribe(session, rooms)]

    @handles(c.EVENT_SUBSCRIBE)
    async def subscribe(self, session: SocketSession, payload: dict[str, Any]) -> dict[str, Any]:
        return await self._typing.subscribe(session, **payload)

    @handles(c.EVENT_UNSUBSCRIBE)
    async def unsubscribe(self, session: SocketSession, payload: dict[str, Any]) -> dict[str, Any]:
        return await self._typing.unsubscribe(session, **payload)

    @handles(c.EVENT_TYPING)
    async def typing(self, session: SocketSession, payload: dict[str, Any]) -> dict[str, Any]:
        return await self._typing.typing(session, **payload)
