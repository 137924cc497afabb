// Per-room delivery in seq order, exactly once, when the network reorders,
// repeats or loses live messages. The test stands between the /chat socket
// and the client's handler, like a lossy path between nodes would.
import assert from "node:assert/strict";
import { EventEmitter } from "node:events";
import { after, afterEach, before, describe, it } from "node:test";

import { ClientPool, roomName } from "./support/clients.mjs";
import { signToken, startServer } from "./support/server.mjs";
import { Inbox, range, waitFor } from "./support/wait.mjs";

let server;
const pool = new ClientPool();

before(async () => {
  server = await startServer({ name: "client-ordering", env: { CHATIO_RATE_MESSAGES: "0" } });
});
after(async () => {
  pool.closeAll();
  await server?.dispose();
});
afterEach(() => pool.closeAll());

/** Puts a filter in front of the client's live `message` handler. */
function intercept(client) {
  const chat = client.sockets.chat;
  const [handler] = chat.listeners("message");
  chat.off("message", handler);
  const net = Object.assign(new EventEmitter(), {
    hold: new Set(), drop: new Set(), repeat: false, held: [],
    release() {
      for (const message of net.held.splice(0)) handler(message);
    },
  });
  chat.on("message", (message) => {
    net.emit("seen", message);
    if (net.drop.has(message.seq)) return;
    if (net.hold.has(message.seq)) {
      net.held.push(message);
      return;
    }
    handler(message);
    if (net.repeat) handler(message);
  });
  return net;
}

async function pair(bobOptions = {}) {
  const room = roomName("order");
  const ann = await pool.connected({ url: server.url, token: signToken(server.secret, { sub: "ann" }) });
  const bob = await pool.connected({ url: server.url, token: signToken(server.secret, { sub: "bob" }), ...bobOptions });
  await Promise.all([ann.join(room), bob.join(room)]);
  return { room, ann, bob, inbox: new Inbox(bob) };
}

async function sendAll(client, room, count) {
  for (const i of range(1, count)) await client.send(room, `m${i}`);
}

describe("ordering", () => {
  it("holds back a message that arrives early until the one before it comes", async () => {
    // No gap fill within the test: only the late live message can fill the hole.
    const { room, ann, bob, inbox } = await pair({ gapFillDelayMs: 60_000 });
    const net = intercept(bob);
    net.hold.add(2);
    const third = waitFor(net, "seen", (m) => m.seq === 3);
    await sendAll(ann, room, 3);
    await third;
    assert.deepEqual(inbox.seqs(room), [1]);
    net.release();
    assert.deepEqual(inbox.seqs(room), [1, 2, 3]);
  });

  it("drops repeated messages", async () => {
    const { room, ann, bob, inbox } = await pair();
    const net = intercept(bob);
    net.repeat = true;
    await sendAll(ann, room, 4);
    await inbox.reach(room, 4);
    assert.deepEqual(inbox.seqs(room), [1, 2, 3, 4]);
  });

  it("fills a gap that live delivery leaves open from history", async () => {
    const { room, ann, bob, inbox } = await pair({ gapFillDelayMs: 300 });
    const net = intercept(bob);
    net.drop.add(2);
    net.drop.add(3);
    await sendAll(ann, room, 5);
    await inbox.reach(room, 5);
    assert.deepEqual([...net.drop], [2, 3]);
    assert.deepEqual(inbox.texts(room), ["m1", "m2", "m3", "m4", "m5"]);
  });

  it("fills a hole at the end of a long run, paging history", async () => {
    const { room, ann, bob, inbox } = await pair({ gapFillDelayMs: 200 });
    const net = intercept(bob);
    for (const seq of range(1, 249)) net.drop.add(seq);
    const last = waitFor(net, "seen", (m) => m.seq === 250);
    await sendAll(ann, room, 250);
    await last;
    await inbox.reach(room, 250);
    assert.deepEqual(inbox.seqs(room), range(1, 250));
  });
});
