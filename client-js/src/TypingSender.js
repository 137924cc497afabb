/**
 * Debounces the local user's typing per room: `typing: true` at most once per
 * `intervalMs` while keys keep coming, `typing: false` after `idleMs` without
 * any. Sending a message ends typing silently: the server clears it then.
 */
export class TypingSender {
  #emit;
  #intervalMs;
  #idleMs;
  #rooms = new Map();

  /** `emit(room, typing)` puts one `typing` event on the wire. */
  constructor(emit, { intervalMs = 1000, idleMs = 3000 } = {}) {
    this.#emit = emit;
    this.#intervalMs = intervalMs;
    this.#idleMs = idleMs;
  }

  /** The user typed in `room`. */
  typing(room) {
    let state = this.#rooms.get(room);
    if (!state) {
      state = { sentAt: -Infinity, timer: null };
      this.#rooms.set(room, state);
    }
    const now = Date.now();
    if (now - state.sentAt >= this.#intervalMs) {
      state.sentAt = now;
      this.#emit(room, true);
    }
    clearTimeout(state.timer);
    state.timer = setTimeout(() => {
      this.#rooms.delete(room);
      this.#emit(room, false);
    }, this.#idleMs);
  }

  /** The user stopped typing in `room` (cleared the input): sends `false` now, if `true` was sent. */
  stop(room) {
    const state = this.#rooms.get(room);
    if (!state) return;
    clearTimeout(state.timer);
    this.#rooms.delete(room);
    this.#emit(room, false);
  }

  /** The user sent a message to `room`: stop without sending `false`. */
  sent(room) {
    this.cancel(room);
  }

  /** Forgets `room` (or every room) without sending anything. */
  cancel(room) {
    const rooms = room === undefined ? [...this.#rooms.keys()] : [room];
    for (const name of rooms) {
      clearTimeout(this.#rooms.get(name)?.timer);
      this.#rooms.delete(name);
    }
  }
}
