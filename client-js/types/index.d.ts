// Types of chatio-client.
import type { Manager, ManagerOptions, Socket } from "socket.io-client";

export interface User {
  id: string;
  name: string;
}

export interface Reaction {
  emoji: string;
  count: number;
  /** Whether the reading user reacted. */
  me: boolean;
}

/** A stored message, as the server sends it, in its current state. */
export interface Message {
  id: string;
  seq: number;
  room: string;
  user: User;
  /** Absent once deleted. */
  text?: string;
  /** Epoch milliseconds. */
  ts: number;
  client_id?: string;
  /** Epoch milliseconds of the latest edit. */
  edited_at?: number;
  deleted?: true;
  /** Only in pages (join and history); live updates come as `reaction` events. */
  reactions?: Reaction[];
  /** The room's history this message belongs to (servers with epochs). */
  epoch?: string;
}

/** A log entry that changed the message at `target`. */
export interface ChangeEntry {
  id: string;
  seq: number;
  room: string;
  user: User;
  kind: "edit" | "delete";
  target: number;
  /** The new text of an edit (removed again if the message is deleted). */
  text?: string;
  ts: number;
  client_id?: string;
  epoch?: string;
}

/** Any entry of a room's log. */
export type Entry = Message | ChangeEntry;

export interface ReactionEvent {
  room: string;
  seq: number;
  emoji: string;
  /** The emoji's count on the message after the change. */
  count: number;
  on: boolean;
  user: User;
}

export interface ReadEvent {
  room: string;
  seq: number;
  unread: number;
}

export interface ReadState {
  seq: number;
  unread: number;
}

export interface Receipt {
  user: User;
  seq: number;
}

export interface ReceiptsEvent {
  room: string;
  reads: Receipt[];
}

export interface ReadersPage {
  readers: Receipt[];
  more: boolean;
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
  messages: Entry[];
  more: boolean;
  /** The epoch of the room's history the page is from (servers with epochs). */
  epoch?: string;
  gap?: true;
  /**
   * The room's history started over since the client's position: the page is
   * the newest of the new history, and the room restarts (a `reset` event).
   */
  reset?: true;
}

/** A room's history started over (its stored history was lost or replaced). */
export interface ResetEvent {
  room: string;
  /** The new history's epoch; null from a server without epochs. */
  epoch: string | null;
  previousEpoch: string | null;
  /** The last seq delivered in the old history. */
  previousSeq: number | null;
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
  /** The user's id: their own messages then never count as unread. */
  userId?: string;
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
  edit: (entry: ChangeEntry) => void;
  delete: (entry: ChangeEntry) => void;
  reaction: (event: ReactionEvent) => void;
  read: (event: ReadEvent) => void;
  receipts: (event: ReceiptsEvent) => void;
  typing: (event: TypingEvent) => void;
  presence: (event: PresenceEvent) => void;
  members: (event: MembersEvent) => void;
  reset: (event: ResetEvent) => void;
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
  epoch(room: string): string | null;
  pending(room?: string): PendingSend[];
  edit(room: string, seq: number, text: string): Promise<ChangeEntry>;
  delete(room: string, seq: number): Promise<ChangeEntry>;
  react(room: string, seq: number, emoji: string, on?: boolean): Promise<{ count: number; changed: boolean }>;
  markRead(room: string, seq: number): void;
  readState(room: string): ReadState | null;
  readers(room: string, seq: number): Promise<ReadersPage>;
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
  constructor(deliver: (message: Entry) => void, options?: { onNewEpoch?: (epoch: string) => void });
  last: number | null;
  epoch: string | null;
  readonly hasGap: boolean;
  readonly firstHeld: number | null;
  start(seq: number, epoch?: string): void;
  adopt(epoch: string | undefined): void;
  restart(epoch: string | null, seq: number): void;
  foreignEpochs(): string[];
  dropForeign(epochs: string[]): void;
  skipTo(seq: number): void;
  ingest(messages: Entry[], gap?: boolean): void;
  accept(message: Entry): boolean;
}

export declare class MemberSet {
  list(): User[];
  has(userId: string): boolean;
  beginSync(): void;
  finishSync(members: User[]): void;
  abandonSync(): boolean;
  replace(members: User[]): void;
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
  readonly EVENT_EDIT: "edit";
  readonly EVENT_DELETE: "delete";
  readonly EVENT_REACT: "react";
  readonly EVENT_READ: "read";
  readonly EVENT_READERS: "readers";
  readonly EVENT_SUBSCRIBE: "subscribe";
  readonly EVENT_UNSUBSCRIBE: "unsubscribe";
  readonly EVENT_TYPING: "typing";
  readonly EVENT_PRESENCE: "presence";
  readonly EVENT_CHATIO_ERROR: "chatio_error";
  readonly EVENT_REACTION: "reaction";
  readonly EVENT_RECEIPTS: "receipts";
  readonly EVENT_MEMBERS: "members";
  readonly EVENT_TYPISTS: "typists";
  readonly KIND_EDIT: "edit";
  readonly KIND_DELETE: "delete";
  readonly INVALID_PAYLOAD: "INVALID_PAYLOAD";
  readonly NOT_IN_ROOM: "NOT_IN_ROOM";
  readonly FORBIDDEN: "FORBIDDEN";
  readonly RATE_LIMITED: "RATE_LIMITED";
  readonly TOO_MANY_ROOMS: "TOO_MANY_ROOMS";
  readonly UNKNOWN_EVENT: "UNKNOWN_EVENT";
  readonly UNAVAILABLE: "UNAVAILABLE";
  readonly INTERNAL: "INTERNAL";
  readonly NOT_FOUND: "NOT_FOUND";
  readonly TOO_MANY_REACTIONS: "TOO_MANY_REACTIONS";
  readonly ERROR_CODES: readonly string[];
  readonly RETRYABLE_CODES: readonly string[];
  readonly UNAUTHORIZED: "UNAUTHORIZED";
  readonly TOKEN_EXPIRED: "TOKEN_EXPIRED";
  readonly REFUSAL_MESSAGE: "unauthorized";
  readonly UNKNOWN_NAMESPACE: "UNKNOWN_NAMESPACE";
  readonly KICKED: "KICKED";
  readonly ROOM_NAME_PATTERN: RegExp;
  readonly MAX_ROOMS_PER_SOCKET: number;
  readonly DEFAULT_PAGE_LIMIT: number;
  readonly MAX_PAGE_LIMIT: number;
  readonly CLIENT_ID_MAX_CHARS: number;
  readonly MAX_REACTIONS_PER_MESSAGE: number;
  readonly MAX_EMOJI_CODE_POINTS: number;
  readonly MAX_READERS: number;
  readonly UNREAD_COUNT_LIMIT: number;
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
