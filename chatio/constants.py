"""Wire names of the chatio protocol: namespaces, events and error codes.

``client-js/src/constants.js`` mirrors this module; keep them in step.
"""
from __future__ import annotations

import re

CHAT_NAMESPACE = "/chat"
TYPING_NAMESPACE = "/typing"
PRESENCE_NAMESPACE = "/presence"

# Client -> server events on /chat.
EVENT_JOIN = "join"
EVENT_LEAVE = "leave"
EVENT_MESSAGE = "message"
EVENT_HISTORY = "history"
EVENT_EDIT = "edit"
EVENT_DELETE = "delete"
EVENT_REACT = "react"
EVENT_READ = "read"  # also server -> client, to the reader's own sockets
EVENT_READERS = "readers"

# Client -> server events on /presence and /typing.
EVENT_SUBSCRIBE = "subscribe"
EVENT_UNSUBSCRIBE = "unsubscribe"
EVENT_TYPING = "typing"  # also server -> client on /typing

# Server -> client events.
EVENT_PRESENCE = "presence"
EVENT_CHATIO_ERROR = "chatio_error"
EVENT_REACTION = "reaction"
EVENT_RECEIPTS = "receipts"
# Sent to a recovered socket for each room it is subscribed to: who is
# there (/presence) and who is typing (/typing) now.
EVENT_MEMBERS = "members"
EVENT_TYPISTS = "typists"

# The ``kind`` of a room log entry that changes an earlier message; a plain
# message has no ``kind``.
KIND_EDIT = "edit"
KIND_DELETE = "delete"

# Event names Socket.IO reserves: a client may never trigger them as events.
RESERVED_EVENTS = frozenset({
    "connect", "connect_error", "disconnect", "disconnecting",
    "newListener", "removeListener", "*", "",
})

# Error codes carried in ``{ok: false, error: {code, message, retryable}}``.
INVALID_PAYLOAD = "INVALID_PAYLOAD"
NOT_IN_ROOM = "NOT_IN_ROOM"
FORBIDDEN = "FORBIDDEN"
RATE_LIMITED = "RATE_LIMITED"
TOO_MANY_ROOMS = "TOO_MANY_ROOMS"
UNKNOWN_EVENT = "UNKNOWN_EVENT"
UNAVAILABLE = "UNAVAILABLE"
INTERNAL = "INTERNAL"
NOT_FOUND = "NOT_FOUND"
TOO_MANY_REACTIONS = "TOO_MANY_REACTIONS"

ERROR_CODES = (
    INVALID_PAYLOAD, NOT_IN_ROOM, FORBIDDEN, RATE_LIMITED, TOO_MANY_ROOMS,
    UNKNOWN_EVENT, UNAVAILABLE, INTERNAL, NOT_FOUND, TOO_MANY_REACTIONS,
)
RETRYABLE_CODES = frozenset({RATE_LIMITED, UNAVAILABLE, INTERNAL})

# Connection refusals (``connect_error`` data codes).
UNAUTHORIZED = "UNAUTHORIZED"
TOKEN_EXPIRED = "TOKEN_EXPIRED"
REFUSAL_MESSAGE = "unauthorized"
# A CONNECT to a namespace chatio does not have.
UNKNOWN_NAMESPACE = "UNKNOWN_NAMESPACE"
# The ``chatio_error`` code a socket gets right before a backend's
# ``POST /api/disconnect`` ends it: do not reconnect without a new reason to.
KICKED = "KICKED"

# Limits of the protocol itself (not configurable).
# \Z, not $: "$" would also accept a trailing newline.
ROOM_NAME_PATTERN = re.compile(r"^[A-Za-z0-9_.:@-]{1,64}\Z")
MAX_ROOMS_PER_SOCKET = 100
DEFAULT_PAGE_LIMIT = 50
MAX_PAGE_LIMIT = 200
CLIENT_ID_MAX_CHARS = 64
IDEMPOTENCY_WINDOW_SECONDS = 24 * 3600
# Different emoji one message may carry.
MAX_REACTIONS_PER_MESSAGE = 20
# Code points of one reaction (a single emoji grapheme).
MAX_EMOJI_CODE_POINTS = 16
# The most readers one ``readers`` answer and one ``receipts`` event list.
MAX_READERS = 100
# ``unread`` counts at most this many messages.
UNREAD_COUNT_LIMIT = 1000

# A volatile send skips a socket with more than this many bytes unsent.
VOLATILE_BUFFER_LIMIT = 16 * 1024

# Tokens.
TOKEN_SALT = "chatio-auth"
GUEST_PREFIX = "guest-"
GUEST_RENEWAL_WINDOW_SECONDS = 7 * 24 * 3600
