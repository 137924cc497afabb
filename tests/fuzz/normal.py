"""The check that matters most after a fuzz run: ordinary clients still chat."""
from __future__ import annotations

import asyncio
import secrets

from support.client import ChatClient
from support.tokens import mint_token

TIMEOUT = 10.0


async def normal_clients_work(url: str, secret: str, transport: str,
                              label: str) -> str | None:
    """Two python-socketio clients over ``transport``: both join a fresh
    room, one sends, gets its ack, and the other gets the message. None
    when all of that worked, else what went wrong."""
    tag = f"{label}-{transport}-{secrets.token_hex(3)}"
    room = f"check-{tag}"
    sender, receiver = ChatClient((transport,)), ChatClient((transport,))
    step = "connect"
    try:
        async with asyncio.timeout(4 * TIMEOUT):
            await sender.connect(url, mint_token(secret, f"sender-{tag}"), timeout=TIMEOUT)
            await receiver.connect(url, mint_token(secret, f"receiver-{tag}"), timeout=TIMEOUT)
            step = "join"
            await sender.join(room)
            await receiver.join(room)
            step = "send"
            ack = await sender.send(room, f"still chatting ({tag})", client_id=tag)
            step = "delivery"
            delivered = await receiver.next("message", timeout=TIMEOUT)
            if delivered != ack["message"]:
                return f"delivered {delivered!r}, acked {ack['message']!r}"
    except (Exception, TimeoutError) as exc:  # noqa: BLE001 - any failure is the answer
        return f"{step} failed: {exc!r}"[:500]
    finally:
        await sender.close()
        await receiver.close()
    return None
