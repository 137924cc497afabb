import { RETRYABLE_CODES } from "./constants.js";

/** An error from the chatio protocol (`{code, message, retryable, details}`). */
export class ChatError extends Error {
  constructor(code, message, { retryable, details } = {}) {
    super(message || code);
    this.name = "ChatError";
    this.code = code;
    this.retryable = retryable ?? RETRYABLE_CODES.includes(code);
    if (details !== undefined) this.details = details;
  }

  /** Milliseconds the server asked to wait before retrying, if it said. */
  get retryAfterMs() {
    const ms = this.details?.retry_after_ms;
    return Number.isFinite(ms) ? ms : undefined;
  }

  /** The error of an `{ok: false, error}` ack. */
  static fromAck(ack) {
    const error = ack?.error ?? {};
    return new ChatError(error.code ?? "INTERNAL", error.message, {
      retryable: error.retryable,
      details: error.details,
    });
  }
}
