// RoomSync against a stubbed /chat socket: what a new connection asks, what
// a recovered one does not, and a room whose history started over.
import assert from "node:assert/strict";
import { describe, it } from "node:test";

import { Requests } from "../src/Requests.js";
import { RoomState } from "../src/RoomState.js";
import { RoomSync } from "../src/RoomSync.js";
import { Timers } from "../src/Timers.js";
import { FakeSocket, settle } from "./support/fakeSocket.mjs";
import { range } from "./support/wait.mjs";

const E1 = "0123456789abcdef";
const E2 = "fedcba9876543210";
const E3 = "00000000ffffffff";

const entry = (room, epoch, seq) => ({ id: `${epoch}-${seq}`, room, seq, epoch, text: `${epoch}:${seq}`, user: { id: "u", name: "U" }, ts: seq });

/** A join ack for `history`, in `epoch`. */
function joined(room, epoch, seqs, extra = {}) {
  return {
    ok: true, room, epoch, more: false, read_seq: 0, unread: 0,
    history: seqs.map((seq) => entry(room, epoch, seq)), last_seq: seqs.at(-1) ?? 0, ...extra,
  };
}

function setup({ gapFillDelayMs = 10_000 } = {}) {
  const socket = new FakeSocket();
  const rooms = new Map();
  const delivered = [];
  const resets = [];
  const ready = [];
  const timers = new Timers();
  const sync = new RoomSync({
    socket, rooms, timers, gapFillDelayMs,
    requests: new Requests({ ackTimeoutMs: 1_000 }),
    isEnded: () => null,
    onReady: (room) => ready.push(room),
    onRefused: () => assert.fail("no room is refused"),
    onStartedOver: (state, change) => resets.push({ room: state.name, ...change }),
    onRead: () => {},
  });
  function room(name) {
    const state = new RoomState(name, {
      deliver: (m) => delivered.push(`${m.room}/${m.text}`),
      onNewEpoch: () => sync.resync(state),
    });
    rooms.set(name, state);
    sync.add(state);
    return state;
  }
  return { socket, rooms, sync, room, delivered, resets, ready, timers };
}

describe("RoomSync on a recovered connection", { timeout: 10_000 }, () => {
  it("asks nothing for rooms the node kept, and de-duplicates the replay by seq", async () => {
    const { socket, room, delivered, ready, timers } = setup();
    socket.answer = (event, p) => (event === "join" ? joined(p.room, E1, [1, 2]) : assert.fail(event));
    socket.connect();
    const a = room("a");
    await a.joined;
    assert.deepEqual(socket.take("join"), [{ room: "a" }]);
    socket.drop();
    assert.equal(a.ready, false);

    const b = room("b"); // added while offline: the node cannot have it
    socket.connect({ recovered: true });
    assert.equal(a.ready, true);
    assert.deepEqual(ready, ["a", "a"]);
    await b.joined;
    assert.deepEqual(socket.take("join"), [{ room: "b" }]);

    // The replay, each with an offset as its second argument, then live.
    const [onMessage] = socket.listeners("message");
    onMessage(entry("a", E1, 3), "offset-3");
    onMessage(entry("a", E1, 3), "offset-3b");
    socket.fire("message", entry("a", E1, 4), "offset-4");
    onMessage(entry("a", E1, 2));
    assert.deepEqual(delivered, ["a/E1:1", "a/E1:2", "b/E1:1", "b/E1:2", "a/E1:3", "a/E1:4"].map((d) => d.replace("E1", E1)));
    assert.deepEqual(socket.sent, []);
    timers.stop();
  });

  it("still fills a hole in the replay from history", async () => {
    const { socket, room, delivered, timers } = setup({ gapFillDelayMs: 5 });
    socket.answer = (event, p) => (event === "join" ? joined(p.room, E1, [1]) : assert.fail(event));
    socket.connect();
    const a = room("a");
    await a.joined;
    socket.drop();
    socket.connect({ recovered: true });
    let asked;
    const filled = new Promise((resolve) => {
      socket.answer = (event, p) => {
        asked = { event, p };
        resolve();
        return { ok: true, epoch: E1, more: false, messages: [entry("a", E1, 2)] };
      };
    });
    socket.fire("message", entry("a", E1, 3), "offset");
    await filled;
    await settle();
    assert.deepEqual(asked, { event: "history", p: { room: "a", after: 1, limit: 200, epoch: E1 } });
    assert.deepEqual(delivered, [1, 2, 3].map((s) => `a/${E1}:${s}`));
    timers.stop();
  });

  it("sends a leave owed from before the drop, and forgets it on a new connection", async () => {
    const { socket, sync, timers } = setup();
    assert.equal(await sync.leave("gone"), null); // offline: no ack
    socket.connect({ recovered: true });
    assert.deepEqual(socket.take("leave"), [{ room: "gone" }]);
    socket.drop();
    socket.answer = () => assert.fail("sent while offline");
    assert.equal(await sync.leave("gone2"), null);
    socket.answer = () => ({ ok: true });
    socket.connect({ recovered: false });
    assert.deepEqual(socket.take("leave"), []);
    timers.stop();
  });
});

