import { ChatError } from "./ChatError.js";
import { Changes } from "./Changes.js";
import { Connection } from "./Connection.js";
import {
  DEFAULT_PAGE_LIMIT, EVENT_HISTORY, EVENT_MESSAGE, INVALID_PAYLOAD, KIND_DELETE, KIND_EDIT, NOT_IN_ROOM,
  ROOM_LEFT, ROOM_NAME_PATTERN,
} from "./constants.js";
import { Emitter } from "./Emitter.js";
import { Outbox } from "./Outbox.js";
import { PresenceSync } from "./PresenceSync.js";
import { ReadPositions } from "./ReadPositions.js";
import { Requests } from "./Requests.js";
import { RoomState } from "./RoomState.js";
import { RoomSync } from "./RoomSync.js";
import { startedOver } from "./startedOver.js";
import { Timers } from "./Timers.js";
import { TypingSync } from "./TypingSync.js";

/**
 * A chatio client: `/chat`, `/typing` and `/presence` over one connection of
 * its own Manager, with rooms delivered in seq order, caught up after every
 * reconnect (or resumed, when the node recovered the connection), and sends
 * that are stored exactly once.
 *
 * Events: `message`, `edit`, `delete`, `reaction`, `read`, `receipts`,
 * `typing`, `presence`, `members`, `reset`, `status`, `error`. Edits and
 * deletes are log entries delivered in seq order like messages, each exactly
 * once. `reset` tells that a room's history started over.
 */
export class ChatClient extends Emitter {
  #rooms = new Map();
  #timers = new Timers();
  #connection;
  #requests;
  #outbox;
  #roomSync;
  #presence;
  #typing;
  #changes;
  #reads;

