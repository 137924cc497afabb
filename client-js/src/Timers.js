/**
 * The client's timers, cancelled together when it ends: after `stop()` no
 * callback runs and no new timer starts.
 */
export class Timers {
  #timers = new Set();
  #stopped = false;

  /** Runs `fn` after `ms`, unless stopped by then. */
  later(ms, fn) {
    if (this.#stopped) return;
    const timer = setTimeout(() => {
      this.#timers.delete(timer);
      if (!this.#stopped) fn();
    }, ms);
    this.#timers.add(timer);
  }

  /** Resolves after `ms`; never resolves once stopped. */
  sleep(ms) {
    return new Promise((resolve) => this.later(ms, resolve));
  }

  /** Cancels every timer, now and later. */
  stop() {
    this.#stopped = true;
    for (const timer of this.#timers) clearTimeout(timer);
    this.#timers.clear();
  }
}
