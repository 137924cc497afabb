// Official socket.io-client sockets driven over stdin/stdout, one JSON
// object per line, so that Python tests which start and kill processes can
// use the real JavaScript client.
//
// Requests (each with a numeric "id", answered by {"id", "ok", ...}):
//   {"op": "connect", "client": NAME, "url": URL, "token": TOKEN,
//    "namespaces": ["/chat", ...], "transports": ["websocket"],
//    "localAddress": "127.0.0.2" (optional), "reconnection": false}
//       one Manager per client; resolves when every namespace connected.
//   {"op": "call", "client": NAME, "namespace": NS, "event": E, "payload": P,
//    "timeoutMs": 5000}     emitWithAck; answers {"id", "ok": true, "ack"}.
//   {"op": "transport", "client": NAME}   answers the engine's transport name.
//   {"op": "close", "client": NAME}       disconnects every namespace.
//   {"op": "drop", "client": NAME}        closes the transport as a lost
//       network would; with reconnection on, the client comes back.
//   {"op": "rebind", "client": NAME, "localAddress": A}   later
//       connections of the client leave from address A.
//   {"op": "session", "client": NAME, "namespace": NS}   answers the
//       socket's recovery state: {"sid", "pid", "offset"}.
// A connect may carry "sessions": {NS: {"pid", "offset"}}: each socket
// starts as if it had held that session (a reconnect from elsewhere).
//   {"op": "exit"}
// Every event a socket receives is written as
//   {"event": E, "client": NAME, "namespace": NS, "args": [...]}
// and connection changes as {"status": "connect" | "disconnect" |
// "connect_error", "client", "namespace", "reason"}; a "connect" also says
// whether the socket was "recovered" and its "sid".
import http from "node:http";
import readline from "node:readline";
import { Manager } from "socket.io-client";

const clients = new Map();

function write(object) {
  process.stdout.write(JSON.stringify(object) + "\n");
}

function connectSocket(socket, timeoutMs) {
  if (socket.connected) return Promise.resolve();
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      cleanup();
      reject(new Error(`${socket.nsp}: not connected within ${timeoutMs} ms`));
    }, timeoutMs);
    const onConnect = () => { cleanup(); resolve(); };
    const onError = (error) => {
      cleanup();
      reject(new Error(`${socket.nsp}: ${error.message} ${JSON.stringify(error.data ?? null)}`));
    };
    function cleanup() {
      clearTimeout(timer);
      socket.off("connect", onConnect);
      socket.off("connect_error", onError);
    }
    socket.on("connect", onConnect);
    socket.on("connect_error", onError);
    socket.connect();
  });
}

async function connect(request) {
  const { client: name, url, token, namespaces, transports, localAddress } = request;
  const agent = localAddress ? new http.Agent({ localAddress, keepAlive: true }) : false;
  const manager = new Manager(url, {
    transports: transports ?? ["websocket"],
    reconnection: request.reconnection ?? false,
    reconnectionDelay: 100,
    reconnectionDelayMax: 500,
    autoConnect: false,
    agent,
  });
  const sockets = new Map();
  for (const namespace of namespaces) {
    const socket = manager.socket(namespace, { auth: { token } });
    const session = request.sessions?.[namespace];
    if (session) {
      socket._pid = session.pid;
      socket._lastOffset = session.offset;
    }
    socket.onAny((event, ...args) => write({ event, client: name, namespace, args }));
    for (const status of ["connect", "disconnect", "connect_error"]) {
      socket.on(status, (reason) => write({
        status, client: name, namespace,
        reason: reason instanceof Error ? reason.message : reason ?? null,
        ...(status === "connect" ? { recovered: socket.recovered, sid: socket.id } : {}),
      }));
    }
    sockets.set(namespace, socket);
  }
  clients.set(name, { manager, sockets, agent });
  await Promise.all([...sockets.values()].map(
    (socket) => connectSocket(socket, request.timeoutMs ?? 10_000)));
  return {};
}

function socketOf(request) {
  const client = clients.get(request.client);
  if (!client) throw new Error(`no client ${request.client}`);
  const socket = client.sockets.get(request.namespace);
  if (!socket) throw new Error(`${request.client} has no ${request.namespace}`);
  return socket;
}

async function call(request) {
  const socket = socketOf(request);
  const ack = await socket.timeout(request.timeoutMs ?? 5_000)
    .emitWithAck(request.event, request.payload);
  return { ack };
}

function close(request) {
  const client = clients.get(request.client);
  if (client) {
    for (const socket of client.sockets.values()) socket.disconnect();
    if (client.agent) client.agent.destroy();
    clients.delete(request.client);
  }
  return {};
}

function transport(request) {
  const client = clients.get(request.client);
  return { transport: client?.manager.engine?.transport?.name ?? null };
}

function drop(request) {
  const client = clients.get(request.client);
  if (!client) throw new Error(`no client ${request.client}`);
  client.manager.engine?.close();
  return {};
}

function rebind(request) {
  const client = clients.get(request.client);
  if (!client) throw new Error(`no client ${request.client}`);
  const agent = new http.Agent({ localAddress: request.localAddress, keepAlive: true });
  client.manager.opts.agent = agent;
  client.agent?.destroy?.();
  client.agent = agent;
  return {};
}

function session(request) {
  const socket = socketOf(request);
  return { sid: socket.id ?? null, pid: socket._pid ?? null, offset: socket._lastOffset ?? null };
}

const operations = { connect, call, close, transport, drop, rebind, session };

const lines = readline.createInterface({ input: process.stdin });
lines.on("line", async (line) => {
  const request = JSON.parse(line);
  if (request.op === "exit") {
    for (const name of [...clients.keys()]) close({ client: name });
    process.exit(0);
  }
  try {
    const operation = operations[request.op];
    if (!operation) throw new Error(`unknown op ${request.op}`);
    write({ id: request.id, ok: true, ...(await operation(request)) });
  } catch (error) {
    write({ id: request.id, ok: false, error: String(error?.message ?? error) });
  }
});
lines.on("close", () => process.exit(0));
