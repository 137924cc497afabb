// Connection state recovery with the stock socket.io-client: a socket whose
// transport dropped comes back with its sid and rooms, and gets exactly the
// /chat messages it missed, once each, in seq order, before live ones.
import assert from "node:assert/strict";
import { after, afterEach, before, describe, it } from "node:test";

import {
  TRANSPORTS,
  chatSocket,
  closeAll,
  connect,
  nextEvent,
  request,
  roomName,
} from "./support/client.mjs";
import { startServer } from "./support/server.mjs";
import { signToken } from "./support/tokens.mjs";

// The dropped client waits this long before reconnecting, so the messages
// sent meanwhile are sent while it is away.
const AWAY_MS = 800;
const RECONNECT_MS = 10_000;

function assertOk(ack) {
  assert.equal(ack?.ok, true, `expected ok, got ${JSON.stringify(ack)}`);
  return ack;
}

function seqs(messages) {
  return messages.map((m) => m.seq);
}

function range(from, to) {
  return Array.from({ length: to - from + 1 }, (_, i) => from + i);
}

/** Every /chat message a socket receives, with the offset it carried. */
function record(socket) {
  const messages = [];
  const offsets = [];
  socket.on("message", (message, offset) => {
    messages.push(message);
    offsets.push(offset);
  });
  return { messages, offsets };
}

/** Close the socket's transport as a lost network would; resolves once the
 * client noticed. Its Manager reconnects after `AWAY_MS`. */
async function drop(socket) {
  const gone = nextEvent(socket, "disconnect");
  socket.io.engine.close();
  return gone;
}

function reconnected(socket) {
  return nextEvent(socket, "connect", { timeoutMs: RECONNECT_MS, rejectOn: "connect_error" });
}

/** Resolves once `messages` holds `count` entries. */
async function received(messages, count, timeoutMs = 5_000) {
  const deadline = Date.now() + timeoutMs;
  while (messages.length < count) {
    if (Date.now() > deadline) {
      throw new Error(`got ${messages.length} of ${count} messages: ${JSON.stringify(seqs(messages))}`);
    }
    await new Promise((r) => setTimeout(r, 20));
  }
  return messages;
}

