/** `epoch` if it names a history (a non-empty string), else null. */
function usable(epoch) {
  return typeof epoch === "string" && epoch !== "" ? epoch : null;
}

/**
 * One room's entries in `seq` order, each exactly once, within the room's
 * current `epoch`.
 *
 * `last` is the highest seq delivered with nothing missing below it (null
 * before the room's first join). A message at `last + 1` is delivered at
 * once, an older one is dropped as a duplicate, and a newer one is held back
 * until the messages before it arrive.
 *
 * `epoch` names the room's history (null until the server told it; servers
 * without epochs never do, and then messages are not checked). A message of
 * an epoch the timeline once had and left is stale and dropped. A message of
 * any other epoch means the history started over: it is kept aside and
 * `onNewEpoch(epoch)` is called, so the caller reads the room again and calls
 * `restart`.
 */
export class RoomTimeline {
  #deliver;
  #onNewEpoch;
  #held = new Map();
  #foreign = new Map();
  #retired = new Set();

  /** `deliver(message)` receives every message once, in seq order. */
  constructor(deliver, { onNewEpoch = () => {} } = {}) {
    this.#deliver = deliver;
    this.#onNewEpoch = onNewEpoch;
    this.last = null;
    this.epoch = null;
  }

  /** Whether messages are held back behind a hole. */
  get hasGap() {
    return this.#held.size > 0;
  }

  /** The lowest seq held back, or null. */
  get firstHeld() {
    return this.#held.size ? Math.min(...this.#held.keys()) : null;
  }

  /**
   * Sets where delivery starts when it has not started yet: after `seq`, in
   * `epoch` (when given). Messages held of another epoch came before it.
   */
  start(seq, epoch) {
    if (this.last !== null) return;
    this.adopt(epoch);
    if (this.epoch !== null) {
      for (const [held, message] of this.#held) {
        if (typeof message.epoch === "string" && message.epoch !== this.epoch) this.#held.delete(held);
      }
    }
    this.last = seq;
    this.#drain();
  }

  /** Takes the room's epoch when none is known yet. */
  adopt(epoch) {
    if (this.epoch === null) this.epoch = usable(epoch);
  }

  /**
   * The room's history started over as `epoch`: what was known of the old
   * one is dropped, and delivery goes on after `seq` in the new one,
   * beginning with the messages of `epoch` that were kept aside.
   */
  restart(epoch, seq) {
    if (this.epoch !== null && this.epoch !== epoch) this.#retired.add(this.epoch);
    this.epoch = usable(epoch);
    this.#held = this.#foreign.get(epoch) ?? new Map();
    this.#foreign.clear();
    this.#retired.delete(epoch);
    this.last = seq;
    for (const held of this.#held.keys()) if (held <= seq) this.#held.delete(held);
    this.#drain();
  }

  /** The epochs of the messages kept aside. */
  foreignEpochs() {
    return [...this.#foreign.keys()];
  }

  /** Forgets the messages kept aside of `epochs`: the server says they are not the room's. */
  dropForeign(epochs) {
    for (const epoch of epochs) this.#foreign.delete(epoch);
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

  /** Takes a page of history; `gap` says retention dropped what comes before it. */
  ingest(messages, gap = false) {
    if (gap && messages.length) this.skipTo(messages[0].seq);
    for (const message of messages) this.accept(message);
  }

  /** Takes one message; returns true if it was new. */
  accept(message) {
    const seq = message?.seq;
    if (!Number.isSafeInteger(seq) || seq < 1) return false;
    const epoch = message.epoch;
    if (this.epoch !== null && typeof epoch === "string" && epoch !== this.epoch) {
      return this.#keepAside(epoch, message);
    }
    if ((this.last !== null && seq <= this.last) || this.#held.has(seq)) return false;
    this.#held.set(seq, message);
    this.#drain();
    return true;
  }

  #keepAside(epoch, message) {
    if (this.#retired.has(epoch)) return false;
    let kept = this.#foreign.get(epoch);
    const first = !kept;
    if (first) {
      kept = new Map();
      this.#foreign.set(epoch, kept);
    }
    if (kept.has(message.seq)) return false;
    kept.set(message.seq, message);
    if (first) this.#onNewEpoch(epoch);
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
