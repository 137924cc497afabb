"""A send that loses the race for its ``client_id`` keeps no rate-limit token.

Two sends with one ``client_id`` can both take a token, and then only one
of them stores. The interleaving is forced here with a real in-memory
store that stores the rival send just before the service's append.
"""
from __future__ import annotations

from typing import Any

from chatio.ratelimit import MemoryRateLimiter
from chatio.services.chat import ChatService
from chatio.services.session import SocketSession
from chatio.settings import Rate
from chatio.store import Draft
from chatio.store.memory import MemoryHistoryStore
from chatio.tokens import Identity


class RivalStore(MemoryHistoryStore):
    """Stores a rival send of the same key just before each append."""

    async def append(self, draft: Draft) -> Any:
        if draft.id != "rival" and draft.client_id is not None:
            await super().append(Draft(
                id="rival", room=draft.room, user_id=draft.user_id,
                user_name=draft.user_id, text="rival", ts=0,
                client_id=draft.client_id))
        return await super().append(draft)


class NoFanout:
    async def enter(self, sid: str, room: str) -> None:
        pass

    async def leave(self, sid: str, room: str) -> None:
        pass

    async def broadcast(self, event: str, data: Any, room: str,
                        skip_sid: str | None = None) -> None:
        pass


async def test_the_losing_send_gives_its_token_back() -> None:
    limiter = MemoryRateLimiter(Rate(0.01, 2))
    chat = ChatService(RivalStore(100), limiter, NoFanout())
    session = SocketSession("sid", Identity("alice", "alice"), "127.0.0.1")
    await chat.join(session, "lobby", limit=0)

    ack = await chat.send(session, "lobby", "mine", client_id="c1")
    assert ack["duplicate"] is True
    assert ack["message"]["id"] == "rival"
    # The rival was stored behind the limiter's back, so both tokens remain.
    assert limiter.take("alice") == 0
    assert limiter.take("alice") == 0
    assert limiter.take("alice") > 0
