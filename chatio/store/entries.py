"""What every history store does alike to log entries: the rules of edits,
deletes and reactions, and the current state of a message."""
from __future__ import annotations

from collections.abc import Collection, Mapping
from typing import Any

from ..constants import MAX_REACTIONS_PER_MESSAGE
from ..errors import Forbidden, NotFound, TooManyReactions
from .base import Change


def is_live_message(body: dict[str, Any] | None) -> bool:
    """Whether ``body`` is a message (not a change) that was not deleted."""
    return body is not None and "kind" not in body and not body.get("deleted")


def check_change(target: dict[str, Any] | None, change: Change) -> None:
    """Raise unless ``change`` may be applied to ``target``."""
    if not is_live_message(target):
        raise NotFound()
    assert target is not None
    if not change.by_backend and target["user"]["id"] != change.user_id:
        raise Forbidden("only the author may change a message")


def applied(target: dict[str, Any], change: Change) -> dict[str, Any]:
    """The target message after ``change``."""
    current = dict(target)
    if change.text is None:
        current.pop("text", None)
        current.pop("edited_at", None)
        current["deleted"] = True
    else:
        current["text"] = change.text
        current["edited_at"] = change.ts
    return current


def scrubbed(entry: dict[str, Any]) -> dict[str, Any]:
    """An edit entry without the text it carried."""
    return {key: value for key, value in entry.items() if key != "text"}


def check_reaction(target: dict[str, Any] | None,
                   emojis: Collection[str], emoji: str, on: bool) -> None:
    """Raise unless ``emoji`` may be set on ``target``, which carries
    ``emojis`` already."""
    if not is_live_message(target):
        raise NotFound()
    if on and emoji not in emojis and len(emojis) >= MAX_REACTIONS_PER_MESSAGE:
        raise TooManyReactions()


def decorated(body: dict[str, Any],
              reactions: Mapping[str, Collection[str]] | None,
              viewer: str | None) -> dict[str, Any]:
    """``body`` with ``reactions: [{emoji, count, me}]`` (sorted by emoji)
    when it has any."""
    if not reactions:
        return body
    listed = [{"emoji": emoji, "count": len(users), "me": viewer in users}
              for emoji, users in sorted(reactions.items()) if users]
    return {**body, "reactions": listed} if listed else body
