/**
 * Reaction deltas de-duplicated: a delta that does not change what is known
 * of a message's emoji (its count, and the reacting user's state) is dropped,
 * so a delta seen twice (live and in an ack) is applied once.
 */
export class ReactionLedger {
  #known = new Map();

  /** Returns true when `delta` ({room, seq, emoji, count, on, user}) is news. */
  apply(delta) {
    const key = `${delta.room}\u0000${delta.seq}\u0000${delta.emoji}`;
    let entry = this.#known.get(key);
    if (!entry) {
      entry = { count: null, users: new Map() };
      this.#known.set(key, entry);
    }
    const userId = delta.user?.id;
    if (entry.count === delta.count && entry.users.get(userId) === delta.on) return false;
    entry.count = delta.count;
    if (userId !== undefined) entry.users.set(userId, delta.on);
    return true;
  }

  /** Forgets a room (after leaving it). */
  forget(room) {
    for (const key of this.#known.keys()) if (key.startsWith(`${room}\u0000`)) this.#known.delete(key);
  }
}
