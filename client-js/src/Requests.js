import { ChatError } from "./ChatError.js";
import { NOT_CONNECTED } from "./constants.js";

/** Events with an ack, each given `ackTimeoutMs` to answer. */
export class Requests {
  constructor({ ackTimeoutMs }) {
    this.ackTimeoutMs = ackTimeoutMs;
  }

  /** Resolves with the ack; rejects at once when `socket` is not connected, or when no ack came in time. */
  send(socket, event, payload) {
    if (!socket.connected) {
      return Promise.reject(new ChatError(NOT_CONNECTED, "not connected", { retryable: true }));
    }
    return socket.timeout(this.ackTimeoutMs).emitWithAck(event, payload);
  }

  /** Resolves with an `ok` ack; anything else rejects as a ChatError. */
  async call(socket, event, payload) {
    let ack;
    try {
      ack = await this.send(socket, event, payload);
    } catch (error) {
      throw error instanceof ChatError ? error : new ChatError(NOT_CONNECTED, error.message, { retryable: true });
    }
    if (!ack?.ok) throw ChatError.fromAck(ack);
    return ack;
  }
}
