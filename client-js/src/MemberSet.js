import { PRESENCE_JOINED, PRESENCE_LEFT } from "./constants.js";

/**
 * The users present in one room, keyed by user id.
 *
 * While a subscribe is in flight (`beginSync`), presence events are collected;
 * `finishSync(members)` sets the list from the ack and then applies them, so
 * an event that raced the ack is neither lost nor undone. `abandonSync()`
 * ends a sync whose subscribe failed. `replace(members)` takes the node's
 * list as it is.
 */
export class MemberSet {
  #members = new Map();
  #pending = null;

  /** The members, as `[{id, name}]` sorted by name then id. */
  list() {
    return [...this.#members.values()].sort(
      (a, b) => a.name.localeCompare(b.name) || (a.id < b.id ? -1 : a.id > b.id ? 1 : 0),
    );
  }

  has(userId) {
    return this.#members.has(userId);
  }

  beginSync() {
    this.#pending = [];
  }

  /** Replaces the set with `members` and applies the collected events. */
  finishSync(members) {
    this.#members.clear();
    for (const user of members ?? []) this.#members.set(user.id, { id: user.id, name: user.name });
    const pending = this.#pending ?? [];
    this.#pending = null;
    for (const event of pending) this.#apply(event);
  }

  /**
   * Replaces the set with `members`, the node's resynchronisation after a
   * recovered connection. A subscribe in flight still applies its own list
   * and the events collected for it when its ack comes.
   */
  replace(members) {
    this.#members.clear();
    for (const user of members ?? []) {
      if (typeof user?.id === "string") this.#members.set(user.id, { id: user.id, name: user.name });
    }
  }

  /**
   * The subscribe failed: applies the collected events to the set as it is
   * and stops collecting, so later events apply at once. Returns true when
   * the set may have changed.
   */
  abandonSync() {
    const pending = this.#pending ?? [];
    this.#pending = null;
    let changed = false;
    for (const event of pending) changed = this.#apply(event) || changed;
    return changed;
  }

  /** Applies a `presence` event; returns true when the set may have changed. */
  apply(event) {
    if (this.#pending !== null) {
      this.#pending.push(event);
      return false;
    }
    return this.#apply(event);
  }

  #apply({ user, status }) {
    if (!user || typeof user.id !== "string") return false;
    if (status === PRESENCE_JOINED) {
      this.#members.set(user.id, { id: user.id, name: user.name });
      return true;
    }
    if (status === PRESENCE_LEFT) return this.#members.delete(user.id);
    return false;
  }
}
