import { Manager } from "socket.io-client";

import { ChatError } from "./ChatError.js";
import {
  CHAT_NAMESPACE, CLIENT_CLOSED, DEFAULT_PAGE_LIMIT, EVENT_DELETE, EVENT_EDIT, EVENT_HISTORY,
  EVENT_JOIN, EVENT_LEAVE, EVENT_MESSAGE, EVENT_REACT, EVENT_REACTION, EVENT_READ, EVENT_READERS,
  EVENT_RECEIPTS, KIND_DELETE, KIND_EDIT, EVENT_PRESENCE, EVENT_SUBSCRIBE, EVENT_TYPING, EVENT_UNSUBSCRIBE,
  INVALID_PAYLOAD, MAX_PAGE_LIMIT, NOT_CONNECTED, NOT_IN_ROOM, PRESENCE_LEFT,
  PRESENCE_NAMESPACE, ROOM_LEFT, ROOM_NAME_PATTERN, STATUS_CONNECTED, STATUS_CONNECTING,
  STATUS_OFFLINE, STATUS_RECONNECTING, TOKEN_EXPIRED, TYPING_NAMESPACE,
} from "./constants.js";
import { Emitter } from "./Emitter.js";
import { Outbox, backoff, newClientId } from "./Outbox.js";
import { ReactionLedger } from "./ReactionLedger.js";
import { RoomState } from "./RoomState.js";
import { TokenSource } from "./TokenSource.js";
import { TypingSender } from "./TypingSender.js";

const MANAGER_DEFAULTS = { reconnectionDelay: 500, reconnectionDelayMax: 5_000 };
const EXPIRED_RETRY_MAX_MS = 5_000;

/**
 * A chatio client: `/chat`, `/typing` and `/presence` over one connection of
 * its own Manager, with rooms delivered in seq order, rejoined after every
 * reconnect, and sends that are stored exactly once.
 *
 * Events: `message`, `edit`, `delete`, `reaction`, `read`, `receipts`,
 * `typing`, `presence`, `members`, `status`, `error`. Edits and deletes are
 * log entries delivered in seq order like messages, each exactly once.
 */
