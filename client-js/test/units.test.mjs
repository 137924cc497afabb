// The client's building blocks on their own, without a server.
import assert from "node:assert/strict";
import { describe, it, mock } from "node:test";

import { MemberSet } from "../src/MemberSet.js";
import { RoomTimeline } from "../src/RoomTimeline.js";
import { TokenSource } from "../src/TokenSource.js";
import { TypingSender } from "../src/TypingSender.js";
import { TypingSet } from "../src/TypingSet.js";
import { startedOver } from "../src/startedOver.js";

const msg = (seq) => ({ seq, room: "r", text: `m${seq}` });

describe("RoomTimeline", () => {
  function timeline() {
    const out = [];
    const t = new RoomTimeline((m) => out.push(m.seq));
    return { t, out };
  }

  it("holds everything until its start is known", () => {
    const { t, out } = timeline();
    t.accept(msg(5));
    assert.deepEqual(out, []);
    t.start(3);
    t.accept(msg(4));
    assert.deepEqual(out, [4, 5]);
  });

  it("delivers in order, once, holding back what comes early", () => {
    const { t, out } = timeline();
    t.start(0);
    for (const seq of [1, 3, 1, 4, 2, 3, 5, 0, -1, 2.5]) t.accept(msg(seq));
    assert.deepEqual(out, [1, 2, 3, 4, 5]);
    assert.equal(t.hasGap, false);
    t.accept(msg(8));
    assert.equal(t.hasGap, true);
    assert.equal(t.firstHeld, 8);
    assert.equal(t.last, 5);
  });

  it("skips what retention dropped", () => {
    const { t, out } = timeline();
    t.start(2);
    t.accept(msg(9));
    t.skipTo(7);
    assert.deepEqual(out, []);
    t.accept(msg(7));
    t.accept(msg(8));
    assert.deepEqual(out, [7, 8, 9]);
    t.skipTo(3);
    assert.equal(t.last, 9);
  });
});

describe("RoomTimeline epochs", () => {
  const at = (epoch, seq) => ({ seq, epoch, room: "r" });
  function timeline() {
    const out = [];
    const news = [];
    const t = new RoomTimeline((m) => out.push(`${m.epoch}${m.seq}`), { onNewEpoch: (e) => news.push(e) });
    return { t, out, news };
  }

  it("keeps a new epoch's messages aside, tells once, and starts over with them", () => {
    const { t, out, news } = timeline();
    t.start(0, "A");
    t.accept(at("A", 1));
    t.accept(at("B", 2));
    t.accept(at("B", 3));
    t.accept(at("B", 3));
    assert.deepEqual(news, ["B"]);
    assert.deepEqual(out, ["A1"]);
    assert.equal(t.hasGap, false);
    t.restart("B", 0);
    t.ingest([at("B", 1), at("B", 2)]);
    assert.deepEqual(out, ["A1", "B1", "B2", "B3"]);
    assert.equal(t.epoch, "B");
    assert.equal(t.last, 3);
    assert.equal(t.accept(at("A", 4)), false, "the old epoch is stale");
    assert.deepEqual(news, ["B"]);
  });

  it("drops what it kept aside when told the epoch is not the room's, and tells again for a later one", () => {
    const { t, news } = timeline();
    t.start(0, "A");
    t.accept(at("Z", 9));
    assert.deepEqual(t.foreignEpochs(), ["Z"]);
    t.dropForeign(["Z"]);
    assert.deepEqual(t.foreignEpochs(), []);
    t.accept(at("Z", 10));
    assert.deepEqual(news, ["Z", "Z"]);
  });

  it("drops messages held before its first start that belong to another epoch", () => {
    const { t, out } = timeline();
    t.accept(at("old", 1));
    t.accept(at("A", 2));
    t.start(1, "A");
    assert.deepEqual(out, ["A2"]);
  });

  it("checks nothing when the server names no epoch", () => {
    const { t, out, news } = timeline();
    t.start(0, undefined);
    t.accept({ seq: 1 });
    t.accept(at("A", 2));
    assert.deepEqual(out, ["undefined1", "A2"]);
    assert.deepEqual(news, []);
  });
});

describe("startedOver", () => {
  const page = (...seqs) => seqs.map((seq) => ({ seq }));

  it("is another epoch, or a gap page that does not continue after since", () => {
    assert.equal(startedOver({ epoch: "A", since: 5 }, { epoch: "B" }, page(6)), true);
    assert.equal(startedOver({ epoch: "A", since: 5 }, { epoch: "A", gap: true }, page(9, 10)), false, "retention");
    assert.equal(startedOver({ epoch: "A", since: 5 }, { epoch: "A" }, page(6)), false);
    assert.equal(startedOver({ epoch: null, since: 5 }, { epoch: "A" }, page(6)), false, "first epoch seen");
    assert.equal(startedOver({ epoch: null, since: 5 }, { gap: true, last_seq: 2 }, page(1, 2)), true);
    assert.equal(startedOver({ epoch: null, since: 5 }, { gap: true }, page(3, 4)), true);
    assert.equal(startedOver({ epoch: null, since: null }, { gap: true, last_seq: 2 }, page(1, 2)), false);
  });
});

describe("TypingSet.replace", () => {
  it("reports who started and who stopped", () => {
    const set = new TypingSet();
    set.set({ id: "a", name: "A" }, true);
    set.set({ id: "b", name: "B" }, true);
    const changes = set.replace([{ id: "b", name: "B" }, { id: "c", name: "C" }, { id: 7 }]);
    assert.deepEqual(changes, [
      { user: { id: "a", name: "A" }, typing: false },
      { user: { id: "c", name: "C" }, typing: true },
    ]);
    assert.deepEqual(set.list().map((u) => u.id), ["b", "c"]);
  });
});

