// ChatClient against a real chatio node: rooms, messages, history, typing,
// presence and the connection status.
import assert from "node:assert/strict";
import { after, afterEach, before, describe, it } from "node:test";

import { ChatError } from "../src/index.js";
import { ClientPool, roomName } from "./support/clients.mjs";
import { signToken, startServer } from "./support/server.mjs";
import { Inbox, range, until, waitFor } from "./support/wait.mjs";

let server;
const pool = new ClientPool();

before(async () => {
  server = await startServer({
    name: "client-basics",
    env: { CHATIO_PRESENCE_GRACE: "0.3", CHATIO_RATE_MESSAGES: "0", CHATIO_RATE_TYPING: "0" },
  });
});
after(async () => {
  pool.closeAll();
  await server?.dispose();
});
afterEach(() => pool.closeAll());

function user(id, options = {}) {
  return pool.connected({
    url: server.url,
    token: signToken(server.secret, { sub: id, name: id.toUpperCase() }),
    ...options,
  });
}

describe("ChatClient", () => {
  it("shares one connection between its three namespaces, on a Manager of its own", async () => {
    const ann = await user("ann");
    const bob = await user("bob");
    const ids = Object.values(ann.sockets).map((s) => s.io.engine.id);
    assert.equal(new Set(ids).size, 1);
    assert.notEqual(ann.manager, bob.manager);
    assert.notEqual(ann.manager.engine.id, bob.manager.engine.id);
  });

  it("reports connecting, then connected, then offline after close", async () => {
    const statuses = [];
    const client = pool.create({ url: server.url, token: signToken(server.secret, { sub: "cy" }), autoConnect: false });
    client.on("status", (s) => statuses.push(s));
    assert.equal(client.status, "offline");
    client.connect();
    await waitFor(client, "status", (s) => s === "connected");
    client.close();
    assert.deepEqual(statuses, ["connecting", "connected", "offline"]);
  });

  it("joins, sends and receives in seq order, own messages included", async () => {
    const room = roomName("chat");
    const ann = await user("ann");
    const bob = await user("bob");
    const annInbox = new Inbox(ann);
    const bobInbox = new Inbox(bob);
    await Promise.all([ann.join(room), bob.join(room)]);
    const sent = await ann.send(room, "  hello bob ");
    assert.equal(sent.text, "hello bob");
    assert.equal(sent.seq, 1);
    assert.deepEqual(sent.user, { id: "ann", name: "ANN" });
    assert.match(sent.client_id, /^[0-9a-f]{32}$/);
    const reply = await bob.send(room, "hi ann");
    await annInbox.reach(room, 2);
    await bobInbox.reach(room, 2);
    assert.deepEqual(annInbox.byRoom.get(room), [sent, reply]);
    assert.deepEqual(bobInbox.byRoom.get(room), [sent, reply]);
    assert.equal(ann.lastSeq(room), 2);
  });

  it("delivers a room's recent messages on join, and pages older ones with history", async () => {
    const room = roomName("hist");
    const ann = await user("ann");
    await ann.join(room);
    for (const i of range(1, 60)) await ann.send(room, `m${i}`);
    const bob = await user("bob");
    const inbox = new Inbox(bob);
    await bob.join(room);
    assert.deepEqual(inbox.seqs(room), range(11, 60));
    const page = await bob.history(room, { before: 11, limit: 5 });
    assert.deepEqual(page.messages.map((m) => m.seq), range(6, 10));
    assert.equal(page.more, true);
  });

  it("rejects a send the server refuses, and one to a room not joined", async () => {
    const room = roomName("bad");
    const ann = await user("ann");
    await ann.join(room);
    await assert.rejects(ann.send(room, "   "), (e) => e instanceof ChatError && e.code === "INVALID_PAYLOAD" && !e.retryable);
    await assert.rejects(ann.send(roomName("other"), "x"), (e) => e.code === "NOT_IN_ROOM");
    await assert.rejects(ann.join("no spaces allowed"), (e) => e.code === "INVALID_PAYLOAD");
  });

  it("rejects a join the token forbids", async () => {
    const ann = await user("ann", { token: signToken(server.secret, { sub: "ann", rooms: ["team-*"] }) });
    await assert.rejects(ann.join(roomName("lobby")), (e) => e.code === "FORBIDDEN");
    assert.deepEqual(ann.rooms(), []);
  });

  it("keeps the member list as a set, and reports presence", async () => {
    const room = roomName("presence");
    const ann = await user("ann");
    const bob = await user("bob");
    await ann.join(room);
    await until(ann, "members", () => ann.members(room).length === 1);
    assert.deepEqual(ann.members(room), [{ id: "ann", name: "ANN" }]);
    const joined = waitFor(ann, "presence", (e) => e.user.id === "bob" && e.status === "joined");
    await bob.join(room);
    await joined;
    await until(ann, "members", () => ann.members(room).length === 2);
    assert.deepEqual(ann.members(room).map((m) => m.id), ["ann", "bob"]);
    await until(bob, "members", () => bob.members(room).length === 2);
    const left = waitFor(ann, "members", ({ members }) => members.length === 1);
    await bob.leave(room);
    assert.deepEqual((await left).members, [{ id: "ann", name: "ANN" }]);
    assert.deepEqual(bob.rooms(), []);
  });

  /**
   * Makes the first presence `subscribe` of `client` report `failure`: the
   * request still reaches the node, only the ack the client sees is replaced.
   */
  function failFirstSubscribe(client, failure) {
    const socket = client.sockets.presence;
    const emitWithAck = socket.emitWithAck.bind(socket);
    const calls = [];
    socket.emitWithAck = async (event, payload) => {
      const ack = await emitWithAck(event, payload);
      if (event !== "subscribe") return ack;
      calls.push(payload.room);
      return calls.length === 1 ? { ok: false, error: failure } : ack;
    };
    return calls;
  }

  it("keeps the member list live after a subscribe that fails for good", async () => {
    const room = roomName("presence-refused");
    const ann = await user("ann");
    const calls = failFirstSubscribe(ann, { code: "FORBIDDEN", message: "not now", retryable: false });
    const refused = waitFor(ann, "error", (e) => e.code === "FORBIDDEN");
    await ann.join(room);
    await refused;
    const bob = await user("bob");
    await bob.join(room);
    await until(ann, "members", () => ann.members(room).some((m) => m.id === "bob"));
    const left = waitFor(ann, "members", ({ members }) => !members.some((m) => m.id === "bob"));
    await bob.leave(room);
    await left;
    assert.deepEqual(calls, [room]);
  });

  it("subscribes again after a retryable subscribe failure", async () => {
    const room = roomName("presence-retry");
    const ann = await user("ann");
    const calls = failFirstSubscribe(ann, {
      code: "UNAVAILABLE", message: "busy", retryable: true, details: { retry_after_ms: 50 },
    });
    const errors = [];
    ann.on("error", (e) => errors.push(e.code));
    await ann.join(room);
    // The set the second ack brings.
    await until(ann, "members", () => calls.length === 2);
    assert.deepEqual(ann.members(room), [{ id: "ann", name: "ANN" }]);
    assert.deepEqual(calls, [room, room]);
    const bob = await user("bob");
    await bob.join(room);
    await until(ann, "members", () => ann.members(room).length === 2);
    assert.deepEqual(errors, []);
  });

  it("debounces typing: true at most once a second, false after the idle time, none on send", async () => {
    const room = roomName("typing");
    const ann = await user("ann", { typingIntervalMs: 1_000, typingIdleMs: 600 });
    const bob = await user("bob");
    await Promise.all([ann.join(room), bob.join(room)]);
    const seen = [];
    bob.on("typing", (e) => seen.push(e.typing));
    const wire = [];
    const emit = ann.sockets.typing.emit.bind(ann.sockets.typing);
    ann.sockets.typing.emit = (event, payload, ...rest) => {
      if (event === "typing") wire.push(payload.typing);
      return emit(event, payload, ...rest);
    };
    const started = waitFor(bob, "typing", (e) => e.typing === true && e.user.id === "ann");
    for (let i = 0; i < 5; i += 1) ann.typing(room);
    await started;
    assert.deepEqual(bob.typingUsers(room), [{ id: "ann", name: "ANN" }]);
    await waitFor(bob, "typing", (e) => e.typing === false);
    assert.deepEqual(wire, [true, false]);
    assert.deepEqual(bob.typingUsers(room), []);

    // Typing, then sending: the server clears it, the client sends no false.
    const again = waitFor(bob, "typing", (e) => e.typing === true);
    ann.typing(room);
    await again;
    const cleared = waitFor(bob, "typing", (e) => e.typing === false);
    await ann.send(room, "done typing");
    await cleared;
    assert.deepEqual(wire, [true, false, true]);
    assert.deepEqual(seen, [true, false, true, false]);
  });
});
