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

  /** Empties the set; returns the users who were in it. */
  clear() {
    const users = this.list();
    this.#users.clear();
    return users;
  }
}