describe("RoomSync on a new connection", { timeout: 10_000 }, () => {
  it("joins every room again with since and epoch", async () => {
    const { socket, room, timers } = setup();
    socket.answer = (event, p) => joined(p.room, E1, p.since ? [] : [1, 2, 3], { last_seq: 3 });
    socket.connect();
    await room("a").joined;
    socket.take("join");
    socket.drop();
    socket.connect({ recovered: false });
    await settle();
    assert.deepEqual(socket.take("join"), [{ room: "a", since: 3, limit: 200, epoch: E1 }]);
    timers.stop();
  });

  it("restarts a room whose epoch changed: the new history is delivered, not dropped as duplicates", async () => {
    const { socket, room, delivered, resets, timers } = setup();
    socket.answer = (event, p) => joined(p.room, E1, range(1, 5));
    socket.connect();
    const a = room("a");
    await a.joined;
    socket.drop();
    socket.answer = (event, p) => (p.epoch === E1 ? joined("a", E2, [1, 2], { gap: true, more: false }) : assert.fail());
    socket.connect();
    await settle();
    assert.deepEqual(resets, [{ room: "a", epoch: E2, previousEpoch: E1, previousSeq: 5 }]);
    assert.equal(a.timeline.epoch, E2);
    assert.equal(a.timeline.last, 2);
    socket.fire("message", entry("a", E2, 3));
    socket.fire("message", entry("a", E1, 6)); // the old history: stale
    assert.deepEqual(delivered.slice(5), [`a/${E2}:1`, `a/${E2}:2`, `a/${E2}:3`]);
    assert.equal(a.ready, true);
    timers.stop();
  });

  it("restarts a room when a server without epochs answers a since above its last seq", async () => {
    const { socket, room, delivered, resets, timers } = setup();
    const plain = (seqs, extra) => {
      const ack = joined("a", undefined, seqs, extra);
      delete ack.epoch;
      for (const m of ack.history) delete m.epoch;
      return ack;
    };
    socket.answer = () => plain(range(1, 9));
    socket.connect();
    await room("a").joined;
    socket.drop();
    socket.answer = () => plain([1, 2], { gap: true });
    socket.connect();
    await settle();
    assert.deepEqual(resets, [{ room: "a", epoch: null, previousEpoch: null, previousSeq: 9 }]);
    assert.deepEqual(delivered.slice(9), ["a/undefined:1", "a/undefined:2"]);
    timers.stop();
  });

  it("reads the room again when a live message of a new epoch comes, and delivers each new message once", async () => {
    const { socket, room, delivered, resets, timers } = setup();
    socket.answer = () => joined("a", E1, [1, 2]);
    socket.connect();
    const a = room("a");
    await a.joined;
    const asked = [];
    socket.answer = (event, p) => {
      asked.push({ event, p });
      return joined("a", E3, [1, 2], { gap: true });
    };
    socket.fire("message", entry("a", E3, 2));
    socket.fire("message", entry("a", E3, 3));
    await settle();
    assert.deepEqual(asked, [{ event: "join", p: { room: "a", since: 2, limit: 200, epoch: E1 } }]);
    assert.deepEqual(resets.map((r) => r.epoch), [E3]);
    assert.deepEqual(delivered, [`a/${E1}:1`, `a/${E1}:2`, `a/${E3}:1`, `a/${E3}:2`, `a/${E3}:3`]);
    timers.stop();
  });

  it("drops a late message of an epoch the node does not have, after asking once", async () => {
    const { socket, room, delivered, resets, timers } = setup();
    socket.answer = () => joined("a", E2, [1, 2]);
    socket.connect();
    const a = room("a");
    await a.joined;
    socket.take("join");
    socket.answer = (event, p) => joined("a", E2, [], { last_seq: 2 });
    socket.fire("message", entry("a", E1, 7));
    await settle();
    assert.deepEqual(socket.take("join"), [{ room: "a", since: 2, limit: 200, epoch: E2 }]);
    assert.deepEqual(resets, []);
    assert.deepEqual(a.timeline.foreignEpochs(), []);
    assert.equal(a.ready, true);
    socket.fire("message", entry("a", E2, 3));
    assert.deepEqual(delivered, [1, 2, 3].map((s) => `a/${E2}:${s}`));
    timers.stop();
  });

  it("restarts when a gap fill's page names another epoch", async () => {
    const { socket, room, delivered, resets, timers } = setup({ gapFillDelayMs: 5 });
    socket.answer = () => joined("a", E1, [1]);
    socket.connect();
    const a = room("a");
    await a.joined;
    const asked = [];
    const done = new Promise((resolve) => {
      socket.answer = (event, p) => {
        asked.push(event);
        if (event === "history") return { ok: true, epoch: E2, gap: true, more: false, messages: [entry("a", E2, 1)] };
        resolve();
        return joined("a", E2, [1], { gap: true });
      };
    });
    socket.fire("message", entry("a", E1, 3)); // a hole at 2, which the node no longer has
    await done;
    await settle();
    assert.deepEqual(asked, ["history", "join"]);
    assert.deepEqual(resets.map((r) => [r.previousEpoch, r.epoch]), [[E1, E2]]);
    assert.deepEqual(delivered, [`a/${E1}:1`, `a/${E2}:1`]);
    timers.stop();
  });
});
