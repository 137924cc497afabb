"""The /chat namespace: rooms, messages, history."""
from __future__ import annotations

from typing import Any

from .. import constants as c
from ..schemas import HistorySchema, JoinSchema, RoomSchema, message_schema
from ..services.chat import ChatService
from ..services.session import SocketSession
from ..settings import Network
from ..tokens import TokenIssuer
from .base import EventNamespace, handles


class ChatNamespace(EventNamespace):
    """Handlers for ``join``, ``leave``, ``message`` and ``history``."""

    def __init__(self, chat: ChatService, *, issuer: TokenIssuer,
                 trusted_proxies: tuple[Network, ...],
                 max_message_chars: int) -> None:
        super().__init__(c.CHAT_NAMESPACE, issuer=issuer,
                         trusted_proxies=trusted_proxies, schemas={
                             c.EVENT_JOIN: JoinSchema(),
                             c.EVENT_LEAVE: RoomSchema(),
                             c.EVENT_MESSAGE: message_schema(max_message_chars),
                             c.EVENT_HISTORY: HistorySchema(),
                         })
        self._chat = chat

    async def disconnected(self, session: SocketSession) -> None:
        await self._chat.disconnected(session)

    @handles(c.EVENT_JOIN)
    async def join(self, session: SocketSession, payload: dict[str, Any]) -> dict[str, Any]:
        return await self._chat.join(session, **payload)

    @handles(c.EVENT_LEAVE)
    async def leave(self, session: SocketSession, payload: dict[str, Any]) -> dict[str, Any]:
        return await self._chat.leave(session, **payload)

    @handles(c.EVENT_MESSAGE)
    async def message(self, session: SocketSession, payload: dict[str, Any]) -> dict[str, Any]:
        return await self._chat.send(session, **payload)

    @handles(c.EVENT_HISTORY)
    async def history(self, session: SocketSession, payload: dict[str, Any]) -> dict[str, Any]:
        return await self._chat.history(session, **payload)
