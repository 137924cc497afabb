/**
 * One room's read position and unread count, as the server last said, plus
 * the messages of others delivered since.
 */
export class ReadTracker {
  constructor() {
    this.seq = 0;
    this.unread = 0;
    /** Entries up to here are counted in the server's `unread` already. */
    this.counted = 0;
    this.wanted = 0;
    this.inflight = false;
  }

  /** The room's history started over: nothing is read or counted yet. */
  restart() {
    this.seq = 0;
    this.unread = 0;
    this.counted = 0;
    this.wanted = 0;
  }

  /** A position from the server; returns true when anything changed. */
  update({ seq, unread }, counted = this.counted) {
    this.counted = Math.max(this.counted, counted, seq);
    if (!Number.isSafeInteger(seq) || seq < this.seq) return false;
    const changed = seq !== this.seq || unread !== this.unread;
    this.seq = seq;
    this.unread = unread;
    return changed;
  }

  /** A delivered entry; returns true when it made the unread count grow. */
  delivered(message, me) {
    if (message.seq <= this.counted) return false;
    this.counted = message.seq;
    if (message.kind || message.deleted || message.seq <= this.seq) return false;
    if (me !== undefined && message.user?.id === me) return false;
    this.unread += 1;
    return true;
  }
}