  constructor({
    url = globalThis.location?.origin,
    token,
    userId,
    getToken,
    transports,
    managerOptions = {},
    ackTimeoutMs = 10_000,
    gapFillDelayMs = 500,
    typingIntervalMs = 1_000,
    typingIdleMs = 3_000,
    autoConnect = true,
  } = {}) {
    super();
    if (!url) throw new TypeError("ChatClient needs a url");
    const emit = (event, payload) => this.emit(event, payload);
    const isEnded = () => this.#connection.ended();
    const rooms = this.#rooms;
    const timers = this.#timers;
    this.#connection = new Connection({
      url, token, getToken, transports, managerOptions, timers,
      onStatus: (status) => this.emit("status", status),
      onError: (error) => this.emit("error", error),
      onEnd: (error) => this.#abandon(error),
    });
    this.manager = this.#connection.manager;
    this.sockets = this.#connection.sockets;
    const { chat, typing, presence } = this.sockets;
    this.ackTimeoutMs = ackTimeoutMs;
    /** The user's id, when known: their own messages never count as unread. */
    this.userId = userId;
    this.gapFillDelayMs = gapFillDelayMs;
    this.#requests = new Requests({ ackTimeoutMs });
    const call = (event, payload) => this.#call(event, payload);
    this.#outbox = new Outbox({
      isReady: (room) => rooms.get(room)?.ready === true && chat.connected,
      generation: () => this.#roomSync.generation,
      request: (payload) => this.#requests.send(chat, EVENT_MESSAGE, payload),
      stored: (message) => this.#roomSync.receive(message),
      notInRoom: (room) => this.#roomSync.lost(room),
    });
    this.#reads = new ReadPositions({ socket: chat, rooms, call, emit });
    this.#changes = new Changes({
      socket: chat, rooms, call, emit, timers, isEnded,
      receive: (entry) => this.#roomSync.receive(entry),
    });
    this.#roomSync = new RoomSync({
      socket: chat, rooms, requests: this.#requests, timers, gapFillDelayMs, isEnded,
      onReady: (room) => this.#outbox.flush(room),
      onRefused: (state, error) => this.#refused(state, error),
      onStartedOver: (state, change) => this.#startedOver(state, change),
      onRead: (state) => this.#reads.changed(state),
    });
    this.#typing = new TypingSync({
      socket: typing, rooms, requests: this.#requests, emit,
      intervalMs: typingIntervalMs, idleMs: typingIdleMs,
    });
    this.#presence = new PresenceSync({
      socket: presence, rooms, requests: this.#requests, timers, isEnded, emit,
      onLeft: (state, user) => this.#typing.set(state, user, false),
    });
    if (autoConnect) this.connect();
  }

  /** `connecting`, `connected`, `reconnecting` or `offline`. */
  get status() {
    return this.#connection.status;
  }

  /** Opens the connection (done by the constructor unless `autoConnect: false`). */
  connect() {
    const ended = this.#connection.ended();
    if (ended) throw ended;
    this.#connection.connect();
    return this;
  }

  /** Closes the connection for good; pending sends and joins are rejected. */
  close() {
    this.#connection.close();
  }

  /** Joins `room`; resolves once joined, with its recent messages delivered. */
  join(room) {
    if (typeof room !== "string" || !ROOM_NAME_PATTERN.test(room)) {
      return Promise.reject(new ChatError(INVALID_PAYLOAD, `not a valid room name: ${room}`));
    }
    const ended = this.#connection.ended();
    if (ended) return Promise.reject(ended);
    let state = this.#rooms.get(room);
    if (!state) {
      state = new RoomState(room, {
        deliver: (message) => this.#deliver(state, message),
        onNewEpoch: () => this.#roomSync.resync(state),
      });
      this.#rooms.set(room, state);
      this.#roomSync.add(state);
      this.#presence.add(state);
      this.#typing.add(state);
    }
    return state.joined;
  }

  /** Leaves `room`: its unsent messages are rejected with `ROOM_LEFT`. */
  async leave(room) {
    const state = this.#rooms.get(room);
    if (!state) return;
    this.#rooms.delete(room);
    this.#changes.forget(room);
    this.#roomSync.stop(state);
    this.#typing.cancel(room);
    const error = new ChatError(ROOM_LEFT, `left ${room}`, { retryable: false });
    this.#outbox.drop(room, error);
    if (!state.settled) state.rejectJoined(error);
    const [ack] = await Promise.all([
      this.#roomSync.leave(room), this.#presence.leave(room), this.#typing.leave(room),
    ]);
    if (ack && !ack.ok) throw ChatError.fromAck(ack);
  }

  /** Sends `text` to a joined room; resolves with the stored message. */
  send(room, text) {
    const ended = this.#connection.ended();
    if (ended) return Promise.reject(ended);
    if (!this.#rooms.has(room)) {
      return Promise.reject(new ChatError(NOT_IN_ROOM, `join ${room} first`));
    }
    this.#typing.sent(room);
    return this.#outbox.add(room, text);
  }

  /**
   * A page of a joined room's history: `{messages, more, epoch?, gap?, reset?}`,
   * oldest first. `reset: true` says the room's history started over: the
   * page is the newest of the new history, and the room restarts (`reset`).
   */
  async history(room, { before, after, limit = DEFAULT_PAGE_LIMIT } = {}) {
    const state = this.#rooms.get(room);
    const epoch = state?.timeline.epoch ?? null;
    const payload = { room, limit };
    if (before !== undefined) payload.before = before;
    if (after !== undefined) payload.after = after;
    if (epoch !== null) payload.epoch = epoch;
    const ack = await this.#call(EVENT_HISTORY, payload);
    const page = { messages: ack.messages, more: ack.more };
    if (typeof ack.epoch === "string") page.epoch = ack.epoch;
    if (ack.gap) page.gap = true;
    if (state && startedOver({ epoch, since: after ?? null }, ack, ack.messages)) {
      page.reset = true;
      if (this.#rooms.get(room) === state) this.#roomSync.resync(state);
    }
    return page;
  }

  /** The user is typing in `room` (call on every keystroke; debounced). */
  typing(room) {
    this.#typing.typing(this.#rooms.get(room));
  }

  /** The user stopped typing in `room`, say cleared the input: `typing: false` goes out now. */
  stopTyping(room) {
    this.#typing.stop(room);
  }

  /** The rooms joined or being joined. */
  rooms() {
    return [...this.#rooms.keys()];
  }

  /** Who is present in `room`: `[{id, name}]`. */
  members(room) {
    return this.#rooms.get(room)?.members.list() ?? [];
  }

  /** Who is typing in `room`: `[{id, name}]`. */
  typingUsers(room) {
    return this.#rooms.get(room)?.typing.list() ?? [];
  }

  /** The highest seq delivered in `room` with nothing missing below it. */
  lastSeq(room) {
    return this.#rooms.get(room)?.timeline.last ?? null;
  }

  /** The epoch of `room`'s history as last seen, or null. */
  epoch(room) {
    return this.#rooms.get(room)?.timeline.epoch ?? null;
  }

  /** Sends not acked yet: `[{room, text, clientId}]`. */
  pending(room) {
    return this.#outbox.pending(room);
  }

  /** Replaces the text of the user's message `seq`; resolves with the edit entry. */
  edit(room, seq, text) {
    return this.#changes.edit(room, seq, text);
  }

  /** Deletes the user's message `seq`; resolves with the delete entry. */
  delete(room, seq) {
    return this.#changes.delete(room, seq);
  }

  /** Adds (`on`) or removes the user's `emoji` on message `seq`: `{count, changed}`. */
  react(room, seq, emoji, on = true) {
    return this.#changes.react(room, seq, emoji, on);
  }

  /** Marks `room` read up to `seq`; only forward, one request at a time. */
  markRead(room, seq) {
    this.#reads.mark(room, seq);
  }

  /** The read position and unread count of a joined room, or null. */
  readState(room) {
    return this.#reads.state(room);
  }

  /** Who has read `room` up to `seq`: `{readers: [{user, seq}], more}`. */
  readers(room, seq) {
    return this.#reads.readers(room, seq);
  }

  /** An event on /chat with an ok ack; rejects at once once the client ended. */
  async #call(event, payload) {
    const ended = this.#connection.ended();
    if (ended) throw ended;
    return this.#requests.call(this.sockets.chat, event, payload);
  }

  #deliver(state, message) {
    const counted = state.read.delivered(message, this.userId);
    if (message.kind === KIND_EDIT) this.emit("edit", message);
    else if (message.kind === KIND_DELETE) this.emit("delete", message);
    else {
      this.#typing.set(state, message.user, false);
      this.emit("message", message);
    }
    if (counted) this.#reads.changed(state);
  }

  /** The node refused a room for good: it is dropped with its sends. */
  #refused(state, error) {
    this.#rooms.delete(state.name);
    this.#outbox.drop(state.name, error);
    if (!state.settled) state.rejectJoined(error);
    this.emit("error", error);
  }

  /** Before the room's timeline starts over: the app hears `reset`, reactions are forgotten. */
  #startedOver(state, { epoch, previousEpoch, previousSeq }) {
    this.#changes.forget(state.name);
    this.emit("reset", { room: state.name, epoch, previousEpoch, previousSeq });
  }

  /** Rejects pending sends and joins with `error`; the connection then disconnects for good. */
  #abandon(error) {
    this.#timers.stop();
    this.#typing.cancel();
    this.#outbox.drop(undefined, error);
    for (const state of this.#rooms.values()) {
      this.#roomSync.stop(state);
      if (!state.settled) state.rejectJoined(error);
    }
  }
}
