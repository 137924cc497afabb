import { EVENT_READ, EVENT_READERS, EVENT_RECEIPTS } from "./constants.js";

/**
 * The user's read position per room: sent forward only, one request at a
 * time with the latest wanted position winning, and updated by the node's
 * `read` events (the user's other devices); `receipts` of the room's members
 * are passed on.
 *
 * `call(event, payload)` resolves with an ok ack or rejects;
 * `emit(event, payload)` reports `read` and `receipts`.
 */
export class ReadPositions {
  #rooms;
  #call;
  #emit;

  constructor({ socket, rooms, call, emit }) {
    this.#rooms = rooms;
    this.#call = call;
    this.#emit = emit;
    socket.on(EVENT_READ, (update) => this.#onRead(update));
    socket.on(EVENT_RECEIPTS, (event) => this.#rooms.has(event?.room) && this.#emit("receipts", event));
  }

  /** Marks `room` read up to `seq`. */
  mark(room, seq) {
    const state = this.#rooms.get(room);
    if (!state || !Number.isSafeInteger(seq) || seq <= Math.max(state.read.seq, state.read.wanted)) return;
    state.read.wanted = seq;
    if (!state.read.inflight) this.#send(state);
  }

  /** `{seq, unread}` of a joined room, or null. */
  state(room) {
    const read = this.#rooms.get(room)?.read;
    return read ? { seq: read.seq, unread: read.unread } : null;
  }

  /** Who has read `room` up to `seq`: `{readers, more}`. */
  async readers(room, seq) {
    const ack = await this.#call(EVENT_READERS, { room, seq });
    return { readers: ack.readers, more: ack.more };
  }

  /** Reports the room's read position to the app. */
  changed(state) {
    this.#emit("read", { room: state.name, seq: state.read.seq, unread: state.read.unread });
  }

  async #send(state) {
    state.read.inflight = true;
    try {
      while (state.read.wanted > state.read.seq && this.#rooms.get(state.name) === state) {
        const wanted = state.read.wanted;
        let ack;
        try {
          ack = await this.#call(EVENT_READ, { room: state.name, seq: wanted });
        } catch {
          return; // a later mark tries again
        }
        this.#onRead(ack);
        if (ack.seq >= wanted || state.read.wanted === wanted) return;
      }
    } finally {
      state.read.inflight = false;
    }
  }

  #onRead(update) {
    const state = this.#rooms.get(update?.room);
    if (state && state.read.update(update)) this.changed(state);
  }
}
