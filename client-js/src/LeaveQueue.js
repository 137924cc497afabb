/**
 * The leaves (or unsubscribes) of one namespace socket that got no ack. A
 * recovered connection still has those rooms, so they are sent again then;
 * a new connection has none, and they are forgotten.
 */
export class LeaveQueue {
  #socket;
  #event;
  #requests;
  #rooms = new Set();

  constructor({ socket, event, requests }) {
    this.#socket = socket;
    this.#event = event;
    this.#requests = requests;
  }

  /** Sends `event {room}`; resolves with its ack, or null when none came. */
  async leave(room) {
    try {
      const ack = await this.#requests.send(this.#socket, this.#event, { room });
      this.#rooms.delete(room);
      return ack;
    } catch {
      this.#rooms.add(room);
      return null;
    }
  }

  /** The room is wanted again: no leave for it is owed. */
  cancel(room) {
    this.#rooms.delete(room);
  }

  /** The socket connected: owed leaves go out if it was recovered, else they are moot. */
  connected(recovered) {
    const rooms = [...this.#rooms];
    this.#rooms.clear();
    if (recovered) for (const room of rooms) this.leave(room);
  }
}
