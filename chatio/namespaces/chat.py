"""The /chat namespace: rooms, messages, history, changes and reads."""
from __future__ import annotations

from typing import Any

from .. import constants as c
from ..schemas import (DeleteSchema, HistorySchema, JoinSchema, ReactSchema,
                       ReadersSchema, ReadSchema, RoomSchema, edit_schema,
                       join_fast_path, message_fast_path, message_schema)
from ..services.changes import ChangeService
from ..services.chat import ChatService
from ..services.reads import ReadService
from ..services.session import SocketSession
from ..settings import Network
from ..tokens import TokenIssuer
from .base import EventNamespace, handles


class ChatNamespace(EventNamespace):
    """Handlers for ``join``, ``leave``, ``message``, ``history``, ``edit``,
    ``delete``, ``react``, ``read`` and ``readers``."""

    def __init__(self, chat: ChatService, changes: ChangeService,
                 reads: ReadService, *, issuer: TokenIssuer,
                 trusted_proxies: tuple[Network, ...],
                 max_message_chars: int) -> None:
        super().__init__(c.CHAT_NAMESPACE, issuer=issuer,
                         trusted_proxies=trusted_proxies, schemas={
                             c.EVENT_JOIN: JoinSchema(),
                             c.EVENT_LEAVE: RoomSchema(),
                             c.EVENT_MESSAGE: message_schema(max_message_chars),
                             c.EVENT_HISTORY: HistorySchema(),
                             c.EVENT_EDIT: edit_schema(max_message_chars),
                             c.EVENT_DELETE: DeleteSchema(),
                             c.EVENT_REACT: ReactSchema(),
                             c.EVENT_READ: ReadSchema(),
                             c.EVENT_READERS: ReadersSchema(),
                         })
        self._fast_loaders[c.EVENT_MESSAGE] = message_fast_path(max_message_chars)
        self._fast_loaders[c.EVENT_JOIN] = join_fast_path
        self._chat = chat
        self._changes = changes
        self._reads = reads

    async def connected(self, session: SocketSession) -> None:
        await self._reads.connected(session)

    async def restore(self, session: SocketSession,
                      rooms: list[str]) -> list[tuple[str, Any]]:
        for room in rooms:
            await self._chat.rejoin(session, room)
        return []

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

    @handles(c.EVENT_EDIT)
    async def edit(self, session: SocketSession, payload: dict[str, Any]) -> dict[str, Any]:
        return await self._changes.edit(session, **payload)

    @handles(c.EVENT_DELETE)
    async def delete(self, session: SocketSession, payload: dict[str, Any]) -> dict[str, Any]:
        return await self._changes.delete(session, **payload)

    @handles(c.EVENT_REACT)
    async def react(self, session: SocketSession, payload: dict[str, Any]) -> dict[str, Any]:
        return await self._changes.react(session, **payload)

    @handles(c.EVENT_READ)
    async def read(self, session: SocketSession, payload: dict[str, Any]) -> dict[str, Any]:
        return await self._reads.read(session, **payload)

    @handles(c.EVENT_READERS)
    async def readers(self, session: SocketSession, payload: dict[str, Any]) -> dict[str, Any]:
        return await self._reads.readers(session, **payload)
