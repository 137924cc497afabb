import { ChatError } from "./ChatError.js";
import { EVENT_MEMBERS, EVENT_PRESENCE, EVENT_SUBSCRIBE, EVENT_UNSUBSCRIBE, PRESENCE_LEFT } from "./constants.js";
import { LeaveQueue } from "./LeaveQueue.js";
import { backoff } from "./Outbox.js";

/**
 * Each room's member set on `/presence`: subscribed on every new connection
 * and rebuilt from the ack, kept live by `presence` events, and replaced by
 * the node's `members` event on a recovered connection (which kept the
 * subscriptions, so none is sent again).
 *
 * `emit(event, payload)` reports `presence`, `members` and `error` to the
 * app; `onLeft(state, user)` hears of a user who left a room.
 */
export class PresenceSync {
  #socket;
  #rooms;
  #requests;
  #timers;
  #isEnded;
  #emit;
  #onLeft;
  #leaves;
  #generation = 0;

  constructor({ socket, rooms, requests, timers, isEnded, emit, onLeft }) {
    this.#socket = socket;
    this.#rooms = rooms;
    this.#requests = requests;
    this.#timers = timers;
    this.#isEnded = isEnded;
    this.#emit = emit;
    this.#onLeft = onLeft;
    this.#leaves = new LeaveQueue({ socket, event: EVENT_UNSUBSCRIBE, requests });
    socket.on("connect", () => this.#connected());
    socket.on(EVENT_PRESENCE, (event) => this.#onPresence(event));
    socket.on(EVENT_MEMBERS, (event) => this.#onMembers(event));
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

  #connected() {
    this.#generation += 1;
    const recovered = this.#socket.recovered === true;
    this.#leaves.connected(recovered);
    for (const state of this.#rooms.values()) {
      // A recovered subscription is resynchronised by the node's `members` event.
      if (recovered && state.onServer.presence) continue;
      state.onServer.presence = false;
      this.#subscribe(state);
    }
  }

  /**
   * Subscribes to a room and rebuilds its member set from the ack. A failure
   * releases the events held for the ack, so the set stays live; a retryable
   * one (or a lost ack) is retried while the connection lasts, any other
   * waits for the next connect.
   */
  async #subscribe(state) {
    const generation = this.#generation;
    const current = () => this.#isEnded() === null && this.#socket.connected
      && this.#rooms.get(state.name) === state && this.#generation === generation;
    for (let attempt = 0; current(); attempt += 1) {
      state.members.beginSync();
      let ack;
      let retryAfterMs;
      try {
        ack = await this.#requests.send(this.#socket, EVENT_SUBSCRIBE, { room: state.name });
      } catch {
        ack = null;
      }
      if (this.#rooms.get(state.name) !== state) return;
      if (ack?.ok) {
        state.onServer.presence = true;
        state.members.finishSync(ack.members);
        this.#emitMembers(state);
        return;
      }
      if (state.members.abandonSync()) this.#emitMembers(state);
      if (ack) {
        const error = ChatError.fromAck(ack);
        if (!error.retryable) {
          this.#emit("error", error);
          return;
        }
        retryAfterMs = error.retryAfterMs;
      }
      if (!current()) return; // the next connect subscribes again
      await this.#timers.sleep(retryAfterMs ?? backoff(attempt));
    }
  }

  #onPresence(event) {
    const state = this.#rooms.get(event?.room);
    if (!state) return;
    this.#emit("presence", event);
    if (state.members.apply(event)) this.#emitMembers(state);
    if (event.status === PRESENCE_LEFT) this.#onLeft(state, event.user);
  }

  #onMembers(event) {
    const state = this.#rooms.get(event?.room);
    if (!state || !Array.isArray(event.members)) return;
    state.members.replace(event.members);
    this.#emitMembers(state);
  }

  #emitMembers(state) {
    this.#emit("members", { room: state.name, members: state.members.list() });
  }
}
