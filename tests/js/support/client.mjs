// socket.io-client helpers: connecting, awaiting events and acks, with
// explicit timeouts everywhere.
import { io } from "socket.io-client";

export const TRANSPORTS = ["websocket", "polling"];
export const EVENT_TIMEOUT_MS = 5_000;
export const ACK_TIMEOUT_MS = 5_000;

/**
 * Socket.IO options for one transport. With `transports: ["polling"]` the
 * client never probes websocket, so it stays on long-polling (the tests
 * check `socket.io.engine.transport.name`).
 */
export function transportOptions(transport) {
  return { transports: [transport] };
}

/** An unconnected /chat socket (autoConnect off); call `.connect()`. */
export function chatSocket(url, transport, { token, auth, ...options } = {}) {
  return io(`${url}/chat`, {
    auth: auth ?? (token === undefined ? undefined : { token }),
    ...transportOptions(transport),
    forceNew: true,
    autoConnect: false,
    reconnectionDelay: 100,
    reconnectionDelayMax: 500,
    ...options,
  });
}

/**
 * Resolves with the first argument of the next `event` on `emitter` (with
 * all of them, as an array, when `allArgs` is set); rejects after `timeoutMs`
 * or, when given, on the first `rejectOn` event.
 */
export function nextEvent(
  emitter,
  event,
  { timeoutMs = EVENT_TIMEOUT_MS, rejectOn, allArgs = false } = {},
) {
  return new Promise((resolveEvent, reject) => {
    const onEvent = (...args) => {
      cleanup();
      resolveEvent(allArgs ? args : args[0]);
    };
    const onReject = (error) => {
      cleanup();
      reject(error instanceof Error ? error : new Error(`${rejectOn}: ${JSON.stringify(error)}`));
    };
    const timer = setTimeout(() => {
      cleanup();
      reject(new Error(`no "${event}" event within ${timeoutMs} ms`));
    }, timeoutMs);
    function cleanup() {
      clearTimeout(timer);
      emitter.off(event, onEvent);
      if (rejectOn) emitter.off(rejectOn, onReject);
    }
    emitter.on(event, onEvent);
    if (rejectOn) emitter.on(rejectOn, onReject);
  });
}

/** Records every payload of `event` on `emitter` until `stop()`. */
export function collect(emitter, event) {
  const seen = [];
  const listener = (payload) => seen.push(payload);
  emitter.on(event, listener);
  return { seen, stop: () => emitter.off(event, listener) };
}

/** Connect `socket` and resolve once it is connected; rejects on connect_error. */
export async function connect(socket, { timeoutMs = EVENT_TIMEOUT_MS } = {}) {
  const connected = nextEvent(socket, "connect", { timeoutMs, rejectOn: "connect_error" });
  socket.connect();
  await connected;
  return socket;
}

/**
 * Connect and resolve with the connect_error that refused the socket; rejects
 * if the server accepts the connection or does not answer in time.
 */
export function refusal(socket, { timeoutMs = EVENT_TIMEOUT_MS } = {}) {
  return new Promise((resolveRefusal, reject) => {
    const timer = setTimeout(
      () => finish(new Error(`no connect_error within ${timeoutMs} ms`)),
      timeoutMs,
    );
    const onRefused = (err) => finish(null, err);
    const onConnected = () =>
      finish(new Error("the server accepted a connection it should refuse"));
    function finish(error, err) {
      clearTimeout(timer);
      socket.off("connect_error", onRefused);
      socket.off("connect", onConnected);
      socket.disconnect();
      if (error) reject(error);
      else resolveRefusal(err);
    }
    socket.on("connect_error", onRefused);
    socket.on("connect", onConnected);
    socket.connect();
  });
}

/** A connected /chat socket. */
export async function connected(url, transport, options) {
  return connect(chatSocket(url, transport, options));
}

/** Emit with an ack callback and resolve with the ack (rejects on timeout). */
export function request(socket, event, ...args) {
  return socket.timeout(ACK_TIMEOUT_MS).emitWithAck(event, ...args);
}

/**
 * Send a raw EVENT packet with an ack id, bypassing the client's refusal to
 * emit reserved names such as "connect" or "disconnect". `data` is the whole
 * packet data array: [eventName, ...args]. Uses socket.io-client 4.x
 * internals (ids, acks, packet), pinned by the lockfile.
 */
export function rawRequest(socket, data, { timeoutMs = ACK_TIMEOUT_MS } = {}) {
  return new Promise((resolveAck, reject) => {
    const id = socket.ids++;
    const timer = setTimeout(() => {
      delete socket.acks[id];
      reject(new Error(`no ack for raw packet ${JSON.stringify(data).slice(0, 80)} within ${timeoutMs} ms`));
    }, timeoutMs);
    socket.acks[id] = (...args) => {
      clearTimeout(timer);
      resolveAck(args[0]);
    };
    // type 2 is EVENT in the Socket.IO protocol
    socket.packet({ type: 2, data, id });
  });
}

/** Disconnect every socket given (ignoring ones already closed). */
export function closeAll(sockets) {
  for (const socket of sockets.splice(0)) {
    socket.io.reconnection(false);
    socket.disconnect();
    socket.io.engine?.close();
  }
}

let counter = 0;
/** A fresh, valid room name. */
export function roomName(prefix = "room") {
  counter += 1;
  return `${prefix}-${process.pid}-${Date.now().toString(36)}-${counter}`;
}
