/** A minimal event emitter that runs in browsers and Node alike. */
export class Emitter {
  #listeners = new Map();

  /** Calls `listener` on every `event`; returns `this`. */
  on(event, listener) {
    if (!this.#listeners.has(event)) this.#listeners.set(event, new Set());
    this.#listeners.get(event).add(listener);
    return this;
  }

  /** Removes `listener` from `event`; returns `this`. */
  off(event, listener) {
    this.#listeners.get(event)?.delete(listener);
    return this;
  }

  /** Calls `listener` on the next `event` only; returns `this`. */
  once(event, listener) {
    const wrapper = (...args) => {
      this.off(event, wrapper);
      listener(...args);
    };
    return this.on(event, wrapper);
  }

  /**
   * Calls the listeners of `event` in the order they were added. A listener
   * that throws does not keep the others from running; its error is reported
   * asynchronously, as an uncaught exception.
   */
  emit(event, ...args) {
    const listeners = this.#listeners.get(event);
    if (!listeners) return false;
    for (const listener of [...listeners]) {
      try {
        listener(...args);
      } catch (error) {
        queueMicrotask(() => {
          throw error;
        });
      }
    }
    return listeners.size > 0;
  }
}
