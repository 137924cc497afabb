import { ChatError } from "./ChatError.js";
import { NOT_IN_ROOM } from "./constants.js";

const RETRY_BASE_MS = 250;
const RETRY_MAX_MS = 10_000;

/** Milliseconds to wait before retry number `attempt` (0-based). */
export function backoff(attempt) {
  return Math.min(RETRY_MAX_MS, RETRY_BASE_MS * 2 ** Math.min(attempt, 16));
}

/** A `client_id`: 32 random hex digits (works outside secure contexts too). */
export function newClientId() {
  const bytes = new Uint8Array(16);
  globalThis.crypto.getRandomValues(bytes);
  return Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join("");
}

/**
 * Sends that have not been acked yet, in the order they were made.
 *
 * Each entry keeps its `client_id` for life, so a resend is stored at most
 * once. An entry goes out only while its room is ready (joined on the
 * current connection). It waits after a lost connection, is resent after
 * retryable errors, and is rejected on any other error.
 *
 * The channel supplies: `isReady(room)`, `generation()` (a number that
 * changes with every new connection), `request(payload)` (resolves with the
 * ack, rejects when no ack came), `stored(message)` and, optionally,
 * `notInRoom(room)` (the node says the socket is not in a room it should
 * be in: join it again; without it, such a send is rejected).
 */
export class Outbox {
  #channel;
  #entries = [];

  constructor(channel) {
    this.#channel = channel;
  }

  /** Queues a send; resolves with the stored message. */
  add(room, text) {
    return new Promise((resolve, reject) => {
      const entry = {
        room, text, clientId: newClientId(), state: "queued",
        attempts: 0, timer: null, resolve, reject,
      };
      this.#entries.push(entry);
      if (this.#channel.isReady(room)) this.#transmit(entry);
    });
  }

  /** Sends not yet acked, optionally of one room: `[{room, text, clientId}]`. */
  pending(room) {
    return this.#entries
      .filter((e) => room === undefined || e.room === room)
      .map(({ room: r, text, clientId }) => ({ room: r, text, clientId }));
  }

  /** The room is ready again: send what waits for it, in order. */
  flush(room) {
    for (const entry of this.#entries) {
      if (entry.room === room && entry.state === "queued") this.#transmit(entry);
    }
  }

  /** Rejects the sends of `room` (or of every room) with `error`. */
  drop(room, error) {
    for (const entry of [...this.#entries]) {
      if (room === undefined || entry.room === room) this.#finish(entry).reject(error);
    }
  }

  async #transmit(entry) {
    clearTimeout(entry.timer);
    entry.timer = null;
    entry.state = "inflight";
    entry.attempts += 1;
    const generation = this.#channel.generation();
    let ack;
    try {
      ack = await this.#channel.request({ room: entry.room, text: entry.text, client_id: entry.clientId });
    } catch {
      // No ack: a lost connection (resent after the rejoin) or a timeout.
      this.#retry(entry, backoff(entry.attempts - 1));
      return;
    }
    if (entry.state !== "inflight") return;
    if (ack?.ok) {
      this.#finish(entry).resolve(ack.message);
      this.#channel.stored(ack.message);
      return;
    }
    const error = ChatError.fromAck(ack);
    if (error.retryable) {
      this.#retry(entry, error.retryAfterMs ?? backoff(entry.attempts - 1));
    } else if (error.code === NOT_IN_ROOM && this.#channel.generation() !== generation) {
      // Sent on a connection that has since gone: wait for the rejoin.
      this.#retry(entry, 0);
    } else if (error.code === NOT_IN_ROOM && this.#channel.notInRoom) {
      // The node does not have the room the client believed joined (a
      // recovered socket whose token no longer allows it, say): the room is
      // joined again, and the send waits for that.
      this.#channel.notInRoom(entry.room);
      this.#retry(entry, backoff(entry.attempts - 1));
    } else {
      this.#finish(entry).reject(error);
    }
  }

  #retry(entry, delayMs) {
    if (entry.state !== "inflight") return;
    entry.state = "queued";
    entry.timer = setTimeout(() => {
      entry.timer = null;
      if (entry.state === "queued" && this.#channel.isReady(entry.room)) this.#transmit(entry);
    }, delayMs);
  }

  #finish(entry) {
    clearTimeout(entry.timer);
    entry.state = "done";
    const index = this.#entries.indexOf(entry);
    if (index >= 0) this.#entries.splice(index, 1);
    return entry;
  }
}
