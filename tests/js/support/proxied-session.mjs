// Command-line runner of whole /chat sessions over the official client, for
// the Python tests that put chatio behind nginx:
//
//   node proxied-session.mjs '{"url": ..., "timeoutMs": ..., "sessions": [...]}'
//
// Each session connects two users (alice sends, bob receives) from one
// local source address, so a proxy that hashes the client address sends
// both to the same node. The steps: connect both, join, send, receive,
// history, disconnect. All sessions run concurrently. One JSON line on
// stdout reports each session: {localAddress, ok, step, error, transport,
// seq}. The exit status is 0 whenever the report was written.
import http from "node:http";
import https from "node:https";

import { io } from "socket.io-client";

const TRANSPORT_OPTIONS = {
  polling: { transports: ["polling"], upgrade: false },
  websocket: { transports: ["websocket"] },
  // Starts on long-polling and upgrades to WebSocket, like a browser.
  upgrade: { transports: ["polling", "websocket"], upgrade: true },
};

function withTimeout(promise, ms, what) {
  let timer;
  const timeout = new Promise((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what}: no answer within ${ms} ms`)), ms);
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}

/** Resolves with the next `event`; rejects on connect_error or disconnect. */
function next(socket, event) {
  return new Promise((resolveEvent, reject) => {
    const cleanup = () => {
      socket.off(event, onEvent);
      socket.off("connect_error", onError);
      socket.off("disconnect", onDisconnect);
    };
    const onEvent = (payload) => {
      cleanup();
      resolveEvent(payload);
    };
    const onError = (err) => {
      cleanup();
      reject(new Error(`connect_error: ${err?.message ?? err}`));
    };
    const onDisconnect = (reason) => {
      cleanup();
      reject(new Error(`disconnected: ${reason}`));
    };
    socket.on(event, onEvent);
    socket.on("connect_error", onError);
    socket.on("disconnect", onDisconnect);
  });
}

function expectOk(ack, what) {
  if (ack?.ok !== true) throw new Error(`${what} failed: ${JSON.stringify(ack)}`);
  return ack;
}

async function runSession(url, timeoutMs, session) {
  const { localAddress, transport, room, text, clientId } = session;
  const secure = url.startsWith("https:");
  const Agent = secure ? https.Agent : http.Agent;
  const agent = new Agent({ localAddress, ...(secure ? { rejectUnauthorized: false } : {}) });
  const sockets = [];
  const report = { localAddress, ok: false, step: "start", error: null, transport: null, seq: null };
  const step = async (name, promise) => {
    report.step = name;
    return withTimeout(promise, timeoutMs, name);
  };
  const open = (token) => {
    const socket = io(`${url}/chat`, {
      ...TRANSPORT_OPTIONS[transport],
      auth: { token },
      agent,
      localAddress,
      rejectUnauthorized: false,
      forceNew: true,
      reconnection: false,
      autoConnect: false,
      timeout: timeoutMs,
    });
    sockets.push(socket);
    const connected = next(socket, "connect");
    socket.connect();
    return connected.then(() => socket);
  };
  try {
    const alice = await step("connect alice", open(session.alice));
    const bob = await step("connect bob", open(session.bob));
    if (transport === "upgrade") {
      for (const socket of [alice, bob]) {
        if (socket.io.engine.transport.name !== "websocket") {
          await step("upgrade", new Promise((r) => socket.io.engine.once("upgrade", r)));
        }
      }
    }
    expectOk(await step("join alice", alice.emitWithAck("join", { room })), "join");
    expectOk(await step("join bob", bob.emitWithAck("join", { room })), "join");
    const received = next(bob, "message");
    received.catch(() => {}); // awaited below; a failure earlier must not go unhandled
    const sent = expectOk(
      await step("message", alice.emitWithAck("message", { room, text, client_id: clientId })),
      "message",
    ).message;
    const live = await step("receive", received);
    if (live.seq !== sent.seq || live.text !== text) {
      throw new Error(`received ${JSON.stringify(live)}, sent ${JSON.stringify(sent)}`);
    }
    const page = expectOk(await step("history", bob.emitWithAck("history", { room })), "history");
    if (!page.messages.some((m) => m.seq === sent.seq && m.text === text)) {
      throw new Error(`history lacks seq ${sent.seq}: ${JSON.stringify(page)}`);
    }
    report.transport = alice.io.engine.transport.name;
    report.seq = sent.seq;
    report.ok = true;
    report.step = "done";
  } catch (error) {
    report.error = error.message;
  } finally {
    for (const socket of sockets) socket.disconnect();
    agent.destroy();
  }
  return report;
}

const input = JSON.parse(process.argv[2]);
const reports = await Promise.all(
  input.sessions.map((session) => runSession(input.url, input.timeoutMs, session)),
);
process.stdout.write(`${JSON.stringify(reports)}\n`);