describe("connection state recovery", () => {
  let server;
  const sockets = [];

  before(async () => {
    server = await startServer({ name: "recovery" });
  });
  after(async () => {
    await server?.dispose();
  });
  afterEach(() => closeAll(sockets));

  function socket(transport, user, options = {}) {
    const s = chatSocket(server.url, transport, {
      token: signToken(server.secret, { sub: user, name: user }),
      reconnectionDelay: AWAY_MS,
      reconnectionDelayMax: AWAY_MS,
      randomizationFactor: 0,
      ...options,
    });
    sockets.push(s);
    return s;
  }

  async function joined(s, room) {
    await connect(s);
    assertOk(await request(s, "join", { room }));
    return s;
  }

  async function send(s, room, count, prefix) {
    const sent = [];
    for (let i = 0; i < count; i += 1) {
      const ack = assertOk(await request(s, "message", { room, text: `${prefix} ${i}` }));
      sent.push(ack.message.seq);
    }
    return sent;
  }

  for (const transport of TRANSPORTS) {
    it(`replays what a dropped socket missed, once, over ${transport}`, async () => {
      const room = roomName("csr");
      const alice = await joined(socket(transport, "alice"), room);
      const bob = await joined(socket("websocket", "bob"), room);
      const seen = record(alice);
      const firstSid = alice.id;
      assert.equal(typeof alice._pid, "string", "the CONNECT reply carries a pid");

      await send(bob, room, 2, "before");
      await received(seen.messages, 2);
      assert.match(seen.offsets[1], /^[0-9a-f]+-[0-9a-f]+$/);

      await drop(alice);
      const back = reconnected(alice);
      await send(bob, room, 3, "away");
      await back;
      assert.equal(alice.recovered, true);
      assert.equal(alice.id, firstSid, "the same sid");
      await received(seen.messages, 5);
      // Live again, without joining: the room was restored.
      await send(bob, room, 1, "after");
      await received(seen.messages, 6);
      assert.deepEqual(seqs(seen.messages), range(1, 6));
      // The room accepts its messages without a new join.
      assertOk(await request(alice, "message", { room, text: "still a member" }));
    });
  }

  it("recovers a socket that received no event before the drop", async () => {
    const room = roomName("csr-empty");
    const alice = await joined(socket("websocket", "alice"), room);
    const bob = await joined(socket("websocket", "bob"), room);
    const seen = record(alice);

    await drop(alice);
    const back = reconnected(alice);
    await send(bob, room, 4, "away");
    await back;
    assert.equal(alice.recovered, true);
    await received(seen.messages, 4);
    await send(bob, room, 1, "after");
    await received(seen.messages, 5);
    assert.deepEqual(seqs(seen.messages), range(1, 5));
  });

  it("recovers twice in a row", async () => {
    const room = roomName("csr-twice");
    const alice = await joined(socket("websocket", "alice"), room);
    const bob = await joined(socket("websocket", "bob"), room);
    const seen = record(alice);

    for (let round = 0; round < 2; round += 1) {
      await send(bob, room, 2, `live ${round}`);
      await received(seen.messages, 4 * round + 2);
      await drop(alice);
      const back = reconnected(alice);
      await send(bob, room, 2, `away ${round}`);
      await back;
      assert.equal(alice.recovered, true, `recovery ${round + 1}`);
      await received(seen.messages, 4 * round + 4);
    }
    // The first replayed message of the second drop came right after a
    // recovery with nothing live in between: drop again at once.
    await drop(alice);
    const back = reconnected(alice);
    await send(bob, room, 1, "away 2");
    await back;
    assert.equal(alice.recovered, true, "recovery 3");
    await received(seen.messages, 9);
    assert.deepEqual(seqs(seen.messages), range(1, 9));
  });

  it("keeps every room of the socket, each in seq order", async () => {
    const rooms = [roomName("csr-a"), roomName("csr-b")];
    const alice = socket("websocket", "alice");
    await connect(alice);
    const bob = socket("websocket", "bob");
    await connect(bob);
    for (const room of rooms) {
      assertOk(await request(alice, "join", { room }));
      assertOk(await request(bob, "join", { room }));
    }
    const seen = record(alice);
    await send(bob, rooms[0], 1, "a");
    await received(seen.messages, 1);
    await drop(alice);
    const back = reconnected(alice);
    await send(bob, rooms[1], 2, "b");
    await send(bob, rooms[0], 2, "a");
    await back;
    assert.equal(alice.recovered, true);
    await received(seen.messages, 5);
    const byRoom = (room) => seqs(seen.messages.filter((m) => m.room === room));
    assert.deepEqual(byRoom(rooms[0]), [1, 2, 3]);
    assert.deepEqual(byRoom(rooms[1]), [1, 2]);
  });

  it("does not recover a forged pid or another user's", async () => {
    const room = roomName("csr-forged");
    const alice = await joined(socket("websocket", "alice"), room);
    const mallory = await joined(socket("websocket", "mallory"), room);
    const alicePid = alice._pid;

    await drop(mallory);
    mallory._pid = "x".repeat(24);
    await reconnected(mallory);
    assert.equal(mallory.recovered, false, "a forged pid");
    assert.notEqual(mallory._pid, "x".repeat(24), "a new pid");

    // Alice comes back later than Mallory tries her pid.
    alice.io.reconnectionDelay(3 * AWAY_MS);
    alice.io.reconnectionDelayMax(3 * AWAY_MS);
    await drop(alice);
    await drop(mallory);
    mallory._pid = alicePid;
    await reconnected(mallory);
    assert.equal(mallory.recovered, false, "another user's pid");
    assert.notEqual(mallory._pid, alicePid);
    // Mallory's attempt left Alice's session to Alice.
    await reconnected(alice);
    assert.equal(alice.recovered, true);
  });

  it("refuses an expired token as TOKEN_EXPIRED, then recovers with a good one", async () => {
    const room = roomName("csr-expired");
    const alice = await joined(socket("websocket", "alice"), room);
    const bob = await joined(socket("websocket", "bob"), room);
    const seen = record(alice);

    await drop(alice);
    alice.auth = {
      token: signToken(server.secret, { sub: "alice" }, { issuedAt: Date.now() / 1000 - 10 * 24 * 3600 }),
    };
    const refused = nextEvent(alice, "connect_error", { timeoutMs: RECONNECT_MS });
    await send(bob, room, 2, "away");
    const error = await refused;
    assert.deepEqual(error.data, { code: "TOKEN_EXPIRED" });
    // socket.io-client does not retry a refused CONNECT by itself.
    alice.auth = { token: signToken(server.secret, { sub: "alice" }) };
    const back = reconnected(alice);
    alice.connect();
    await back;
    assert.equal(alice.recovered, true);
    await received(seen.messages, 2);
    assert.deepEqual(seqs(seen.messages), [1, 2]);
  });

  it("does not recover a socket the client disconnected itself", async () => {
    const room = roomName("csr-left");
    const alice = await joined(socket("websocket", "alice"), room);
    alice.disconnect();
    const back = reconnected(alice);
    alice.connect();
    await back;
    assert.equal(alice.recovered, false);
  });
});

