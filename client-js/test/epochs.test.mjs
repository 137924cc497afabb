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
    const common = { CHATIO_REDIS_URL: env.redis.url, CHATIO_REDIS_PREFIX: prefix, CHATIO_RATE_MESSAGES: "0" };
    env.server = await startServer({ name: "client-epochs-redis", env: common });
    // A node that never recovers a connection: clients always rejoin with since.
    env.rejoining = await startServer({
      name: "client-epochs-redis-rejoining", secret: env.server.secret, env: { ...common, CHATIO_RECOVERY_WINDOW: "0" },
    });
    env.proxies = {
      "recovery on": await new FlakyProxy(env.server.port).listen(),
      "recovery off": await new FlakyProxy(env.rejoining.port).listen(),
    };
    users = suite(pool, env);
  });
  after(async () => {
    pool.closeAll();
    for (const proxy of Object.values(env.proxies ?? {})) await proxy.close();
    await env.server?.dispose();
    await env.rejoining?.dispose();
    await env.redis?.dispose();
  });
  afterEach(() => {
    pool.closeAll();
    for (const proxy of Object.values(env.proxies)) proxy.accept();
  });

  /** Cuts `client` off behind `proxy` and resolves once it noticed. */
  async function cutOff(client, proxy) {
    proxy.refuse();
    const away = waitFor(client, "status", (s) => s === "reconnecting");
    proxy.cut();
    await away;
  }

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

  // A node with recovery on refuses to recover a connection whose room
  // started over, as one with recovery off never does: either way the
  // client rejoins with since and epoch, and the gap restarts the room.
  for (const path of ["recovery on", "recovery off"]) {
    it(`a room whose keys were deleted while a client was away (${path}): reset, the new history, then queued sends`, async () => {
      const room = roomName("away-reset");
      const proxy = env.proxies[path];
      const ann = await users.user("ann", proxy.url);
      const bob = await users.user("bob", env.server.url);
      const annSeen = new Timeline(ann);
      await Promise.all([ann.join(room), bob.join(room)]);
      for (const text of ["a1", "a2", "a3", "a4"]) await ann.send(room, text);
      await until(ann, "message", () => ann.lastSeq(room) === 4);
      const oldEpoch = ann.epoch(room);

      await cutOff(ann, proxy);
      await deleteRoom(room);
      const b1 = await bob.send(room, "b1");
      await bob.send(room, "b2");
      assert.equal(b1.seq, 1);
      const queued = ann.send(room, "q1");

      const reset = waitFor(ann, "reset", (r) => r.room === room, { timeoutMs: RECONNECT_MS });
      proxy.accept();
      assert.deepEqual(await reset, { room, epoch: b1.epoch, previousEpoch: oldEpoch, previousSeq: 4 });
      assert.notEqual(ann.sockets.chat.recovered, true, "no node recovers a connection across a reset");
      const stored = await queued;
      assert.deepEqual([stored.seq, stored.epoch], [3, b1.epoch]);
      await until(ann, "message", () => annSeen.of(room).includes("3:q1"), { timeoutMs: RECONNECT_MS });
      assert.deepEqual(annSeen.of(room), ["1:a1", "2:a2", "3:a3", "4:a4", "reset", "1:b1", "2:b2", "3:q1"]);
      const { messages } = await bob.history(room, { after: 0 });
      assert.deepEqual(messages.map((m) => m.text), ["b1", "b2", "q1"]);
    });

    it(`a room nobody wrote to since its keys went (${path}): the next message, seq 1 again, is not a duplicate`, async () => {
      const room = roomName("quiet-reset");
      const proxy = env.proxies[path];
      const ann = await users.user("ann", proxy.url);
      const bob = await users.user("bob", env.server.url);
      const annSeen = new Timeline(ann);
      await Promise.all([ann.join(room), bob.join(room)]);
      for (const text of ["a1", "a2"]) await ann.send(room, text);
      await until(ann, "message", () => ann.lastSeq(room) === 2);
      const oldEpoch = ann.epoch(room);

      await cutOff(ann, proxy);
      await deleteRoom(room);
      const back = waitFor(ann, "status", (s) => s === "connected", { timeoutMs: RECONNECT_MS });
      proxy.accept();
      await back;
      assert.notEqual(ann.sockets.chat.recovered, true, "no node recovers a connection across a reset");
      // The rejoin noticed already; a client that had been recovered would
      // notice with this message. Either way it is delivered after a reset.
      const again = await bob.send(room, "again");
      assert.equal(again.seq, 1);
      await until(ann, "message", () => annSeen.of(room).includes("1:again"), { timeoutMs: RECONNECT_MS });
      assert.deepEqual(annSeen.of(room), ["1:a1", "2:a2", "reset", "1:again"]);
      assert.deepEqual(annSeen.resets, [{ room, epoch: again.epoch, previousEpoch: oldEpoch, previousSeq: 2 }]);
      assert.equal(ann.epoch(room), again.epoch);
    });
  }
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

  it("every client resets the room (on its rejoin, or with the first new message) and takes the new history, each message once", async () => {
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
    await env.server.start();
    await until(ann, "status", () => ann.status === "connected", { timeoutMs: RECONNECT_MS });
    await until(bob, "status", () => bob.status === "connected", { timeoutMs: RECONNECT_MS });

    // Rejoining clients reset at once; recovered ones with the first new message.
    const sent = [];
    for (const i of range(1, 3)) sent.push(await bob.send(room, `new ${i}`));
    const epoch = sent[0].epoch;
    assert.notEqual(epoch, oldEpoch);
    assert.deepEqual(sent.map((m) => [m.seq, m.epoch]), range(1, 3).map((seq) => [seq, epoch]));
    for (const [client, seen] of [[ann, annSeen], [bob, bobSeen]]) {
      await until(client, "message", () => seen.of(room).includes("3:new 3"), { timeoutMs: RECONNECT_MS });
    }
    const expected = [...range(1, 5).map((i) => `${i}:old ${i}`), "reset", ...range(1, 3).map((i) => `${i}:new ${i}`)];
    assert.deepEqual(annSeen.of(room), expected);
    assert.deepEqual(bobSeen.of(room), expected);
    const reset = { room, epoch, previousEpoch: oldEpoch, previousSeq: 5 };
    assert.deepEqual(annSeen.resets, [reset]);
    assert.deepEqual(bobSeen.resets, [reset]);
    assert.equal(ann.epoch(room), epoch);
    const page = await ann.history(room, { before: 2 });
    assert.deepEqual(page.messages.map((m) => m.text), ["new 1"]);
    assert.equal(page.epoch, epoch);
  });
});
