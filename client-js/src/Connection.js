import { Manager } from "socket.io-client";

import { ChatError } from "./ChatError.js";
import {
  CHAT_NAMESPACE, CLIENT_CLOSED, NOT_CONNECTED, PRESENCE_NAMESPACE, STATUS_CONNECTED,
  STATUS_CONNECTING, STATUS_OFFLINE, STATUS_RECONNECTING, TOKEN_EXPIRED, TYPING_NAMESPACE,
} from "./constants.js";
import { TokenSource } from "./TokenSource.js";

const MANAGER_DEFAULTS = { reconnectionDelay: 500, reconnectionDelayMax: 5_000 };
const EXPIRED_RETRY_MAX_MS = 5_000;

/**
 * The client's own Manager and its three namespace sockets: one token per
 * connection attempt, a new token after `TOKEN_EXPIRED`, the connection
 * status, and the end of it all (closed, or given up after a refusal).
 *
 * `onStatus(status)` hears every status change, `onError(error)` every error
 * worth reporting, and `onEnd(error)` runs once when the client ends, before
 * the sockets disconnect.
 */
export class Connection {
  #tokens;
  #timers;
  #onStatus;
  #onError;
  #onEnd;
  #status = STATUS_OFFLINE;
  #started = false;
  #everConnected = false;
  #closed = false;
  #fatal = null;
  #tokenVersions = new Map();
  #expiredStreak = new Map();

  constructor({ url, token, getToken, transports, managerOptions = {}, timers, onStatus, onError, onEnd }) {
    this.#tokens = new TokenSource({ token, getToken });
    this.#timers = timers;
    this.#onStatus = onStatus;
    this.#onError = onError;
    this.#onEnd = onEnd;
    this.manager = new Manager(url, {
      ...MANAGER_DEFAULTS,
      ...(transports ? { transports } : {}),
      ...managerOptions,
      autoConnect: false,
    });
    this.sockets = {
      chat: this.#socket(CHAT_NAMESPACE),
      typing: this.#socket(TYPING_NAMESPACE),
      presence: this.#socket(PRESENCE_NAMESPACE),
    };
    for (const socket of Object.values(this.sockets)) {
      socket.on("connect", () => {
        this.#expiredStreak.delete(socket);
        this.#updateStatus();
      });
      socket.on("disconnect", () => this.#updateStatus());
      socket.on("connect_error", (error) => this.#onRefused(socket, error));
    }
    this.manager.on("reconnect_failed", () => {
      this.giveUp(new ChatError(NOT_CONNECTED, "gave up reconnecting", { retryable: false }));
    });
    this.#updateStatus();
  }

  /** `connecting`, `connected` (all three namespaces), `reconnecting` or `offline`. */
  get status() {
    return this.#status;
  }

  /** Whether `close()` was called. */
  get closed() {
    return this.#closed;
  }

  /** Connects the three sockets. */
  connect() {
    this.#started = true;
    for (const socket of Object.values(this.sockets)) socket.connect();
    this.#updateStatus();
  }

  /** Ends the client for good with `CLIENT_CLOSED`. */
  close() {
    if (this.#closed) return;
    this.#closed = true;
    this.#end(new ChatError(CLIENT_CLOSED, "the client was closed", { retryable: false }));
  }

  /**
   * The client will not connect again (a refused token, or the Manager gave
   * up): it ends with `error`, which is reported after what waits was rejected.
   */
  giveUp(error) {
    if (this.#closed || this.#fatal) return;
    this.#fatal = error;
    // Rejected before listeners hear of it, so a listener that closes the
    // client does not turn the reason into CLIENT_CLOSED.
    this.#end(error);
    this.#onError(error);
  }

  /** Why calls fail at once (closed, or given up): a fresh ChatError, or null. */
  ended() {
    if (this.#closed) return new ChatError(CLIENT_CLOSED, "the client is closed", { retryable: false });
    if (this.#fatal) {
      const { code, message, retryable } = this.#fatal;
      return new ChatError(code, message, { retryable });
    }
    return null;
  }

  #end(error) {
    this.#onEnd(error);
    this.manager.reconnection(false);
    for (const socket of Object.values(this.sockets)) socket.disconnect();
    this.#updateStatus();
  }

  #socket(namespace) {
    const socket = this.manager.socket(namespace, {
      auth: (reply) => this.#authenticate(socket, reply),
    });
    return socket;
  }

  /** One token per connection attempt, shared by the three namespaces. */
  #authenticate(socket, reply) {
    const engine = this.manager.engine;
    this.#tokens.forAttempt(engine).then(
      ({ token, version }) => {
        if (this.#closed || this.manager.engine !== engine) return;
        this.#tokenVersions.set(socket, version);
        reply({ token });
      },
      (error) => {
        if (this.#closed || this.manager.engine !== engine) return;
        this.#onError(error);
        // Closing the transport makes the Manager try again, with backoff.
        engine.close();
      },
    );
  }

  #onRefused(socket, error) {
    const code = error?.data?.code;
    if (!code || this.#closed) {
      // A transport failure: the Manager retries by itself.
      this.#updateStatus();
      return;
    }
    if (code === TOKEN_EXPIRED && this.#tokens.canRefresh) {
      // socket.io-client gives up on a refused namespace: connect it again,
      // with a token fetched once for all three namespaces.
      this.#tokens.expire(this.#tokenVersions.get(socket));
      const streak = (this.#expiredStreak.get(socket) ?? 0) + 1;
      this.#expiredStreak.set(socket, streak);
      const delay = streak === 1 ? 0 : Math.min(EXPIRED_RETRY_MAX_MS, 250 * 2 ** (streak - 2));
      this.#timers.later(delay, () => socket.connect());
      return;
    }
    this.giveUp(new ChatError(code, `the node refused the connection: ${code}`, { retryable: false }));
  }

  #updateStatus() {
    let status;
    const sockets = Object.values(this.sockets);
    if (this.#closed || this.#fatal || !this.#started) status = STATUS_OFFLINE;
    else if (sockets.every((s) => s.connected)) {
      status = STATUS_CONNECTED;
      this.#everConnected = true;
    } else status = this.#everConnected ? STATUS_RECONNECTING : STATUS_CONNECTING;
    if (status !== this.#status) {
      this.#status = status;
      this.#onStatus(status);
    }
  }
}
