// /chat, /typing and /presence from one socket.io-client Manager, over one
// connection: presence, typing and messages flow as the protocol says.
import assert from "node:assert/strict";
import { after, afterEach, before, describe, it } from "node:test";
import { Manager, io } from "socket.io-client";

import {
  TRANSPORTS,
  closeAll,
  connect,
  nextEvent,
  request,
  roomName,
  transportOptions,
} from "./support/client.mjs";
import { startServer } from "./support/server.mjs";

let server;
const open = [];

before(async () => {
  server = await startServer({
    name: "namespaces",
    env: {
      CHATIO_PRESENCE_GRACE: "0.3",
      CHATIO_TYPING_TTL: "0.5",
      CHATIO_RATE_MESSAGES: "0",
      CHATIO_RATE_TYPING: "0",
    },
  });
});

after(async () => {
  await server?.dispose();
});

afterEach(() => {
  closeAll(open);
});

/** The three namespaces of one user from one Manager, connected. */
async function user(id, transport) {
  const token = await server.mintToken({ sub: id, name: id.toUpperCase() });
  const manager = new Manager(server.url, {
    ...transportOptions(transport),
    reconnectionDelay: 100,
    reconnectionDelayMax: 500,
  });
  const sockets = {};
  for (const ns of ["/chat", "/typing", "/presence"]) {
    sockets[ns] = manager.socket(ns, { auth: { token } });
    open.push(sockets[ns]);
    await connect(sockets[ns]);
  }
  return { manager, ...sockets };
}

function ok(ack) {
  assert.equal(ack.ok, true, JSON.stringify(ack));
  return ack;
}

for (const transport of TRANSPORTS) {
  describe(`three namespaces over one ${transport} connection`, () => {
    it("share one engine.io connection", async () => {
      const ann = await user("ann", transport);
      const engineIds = ["/chat", "/typing", "/presence"].map((ns) => ann[ns].io.engine.id);
      assert.equal(new Set(engineIds).size, 1);
      assert.ok(engineIds[0]);
    });

    it("carry presence, typing and messages between two users", async () => {
      const room = roomName("ns");
      const ann = await user("ann", transport);
      const bob = await user("bob", transport);
      ok(await request(bob["/presence"], "subscribe", { room }));
      ok(await request(bob["/typing"], "subscribe", { room }));
      ok(await request(bob["/chat"], "join", { room }));

      const joined = nextEvent(bob["/presence"], "presence");
      ok(await request(ann["/chat"], "join", { room }));
      assert.deepEqual(await joined, { room, user: { id: "ann", name: "ANN" }, status: "joined" });

      const members = ok(await request(bob["/presence"], "subscribe", { room })).members;
      assert.deepEqual(members.map((m) => m.id).sort(), ["ann", "bob"]);

      const typing = nextEvent(bob["/typing"], "typing");
      ok(await request(ann["/typing"], "typing", { room, typing: true }));
      assert.deepEqual(await typing, { room, user: { id: "ann", name: "ANN" }, typing: true });

      const cleared = nextEvent(bob["/typing"], "typing");
      const message = nextEvent(bob["/chat"], "message");
      const sent = ok(await request(ann["/chat"], "message", { room, text: "hi bob" }));
      assert.deepEqual(await message, sent.message);
      assert.equal((await cleared).typing, false);

      const left = nextEvent(bob["/presence"], "presence");
      ann.manager.reconnection(false);
      for (const ns of ["/chat", "/typing", "/presence"]) ann[ns].disconnect();
      assert.deepEqual(await left, { room, user: { id: "ann", name: "ANN" }, status: "left" });
    });

    it("expires typing that is not refreshed", async () => {
      const room = roomName("ttl");
      const ann = await user("ann", transport);
      const bob = await user("bob", transport);
      ok(await request(bob["/typing"], "subscribe", { room }));
      ok(await request(ann["/chat"], "join", { room }));
      const started = nextEvent(bob["/typing"], "typing");
      ok(await request(ann["/typing"], "typing", { room, typing: true }));
      assert.equal((await started).typing, true);
      const expired = await nextEvent(bob["/typing"], "typing", { timeoutMs: 3_000 });
      assert.deepEqual(expired, { room, user: { id: "ann", name: "ANN" }, typing: false });
    });

    it("refuses typing from a user with no /chat socket in the room", async () => {
      const ann = await user("ann", transport);
      const ack = await request(ann["/typing"], "typing", { room: roomName("x"), typing: true });
      assert.equal(ack.ok, false);
      assert.equal(ack.error.code, "NOT_IN_ROOM");
    });
  });
}

describe("io() with the same origin", () => {
  it("multiplexes the namespaces on one cached Manager", async () => {
    const token = await server.mintToken({ sub: "cara" });
    const chat = io(`${server.url}/chat`, { auth: { token }, transports: ["websocket"] });
    const presence = io(`${server.url}/presence`, { auth: { token }, transports: ["websocket"] });
    open.push(chat, presence);
    await Promise.all([connect(chat), connect(presence)]);
    assert.equal(chat.io, presence.io);
    const room = roomName("io");
    ok(await request(chat, "join", { room }));
    const { members } = ok(await request(presence, "subscribe", { room }));
    assert.deepEqual(members, [{ id: "cara", name: "cara" }]);
  });
});
