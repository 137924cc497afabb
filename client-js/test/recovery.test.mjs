// ChatClient on a recovered connection, with its real socket.io-client
// sockets fed packets by the test instead of a node: CONNECT replies with
// {sid, pid}, events with an offset argument, acks from a stub.
import assert from "node:assert/strict";
import { afterEach, describe, it } from "node:test";

import { ChatClient } from "../src/index.js";
import { settle } from "./support/fakeSocket.mjs";
import { until, waitFor } from "./support/wait.mjs";

const CONNECT = 0;
const EVENT = 2;
const EPOCH = "0123456789abcdef";

const ann = { id: "ann", name: "Ann" };
const bob = { id: "bob", name: "Bob" };
const entry = (seq, user = bob) => ({ id: `m${seq}`, room: "lobby", seq, epoch: EPOCH, user, text: `m${seq}`, ts: seq });

/** A ChatClient whose sockets never reach a network: the test is the node. */
function stubbedClient() {
  const client = new ChatClient({ url: "http://127.0.0.1:9", token: "t", autoConnect: false, gapFillDelayMs: 20 });
  const sent = [];
  const node = {
    sent,
    answer: () => ({ ok: true }),
    /** The events a namespace was sent, and forgets them. */
    take(nsp, event) {
      const taken = sent.filter((s) => s.nsp === nsp && s.event === event).map((s) => s.payload);
      sent.splice(0, sent.length, ...sent.filter((s) => !(s.nsp === nsp && s.event === event)));
      return taken;
    },
    connect(pid) {
      for (const socket of Object.values(client.sockets)) {
        socket.onpacket({ type: CONNECT, nsp: socket.nsp, data: { sid: `${socket.nsp}-${pid}`, pid } });
      }
    },
    drop() {
      for (const socket of Object.values(client.sockets)) socket.onclose("transport close");
    },
    event(nsp, ...args) {
      const socket = Object.values(client.sockets).find((s) => s.nsp === nsp);
      socket.onpacket({ type: EVENT, nsp, data: args });
    },
  };
  for (const socket of Object.values(client.sockets)) {
    socket.timeout = () => ({
      emitWithAck: async (event, payload) => {
        sent.push({ nsp: socket.nsp, event, payload });
        return node.answer(socket.nsp, event, payload);
      },
    });
  }
  return { client, node };
}

function answers(nsp, event, payload) {
  if (nsp === "/chat" && event === "join") {
    return { ok: true, room: payload.room, epoch: EPOCH, history: payload.since ? [] : [entry(1), entry(2)], more: false, last_seq: 2, read_seq: 0, unread: 0 };
  }
  if (nsp === "/presence" && event === "subscribe") return { ok: true, room: payload.room, members: [ann] };
  if (event === "message") return { ok: true, message: { ...entry(5, ann), text: payload.text, client_id: payload.client_id }, duplicate: false };
  return { ok: true, room: payload.room };
}