describe("MemberSet", () => {
  const ann = { id: "ann", name: "Ann" };
  const bob = { id: "bob", name: "Bob" };

  it("applies events as a set keyed by user id", () => {
    const set = new MemberSet();
    set.finishSync([]);
    set.apply({ user: ann, status: "joined" });
    set.apply({ user: { id: "ann", name: "Ann 2" }, status: "joined" });
    set.apply({ user: bob, status: "left" });
    assert.deepEqual(set.list(), [{ id: "ann", name: "Ann 2" }]);
  });

  it("applies events that raced the subscribe ack after its members", () => {
    const set = new MemberSet();
    set.beginSync();
    assert.equal(set.apply({ user: bob, status: "left" }), false);
    set.apply({ user: ann, status: "joined" });
    set.finishSync([bob]);
    assert.deepEqual(set.list(), [ann]);
  });

  it("takes a resynchronised list as it is, and a subscribe in flight still applies its own", () => {
    const set = new MemberSet();
    set.finishSync([ann]);
    set.replace([bob, { id: 3 }]);
    assert.deepEqual(set.list(), [bob]);
    set.beginSync();
    set.apply({ user: ann, status: "joined" });
    set.replace([]);
    set.finishSync([bob]);
    assert.deepEqual(set.list(), [ann, bob]);
  });

  it("applies the held events and goes live when a subscribe fails", () => {
    const set = new MemberSet();
    set.finishSync([bob]);
    set.beginSync();
    set.apply({ user: ann, status: "joined" });
    assert.deepEqual(set.list(), [bob]);
    assert.equal(set.abandonSync(), true);
    assert.deepEqual(set.list(), [ann, bob]);
    assert.equal(set.apply({ user: bob, status: "left" }), true);
    assert.deepEqual(set.list(), [ann]);
    assert.equal(set.abandonSync(), false);
  });
});

describe("TokenSource", () => {
  it("calls getToken once per attempt, and again only for the newest expired token", async () => {
    const calls = [];
    const source = new TokenSource({ getToken: ({ refresh }) => `t${calls.push(refresh)}` });
    const engineA = {};
    const [a1, a2, a3] = await Promise.all([1, 2, 3].map(() => source.forAttempt(engineA)));
    assert.deepEqual([a1.token, a2.token, a3.token], ["t1", "t1", "t1"]);
    source.expire(a1.version);
    const b = await source.forAttempt(engineA);
    source.expire(a2.version); // an older token: no new call
    assert.equal((await source.forAttempt(engineA)).token, "t2");
    assert.equal(b.token, "t2");
    assert.equal((await source.forAttempt({})).token, "t3");
    assert.deepEqual(calls, [false, true, false]);
  });

  it("does not reuse a failed fetch", async () => {
    let n = 0;
    const source = new TokenSource({ getToken: () => (++n === 1 ? Promise.reject(new Error("down")) : "ok") });
    const engine = {};
    await assert.rejects(source.forAttempt(engine), /down/);
    assert.equal((await source.forAttempt(engine)).token, "ok");
  });

  it("needs a token or getToken", () => {
    assert.throws(() => new TokenSource({}), TypeError);
    assert.equal(new TokenSource({ token: "x" }).canRefresh, false);
  });
});

describe("TypingSender", () => {
  it("sends true at most once per interval and false after the idle time", (t) => {
    t.mock.timers.enable({ apis: ["setTimeout", "Date"] });
    const sent = [];
    const sender = new TypingSender((room, typing) => sent.push(`${room}:${typing}`), { intervalMs: 1_000, idleMs: 3_000 });
    for (let ms = 0; ms <= 2_500; ms += 100) {
      sender.typing("r");
      t.mock.timers.tick(100);
    }
    assert.deepEqual(sent, ["r:true", "r:true", "r:true"]);
    t.mock.timers.tick(2_899); // the last key was at 2500 ms, it is now 2600 ms
    assert.equal(sent.length, 3);
    t.mock.timers.tick(1);
    assert.deepEqual(sent.at(-1), "r:false");
  });

  it("sends false at once when typing stops, and only after a true", (t) => {
    t.mock.timers.enable({ apis: ["setTimeout", "Date"] });
    const sent = [];
    const sender = new TypingSender((room, typing) => sent.push(`${room}:${typing}`), { intervalMs: 1_000, idleMs: 3_000 });
    sender.stop("r");
    assert.deepEqual(sent, []);
    sender.typing("r");
    t.mock.timers.tick(100);
    sender.stop("r");
    assert.deepEqual(sent, ["r:true", "r:false"]);
    sender.typing("r"); // typing again right away starts over
    assert.deepEqual(sent, ["r:true", "r:false", "r:true"]);
    sender.stop("r");
    t.mock.timers.tick(10_000);
    assert.deepEqual(sent, ["r:true", "r:false", "r:true", "r:false"]);
  });

  it("sends nothing when a message ends typing", (t) => {
    t.mock.timers.enable({ apis: ["setTimeout", "Date"] });
    const sent = [];
    const sender = new TypingSender((room, typing) => sent.push(typing));
    sender.typing("r");
    sender.sent("r");
    t.mock.timers.tick(10_000);
    assert.deepEqual(sent, [true]);
  });
});

mock.reset();
