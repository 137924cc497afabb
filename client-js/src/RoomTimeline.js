/**
 * One room's messages in `seq` order, each exactly once.
 *
 * `last` is the highest seq delivered with nothing missing below it (null
 * before the room's first join). A message at `last + 1` is delivered at
 * once, an older one is dropped as a duplicate, and a newer one is held back
 * until the messages before it arrive.
 */
export class RoomTimeline {
  #deliver;
  #held = new Map();

  /** `deliver(message)` receives every message once, in seq order. */
  constructor(deliver) {
    this.#deliver = deliver;
    this.last = null;
  }

  /** Whether messages are held back behind a hole. */
  get hasGap() {
    return this.#held.size > 0;
  }

  /** The lowest seq held back, or null. */
  get firstHeld() {
    return this.#held.size ? Math.min(...this.#held.keys()) : null;
  }

  /** Sets where delivery starts when it has not started yet: after `seq`. */
  start(seq) {
    if (this.last === null) {
      this.last = seq;
      this.#drain();
    }
  }

  /**
   * Declares everything below `seq` gone for good (retention dropped it), so
   * delivery can go on from there.
   */
  skipTo(seq) {
    if (this.last !== null && seq - 1 > this.last) {
      for (const held of this.#held.keys()) if (held < seq) this.#held.delete(held);
      this.last = seq - 1;
      this.#drain();
    }
  }

  /** Takes one message; returns true if it was new. */
  accept(message) {
    const seq = message?.seq;
    if (!Number.isSafeInteger(seq) || seq < 1) return false;
    if ((this.last !== null && seq <= this.last) || this.#held.has(seq)) return false;
    this.#held.set(seq, message);
    this.#drain();
    return true;
  }

  #drain() {
    if (this.last === null) return;
    for (let next = this.#held.get(this.last + 1); next; next = this.#held.get(this.last + 1)) {
      this.#held.delete(next.seq);
      this.last = next.seq;
      this.#deliver(next);
    }
  }
}
