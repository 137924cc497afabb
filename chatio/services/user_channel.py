"""The fan-out room that reaches every /chat socket of one user."""
from __future__ import annotations


def user_channel(user_id: str) -> str:
    """A room name no chat room can have: ``~`` is not allowed in those."""
    return f"~user/{user_id}"
