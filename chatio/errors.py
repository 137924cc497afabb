"""Domain errors with stable wire codes, and their wire shape."""
from __future__ import annotations

from typing import Any

from . import constants as c


class ChatioError(Exception):
    """An error the client is told about: ``{code, message, retryable}``."""

    code = c.INTERNAL
    default_message = "internal error"

    def __init__(self, message: str | None = None, *,
                 details: dict[str, Any] | None = None) -> None:
        self.message = message or self.default_message
        self.details = details
        super().__init__(self.message)

    def to_wire(self) -> dict[str, Any]:
        """The ``error`` object of a failed ack."""
        error: dict[str, Any] = {
            "code": self.code,
            "message": self.message,
            "retryable": self.code in c.RETRYABLE_CODES,
        }
        if self.details is not None:
            error["details"] = self.details
        return error


class InvalidPayload(ChatioError):
    code = c.INVALID_PAYLOAD
    default_message = "the payload is invalid"


class NotInRoom(ChatioError):
    code = c.NOT_IN_ROOM
    default_message = "join the room first"


class Forbidden(ChatioError):
    code = c.FORBIDDEN
    default_message = "this token may not use that room"


class RateLimited(ChatioError):
    code = c.RATE_LIMITED
    default_message = "too many requests"

    def __init__(self, retry_after: float) -> None:
        super().__init__(details={"retry_after_ms": max(1, round(retry_after * 1000))})


class TooManyRooms(ChatioError):
    code = c.TOO_MANY_ROOMS
    default_message = f"a socket may join at most {c.MAX_ROOMS_PER_SOCKET} rooms"


class UnknownEvent(ChatioError):
    code = c.UNKNOWN_EVENT
    default_message = "unknown event"


class Unavailable(ChatioError):
    """The store could not be read or written; the request had no effect.

    ``message`` says what failed, for the log and ``/readyz``; clients get
    only the neutral default message.
    """

    code = c.UNAVAILABLE
    default_message = "storage is unavailable, try again"

    def to_wire(self) -> dict[str, Any]:
        return {**super().to_wire(), "message": self.default_message}


class NotFound(ChatioError):
    """The message is not in the room's kept history, or was deleted."""

    code = c.NOT_FOUND
    default_message = "no such message"


class TooManyReactions(ChatioError):
    code = c.TOO_MANY_REACTIONS
    default_message = (f"a message carries at most "
                       f"{c.MAX_REACTIONS_PER_MESSAGE} different reactions")


class Internal(ChatioError):
    code = c.INTERNAL


def failure(error: ChatioError) -> dict[str, Any]:
    """The ack payload for a failed request."""
    return {"ok": False, "error": error.to_wire()}
