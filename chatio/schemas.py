"""Marshmallow schemas for every client event payload.

Fields are strict: no type coercion (``"5"`` is not 5, ``true`` is not 1),
unknown keys are refused, and text must be valid Unicode.
"""
from __future__ import annotations

import numbers
import re
from collections.abc import Callable
from typing import Any

from marshmallow import Schema, ValidationError, fields, validate, validates_schema

from . import constants as c
from .emoji import is_emoji

MAX_SAFE_INTEGER = 2**53 - 1
# The longest room epoch a client may send back (chatio's own have 16).
MAX_EPOCH_CHARS = 32
_SURROGATE = re.compile("[\ud800-\udfff]")
# Unicode category Cc is exactly U+0000-001F and U+007F-009F; newline and
# tab are allowed.
_CONTROL = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f]")


class StrictString(fields.String):
    """A string that must already be ``str`` (not bytes) and valid Unicode."""

    def _deserialize(self, value: Any, attr: Any, data: Any, **kwargs: Any) -> str:
        if not isinstance(value, str):
            raise self.make_error("invalid")
        if _SURROGATE.search(value):
            raise ValidationError("Contains a lone surrogate.")
        return value


class StrictInteger(fields.Integer):
    """An integer that must already be an integer (not bool, float or str)."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(strict=True, **kwargs)

    def _deserialize(self, value: Any, attr: Any, data: Any, **kwargs: Any) -> int:
        if isinstance(value, bool) or not isinstance(value, numbers.Integral):
            raise self.make_error("invalid")
        return super()._deserialize(value, attr, data, **kwargs)


class StrictNumber(fields.Float):
    """A finite number that must already be a number (not bool or str)."""

    def _deserialize(self, value: Any, attr: Any, data: Any, **kwargs: Any) -> float:
        if isinstance(value, bool) or not isinstance(value, numbers.Real):
            raise self.make_error("invalid")
        return super()._deserialize(value, attr, data, **kwargs)


class StrictBoolean(fields.Boolean):
    """``true`` or ``false`` only (not 1, "yes" or "true")."""

    def _deserialize(self, value: Any, attr: Any, data: Any, **kwargs: Any) -> bool:
        if not isinstance(value, bool):
            raise self.make_error("invalid")
        return value


class MessageText(StrictString):
    """Plain message text: trimmed, non-empty, at most ``max_chars`` code
    points, no control characters but newline and tab."""

    def __init__(self, max_chars: int, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.max_chars = max_chars

    def _deserialize(self, value: Any, attr: Any, data: Any, **kwargs: Any) -> str:
        text = super()._deserialize(value, attr, data, **kwargs).strip()
        if not text:
            raise ValidationError("Must not be empty.")
        if len(text) > self.max_chars:
            raise ValidationError(
                f"Longer than {self.max_chars} characters.")
        if _CONTROL.search(text):
            raise ValidationError("Contains a control character.")
        return text


class Emoji(StrictString):
    """Exactly one emoji grapheme (see ``chatio.emoji``)."""

    def _deserialize(self, value: Any, attr: Any, data: Any, **kwargs: Any) -> str:
        text = super()._deserialize(value, attr, data, **kwargs)
        if not is_emoji(text):
            raise ValidationError("Must be exactly one emoji.")
        return text


def _room() -> fields.Field:
    return StrictString(required=True, validate=validate.Regexp(
        c.ROOM_NAME_PATTERN, error="Must be 1 to 64 of A-Z a-z 0-9 _ . : @ -."))


def _seq(**kwargs: Any) -> fields.Field:
    return StrictInteger(validate=validate.Range(0, MAX_SAFE_INTEGER), **kwargs)


def _target() -> fields.Field:
    """The ``seq`` of an existing message (seq 0 is never one)."""
    return StrictInteger(required=True,
                         validate=validate.Range(1, MAX_SAFE_INTEGER))


def _limit() -> fields.Field:
    return StrictInteger(load_default=c.DEFAULT_PAGE_LIMIT,
                         validate=validate.Range(0, c.MAX_PAGE_LIMIT))


def _client_id() -> fields.Field:
    return StrictString(validate=[
        validate.Length(1, c.CLIENT_ID_MAX_CHARS),
        validate.Predicate("isprintable", error="Must be printable."),
    ])


def _epoch() -> fields.Field:
    """A room epoch as a client got it: opaque, 1 to 32 printable
    characters."""
    return StrictString(validate=[
        validate.Length(1, MAX_EPOCH_CHARS),
        validate.Predicate("isprintable", error="Must be printable."),
    ])


class RoomSchema(Schema):
    room = _room()


class JoinSchema(Schema):
    room = _room()
    since = _seq()
    epoch = _epoch()
    limit = _limit()


class HistorySchema(Schema):
    room = _room()
    before = _seq()
    after = _seq()
    epoch = _epoch()
    limit = _limit()

    @validates_schema
    def _one_direction(self, data: dict[str, Any], **kwargs: Any) -> None:
        if "before" in data and "after" in data:
            raise ValidationError("Give before or after, not both.")


class TypingSchema(Schema):
    room = _room()
    typing = StrictBoolean(required=True)


class ReadSchema(Schema):
    room = _room()
    seq = _seq(required=True)


class ReadersSchema(Schema):
    room = _room()
    seq = _target()


class DeleteSchema(Schema):
    room = _room()
    seq = _target()
    client_id = _client_id()


class ReactSchema(Schema):
    room = _room()
    seq = _target()
    emoji = Emoji(required=True)
    on = StrictBoolean(required=True)


def edit_schema(max_chars: int) -> Schema:
    """The ``edit`` payload schema for a text limit."""
    return Schema.from_dict({
        "room": _room(),
        "seq": _target(),
        "text": MessageText(max_chars, required=True),
        "client_id": _client_id(),
    }, name="EditSchema")()


def message_schema(max_chars: int) -> Schema:
    """The ``message`` payload schema for a text limit."""
    return Schema.from_dict({
        "room": _room(),
        "text": MessageText(max_chars, required=True),
        "client_id": _client_id(),
    }, name="MessageSchema")()



FastLoader = Callable[[Any], "dict[str, Any] | None"]
_MESSAGE_KEYS = frozenset({"room", "text", "client_id"})


def message_fast_path(max_chars: int) -> FastLoader:
    """What ``message_schema(max_chars).load`` returns for an ordinary
    valid payload, without marshmallow's per-field machinery; None for
    anything else, which then goes to the schema (and its error details).
    ``tests/unit/test_schema_properties.py`` checks that both agree."""
    room_pattern = c.ROOM_NAME_PATTERN

    def load(payload: Any) -> dict[str, Any] | None:
        if type(payload) is not dict or not payload.keys() <= _MESSAGE_KEYS:
            return None
        room, text = payload.get("room"), payload.get("text")
        if type(room) is not str or type(text) is not str \
                or not room_pattern.match(room):
            return None
        text = text.strip()
        if not text or len(text) > max_chars or _SURROGATE.search(text) \
                or _CONTROL.search(text):
            return None
        loaded = {"room": room, "text": text}
        if "client_id" in payload:
            client_id = payload["client_id"]
            if type(client_id) is not str or not 1 <= len(client_id) <= \
                    c.CLIENT_ID_MAX_CHARS or not client_id.isprintable() \
                    or _SURROGATE.search(client_id):
                return None
            loaded["client_id"] = client_id
        return loaded
    return load


_JOIN_KEYS = frozenset({"room", "since", "epoch", "limit"})


def _whole(value: Any, low: int, high: int) -> bool:
    return type(value) is int and low <= value <= high


def join_fast_path(payload: Any) -> dict[str, Any] | None:
    """``JoinSchema().load`` for an ordinary valid payload; None for
    anything else (see ``message_fast_path``)."""
    if type(payload) is not dict or not payload.keys() <= _JOIN_KEYS:
        return None
    room = payload.get("room")
    if type(room) is not str or not c.ROOM_NAME_PATTERN.match(room):
        return None
    loaded: dict[str, Any] = {"room": room}
    if "since" in payload:
        if not _whole(payload["since"], 0, MAX_SAFE_INTEGER):
            return None
        loaded["since"] = payload["since"]
    if "epoch" in payload:
        epoch = payload["epoch"]
        if type(epoch) is not str or not 1 <= len(epoch) <= \
                MAX_EPOCH_CHARS or not epoch.isprintable() \
                or _SURROGATE.search(epoch):
            return None
        loaded["epoch"] = epoch
    limit = payload.get("limit", c.DEFAULT_PAGE_LIMIT)
    if not _whole(limit, 0, c.MAX_PAGE_LIMIT):
        return None
    loaded["limit"] = limit
    return loaded
