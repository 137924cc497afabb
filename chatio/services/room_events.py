"""What the chat service tells other services about rooms."""
from __future__ import annotations

from .session import SocketSession


class RoomListener:
    """Hooks the chat service calls; override the ones you need."""

    async def member_joined(self, session: SocketSession, room: str) -> None:
        """A /chat socket joined ``room`` (not called for a repeat join)."""

    async def member_left(self, session: SocketSession, room: str,
                          dropped: bool) -> None:
        """A /chat socket left ``room``: by ``leave`` or, when ``dropped``,
        by disconnecting."""

    async def message_sent(self, session: SocketSession, room: str) -> None:
        """A /chat socket's message to ``room`` was stored."""
