/** Who is typing in one room, keyed by user id. */
export class TypingSet {
  #users = new Map();

  list() {
    return [...this.#users.values()];
  }

  /** Sets the user's state; returns true if it changed. */
  set(user, typing) {
    if (!user || typeof user.id !== "string") return false;
    if (typing) {
      const known = this.#users.get(user.id);
      this.#users.set(user.id, { id: user.id, name: user.name });
      return !known || known.name !== user.name;
    }
    return this.#users.delete(user.id);
  }

  /**
   * Makes `users` the set, the node's resynchronisation after a recovered
   * connection; returns the changes, `[{user, typing}]`.
   */
  replace(users) {
    const wanted = new Map();
    for (const user of users ?? []) {
      if (typeof user?.id === "string") wanted.set(user.id, { id: user.id, name: user.name });
    }
    const changes = [];
    for (const user of this.list()) {
      if (!wanted.has(user.id) && this.set(user, false)) changes.push({ user, typing: false });
    }
    for (const user of wanted.values()) {
      if (this.set(user, true)) changes.push({ user, typing: true });
    }
    return changes;
  }

  /** Empties the set; returns the users who were in it. */
  clear() {
    const users = this.list();
    this.#users.clear();
    return users;
  }
}
