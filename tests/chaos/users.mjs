// The chaos run's users: many chatio-client ChatClients in one Node.js
// process, each in a few shared rooms, sending with client_id (the library
// retries) and recording every ack and every message delivered.
//
//   node users.mjs CONFIG.json
//
// CONFIG: {url, seed, sendIntervalMs, ackTimeoutMs, connectBatch,
//          users: [{id, token, rooms: [...], localAddress, transports}]}
// Commands on stdin, one JSON object per line; one reply per command on
// stdout, as {"reply": CMD, ...}:
//   {"cmd": "start"}                          connect and join everyone
//   {"cmd": "send"}                           start sending
//   {"cmd": "drain", "timeoutMs"}             stop sending, await every ack
//   {"cmd": "await", "targets": {room: seq}, "timeoutMs"}
//                                             until every view reaches target
//   {"cmd": "status"}                         each user's status, the last connect
//   {"cmd": "report", "path"}                 write what was recorded
//   {"cmd": "close"}                          close every client and exit
import fs from "node:fs";
import http from "node:http";
import readline from "node:readline";

import { ChatClient } from "../../client-js/src/index.js";

const config = JSON.parse(fs.readFileSync(process.argv[2], "utf8"));

function rng(seed) {
  // mulberry32: small, seedable, good enough for timings.
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

function seedOf(text) {
  let hash = 2166136261;
  for (const char of text) hash = Math.imul(hash ^ char.charCodeAt(0), 16777619);
  return hash >>> 0;
}

function withTimeout(promise, ms, what) {
  let timer;
  return Promise.race([
    promise,
    new Promise((_, reject) => {
      timer = setTimeout(() => reject(new Error(`${what}: no answer within ${ms} ms`)), ms);
    }),
  ]).finally(() => clearTimeout(timer));
}

class User {
  constructor(spec) {
    this.id = spec.id;
    this.rooms = spec.rooms;
    this.random = rng(seedOf(`${config.seed}:${spec.id}`));
    this.views = Object.fromEntries(spec.rooms.map((room) => [room, []]));
    this.sends = [];
    this.inflight = new Set();
    this.status = "offline";
    this.reconnects = 0;
    this.connectedAt = 0;
    this.errors = {};
    this.timer = null;
    this.sending = false;
    this.agent = new http.Agent({ localAddress: spec.localAddress, keepAlive: true });
    this.client = new ChatClient({
      url: config.url,
      token: spec.token,
      userId: spec.id,
      transports: spec.transports,
      ackTimeoutMs: config.ackTimeoutMs,
      managerOptions: { agent: this.agent, localAddress: spec.localAddress },
      autoConnect: false,
    });
    this.client.on("message", (message) => {
      this.views[message.room]?.push([message.seq, message.id]);
    });
    this.client.on("status", (status) => {
      if (status === "reconnecting" && this.status === "connected") this.reconnects += 1;
      if (status === "connected") this.connectedAt = Date.now();
      this.status = status;
    });
    this.client.on("error", (error) => {
      const code = error?.code ?? "ERROR";
      this.errors[code] = (this.errors[code] ?? 0) + 1;
    });
  }

  async start(timeoutMs) {
    this.client.connect();
    await withTimeout(Promise.all(this.rooms.map((room) => this.client.join(room))),
      timeoutMs, `${this.id} joining ${this.rooms}`);
  }

  startSending() {
    this.sending = true;
    this.#schedule();
  }

  stopSending() {
    this.sending = false;
    clearTimeout(this.timer);
  }

  #schedule() {
    if (!this.sending) return;
    const delay = -Math.log(1 - this.random()) * config.sendIntervalMs;
    this.timer = setTimeout(() => {
      this.#send();
      this.#schedule();
    }, delay);
  }

  #send() {
    const room = this.rooms[Math.floor(this.random() * this.rooms.length)];
    const record = { room, user: this.id, text: `${this.id}#${this.sends.length + 1}`, status: "pending" };
    this.sends.push(record);
    const done = this.client.send(room, record.text).then(
      (message) => Object.assign(record, {
        status: "acked", id: message.id, seq: message.seq, client_id: message.client_id,
      }),
      (error) => Object.assign(record, { status: "failed", error: `${error?.code}: ${error?.message}` }),
    ).finally(() => this.inflight.delete(done));
    this.inflight.add(done);
  }

  lastSeq(room) {
    const view = this.views[room];
    return view.length ? view[view.length - 1][0] : 0;
  }
}

const users = config.users.map((spec) => new User(spec));

function write(object) {
  process.stdout.write(`${JSON.stringify(object)}\n`);
}

async function start() {
  const batch = config.connectBatch;
  const failed = [];
  for (let i = 0; i < users.length; i += batch) {
    const results = await Promise.allSettled(
      users.slice(i, i + batch).map((user) => user.start(config.joinTimeoutMs)));
    results.forEach((result, j) => {
      if (result.status === "rejected") failed.push(`${users[i + j].id}: ${result.reason?.message}`);
    });
  }
  return { joined: users.length - failed.length, failed };
}

async function drain(timeoutMs) {
  for (const user of users) user.stopSending();
  const inflight = users.flatMap((user) => [...user.inflight]);
  try {
    await withTimeout(Promise.all(inflight), timeoutMs, "draining the sends");
  } catch {
    // reported as pending
  }
  return { pending: users.reduce((n, user) => n + user.inflight.size, 0) };
}

async function awaitTargets(targets, timeoutMs) {
  const deadline = Date.now() + timeoutMs;
  const behind = () => users.flatMap((user) => user.rooms
    .filter((room) => user.lastSeq(room) < (targets[room] ?? 0))
    .map((room) => `${user.id}/${room}@${user.lastSeq(room)}<${targets[room]}`));
  for (;;) {
    const late = behind();
    if (!late.length || Date.now() >= deadline) return { behind: late };
    // The views grow from socket events; this polls them.
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

function statuses() {
  return {
    statuses: Object.fromEntries(users.map((user) => [user.id, user.status])),
    lastConnectedAt: Math.max(0, ...users.map((user) => user.connectedAt)),
  };
}

function report(path) {
  const data = {
    sends: users.flatMap((user) => user.sends),
    views: Object.fromEntries(users.map((user) => [user.id, user.views])),
    ...statuses(),
    rooms: Object.fromEntries(users.map((user) => [user.id, user.rooms])),
    reconnects: users.reduce((n, user) => n + user.reconnects, 0),
    errors: users.reduce((all, user) => {
      for (const [code, count] of Object.entries(user.errors)) all[code] = (all[code] ?? 0) + count;
      return all;
    }, {}),
  };
  fs.writeFileSync(path, JSON.stringify(data));
  return {};
}

const commands = {
  start: () => start(),
  send: () => {
    for (const user of users) user.startSending();
    return {};
  },
  drain: ({ timeoutMs }) => drain(timeoutMs),
  await: ({ targets, timeoutMs }) => awaitTargets(targets, timeoutMs),
  status: () => statuses(),
  report: ({ path }) => report(path),
  close: () => {
    for (const user of users) {
      user.stopSending();
      user.client.close();
      user.agent.destroy();
    }
    setImmediate(() => process.exit(0));
    return {};
  },
};

const lines = readline.createInterface({ input: process.stdin });
lines.on("line", async (line) => {
  const request = JSON.parse(line);
  try {
    write({ reply: request.cmd, ok: true, ...(await commands[request.cmd](request)) });
  } catch (error) {
    write({ reply: request.cmd, ok: false, error: String(error?.stack ?? error) });
  }
});
lines.on("close", () => process.exit(0));
