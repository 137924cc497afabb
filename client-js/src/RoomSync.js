import { ChatError } from "./ChatError.js";
import { EVENT_HISTORY, EVENT_JOIN, EVENT_LEAVE, EVENT_MESSAGE, MAX_PAGE_LIMIT } from "./constants.js";
import { GapFiller } from "./GapFiller.js";
import { LeaveQueue } from "./LeaveQueue.js";
import { backoff } from "./Outbox.js";
import { startedOver } from "./startedOver.js";

const DONE = Object.freeze({ outcome: "done" });
const GONE = Object.freeze({ outcome: "gone" });

/**
 * The rooms on `/chat`: joined on every new connection with `since` and
 * `epoch`, caught up page by page, and restarted when the room's history
 * started over; on a recovered connection the node kept the rooms and
 * replays what was missed, so nothing is asked again. Live messages go into
 * each room's timeline, and holes they leave are filled by a `GapFiller`.
 *
 * `onReady(room)` runs when a room is ready for sends, `onRefused(state,
 * error)` when the node refused a room for good, `onStartedOver(state,
 * {epoch, previousEpoch, previousSeq})` before a room's timeline starts over,
 * `onRead(state)` when a join ack changed the room's read position.
 */
export class RoomSync {
  #socket;
  #rooms;
  #requests;
  #timers;
  #isEnded;
  #onReady;
  #onRefused;
  #onStartedOver;
  #onRead;
  #gaps;
  #leaves;

