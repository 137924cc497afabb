import { EVENT_HISTORY, MAX_PAGE_LIMIT } from "./constants.js";
import { startedOver } from "./startedOver.js";

/**
 * Reads from history a hole that live delivery has not filled within
 * `delayMs`, page after page with `history {after, epoch}`. When the page
 * says the room's history started over, `onStartedOver(state)` is called
 * instead, and the room's catch-up takes it from there.
 *
 * The room sync supplies `isCurrent(state, generation)` (the room is still
 * joined on that connection) and `generation()` (the current connection).
 */
export class GapFiller {
  #socket;
  #requests;
  #delayMs;
  #isCurrent;
  #generation;
  #onStartedOver;

  constructor({ socket, requests, delayMs, isCurrent, generation, onStartedOver }) {
    this.#socket = socket;
    this.#requests = requests;
    this.#delayMs = delayMs;
    this.#isCurrent = isCurrent;
    this.#generation = generation;
    this.#onStartedOver = onStartedOver;
  }

  /** Starts the wait if the ready room has a hole and nothing is filling it. */
  arm(state) {
    if (!state.ready || state.filling || state.gapTimer || !state.timeline.hasGap) return;
    state.gapTimer = setTimeout(() => {
      state.gapTimer = null;
      this.#fill(state);
    }, this.#delayMs);
  }

  /** Stops the wait (the room left, or the connection went). */
  cancel(state) {
    clearTimeout(state.gapTimer);
    state.gapTimer = null;
  }

  async #fill(state) {
    const generation = this.#generation();
    const { timeline } = state;
    let restarted = false;
    state.filling = true;
    try {
      while (timeline.hasGap && state.ready && this.#isCurrent(state, generation)) {
        const position = { epoch: timeline.epoch, since: timeline.last };
        const ack = await this.#requests.send(this.#socket, EVENT_HISTORY, {
          room: state.name, after: position.since, limit: MAX_PAGE_LIMIT,
          ...(position.epoch === null ? {} : { epoch: position.epoch }),
        });
        if (!ack.ok || !this.#isCurrent(state, generation)) break;
        if (startedOver(position, ack, ack.messages)) {
          restarted = true;
          break;
        }
        timeline.ingest(ack.messages, ack.gap);
        if (!ack.more) break;
      }
    } catch {
      // No ack: the connection went, and the next catch-up reads what is missing.
    } finally {
      state.filling = false;
    }
    if (restarted) this.#onStartedOver(state);
    else this.arm(state);
  }
}