export class ChatClient extends Emitter {
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
    this.tokens = new TokenSource({ token, getToken });
    this.manager = new Manager(url, {
      ...MANAGER_DEFAULTS,
      ...(transports ? { transports } : {}),
      ...managerOptions,
      autoConnect: false,
    });
    this.sockets = {
      chat: this.#socket(CHAT_NAMESPACE),
      typing: this.#socket(TYPING_NAMESPACE),
      presence: this.#socket(PRESENCE_NAMESPACE),
    };
    this.ackTimeoutMs = ackTimeoutMs;
    /** The user's id, when known: their own messages never count as unread. */
    this.userId = userId;
    this.gapFillDelayMs = gapFillDelayMs;
    this.#typingSender = new TypingSender((room, typing) => {
      if (this.sockets.typing.connected) this.sockets.typing.emit(EVENT_TYPING, { room, typing });
    }, { intervalMs: typingIntervalMs, idleMs: typingIdleMs });
    this.#outbox = new Outbox({
      isReady: (room) => this.#rooms.get(room)?.ready === true && this.sockets.chat.connected,
      generation: () => this.#generation,
      request: (payload) => this.#request(this.sockets.chat, EVENT_MESSAGE, payload),
      stored: (message) => this.#onStored(message),
    });
    this.#wire();
    this.#updateStatus();
    if (autoConnect) this.connect();
  }

  #rooms = new Map();
  #reactions = new ReactionLedger();
  #generation = 0;
  #presenceGeneration = 0;
  #status = STATUS_OFFLINE;
  #started = false;
  #everConnected = false;
  #closed = false;
  #fatal = null;
  #outbox;
  #typingSender;
  #tokenVersions = new Map();
  #expiredStreak = new Map();
  #timers = new Set();

  /** `connecting`, `connected`, `reconnecting` or `offline`. */
  get status() {
    return this.#status;
  }

  /** Opens the connection (done by the constructor unless `autoConnect: false`). */
  connect() {
    const ended = this.#ended();
    if (ended) throw ended;
    this.#started = true;
    for (const socket of Object.values(this.sockets)) socket.connect();
    this.#updateStatus();
    return this;
  }

  /** Closes the connection for good; pending sends and joins are rejected. */
  close() {
    if (this.#closed) return;
    this.#closed = true;
    this.#abandon(new ChatError(CLIENT_CLOSED, "the client was closed", { retryable: false }));
  }

  /** Joins `room`; resolves once joined, with its recent messages delivered. */
  join(room) {
    if (typeof room !== "string" || !ROOM_NAME_PATTERN.test(room)) {
      return Promise.reject(new ChatError(INVALID_PAYLOAD, `not a valid room name: ${room}`));
    }
    const ended = this.#ended();
    if (ended) return Promise.reject(ended);
    let state = this.#rooms.get(room);
    if (!state) {
      state = new RoomState(room, (message) => this.#deliver(state, message));
      this.#rooms.set(room, state);
      if (this.sockets.chat.connected) this.#rejoin(state);
      if (this.sockets.presence.connected) this.#subscribePresence(state);
      if (this.sockets.typing.connected) this.#subscribeTyping(state);
    }
    return state.joined;
  }

  /** Leaves `room`: its unsent messages are rejected with `ROOM_LEFT`. */
  async leave(room) {
    const state = this.#rooms.get(room);
    if (!state) return;
    this.#rooms.delete(room);
    this.#reactions.forget(room);
    clearTimeout(state.gapTimer);
    this.#typingSender.cancel(room);
    const error = new ChatError(ROOM_LEFT, `left ${room}`, { retryable: false });
    this.#outbox.drop(room, error);
    if (!state.settled) state.rejectJoined(error);
    const quietly = (socket, event) => this.#request(socket, event, { room }).catch(() => null);
    const [ack] = await Promise.all([
      quietly(this.sockets.chat, EVENT_LEAVE),
      quietly(this.sockets.presence, EVENT_UNSUBSCRIBE),
      quietly(this.sockets.typing, EVENT_UNSUBSCRIBE),
    ]);
    if (ack && !ack.ok) throw ChatError.fromAck(ack);
  }

  /** Sends `text` to a joined room; resolves with the stored message. */
  send(room, text) {
    const ended = this.#ended();
    if (ended) return Promise.reject(ended);
    if (!this.#rooms.has(room)) {
      return Promise.reject(new ChatError(NOT_IN_ROOM, `join ${room} first`));
    }
    this.#typingSender.sent(room);
    return this.#outbox.add(room, text);
  }

  /** A page of a joined room's history: `{messages, more}`, oldest first. */
  async history(room, { before, after, limit = DEFAULT_PAGE_LIMIT } = {}) {
    const ended = this.#ended();
    if (ended) throw ended;
    const payload = { room, limit };
    if (before !== undefined) payload.before = before;
    if (after !== undefined) payload.after = after;
    let ack;
    try {
      ack = await this.#request(this.sockets.chat, EVENT_HISTORY, payload);
    } catch (error) {
      throw error instanceof ChatError ? error : new ChatError(NOT_CONNECTED, error.message);
    }
    if (!ack.ok) throw ChatError.fromAck(ack);
    return { messages: ack.messages, more: ack.more, ...(ack.gap ? { gap: true } : {}) };
  }

  /** The user is typing in `room` (call on every keystroke; debounced). */
  typing(room) {
    if (this.#rooms.get(room)?.ready) this.#typingSender.typing(room);
  }

  /** The user stopped typing in `room`, say cleared the input: `typing: false` goes out now. */
  stopTyping(room) {
    this.#typingSender.stop(room);
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

  /** Sends not acked yet: `[{room, text, clientId}]`. */
  pending(room) {
    return this.#outbox.pending(room);
  }

  /** Replaces the text of the user's message `seq`; resolves with the edit entry. */
  edit(room, seq, text) {
    return this.#change(EVENT_EDIT, { room, seq, text });
  }

  /** Deletes the user's message `seq`; resolves with the delete entry. */
  delete(room, seq) {
    return this.#change(EVENT_DELETE, { room, seq });
  }

  /** Adds (`on`) or removes the user's `emoji` on message `seq`: `{count, changed}`. */
  async react(room, seq, emoji, on = true) {
    const ack = await this.#call(EVENT_REACT, { room, seq, emoji, on });
    const { ok, changed, ...delta } = ack;
    if (changed) this.#onReaction(delta);
    return { count: ack.count, changed };
  }

  /** Marks `room` read up to `seq`; only forward, one request at a time. */
  markRead(room, seq) {
    const state = this.#rooms.get(room);
    if (!state || !Number.isSafeInteger(seq) || seq <= Math.max(state.read.seq, state.read.wanted)) return;
    state.read.wanted = seq;
    if (!state.read.inflight) this.#sendRead(state);
  }

  /** The read position and unread count of a joined room, or null. */
  readState(room) {
    const read = this.#rooms.get(room)?.read;
    return read ? { seq: read.seq, unread: read.unread } : null;
  }

  /** Who has read `room` up to `seq`: `{readers: [{user, seq}], more}`. */
  async readers(room, seq) {
    const ack = await this.#call(EVENT_READERS, { room, seq });
    return { readers: ack.readers, more: ack.more };
  }

  async #change(event, payload) {
    const state = this.#rooms.get(payload.room);
    const clientId = newClientId();
    let ack;
    for (let attempt = 0; ; attempt += 1) {
      try {
        ack = await this.#call(event, { ...payload, client_id: clientId });
        break;
      } catch (error) {
        // Resent with the same client_id: stored at most once.
        if (!error.retryable || attempt >= 4 || this.#ended()) throw error;
        await this.#sleep(error.retryAfterMs ?? backoff(attempt));
      }
    }
    if (state && this.#rooms.get(payload.room) === state) {
      state.timeline.accept(ack.message);
      this.#armGapFill(state);
    }
    return ack.message;
  }

  async #sendRead(state) {
    state.read.inflight = true;
    try {
      while (state.read.wanted > state.read.seq && this.#rooms.get(state.name) === state) {
        const wanted = state.read.wanted;
        let ack;
        try {
          ack = await this.#call(EVENT_READ, { room: state.name, seq: wanted });
        } catch {
          return; // a later markRead tries again
        }
        this.#onRead(ack);
        if (ack.seq >= wanted || state.read.wanted === wanted) return;
      }
    } finally {
      state.read.inflight = false;
    }
  }

  async #call(event, payload) {
    const ended = this.#ended();
    if (ended) throw ended;
    let ack;
    try {
      ack = await this.#request(this.sockets.chat, event, payload);
    } catch (error) {
      throw error instanceof ChatError ? error : new ChatError(NOT_CONNECTED, error.message, { retryable: true });
    }
    if (!ack.ok) throw ChatError.fromAck(ack);
    return ack;
  }

  #onRead(update) {
    const state = this.#rooms.get(update?.room);
    if (state && state.read.update(update)) {
      this.emit("read", { room: state.name, seq: state.read.seq, unread: state.read.unread });
    }
  }

  #onReaction(delta) {
    if (!this.#rooms.has(delta?.room) || !this.#reactions.apply(delta)) return;
    this.emit("reaction", delta);
  }

  #socket(namespace) {
    const socket = this.manager.socket(namespace, {
      auth: (reply) => this.#authenticate(socket, reply),
    });
    return socket;
  }

  /** One token per connection attempt, shared by the three namespaces. */
  #authenticate(socket, reply) {
    const engine = this.manager.engine;
    this.tokens.forAttempt(engine).then(
      ({ token, version }) => {
        if (this.#closed || this.manager.engine !== engine) return;
        this.#tokenVersions.set(socket, version);
        reply({ token });
      },
      (error) => {
        if (this.#closed || this.manager.engine !== engine) return;
        this.emit("error", error);
        // Closing the transport makes the Manager try again, with backoff.
        engine.close();
      },
    );
  }

  #wire() {
    const { chat, typing, presence } = this.sockets;
    for (const socket of [chat, typing, presence]) {
      socket.on("connect", () => {
        this.#expiredStreak.delete(socket);
        this.#updateStatus();
      });
      socket.on("disconnect", () => this.#updateStatus());
      socket.on("connect_error", (error) => this.#onRefused(socket, error));
    }
    this.manager.on("reconnect_failed", () => {
      this.#giveUp(new ChatError(NOT_CONNECTED, "gave up reconnecting", { retryable: false }));
    });

    chat.on("connect", () => {
      this.#generation += 1;
      for (const state of this.#rooms.values()) this.#rejoin(state);
    });
    chat.on("disconnect", () => {
      for (const state of this.#rooms.values()) {
        state.ready = false;
        clearTimeout(state.gapTimer);
        state.gapTimer = null;
      }
    });
    chat.on(EVENT_MESSAGE, (message) => this.#onLive(message));
    chat.on(EVENT_REACTION, (delta) => this.#onReaction(delta));
    chat.on(EVENT_READ, (update) => this.#onRead(update));
    chat.on(EVENT_RECEIPTS, (event) => this.#rooms.has(event?.room) && this.emit("receipts", event));

    presence.on("connect", () => {
      this.#presenceGeneration += 1;
      for (const state of this.#rooms.values()) this.#subscribePresence(state);
    });
    presence.on(EVENT_PRESENCE, (event) => this.#onPresence(event));

    // Typing changes missed while disconnected are never replayed.
    typing.on("connect", () => {
      for (const state of this.#rooms.values()) {
        this.#clearTyping(state);
        this.#subscribeTyping(state);
      }
    });
    typing.on("disconnect", () => {
      for (const state of this.#rooms.values()) this.#clearTyping(state);
    });
    typing.on(EVENT_TYPING, (event) => this.#onTyping(event));
  }

  #onRefused(socket, error) {
    const code = error?.data?.code;
    if (!code || this.#closed) {
      // A transport failure: the Manager retries by itself.
      this.#updateStatus();
      return;
    }
    if (code === TOKEN_EXPIRED && this.tokens.canRefresh) {
      // socket.io-client gives up on a refused namespace: connect it again,
      // with a token fetched once for all three namespaces.
      this.tokens.expire(this.#tokenVersions.get(socket));
      const streak = (this.#expiredStreak.get(socket) ?? 0) + 1;
      this.#expiredStreak.set(socket, streak);
      const delay = streak === 1 ? 0 : Math.min(EXPIRED_RETRY_MAX_MS, 250 * 2 ** (streak - 2));
      this.#later(delay, () => socket.connect());
      return;
    }
    this.#giveUp(new ChatError(code, `the node refused the connection: ${code}`, { retryable: false }));
  }

  /**
   * The client will not connect again (a refused token, or the Manager gave
   * up): what waits is rejected with `error`, and so is whatever comes later.
   */
  #giveUp(error) {
    if (this.#closed || this.#fatal) return;
    this.#fatal = error;
    // Rejected before listeners hear of it, so a listener that closes the
    // client does not turn the reason into CLIENT_CLOSED.
    this.#abandon(error);
    this.emit("error", error);
  }

  /** Rejects pending sends and joins with `error` and disconnects for good. */
  #abandon(error) {
    for (const timer of this.#timers) clearTimeout(timer);
    this.#timers.clear();
    this.#typingSender.cancel();
    this.#outbox.drop(undefined, error);
    for (const state of this.#rooms.values()) {
      clearTimeout(state.gapTimer);
      state.gapTimer = null;
      state.ready = false;
      if (!state.settled) state.rejectJoined(error);
    }
    this.manager.reconnection(false);
    for (const socket of Object.values(this.sockets)) socket.disconnect();
    this.#updateStatus();
  }

  /** Why calls fail at once: the client was closed or gave up; else null. */
  #ended() {
    if (this.#closed) return new ChatError(CLIENT_CLOSED, "the client is closed", { retryable: false });
    if (this.#fatal) {
      const { code, message, retryable } = this.#fatal;
      return new ChatError(code, message, { retryable });
    }
    return null;
  }

  #updateStatus() {
    let status;
    const sockets = Object.values(this.sockets);
    if (this.#closed || this.#fatal || !this.#started) status = STATUS_OFFLINE;
    else if (sockets.every((s) => s.connected)) {
      status = STATUS_CONNECTED;
      this.#everConnected = true;
    }
    else status = this.#everConnected ? STATUS_RECONNECTING : STATUS_CONNECTING;
    if (status !== this.#status) {
      this.#status = status;
      this.emit("status", status);
    }
  }

  /** Still the room's current join, on the current connection? */
  #current(state, generation) {
    return !this.#closed && this.#rooms.get(state.name) === state
      && this.#generation === generation && this.sockets.chat.connected;
  }

  /** Joins (again) with `since`, pages in what was missed, then sends the outbox. */
  async #rejoin(state) {
    const generation = this.#generation;
    const chat = this.sockets.chat;
    state.ready = false;
    for (let attempt = 0; this.#current(state, generation); attempt += 1) {
      const since = state.timeline.last;
      const payload = since === null ? { room: state.name } : { room: state.name, since, limit: MAX_PAGE_LIMIT };
      let ack;
      try {
        ack = await this.#request(chat, EVENT_JOIN, payload);
      } catch {
        await this.#sleep(backoff(attempt));
        continue;
      }
      if (!this.#current(state, generation)) return;
      if (!ack.ok) {
        const error = ChatError.fromAck(ack);
        if (!error.retryable) {
          this.#rooms.delete(state.name);
          this.#outbox.drop(state.name, error);
          if (!state.settled) state.rejectJoined(error);
          this.emit("error", error);
          return;
        }
        await this.#sleep(error.retryAfterMs ?? backoff(attempt));
        continue;
      }
      // The ack's unread already counts the entries up to last_seq.
      if (state.read.update({ seq: ack.read_seq, unread: ack.unread }, ack.last_seq)) {
        this.emit("read", { room: state.name, seq: state.read.seq, unread: state.read.unread });
      }
      if (since === null) state.timeline.start(ack.history.length ? ack.history[0].seq - 1 : 0);
      this.#ingest(state, ack.history, ack.gap);
      let more = since !== null && ack.more;
      while (more) {
        let page;
        try {
          page = await this.#request(chat, EVENT_HISTORY,
            { room: state.name, after: state.timeline.last, limit: MAX_PAGE_LIMIT });
        } catch {
          return; // the connection went; the next connect rejoins
        }
        if (!this.#current(state, generation)) return;
        if (!page.ok) break;
        this.#ingest(state, page.messages, page.gap);
        more = page.more;
      }
      state.ready = true;
      if (!state.settled) state.resolveJoined();
      this.#outbox.flush(state.name);
      this.#armGapFill(state);
      return;
    }
  }

  #ingest(state, messages, gap) {
    if (gap && messages.length) state.timeline.skipTo(messages[0].seq);
    for (const message of messages) state.timeline.accept(message);
  }

  #onLive(message) {
    const state = this.#rooms.get(message?.room);
    if (!state) return;
    state.timeline.accept(message);
    this.#armGapFill(state);
  }

  #onStored(message) {
    const state = this.#rooms.get(message?.room);
    if (!state) return;
    state.timeline.accept(message);
    this.#armGapFill(state);
  }

  #deliver(state, message) {
    const counted = state.read.delivered(message, this.userId);
    if (message.kind === KIND_EDIT) this.emit("edit", message);
    else if (message.kind === KIND_DELETE) this.emit("delete", message);
    else {
      this.#setTyping(state, message.user, false);
      this.emit("message", message);
    }
    if (counted) this.emit("read", { room: state.name, seq: state.read.seq, unread: state.read.unread });
  }

  /** A hole that live delivery has not filled soon enough is read from history. */
  #armGapFill(state) {
    if (!state.ready || state.filling || state.gapTimer || !state.timeline.hasGap) return;
    state.gapTimer = setTimeout(() => {
      state.gapTimer = null;
      this.#fillGap(state);
    }, this.gapFillDelayMs);
  }

  async #fillGap(state) {
    const generation = this.#generation;
    state.filling = true;
    try {
      while (state.timeline.hasGap && state.ready && this.#current(state, generation)) {
        const ack = await this.#request(this.sockets.chat, EVENT_HISTORY,
          { room: state.name, after: state.timeline.last, limit: MAX_PAGE_LIMIT });
        if (!ack.ok || !this.#current(state, generation)) break;
        this.#ingest(state, ack.messages, ack.gap);
        if (!ack.more) break;
      }
    } catch {
      // No ack: the connection went, and the rejoin reads what is missing.
    } finally {
      state.filling = false;
    }
    this.#armGapFill(state);
  }

  /**
   * Subscribes `/presence` to a room and rebuilds its member set from the ack.
   * A failure releases the events held for the ack, so the set stays live;
   * a retryable one (or a lost ack) is retried while the connection lasts,
   * any other waits for the next connect.
   */
  async #subscribePresence(state) {
    const socket = this.sockets.presence;
    const generation = this.#presenceGeneration;
    const current = () => !this.#closed && !this.#fatal && socket.connected
      && this.#rooms.get(state.name) === state && this.#presenceGeneration === generation;
    for (let attempt = 0; current(); attempt += 1) {
      state.members.beginSync();
      let ack;
      let retryAfterMs;
      try {
        ack = await this.#request(socket, EVENT_SUBSCRIBE, { room: state.name });
      } catch {
        ack = null;
      }
      if (this.#rooms.get(state.name) !== state) return;
      if (ack?.ok) {
        state.members.finishSync(ack.members);
        this.emit("members", { room: state.name, members: state.members.list() });
        return;
      }
      if (state.members.abandonSync()) {
        this.emit("members", { room: state.name, members: state.members.list() });
      }
      if (ack) {
        const error = ChatError.fromAck(ack);
        if (!error.retryable) {
          this.emit("error", error);
          return;
        }
        retryAfterMs = error.retryAfterMs;
      }
      if (!current()) return; // the next connect subscribes again
      await this.#sleep(retryAfterMs ?? backoff(attempt));
    }
  }

  #onPresence(event) {
    const state = this.#rooms.get(event?.room);
    if (!state) return;
    this.emit("presence", event);
    if (state.members.apply(event)) {
      this.emit("members", { room: state.name, members: state.members.list() });
    }
    if (event.status === PRESENCE_LEFT) this.#setTyping(state, event.user, false);
  }

  async #subscribeTyping(state) {
    try {
      const ack = await this.#request(this.sockets.typing, EVENT_SUBSCRIBE, { room: state.name });
      if (!ack.ok) this.emit("error", ChatError.fromAck(ack));
    } catch {
      // resubscribed on the next connect
    }
  }

  #onTyping(event) {
    const state = this.#rooms.get(event?.room);
    if (state) this.#setTyping(state, event.user, event.typing === true);
  }

  #setTyping(state, user, typing) {
    if (state.typing.set(user, typing)) {
      this.emit("typing", { room: state.name, user: { id: user.id, name: user.name }, typing });
    }
  }

  #clearTyping(state) {
    for (const user of state.typing.clear()) {
      this.emit("typing", { room: state.name, user, typing: false });
    }
  }

  /** Emits with an ack and a timeout; rejects at once when not connected. */
  #request(socket, event, payload) {
    if (!socket.connected) {
      return Promise.reject(new ChatError(NOT_CONNECTED, "not connected", { retryable: true }));
    }
    return socket.timeout(this.ackTimeoutMs).emitWithAck(event, payload);
  }

  #later(ms, fn) {
    const timer = setTimeout(() => {
      this.#timers.delete(timer);
      if (!this.#closed) fn();
    }, ms);
    this.#timers.add(timer);
  }

  #sleep(ms) {
    return new Promise((resolve) => this.#later(ms, resolve));
  }
}