describe("ChatClient on a recovered connection", { timeout: 15_000 }, () => {
  let client;
  let node;
  afterEach(() => {
    node?.drop(); // a connected socket would say goodbye through the Manager's missing engine
    client?.close();
  });

  it("skips the rejoin and resubscribes, delivers the replay once, and ignores its offsets", async () => {
    ({ client, node } = stubbedClient());
    node.answer = answers;
    const seen = [];
    client.on("message", (...args) => seen.push(args));
    node.connect("pid-1");
    await client.join("lobby");
    await until(client, "members", () => client.members("lobby").length === 1);
    assert.deepEqual(node.take("/chat", "join"), [{ room: "lobby" }]);
    node.take("/presence", "subscribe");
    node.take("/typing", "subscribe");
    assert.equal(client.epoch("lobby"), EPOCH);

    node.event("/typing", "typing", { room: "lobby", user: bob, typing: true });
    node.drop();
    assert.deepEqual(client.typingUsers("lobby"), []);
    const sending = client.send("lobby", "while away");
    assert.deepEqual(node.take("/chat", "message"), []);

    node.connect("pid-1"); // the same pid: socket.io-client sets recovered
    assert.equal(client.sockets.chat.recovered, true);
    for (const [seq, offset] of [[3, "o3"], [4, "o4"], [3, "o3"], [4, "o4-again"]]) node.event("/chat", "message", entry(seq), offset);
    node.event("/presence", "members", { room: "lobby", members: [ann, bob] });
    node.event("/typing", "typists", { room: "lobby", typists: [bob] });
    const stored = await sending;
    await settle();

    assert.equal(stored.text, "while away");
    assert.deepEqual(node.take("/chat", "join"), []);
    assert.deepEqual(node.take("/presence", "subscribe"), []);
    assert.deepEqual(node.take("/typing", "subscribe"), []);
    assert.deepEqual(seen.map((args) => args.length), [1, 1, 1, 1, 1]);
    assert.deepEqual(seen.map(([m]) => m.seq), [1, 2, 3, 4, 5]);
    assert.deepEqual(client.members("lobby"), [ann, bob]);
    assert.deepEqual(client.typingUsers("lobby"), [bob]);
    assert.equal(client.lastSeq("lobby"), 5);
  });

  it("joins again a room the node did not keep, and then sends", async () => {
    ({ client, node } = stubbedClient());
    let refusals = 0;
    node.answer = (nsp, event, payload) => {
      if (nsp === "/chat" && event === "message" && refusals++ === 0) {
        return { ok: false, error: { code: "NOT_IN_ROOM", message: "join first", retryable: false } };
      }
      return answers(nsp, event, payload);
    };
    node.connect("pid-1");
    await client.join("lobby");
    node.drop();
    node.connect("pid-1");
    assert.equal(client.sockets.chat.recovered, true);
    node.take("/chat", "join");
    const stored = await client.send("lobby", "after all");
    assert.equal(stored.text, "after all");
    assert.deepEqual(node.take("/chat", "join"), [{ room: "lobby", since: 2, limit: 200, epoch: EPOCH }]);
    assert.equal(node.take("/chat", "message").length, 2);
  });

  it("rejoins with since and epoch, and resubscribes, when the pid is new", async () => {
    ({ client, node } = stubbedClient());
    node.answer = answers;
    node.connect("pid-1");
    await client.join("lobby");
    await until(client, "members", () => client.members("lobby").length === 1);
    node.sent.length = 0;
    node.drop();
    const members = waitFor(client, "members", () => true);
    node.connect("pid-2");
    assert.equal(client.sockets.chat.recovered, false);
    await members;
    await settle();
    assert.deepEqual(node.take("/chat", "join"), [{ room: "lobby", since: 2, limit: 200, epoch: EPOCH }]);
    assert.deepEqual(node.take("/presence", "subscribe"), [{ room: "lobby" }]);
    assert.deepEqual(node.take("/typing", "subscribe"), [{ room: "lobby" }]);
  });
});

describe("ChatClient history of a room that started over", { timeout: 15_000 }, () => {
  let client;
  let node;
  afterEach(() => {
    node?.drop();
    client?.close();
  });

  it("sends the epoch, marks the page reset, and restarts the room", async () => {
    ({ client, node } = stubbedClient());
    const NEW = "fedcba9876543210";
    let restarted = false;
    node.answer = (nsp, event, payload) => {
      if (nsp !== "/chat") return answers(nsp, event, payload);
      if (event === "history") {
        restarted = true;
        return { ok: true, epoch: NEW, gap: true, more: true, messages: [{ ...entry(1), epoch: NEW, text: "new 1" }] };
      }
      if (event === "join" && restarted) {
        return { ok: true, room: "lobby", epoch: NEW, gap: true, more: false, last_seq: 1, read_seq: 0, unread: 1,
          history: [{ ...entry(1), epoch: NEW, text: "new 1" }] };
      }
      return answers(nsp, event, payload);
    };
    const seen = [];
    client.on("message", (m) => seen.push(`${m.epoch === NEW ? "new" : "old"}:${m.seq}`));
    client.on("reset", (r) => seen.push(`reset:${r.previousEpoch === EPOCH && r.epoch === NEW}`));
    node.connect("pid-1");
    await client.join("lobby");
    node.take("/chat", "join");

    const reset = waitFor(client, "reset", () => true);
    const page = await client.history("lobby", { before: 1, limit: 10 });
    assert.deepEqual(node.take("/chat", "history"), [{ room: "lobby", before: 1, limit: 10, epoch: EPOCH }]);
    assert.equal(page.reset, true);
    assert.equal(page.gap, true);
    assert.equal(page.epoch, NEW);
    await reset;
    await settle();
    assert.deepEqual(node.take("/chat", "join"), [{ room: "lobby", since: 2, limit: 200, epoch: EPOCH }]);
    assert.deepEqual(seen, ["old:1", "old:2", "reset:true", "new:1"]);
    assert.equal(client.epoch("lobby"), NEW);
    assert.deepEqual(client.readState("lobby"), { seq: 0, unread: 1 });
  });
});
