// Awaiting events with explicit timeouts.
export const WAIT_MS = 10_000;

/**
 * Resolves with the first `event` payload on `emitter` that satisfies
 * `predicate`; rejects after `timeoutMs`.
 */
export function waitFor(emitter, event, predicate = () => true, { timeoutMs = WAIT_MS } = {}) {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      emitter.off(event, listener);
      reject(new Error(`no matching "${event}" within ${timeoutMs} ms`));
    }, timeoutMs);
    function listener(payload) {
      if (!predicate(payload)) return;
      clearTimeout(timer);
      emitter.off(event, listener);
      resolve(payload);
    }
    emitter.on(event, listener);
  });
}

/** Resolves once `check()` is true, re-checking on every `event`. */
export async function until(emitter, event, check, { timeoutMs = WAIT_MS } = {}) {
  if (check()) return;
  await waitFor(emitter, event, () => check(), { timeoutMs });
}

/** Records the `message` events of a client, per room. */
export class Inbox {
  constructor(client) {
    this.byRoom = new Map();
    this.listener = (message) => {
      if (!this.byRoom.has(message.room)) this.byRoom.set(message.room, []);
      this.byRoom.get(message.room).push(message);
    };
    this.client = client;
    client.on("message", this.listener);
  }

  seqs(room) {
    return (this.byRoom.get(room) ?? []).map((m) => m.seq);
  }

  texts(room) {
    return (this.byRoom.get(room) ?? []).map((m) => m.text);
  }

  /** Resolves once the room's highest delivered seq reaches `seq`. */
  async reach(room, seq, options) {
    await until(this.client, "message", () => (this.seqs(room).at(-1) ?? 0) >= seq, options);
  }
}

/** Numbers from..to inclusive. */
export function range(from, to) {
  return Array.from({ length: Math.max(0, to - from + 1) }, (_, i) => from + i);
}

/** Resolves or rejects as `promise` does, but fails after `timeoutMs` if it has not settled. */
export function settles(promise, what = "the promise", { timeoutMs = WAIT_MS } = {}) {
  let timer;
  const deadline = new Promise((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what} did not settle within ${timeoutMs} ms`)), timeoutMs);
  });
  return Promise.race([promise, deadline]).finally(() => clearTimeout(timer));
}
