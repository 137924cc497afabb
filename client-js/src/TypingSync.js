import { ChatError } from "./ChatError.js";
import { EVENT_SUBSCRIBE, EVENT_TYPING, EVENT_TYPISTS, EVENT_UNSUBSCRIBE } from "./constants.js";
import { LeaveQueue } from "./LeaveQueue.js";
import { TypingSender } from "./TypingSender.js";

/**
 * Typing on `/typing`, both ways: the user's own, debounced by a
 * `TypingSender`, and who else is typing, per room.
 *
 * Every new connection subscribes each room again and starts with nobody
 * typing: the node does not replay typing changes. A recovered connection
 * kept the subscriptions, and the node's `typists` event tells who is typing
 * now. Indicators are cleared while disconnected.
 *
 * `emit(event, payload)` reports `typing` changes and `error`s to the app.
 */
export class TypingSync {
  #socket;
  #rooms;
  #requests;
  #emit;
  #sender;
  #leaves;

  constructor({ socket, rooms, requests, emit, intervalMs, idleMs }) {
    this.#socket = socket;
    this.#rooms = rooms;
    this.#requests = requests;
    this.#emit = emit;
    this.#sender = new TypingSender((room, typing) => {
      if (socket.connected) socket.emit(EVENT_TYPING, { room, typing });
    }, { intervalMs, idleMs });
    this.#leaves = new LeaveQueue({ socket, event: EVENT_UNSUBSCRIBE, requests });
    socket.on("connect", () => this.#connected());
    socket.on("disconnect", () => {
      for (const state of this.#rooms.values()) this.#clear(state);
    });
    socket.on(EVENT_TYPING, (event) => {
      const state = this.#rooms.get(event?.room);
      if (state) this.set(state, event.user, event.typing === true);
    });
    socket.on(EVENT_TYPISTS, (event) => this.#onTypists(event));
  }

  /** A room just added: subscribed now if connected, else on connect. */
  add(state) {
    this.#leaves.cancel(state.name);
    if (this.#socket.connected) this.#subscribe(state);
  }

  /** Unsubscribes a room already forgotten; resolves with the ack, or null. */
  leave(room) {
    return this.#leaves.leave(room);
  }

  /** The user typed in a ready room. */
  typing(state) {
    if (state?.ready) this.#sender.typing(state.name);
  }

  /** The user stopped typing in `room`: `typing: false` goes out now. */
  stop(room) {
    this.#sender.stop(room);
  }

  /** The user sent a message to `room`: the node ends their typing itself. */
  sent(room) {
    this.#sender.sent(room);
  }

  /** Forgets the user's typing in `room` (or every room) without a word. */
  cancel(room) {
    this.#sender.cancel(room);
  }

  /** Sets whether `user` is typing in the room, reporting a change. */
  set(state, user, typing) {
    if (state.typing.set(user, typing)) {
      this.#emit("typing", { room: state.name, user: { id: user.id, name: user.name }, typing });
    }
  }

  #connected() {
    const recovered = this.#socket.recovered === true;
    this.#leaves.connected(recovered);
    for (const state of this.#rooms.values()) {
      // A recovered subscription is resynchronised by the node's `typists` event.
      if (recovered && state.onServer.typing) continue;
      state.onServer.typing = false;
      this.#clear(state);
      this.#subscribe(state);
    }
  }

  async #subscribe(state) {
    try {
      const ack = await this.#requests.send(this.#socket, EVENT_SUBSCRIBE, { room: state.name });
      if (ack.ok) state.onServer.typing = true;
      else this.#emit("error", ChatError.fromAck(ack));
    } catch {
      // subscribed again on the next connect
    }
  }

  #onTypists(event) {
    const state = this.#rooms.get(event?.room);
    if (!state || !Array.isArray(event.typists)) return;
    for (const { user, typing } of state.typing.replace(event.typists)) {
      this.#emit("typing", { room: state.name, user, typing });
    }
  }

  #clear(state) {
    for (const user of state.typing.clear()) {
      this.#emit("typing", { room: state.name, user, typing: false });
    }
  }
}