describe("recovery while messages keep coming", () => {
  let server;
  const sockets = [];

  before(async () => {
    server = await startServer({ name: "recovery-busy", env: { CHATIO_RATE_MESSAGES: "1000/1000" } });
  });
  after(async () => {
    await server?.dispose();
  });
  afterEach(() => closeAll(sockets));

  function socket(user, delayMs) {
    const s = chatSocket(server.url, "websocket", {
      token: signToken(server.secret, { sub: user, name: user }),
      reconnectionDelay: delayMs,
      reconnectionDelayMax: delayMs,
      randomizationFactor: 0,
    });
    sockets.push(s);
    return s;
  }

  it("neither loses nor doubles a message sent during the recovery", async () => {
    const room = roomName("csr-busy");
    const alice = socket("alice", 50);
    const bob = socket("bob", 50);
    await connect(alice);
    await connect(bob);
    assertOk(await request(alice, "join", { room }));
    assertOk(await request(bob, "join", { room }));
    const seen = record(alice);
    let total = 0;
    let running = true;
    // Bob sends without pause (each after the previous ack) throughout.
    const load = (async () => {
      while (running) {
        assertOk(await request(bob, "message", { room, text: `n ${total}` }));
        total += 1;
      }
    })();
    for (let round = 0; round < 5; round += 1) {
      await received(seen.messages, seen.messages.length + 5);
      const back = reconnected(alice);
      await drop(alice);
      await back;
      assert.equal(alice.recovered, true, `recovery ${round + 1}`);
    }
    running = false;
    await load;
    await received(seen.messages, total);
    const got = seqs(seen.messages);
    const counts = new Map();
    for (const seq of got) counts.set(seq, (counts.get(seq) ?? 0) + 1);
    const doubled = [...counts].filter(([, n]) => n > 1).map(([seq]) => seq);
    const missing = range(1, total).filter((seq) => !counts.has(seq));
    assert.deepEqual({ doubled, missing }, { doubled: [], missing: [] });
    assert.deepEqual(got, range(1, total));
  });
});

