// A stand-in for a socket.io-client Socket, for unit tests of the client's
// parts: the test answers requests and fires server events itself.

/** Resolves once pending promise callbacks have run. */
export function settle() {
  return new Promise((resolve) => setImmediate(resolve));
}

export class FakeSocket {
  constructor() {
    this.connected = false;
    this.recovered = false;
    /** Every event sent: `{event, payload}`. */
    this.sent = [];
    /** `(event, payload) => ack`; throwing (or rejecting) is a lost ack. */
    this.answer = () => ({ ok: true });
    this.handlers = new Map();
  }

  on(event, listener) {
    if (!this.handlers.has(event)) this.handlers.set(event, []);
    this.handlers.get(event).push(listener);
    return this;
  }

  listeners(event) {
    return [...(this.handlers.get(event) ?? [])];
  }

  /** A server event, or a reserved one (`connect`, `disconnect`). */
  fire(event, ...args) {
    for (const listener of this.listeners(event)) listener(...args);
  }

  timeout() {
    return {
      emitWithAck: async (event, payload) => {
        this.sent.push({ event, payload });
        return this.answer(event, payload);
      },
    };
  }

  emit(event, payload) {
    this.sent.push({ event, payload });
    return this;
  }

  /** The events sent named `event`, their payloads, and forgets them. */
  take(event) {
    const taken = this.sent.filter((s) => s.event === event).map((s) => s.payload);
    this.sent = this.sent.filter((s) => s.event !== event);
    return taken;
  }

  connect({ recovered = false } = {}) {
    this.connected = true;
    this.recovered = recovered;
    this.fire("connect");
  }

  drop() {
    this.connected = false;
    this.fire("disconnect", "transport close");
  }
}
