// Types of chatio-client.
import type { Manager, ManagerOptions, Socket } from "socket.io-client";

export interface User {
  id: string;
  name: string;
}

/** A stored message, as the server sends it. */
export interface Message {
  id: string;
  seq: number;
  room: string;
  user: User;
  text: string;
  /** Epoch milliseconds. */
  ts: number;
  client_id?: string;
}

export type Status = "connecting" | "connected" | "reconnecting" | "offline";

export interface TypingEvent {
  room: string;
  user: User;
  typing: boolean;
}

export interface PresenceEvent {
  room: string;
  user: User;
  status: "joined" | "left";
}

export interface MembersEvent {
  room: string;
  members: User[];
}

export interface HistoryPage {
  messages: Message[];
  more: boolean;
  gap?: true;
}

export interface PendingSend {
  room: string;
  text: string;
  clientId: string;
}

export interface GetTokenOptions {
  /** True when the previous token was refused as expired. */
  refresh: boolean;
}

export interface ChatClientOptions {
  /** The chatio origin; defaults to `location.origin` in a browser. */
  url?: string;
  /** A fixed token. Give this or `getToken`. */
  token?: string;
  /** Called once per connection attempt, and again after TOKEN_EXPIRED. */
  getToken?: (options: GetTokenOptions) => string | Promise<string>;
  transports?: ("polling" | "websocket" | "webtransport")[];
  /** Passed to the socket.io-client Manager (reconnection delays, path, ...). */
  managerOptions?: Partial<ManagerOptions>;
  /** How long to wait for an ack before treating it as lost. Default 10000. */
  ackTimeoutMs?: number;
  /** How long a hole in a room may stay open before history fills it. Default 500. */
  gapFillDelayMs?: number;
  /** Shortest time between two `typing: true`. Default 1000. */
  typingIntervalMs?: number;
  /** Idle time after which `typing: false` is sent. Default 3000. */
  typingIdleMs?: number;
  /** Connect in the constructor. Default true. */
  autoConnect?: boolean;
}

export interface ChatClientEvents {
  message: (message: Message) => void;
  typing: (event: TypingEvent) => void;
  presence: (event: PresenceEvent) => void;
  members: (event: MembersEvent) => void;
  status: (status: Status) => void;
  error: (error: ChatError | Error) => void;
}

export declare class Emitter<Events extends { [K in keyof Events]: (...args: any[]) => void }> {
  on<K extends keyof Events>(event: K, listener: Events[K]): this;
  off<K extends keyof Events>(event: K, listener: Events[K]): this;
  once<K extends keyof Events>(event: K, listener: Events[K]): this;
  emit<K extends keyof Events>(event: K, ...args: Parameters<Events[K]>): boolean;
}

export declare class ChatClient extends Emitter<ChatClientEvents> {
  constructor(options: ChatClientOptions);
  readonly manager: Manager;
  readonly sockets: { chat: Socket; typing: Socket; presence: Socket };
  readonly status: Status;
  connect(): this;
  close(): void;
  join(room: string): Promise<void>;
  leave(room: string): Promise<void>;
  send(room: string, text: string): Promise<Message>;
  history(room: string, options?: { before?: number; after?: number; limit?: number }): Promise<HistoryPage>;
  typing(room: string): void;
  stopTyping(room: string): void;
  rooms(): string[];
  members(room: string): User[];
  typingUsers(room: string): User[];
  lastSeq(room: string): number | null;
  pending(room?: string): PendingSend[];
}

export declare class ChatError extends Error {
  constructor(code: string, message?: string, options?: { retryable?: boolean; details?: Record<string, unknown> });
  readonly code: string;
  readonly retryable: boolean;
  readonly details?: Record<string, unknown>;
  readonly retryAfterMs: number | undefined;
  static fromAck(ack: { ok: false; error: { code: string; message: string; retryable: boolean; details?: Record<string, unknown> } }): ChatError;
}

export declare class RoomTimeline {
  constructor(deliver: (message: Message) => void);
  last: number | null;
  readonly hasGap: boolean;
  readonly firstHeld: number | null;
  start(seq: number): void;
  skipTo(seq: number): void;
  accept(message: Message): boolean;
}

export declare class MemberSet {
  list(): User[];
  has(userId: string): boolean;
  beginSync(): void;
  finishSync(members: User[]): void;
  abandonSync(): boolean;
  apply(event: { user: User; status: "joined" | "left" }): boolean;
}

export declare const constants: {
  readonly CHAT_NAMESPACE: "/chat";
  readonly TYPING_NAMESPACE: "/typing";
  readonly PRESENCE_NAMESPACE: "/presence";
  readonly EVENT_JOIN: "join";
  readonly EVENT_LEAVE: "leave";
  readonly EVENT_MESSAGE: "message";
  readonly EVENT_HISTORY: "history";
  readonly EVENT_SUBSCRIBE: "subscribe";
  readonly EVENT_UNSUBSCRIBE: "unsubscribe";
  readonly EVENT_TYPING: "typing";
  readonly EVENT_PRESENCE: "presence";
  readonly EVENT_CHATIO_ERROR: "chatio_error";
  readonly INVALID_PAYLOAD: "INVALID_PAYLOAD";
  readonly NOT_IN_ROOM: "NOT_IN_ROOM";
  readonly FORBIDDEN: "FORBIDDEN";
  readonly RATE_LIMITED: "RATE_LIMITED";
  readonly TOO_MANY_ROOMS: "TOO_MANY_ROOMS";
  readonly UNKNOWN_EVENT: "UNKNOWN_EVENT";
  readonly UNAVAILABLE: "UNAVAILABLE";
  readonly INTERNAL: "INTERNAL";
  readonly ERROR_CODES: readonly string[];
  readonly RETRYABLE_CODES: readonly string[];
  readonly UNAUTHORIZED: "UNAUTHORIZED";
  readonly TOKEN_EXPIRED: "TOKEN_EXPIRED";
  readonly REFUSAL_MESSAGE: "unauthorized";
  readonly UNKNOWN_NAMESPACE: "UNKNOWN_NAMESPACE";
  readonly ROOM_NAME_PATTERN: RegExp;
  readonly MAX_ROOMS_PER_SOCKET: number;
  readonly DEFAULT_PAGE_LIMIT: number;
  readonly MAX_PAGE_LIMIT: number;
  readonly CLIENT_ID_MAX_CHARS: number;
  readonly PRESENCE_JOINED: "joined";
  readonly PRESENCE_LEFT: "left";
  readonly CLIENT_CLOSED: "CLIENT_CLOSED";
  readonly ROOM_LEFT: "ROOM_LEFT";
  readonly NOT_CONNECTED: "NOT_CONNECTED";
  readonly STATUS_CONNECTING: "connecting";
  readonly STATUS_CONNECTED: "connected";
  readonly STATUS_RECONNECTING: "reconnecting";
  readonly STATUS_OFFLINE: "offline";
};
