// A room whose stored history started over, against real nodes: chatio-client
// sees it as a reset (the `reset` event, then the new history), never as
// silence, and never drops new messages as duplicates of old seqs.
import assert from "node:assert/strict";
import { rmSync, readdirSync } from "node:fs";
import { join } from "node:path";
import { after, afterEach, before, describe, it } from "node:test";

import { ClientPool, roomName } from "./support/clients.mjs";
import { FlakyProxy } from "./support/proxy.mjs";
import { RedisServer, REDIS_SERVER, redisAvailable } from "./support/redis.mjs";
import { signToken, startServer } from "./support/server.mjs";
import { Inbox, range, until, waitFor } from "./support/wait.mjs";

const RECONNECT_MS = 20_000;
const EPOCH = /^[0-9a-f]{16}$/;
const required = process.env.CI === "true";

/** Records `reset` events and, in one list, what each room delivered around them. */
class Timeline {
  constructor(client) {
    this.events = [];
    this.resets = [];
    client.on("message", (m) => this.events.push(`${m.room}:${m.seq}:${m.text}`));
    client.on("reset", (r) => {
      this.resets.push(r);
      this.events.push(`${r.room}:reset`);
    });
  }

  of(room) {
    return this.events.filter((e) => e.startsWith(`${room}:`)).map((e) => e.slice(room.length + 1));
  }
}

function suite(pool, env) {
  return {
    user(id, url) {
      return pool.connected({ url, token: signToken(env.server.secret, { sub: id, name: id }) });
    },
  };
}

describe("epochs on a node with Redis", { skip: !redisAvailable() && !required && `no ${REDIS_SERVER}` }, () => {
  const env = {};
  const pool = new ClientPool();
  const prefix = `client-epochs-${process.pid}`;
  let users;

  before(async () => {
    if (!redisAvailable()) throw new Error(`redis-server is required (CI=true) but ${REDIS_SERVER} is missing`);
    env.redis = await new RedisServer().start();
    env.server = await startServer({
      name: "client-epochs-redis",
      env: { CHATIO_REDIS_URL: env.redis.url, CHATIO_REDIS_PREFIX: prefix, CHATIO_RATE_MESSAGES: "0" },
    });
    env.proxy = await new FlakyProxy(env.server.port).listen();
    users = suite(pool, env);
  });
  after(async () => {
    pool.closeAll();
    await env.proxy?.close();
    await env.server?.dispose();
    await env.redis?.dispose();
  });
  afterEach(() => {
    pool.closeAll();
    env.proxy.accept();
  });

  async function deleteRoom(room) {
    const deleted = await env.redis.deleteMatching(`${prefix}:room:{${room}}:*`);
    assert.ok(deleted > 0, "the room had keys to delete");
  }

  it("a live message of the new epoch restarts the room: reset, then the new history, each once", async () => {
    const room = roomName("live-reset");
    const ann = await users.user("ann", env.server.url);
    const bob = await users.user("bob", env.server.url);
    const annSeen = new Timeline(ann);
    const bobSeen = new Timeline(bob);
    const annInbox = new Inbox(ann);
    await Promise.all([ann.join(room), bob.join(room)]);
    for (const text of ["a1", "a2", "a3"]) await ann.send(room, text);
    await annInbox.reach(room, 3);
    const oldEpoch = ann.epoch(room);
    assert.match(oldEpoch, EPOCH);
    assert.equal(bob.epoch(room), oldEpoch);

    await deleteRoom(room);
    const annReset = waitFor(ann, "reset", (r) => r.room === room);
    const fresh = await bob.send(room, "fresh");
    assert.equal(fresh.seq, 1);
    assert.notEqual(fresh.epoch, oldEpoch);
    const reset = await annReset;
    assert.deepEqual(reset, { room, epoch: fresh.epoch, previousEpoch: oldEpoch, previousSeq: 3 });
    await until(ann, "message", () => annSeen.of(room).includes("1:fresh"));
    await bob.send(room, "fresh 2");
    await until(ann, "message", () => annSeen.of(room).includes("2:fresh 2"));
    await until(bob, "message", () => bobSeen.of(room).includes("2:fresh 2"));

    const expected = ["1:a1", "2:a2", "3:a3", "reset", "1:fresh", "2:fresh 2"];
    assert.deepEqual(annSeen.of(room), expected);
    assert.deepEqual(bobSeen.of(room), expected);
    assert.equal(ann.epoch(room), fresh.epoch);
    assert.equal(ann.lastSeq(room), 2);
  });

  it("a rejoin after the keys were deleted gets the gap: reset, the new history, then queued sends", async () => {
    const room = roomName("rejoin-reset");
    const ann = await users.user("ann", env.proxy.url);
    const bob = await users.user("bob", env.server.url);
    const annSeen = new Timeline(ann);
    await Promise.all([ann.join(room), bob.join(room)]);
    for (const text of ["a1", "a2", "a3", "a4"]) await ann.send(room, text);
    await until(ann, "message", () => ann.lastSeq(room) === 4);
    const oldEpoch = ann.epoch(room);

    env.proxy.refuse();
    const away = waitFor(ann, "status", (s) => s === "reconnecting");
    env.proxy.cut();
    await away;
    await deleteRoom(room);
    const b1 = await bob.send(room, "b1");
    await bob.send(room, "b2");
    assert.equal(b1.seq, 1);
    const queued = ann.send(room, "q1");

    const reset = waitFor(ann, "reset", (r) => r.room === room, { timeoutMs: RECONNECT_MS });
    env.proxy.accept();
    assert.deepEqual(await reset, { room, epoch: b1.epoch, previousEpoch: oldEpoch, previousSeq: 4 });
    const stored = await queued;
    assert.deepEqual([stored.seq, stored.epoch], [3, b1.epoch]);
    await until(ann, "message", () => ann.lastSeq(room) === 3, { timeoutMs: RECONNECT_MS });
    assert.deepEqual(annSeen.of(room), ["1:a1", "2:a2", "3:a3", "4:a4", "reset", "1:b1", "2:b2", "3:q1"]);
    const { messages } = await bob.history(room, { after: 0 });
    assert.deepEqual(messages.map((m) => m.text), ["b1", "b2", "q1"]);
  });

  it("a room nobody wrote to since its keys went: the next message, seq 1 again, is not a duplicate", async () => {
    const room = roomName("quiet-reset");
    const ann = await users.user("ann", env.proxy.url);
    const bob = await users.user("bob", env.server.url);
    const annSeen = new Timeline(ann);
    await Promise.all([ann.join(room), bob.join(room)]);
    for (const text of ["a1", "a2"]) await ann.send(room, text);
    await until(ann, "message", () => ann.lastSeq(room) === 2);

    env.proxy.refuse();
    const away = waitFor(ann, "status", (s) => s === "reconnecting");
    env.proxy.cut();
    await away;
    await deleteRoom(room);
    const reset = waitFor(ann, "reset", (r) => r.room === room, { timeoutMs: RECONNECT_MS });
    env.proxy.accept();
    const { epoch } = await reset;
    assert.match(epoch, EPOCH);
    assert.equal(ann.lastSeq(room), 0);
    await until(ann, "status", () => ann.status === "connected", { timeoutMs: RECONNECT_MS });

    const again = await bob.send(room, "again");
    assert.deepEqual([again.seq, again.epoch], [1, epoch]);
    await until(ann, "message", () => annSeen.of(room).includes("1:again"));
    assert.deepEqual(annSeen.of(room), ["1:a1", "2:a2", "reset", "1:again"]);
  });
});