describe("recovery across a restart of the node", () => {
  let server;
  const sockets = [];

  before(async () => {
    server = await startServer({ name: "recovery-restart" });
  });
  after(async () => {
    await server?.dispose();
  });
  afterEach(() => closeAll(sockets));

  // Slow enough to reconnect only once the restarted node took the
  // messages published right after its start.
  const BACK_MS = 2_500;

  function socket(user) {
    const s = chatSocket(server.url, "websocket", {
      token: signToken(server.secret, { sub: user, name: user }),
      reconnectionDelay: BACK_MS,
      reconnectionDelayMax: BACK_MS,
      randomizationFactor: 0,
    });
    sockets.push(s);
    return s;
  }

  async function publish(room, texts) {
    const seqs = [];
    for (const text of texts) {
      const { status, json, text: body } = await server.request("/api/publish", {
        method: "POST",
        body: { room, text, user: { id: "system", name: "System" } },
        headers: { authorization: `Bearer ${server.apiKey}` },
      });
      assert.equal(status, 200, body);
      seqs.push(json.message.seq);
    }
    return seqs;
  }

  it("recovers after a SIGTERM of the node (the records are handed over)", async () => {
    const room = roomName("csr-sigterm");
    const alice = socket("alice");
    await connect(alice);
    assertOk(await request(alice, "join", { room }));
    const seen = record(alice);
    const sid = alice.id;
    await publish(room, ["before"]);
    await received(seen.messages, 1);

    const gone = nextEvent(alice, "disconnect", { timeoutMs: RECONNECT_MS });
    await server.stop();
    await gone;
    await server.start();
    const back = reconnected(alice);
    await publish(room, ["after 1", "after 2"]);
    await back;
    assert.equal(alice.recovered, true);
    assert.equal(alice.id, sid);
    await received(seen.messages, 3);
    await publish(room, ["live"]);
    await received(seen.messages, 4);
    assert.deepEqual(seqs(seen.messages), [1, 2, 3, 4]);
  });

  it("starts a new session after a kill -9, and `since` still loses nothing", async () => {
    const room = roomName("csr-kill");
    const alice = socket("alice");
    await connect(alice);
    assertOk(await request(alice, "join", { room }));
    const seen = record(alice);
    await publish(room, ["before"]);
    await received(seen.messages, 1);

    const gone = nextEvent(alice, "disconnect", { timeoutMs: RECONNECT_MS });
    await server.kill();
    await gone;
    await server.start();
    const back = reconnected(alice);
    await publish(room, ["after 1", "after 2"]);
    await back;
    assert.equal(alice.recovered, false);
    const rejoined = assertOk(await request(alice, "join", { room, since: 1 }));
    assert.deepEqual(seqs(rejoined.history), [2, 3]);
    assert.deepEqual(seqs(seen.messages), [1]);
  });
});

describe("recovery of /presence and /typing", () => {
  let server;
  const sockets = [];

  before(async () => {
    server = await startServer({ name: "recovery-presence" });
  });
  after(async () => {
    await server?.dispose();
  });
  afterEach(() => closeAll(sockets));

  /** /chat, /presence and /typing sockets of one user on one Manager. */
  function user(id) {
    const chat = chatSocket(server.url, "websocket", {
      token: signToken(server.secret, { sub: id, name: id }),
      reconnectionDelay: AWAY_MS,
      reconnectionDelayMax: AWAY_MS,
      randomizationFactor: 0,
    });
    const auth = chat.auth;
    const presence = chat.io.socket("/presence", { auth });
    const typing = chat.io.socket("/typing", { auth });
    sockets.push(chat, presence, typing);
    return { chat, presence, typing };
  }

  it("resynchronises members and typists, and nobody sees the user leave", async () => {
    const room = roomName("csr-presence");
    const alice = user("alice");
    const bob = user("bob");
    for (const s of [alice.chat, alice.presence, alice.typing, bob.chat, bob.presence, bob.typing]) {
      await connect(s);
    }
    assertOk(await request(alice.chat, "join", { room }));
    assertOk(await request(alice.presence, "subscribe", { room }));
    assertOk(await request(alice.typing, "subscribe", { room }));
    assertOk(await request(bob.presence, "subscribe", { room }));
    const bobSaw = [];
    bob.presence.on("presence", (event) => bobSaw.push(event));

    const members = nextEvent(alice.presence, "members", { timeoutMs: RECONNECT_MS });
    const typists = nextEvent(alice.typing, "typists", { timeoutMs: RECONNECT_MS });
    const back = Promise.all([alice.chat, alice.presence, alice.typing].map(reconnected));
    await drop(alice.chat); // one Manager: every namespace dropped
    // Meanwhile Bob joins the room and starts typing.
    assertOk(await request(bob.chat, "join", { room }));
    assertOk(await request(bob.typing, "typing", { room, typing: true }));
    await back;
    assert.deepEqual([alice.chat.recovered, alice.presence.recovered, alice.typing.recovered],
      [true, true, true]);
    const synced = await members;
    assert.equal(synced.room, room);
    assert.deepEqual(synced.members.map((m) => m.id).sort(), ["alice", "bob"]);
    assert.deepEqual(await typists, { room, typists: [{ id: "bob", name: "bob" }] });
    // Live again on /typing without subscribing.
    const stopped = nextEvent(alice.typing, "typing");
    assertOk(await request(bob.typing, "typing", { room, typing: false }));
    assert.equal((await stopped).typing, false);
    // Bob saw himself join and never saw Alice leave or join again.
    assert.deepEqual(bobSaw.map((e) => `${e.user.id} ${e.status}`), ["bob joined"]);
  });
});

