// Wire names of the chatio protocol. They mirror chatio/constants.py, and a
// test checks that the two agree.

export const CHAT_NAMESPACE = "/chat";
export const TYPING_NAMESPACE = "/typing";
export const PRESENCE_NAMESPACE = "/presence";

// Client -> server events on /chat.
export const EVENT_JOIN = "join";
export const EVENT_LEAVE = "leave";
export const EVENT_MESSAGE = "message";
export const EVENT_HISTORY = "history";
export const EVENT_EDIT = "edit";
export const EVENT_DELETE = "delete";
export const EVENT_REACT = "react";
export const EVENT_READ = "read";
export const EVENT_READERS = "readers";

// Client -> server events on /presence and /typing.
export const EVENT_SUBSCRIBE = "subscribe";
export const EVENT_UNSUBSCRIBE = "unsubscribe";
export const EVENT_TYPING = "typing";

// Server -> client events.
export const EVENT_PRESENCE = "presence";
export const EVENT_CHATIO_ERROR = "chatio_error";
export const EVENT_REACTION = "reaction";
export const EVENT_RECEIPTS = "receipts";
// Resynchronisation after a recovered connection: /presence and /typing.
export const EVENT_MEMBERS = "members";
export const EVENT_TYPISTS = "typists";

// The kind of a log entry that changes an earlier message (messages have none).
export const KIND_EDIT = "edit";
export const KIND_DELETE = "delete";

// Error codes carried in {ok: false, error: {code, message, retryable}}.
export const INVALID_PAYLOAD = "INVALID_PAYLOAD";
export const NOT_IN_ROOM = "NOT_IN_ROOM";
export const FORBIDDEN = "FORBIDDEN";
export const RATE_LIMITED = "RATE_LIMITED";
export const TOO_MANY_ROOMS = "TOO_MANY_ROOMS";
export const UNKNOWN_EVENT = "UNKNOWN_EVENT";
export const UNAVAILABLE = "UNAVAILABLE";
export const INTERNAL = "INTERNAL";
export const NOT_FOUND = "NOT_FOUND";
export const TOO_MANY_REACTIONS = "TOO_MANY_REACTIONS";

export const ERROR_CODES = Object.freeze([
  INVALID_PAYLOAD, NOT_IN_ROOM, FORBIDDEN, RATE_LIMITED, TOO_MANY_ROOMS,
  UNKNOWN_EVENT, UNAVAILABLE, INTERNAL, NOT_FOUND, TOO_MANY_REACTIONS,
]);
export const RETRYABLE_CODES = Object.freeze([RATE_LIMITED, UNAVAILABLE, INTERNAL]);

// Connection refusals (connect_error data codes).
export const UNAUTHORIZED = "UNAUTHORIZED";
export const TOKEN_EXPIRED = "TOKEN_EXPIRED";
export const REFUSAL_MESSAGE = "unauthorized";
// A CONNECT to a namespace the node does not have.
export const UNKNOWN_NAMESPACE = "UNKNOWN_NAMESPACE";
// Sent as chatio_error right before a backend disconnected the socket
// (POST /api/disconnect): do not reconnect without a new reason to.
export const KICKED = "KICKED";

// Limits of the protocol itself.
export const ROOM_NAME_PATTERN = /^[A-Za-z0-9_.:@-]{1,64}$/;
export const MAX_ROOMS_PER_SOCKET = 100;
export const DEFAULT_PAGE_LIMIT = 50;
export const MAX_PAGE_LIMIT = 200;
export const CLIENT_ID_MAX_CHARS = 64;
export const MAX_REACTIONS_PER_MESSAGE = 20;
export const MAX_EMOJI_CODE_POINTS = 16;
export const MAX_READERS = 100;
export const UNREAD_COUNT_LIMIT = 1000;

// Presence statuses.
export const PRESENCE_JOINED = "joined";
export const PRESENCE_LEFT = "left";

// Codes the client itself gives to errors that never reached the server.
export const CLIENT_CLOSED = "CLIENT_CLOSED";
export const ROOM_LEFT = "ROOM_LEFT";
export const NOT_CONNECTED = "NOT_CONNECTED";

// Connection states reported by the `status` event.
export const STATUS_CONNECTING = "connecting";
export const STATUS_CONNECTED = "connected";
export const STATUS_RECONNECTING = "reconnecting";
export const STATUS_OFFLINE = "offline";
