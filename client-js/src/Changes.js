import { EVENT_DELETE, EVENT_EDIT, EVENT_REACT, EVENT_REACTION } from "./constants.js";
import { backoff, newClientId } from "./Outbox.js";
import { ReactionLedger } from "./ReactionLedger.js";

const CHANGE_ATTEMPTS = 5;

/**
 * Edits, deletes and reactions: changes are sent with a `client_id` and
 * retried with it (stored at most once), their entries go into the room's
 * timeline, and reaction deltas reach the app once each.
 *
 * `call(event, payload)` resolves with an ok ack or rejects with a
 * ChatError; `receive(entry)` puts an entry in its room's timeline;
 * `emit(event, payload)` reports `reaction` events.
 */
export class Changes {
  #rooms;
  #call;
  #receive;
  #emit;
  #timers;
  #isEnded;
  #reactions = new ReactionLedger();

  constructor({ socket, rooms, call, receive, emit, timers, isEnded }) {
    this.#rooms = rooms;
    this.#call = call;
    this.#receive = receive;
    this.#emit = emit;
    this.#timers = timers;
    this.#isEnded = isEnded;
    socket.on(EVENT_REACTION, (delta) => this.#onReaction(delta));
  }

  /** Replaces the text of message `seq`; resolves with the edit entry. */
  edit(room, seq, text) {
    return this.#change(EVENT_EDIT, { room, seq, text });
  }

  /** Deletes message `seq`; resolves with the delete entry. */
  delete(room, seq) {
    return this.#change(EVENT_DELETE, { room, seq });
  }

  /** Adds (`on`) or removes the user's `emoji` on message `seq`: `{count, changed}`. */
  async react(room, seq, emoji, on) {
    const ack = await this.#call(EVENT_REACT, { room, seq, emoji, on });
    const { ok, changed, ...delta } = ack;
    if (changed) this.#onReaction(delta);
    return { count: ack.count, changed };
  }

  /** Forgets what is known of a room's reactions (left, or its history started over). */
  forget(room) {
    this.#reactions.forget(room);
  }

  async #change(event, payload) {
    const state = this.#rooms.get(payload.room);
    const clientId = newClientId();
    let ack;
    for (let attempt = 0; ; attempt += 1) {
      try {
        ack = await this.#call(event, { ...payload, client_id: clientId });
        break;
      } catch (error) {
        // Resent with the same client_id: stored at most once.
        if (!error.retryable || attempt >= CHANGE_ATTEMPTS - 1 || this.#isEnded()) throw error;
        await this.#timers.sleep(error.retryAfterMs ?? backoff(attempt));
      }
    }
    if (state && this.#rooms.get(payload.room) === state) this.#receive(ack.message);
    return ack.message;
  }

  #onReaction(delta) {
    if (!this.#rooms.has(delta?.room) || !this.#reactions.apply(delta)) return;
    this.#emit("reaction", delta);
  }
}
