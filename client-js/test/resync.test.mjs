// PresenceSync and TypingSync against stubbed sockets: a new connection
// subscribes again, a recovered one takes the node's `members` and `typists`.
import assert from "node:assert/strict";
import { describe, it } from "node:test";

import { PresenceSync } from "../src/PresenceSync.js";
import { Requests } from "../src/Requests.js";
import { RoomState } from "../src/RoomState.js";
import { Timers } from "../src/Timers.js";
import { TypingSync } from "../src/TypingSync.js";
import { FakeSocket, settle } from "./support/fakeSocket.mjs";

const ann = { id: "ann", name: "Ann" };
const bob = { id: "bob", name: "Bob" };
const cy = { id: "cy", name: "Cy" };
const requests = new Requests({ ackTimeoutMs: 1_000 });

function roomsWith(...names) {
  const rooms = new Map();
  for (const name of names) rooms.set(name, new RoomState(name, { deliver() {}, onNewEpoch() {} }));
  return rooms;
}

describe("PresenceSync", { timeout: 10_000 }, () => {
  function setup() {
    const socket = new FakeSocket();
    const rooms = roomsWith("a");
    const events = [];
    const timers = new Timers();
    const sync = new PresenceSync({
      socket, rooms, requests, timers, isEnded: () => null,
      emit: (event, payload) => events.push([event, payload]),
      onLeft: () => {},
    });
    return { socket, rooms, sync, events, timers, state: rooms.get("a") };
  }

  it("subscribes on a new connection, and takes the node's members on a recovered one", async () => {
    const { socket, events, timers, state } = setup();
    socket.answer = (event, p) => ({ ok: true, room: p.room, members: [ann, bob] });
    socket.connect();
    await settle();
    assert.deepEqual(socket.take("subscribe"), [{ room: "a" }]);
    assert.deepEqual(state.members.list(), [ann, bob]);
    socket.drop();

    socket.connect({ recovered: true });
    await settle();
    assert.deepEqual(socket.take("subscribe"), []);
    events.length = 0;
    socket.fire("members", { room: "a", members: [bob, cy] });
    assert.deepEqual(state.members.list(), [bob, cy]);
    assert.deepEqual(events, [["members", { room: "a", members: [bob, cy] }]]);
    socket.fire("presence", { room: "a", user: ann, status: "joined" });
    assert.deepEqual(state.members.list(), [ann, bob, cy]);
    socket.fire("members", { room: "elsewhere", members: [ann] });
    assert.equal(events.length, 3);

    socket.drop();
    socket.connect({ recovered: false });
    await settle();
    assert.deepEqual(socket.take("subscribe"), [{ room: "a" }]);
    timers.stop();
  });

  it("subscribes a recovered connection to rooms it had no subscription for", async () => {
    const { socket, timers } = setup();
    socket.answer = () => ({ ok: false, error: { code: "FORBIDDEN", message: "no", retryable: false } });
    socket.connect();
    await settle();
    socket.take("subscribe");
    socket.drop();
    socket.answer = (event, p) => ({ ok: true, room: p.room, members: [] });
    socket.connect({ recovered: true });
    await settle();
    assert.deepEqual(socket.take("subscribe"), [{ room: "a" }]);
    timers.stop();
  });
});

describe("TypingSync", { timeout: 10_000 }, () => {
  function setup() {
    const socket = new FakeSocket();
    const rooms = roomsWith("a");
    const typing = [];
    const sync = new TypingSync({
      socket, rooms, requests, intervalMs: 1_000, idleMs: 3_000,
      emit: (event, payload) => event === "typing" && typing.push(`${payload.user.id}:${payload.typing}`),
    });
    return { socket, sync, typing, state: rooms.get("a") };
  }

  it("clears on a drop, then takes the node's typists on a recovered connection", async () => {
    const { socket, typing, state } = setup();
    socket.connect();
    await settle();
    assert.deepEqual(socket.take("subscribe"), [{ room: "a" }]);
    socket.fire("typing", { room: "a", user: ann, typing: true });
    socket.fire("typing", { room: "a", user: bob, typing: true });
    socket.drop();
    assert.deepEqual(typing, ["ann:true", "bob:true", "ann:false", "bob:false"]);

    socket.connect({ recovered: true });
    await settle();
    assert.deepEqual(socket.take("subscribe"), []);
    socket.fire("typists", { room: "a", typists: [bob, cy] });
    assert.deepEqual(state.typing.list(), [bob, cy]);
    socket.fire("typists", { room: "a", typists: [cy] });
    assert.deepEqual(typing.slice(4), ["bob:true", "cy:true", "bob:false"]);
  });

  it("subscribes again and starts with nobody typing on a new connection", async () => {
    const { socket, typing } = setup();
    socket.connect();
    await settle();
    socket.take("subscribe");
    socket.drop();
    socket.connect({ recovered: false });
    await settle();
    assert.deepEqual(socket.take("subscribe"), [{ room: "a" }]);
    socket.fire("typists", { room: "a", typists: "not a list" });
    assert.deepEqual(typing, []);
  });
});