  constructor({ socket, rooms, requests, timers, gapFillDelayMs, isEnded, onReady, onRefused, onStartedOver, onRead }) {
    this.#socket = socket;
    this.#rooms = rooms;
    this.#requests = requests;
    this.#timers = timers;
    this.#isEnded = isEnded;
    this.#onReady = onReady;
    this.#onRefused = onRefused;
    this.#onStartedOver = onStartedOver;
    this.#onRead = onRead;
    /** Changes with every new /chat connection. */
    this.generation = 0;
    this.#gaps = new GapFiller({
      socket, requests, delayMs: gapFillDelayMs,
      isCurrent: (state, generation) => this.#isCurrent(state, generation),
      generation: () => this.generation,
      onStartedOver: (state) => this.resync(state),
    });
    this.#leaves = new LeaveQueue({ socket, event: EVENT_LEAVE, requests });
    socket.on("connect", () => this.#connected());
    socket.on("disconnect", () => {
      for (const state of this.#rooms.values()) this.stop(state);
    });
    // A recovered connection's message events carry an offset as a second
    // argument; only the message counts.
    socket.on(EVENT_MESSAGE, (message) => this.receive(message));
  }

  /** A room just added: joined now if connected, else on connect. */
  add(state) {
    this.#leaves.cancel(state.name);
    if (this.#socket.connected) this.#catchUp(state);
  }

  /** Sends `leave` for a room already forgotten; resolves with its ack, or null. */
  leave(room) {
    return this.#leaves.leave(room);
  }

  /** The room is not ready any more (left, disconnected, or the client ended). */
  stop(state) {
    state.ready = false;
    this.#gaps.cancel(state);
  }

  /** A message for one of the rooms: from the wire, a send ack or a change ack. */
  receive(message) {
    const state = this.#rooms.get(message?.room);
    if (!state) return;
    state.timeline.accept(message);
    this.#gaps.arm(state);
  }

  /**
   * The node says the socket is not in `room`, which the client believed
   * joined: it is joined again (a refusal then drops it, as for any join).
   */
  lost(room) {
    const state = this.#rooms.get(room);
    if (!state) return;
    state.onServer.chat = false;
    this.resync(state);
  }

  /**
   * The room's history may have started over (a message of another epoch
   * came, or a page said so): the room is read again, after the catch-up
   * running if there is one; while disconnected, the next connect does it.
   */
  resync(state) {
    if (state.catchingUp) state.resyncWanted = true;
    else if (this.#isCurrent(state, this.generation)) this.#catchUp(state);
  }

  #connected() {
    this.generation += 1;
    const recovered = this.#socket.recovered === true;
    this.#leaves.connected(recovered);
    for (const state of this.#rooms.values()) {
      if (recovered && state.onServer.chat) this.#resume(state);
      else {
        state.onServer.chat = false;
        this.#catchUp(state);
      }
    }
  }

  /** Still the room's current join and catch-up, on the current connection? */
  #isCurrent(state, generation, run = state.catchUps) {
    return this.#isEnded() === null && this.#rooms.get(state.name) === state
      && this.generation === generation && state.catchUps === run && this.#socket.connected;
  }

  /** The node kept the room and replays what was missed: ready at once. */
  #resume(state) {
    if (state.timeline.foreignEpochs().length) {
      this.#catchUp(state); // a message of a new history waits: read the room again
      return;
    }
    state.catchUps += 1;
    state.catchingUp = false;
    this.#ready(state);
  }

  #ready(state) {
    state.ready = true;
    if (!state.settled) state.resolveJoined();
    this.#onReady(state.name);
    this.#gaps.arm(state);
  }

  /** Joins (again) with `since` and `epoch`, pages in what was missed, then makes the room ready. */
  async #catchUp(state) {
    const run = ++state.catchUps;
    const generation = this.generation;
    this.stop(state);
    state.catchingUp = true;
    try {
      for (let attempt = 0; this.#isCurrent(state, generation, run); attempt += 1) {
        const asked = state.timeline.foreignEpochs();
        state.resyncWanted = false;
        const { outcome, retryAfterMs } = await this.#joinOnce(state, () => this.#isCurrent(state, generation, run));
        if (outcome === "gone") return;
        if (outcome === "retry") {
          await this.#timers.sleep(retryAfterMs ?? backoff(attempt));
          continue;
        }
        if (outcome === "again" || this.#stillUnsure(state, asked)) {
          // Read again at once the first time; a node that keeps saying so is given time.
          if (attempt > 0) await this.#timers.sleep(backoff(attempt - 1));
          continue;
        }
        state.catchingUp = false;
        this.#ready(state);
        return;
      }
    } finally {
      if (state.catchUps === run) state.catchingUp = false;
    }
  }

  /**
   * After a catch-up: whether the room must be read again, because a new
   * epoch was heard of meanwhile or a resync was asked for. The epochs kept
   * aside before the join (`asked`) are answered by it and dropped.
   */
  #stillUnsure(state, asked) {
    state.timeline.dropForeign(asked);
    return state.resyncWanted || state.timeline.foreignEpochs().length > 0;
  }

  /**
   * One join and the pages after it. Resolves with `{outcome}`: `done`,
   * `again` (the history started over while paging: join again), `retry`
   * (no ack, or a retryable error: after `retryAfterMs` or a backoff) or
   * `gone` (stop: refused, or no longer current).
   */
  async #joinOnce(state, current) {
    const { timeline } = state;
    const position = { epoch: timeline.epoch, since: timeline.last };
    const payload = position.since === null ? { room: state.name } : {
      room: state.name, since: position.since, limit: MAX_PAGE_LIMIT,
      ...(position.epoch === null ? {} : { epoch: position.epoch }),
    };
    let ack;
    try {
      ack = await this.#requests.send(this.#socket, EVENT_JOIN, payload);
    } catch {
      return { outcome: "retry" };
    }
    if (!current()) return GONE;
    if (!ack.ok) {
      const error = ChatError.fromAck(ack);
      if (error.retryable) return { outcome: "retry", retryAfterMs: error.retryAfterMs };
      this.#onRefused(state, error);
      return GONE;
    }
    state.onServer.chat = true;
    const history = ack.history ?? [];
    if (position.since !== null && startedOver(position, ack, history)) {
      this.#restart(state, position, ack, history);
      return DONE;
    }
    this.#readPosition(state, ack);
    if (position.since === null) timeline.start(history.length ? history[0].seq - 1 : 0, ack.epoch);
    else timeline.adopt(ack.epoch);
    timeline.ingest(history, ack.gap);
    let more = position.since !== null && ack.more;
    while (more) {
      const from = { epoch: timeline.epoch, since: timeline.last };
      let page;
      try {
        page = await this.#requests.send(this.#socket, EVENT_HISTORY, {
          room: state.name, after: from.since, limit: MAX_PAGE_LIMIT,
          ...(from.epoch === null ? {} : { epoch: from.epoch }),
        });
      } catch {
        return GONE; // the connection went; the next connect catches up
      }
      if (!current()) return GONE;
      if (!page.ok) break;
      if (startedOver(from, page, page.messages)) return { outcome: "again" };
      timeline.ingest(page.messages, page.gap);
      more = page.more;
    }
    return DONE;
  }

  /** The room's history started over: its timeline restarts with the latest page. */
  #restart(state, position, ack, history) {
    this.#onStartedOver(state, {
      epoch: typeof ack.epoch === "string" ? ack.epoch : null,
      previousEpoch: position.epoch,
      previousSeq: position.since,
    });
    state.read.restart();
    this.#readPosition(state, ack, true);
    state.timeline.restart(ack.epoch ?? null, history.length ? history[0].seq - 1 : 0);
    state.timeline.ingest(history);
  }

  #readPosition(state, ack, always = false) {
    // The ack's unread already counts the entries up to last_seq.
    if (state.read.update({ seq: ack.read_seq, unread: ack.unread }, ack.last_seq) || always) this.#onRead(state);
  }
}
