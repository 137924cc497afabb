// The Socket.IO Admin UI namespace over the official socket.io-client: with
// the right credentials it gets server_stats and the socket list (a chat
// client in it, without its token); without them it is refused.
import assert from "node:assert/strict";
import { after, afterEach, before, describe, it } from "node:test";
import { io } from "socket.io-client";

import { closeAll, connect, connected, nextEvent, refusal } from "./support/client.mjs";
import { startServer } from "./support/server.mjs";
import { randomString } from "./support/tokens.mjs";

const USER = "ops";
const PASSWORD = randomString(24);
const STATS_TIMEOUT_MS = 10_000;

let server;
const open = [];

before(async () => {
  server = await startServer({
    name: "admin-ui",
    env: { CHATIO_ADMIN_USER: USER, CHATIO_ADMIN_PASSWORD: PASSWORD, CHATIO_NODE_ID: "node-js" },
  });
});

after(async () => {
  await server?.dispose();
});

afterEach(() => {
  closeAll(open);
});

function adminSocket(auth) {
  const socket = io(`${server.url}/admin`, {
    auth,
    forceNew: true,
    autoConnect: false,
    reconnection: false,
    transports: ["websocket"],
  });
  open.push(socket);
  return socket;
}

describe("the /admin namespace", () => {
  it("sends server_stats and lists a chat client without its token", async () => {
    const token = await server.mintToken({ sub: "alice", name: "Alice" });
    const chat = await connected(server.url, "websocket", { query: { token } });
    open.push(chat);

    const admin = adminSocket({ username: USER, password: PASSWORD });
    const config = nextEvent(admin, "config");
    const sockets = nextEvent(admin, "all_sockets");
    const stats = nextEvent(admin, "server_stats", { timeoutMs: STATS_TIMEOUT_MS });
    await connect(admin);

    assert.ok((await config).supportedFeatures.includes("ALL_EVENTS"));
    const list = await sockets;
    const listed = list.find((s) => s.id === chat.id && s.nsp === "/chat");
    assert.ok(listed, JSON.stringify(list));
    assert.equal(listed.handshake.query.token, "[redacted]");
    assert.deepEqual(listed.data.user, { id: "alice", name: "Alice" });
    assert.ok(!JSON.stringify(list).includes(token), "a token reached the admin");

    const { serverId, namespaces } = await stats;
    assert.equal(serverId, "node-js");
    assert.equal(namespaces.find((n) => n.name === "/chat").socketsCount, 1);
  });

  it("reports a client that connects later, with a token in the auth payload", async () => {
    const admin = adminSocket({ username: USER, password: PASSWORD });
    const sockets = nextEvent(admin, "all_sockets");
    await connect(admin);
    await sockets;
    const token = await server.mintToken({ sub: "bob" });
    const reported = new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error("no socket_connected for bob")), 5_000);
      admin.on("socket_connected", (socket) => {
        if (socket.nsp === "/chat" && socket.data.user?.id === "bob") {
          clearTimeout(timer);
          resolve(socket);
        }
      });
    });
    const chat = await connected(server.url, "websocket", {
      token,
      extraHeaders: { authorization: `Bearer ${token}` },
    });
    open.push(chat);
    const socket = await reported;
    assert.equal(socket.id, chat.id);
    assert.equal(socket.handshake.headers.authorization, "[redacted]");
    assert.ok(!JSON.stringify(socket).includes(token));
  });

  for (const [name, auth] of [
    ["without credentials", undefined],
    ["with a wrong password", { username: USER, password: `${PASSWORD}x` }],
  ]) {
    it(`refuses a connection ${name}`, async () => {
      const err = await refusal(adminSocket(auth));
      assert.equal(err.message, "invalid credentials");
      assert.equal(err.data?.code, "UNAUTHORIZED");
    });
  }

  it("never writes the password to the log", () => {
    assert.ok(server.logs().includes("Admin UI login refused"));
    assert.ok(!server.logs().includes(PASSWORD));
  });
});