describe("epochs on a single node whose SQLite database was replaced", () => {
  const env = {};
  const pool = new ClientPool();
  let users;

  before(async () => {
    env.server = await startServer({
      name: "client-epochs-sqlite",
      env: { CHATIO_RATE_MESSAGES: "0", CHATIO_SHUTDOWN_TIMEOUT: "5" },
    });
    users = suite(pool, env);
  });
  after(async () => {
    pool.closeAll();
    await env.server?.dispose();
  });

  it("every client resets the room on its rejoin and takes the new history, each message once", async () => {
    const room = roomName("sqlite-reset");
    const ann = await users.user("ann", env.server.url);
    const bob = await users.user("bob", env.server.url);
    const annSeen = new Timeline(ann);
    const bobSeen = new Timeline(bob);
    await Promise.all([ann.join(room), bob.join(room)]);
    for (const i of range(1, 5)) await ann.send(room, `old ${i}`);
    await until(bob, "message", () => bob.lastSeq(room) === 5);
    const oldEpoch = bob.epoch(room);

    const down = waitFor(ann, "status", (s) => s === "reconnecting", { timeoutMs: RECONNECT_MS });
    await env.server.stop();
    await down;
    for (const name of readdirSync(env.server.dataDir)) {
      if (name.startsWith("chatio.sqlite3")) rmSync(join(env.server.dataDir, name));
    }
    const resets = [ann, bob].map((c) => waitFor(c, "reset", (r) => r.room === room, { timeoutMs: RECONNECT_MS }));
    await env.server.start();
    const [annReset, bobReset] = await Promise.all(resets);
    assert.notEqual(annReset.epoch, oldEpoch);
    assert.deepEqual(annReset, { room, epoch: annReset.epoch, previousEpoch: oldEpoch, previousSeq: 5 });
    assert.deepEqual(bobReset, annReset);
    await until(ann, "status", () => ann.status === "connected", { timeoutMs: RECONNECT_MS });
    await until(bob, "status", () => bob.status === "connected", { timeoutMs: RECONNECT_MS });

    for (const i of range(1, 3)) await bob.send(room, `new ${i}`);
    await until(ann, "message", () => ann.lastSeq(room) === 3);
    const expected = [...range(1, 5).map((i) => `${i}:old ${i}`), "reset", ...range(1, 3).map((i) => `${i}:new ${i}`)];
    assert.deepEqual(annSeen.of(room), expected);
    assert.deepEqual(bobSeen.of(room), expected);
    assert.equal(ann.epoch(room), annReset.epoch);
    const page = await ann.history(room, { before: 2 });
    assert.deepEqual(page.messages.map((m) => m.text), ["new 1"]);
    assert.equal(page.epoch, annReset.epoch);
  });
});