describe("recovery on the same node while the old connection seems alive", () => {
  let server;
  const sockets = [];

  before(async () => {
    server = await startServer({ name: "recovery-takeover" });
  });
  after(async () => {
    await server?.dispose();
  });
  afterEach(() => closeAll(sockets));

  it("ends the old socket and recovers on the new connection", async () => {
    const room = roomName("csr-takeover");
    const token = signToken(server.secret, { sub: "alice", name: "alice" });
    const old = chatSocket(server.url, "websocket", { token, reconnection: false });
    const bob = chatSocket(server.url, "websocket", {
      token: signToken(server.secret, { sub: "bob" }),
    });
    sockets.push(old, bob);
    await connect(old);
    await connect(bob);
    assertOk(await request(old, "join", { room }));
    assertOk(await request(bob, "join", { room }));
    const oldSeen = record(old);
    const sid = old.id;
    assertOk(await request(bob, "message", { room, text: "one" }));
    await received(oldSeen.messages, 1);

    // A second connection presents the pid and offset, as the client does
    // after its network changed, while the server still has the first.
    const fresh = chatSocket(server.url, "websocket", { token });
    sockets.push(fresh);
    fresh._pid = old._pid;
    fresh._lastOffset = oldSeen.offsets[0];
    const freshSeen = record(fresh);
    const oldGone = nextEvent(old, "disconnect");
    await connect(fresh);
    await oldGone;
    assert.equal(fresh.recovered, true);
    assert.equal(fresh.id, sid);
    assertOk(await request(bob, "message", { room, text: "two" }));
    await received(freshSeen.messages, 1);
    assert.deepEqual(seqs(freshSeen.messages), [2]);
    assert.deepEqual(seqs(oldSeen.messages), [1]);
  });
});

describe("recovery window", () => {
  let server;
  const sockets = [];

  before(async () => {
    server = await startServer({ name: "recovery-window", env: { CHATIO_RECOVERY_WINDOW: "1" } });
  });
  after(async () => {
    await server?.dispose();
  });
  afterEach(() => closeAll(sockets));

  it("starts a new session for a socket back after the window", async () => {
    const room = roomName("csr-window");
    const alice = chatSocket(server.url, "websocket", {
      token: signToken(server.secret, { sub: "alice" }),
      reconnectionDelay: 2_000,
      reconnectionDelayMax: 2_000,
      randomizationFactor: 0,
    });
    sockets.push(alice);
    await connect(alice);
    assertOk(await request(alice, "join", { room }));
    const pid = alice._pid;
    await drop(alice);
    await reconnected(alice);
    assert.equal(alice.recovered, false);
    assert.notEqual(alice._pid, pid);
  });
});

describe("recovery turned off", () => {
  let server;
  const sockets = [];

  before(async () => {
    server = await startServer({ name: "recovery-off", env: { CHATIO_RECOVERY_WINDOW: "0" } });
  });
  after(async () => {
    await server?.dispose();
  });
  afterEach(() => closeAll(sockets));

  it("gives no pid and no offsets", async () => {
    const room = roomName("csr-off");
    const alice = chatSocket(server.url, "websocket", { token: signToken(server.secret, { sub: "alice" }) });
    const bob = chatSocket(server.url, "websocket", { token: signToken(server.secret, { sub: "bob" }) });
    sockets.push(alice, bob);
    await connect(alice);
    await connect(bob);
    assert.equal(alice._pid, undefined);
    assertOk(await request(alice, "join", { room }));
    assertOk(await request(bob, "join", { room }));
    const args = nextEvent(alice, "message", { allArgs: true });
    assertOk(await request(bob, "message", { room, text: "hi" }));
    assert.equal((await args).length, 1);
  });
});
