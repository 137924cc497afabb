// getToken: once per connection attempt, again after TOKEN_EXPIRED.
import assert from "node:assert/strict";
import { after, afterEach, before, describe, it } from "node:test";

import { ClientPool } from "./support/clients.mjs";
import { signToken, startServer } from "./support/server.mjs";
import { settles, until, waitFor } from "./support/wait.mjs";

let server;
const pool = new ClientPool();

before(async () => {
  server = await startServer({ name: "client-tokens", env: { CHATIO_SHUTDOWN_TIMEOUT: "5" } });
});
after(async () => {
  pool.closeAll();
  await server?.dispose();
});
afterEach(() => pool.closeAll());

const HOUR = 3600;

function expiredToken(sub) {
  return signToken(server.secret, { sub }, { issuedAt: Date.now() / 1000 - 2 * HOUR });
}

describe("tokens", () => {
  it("refreshes an expired token through getToken, one call per connection attempt", async () => {
    const calls = [];
    const client = await pool.connected({
      url: server.url,
      getToken: async ({ refresh }) => {
        calls.push(refresh);
        await new Promise((resolve) => setTimeout(resolve, 20));
        return calls.length === 1 ? expiredToken("ann") : signToken(server.secret, { sub: "ann" });
      },
    });
    assert.deepEqual(calls, [false, true]);
    assert.ok(Object.values(client.sockets).every((s) => s.connected));
    assert.equal(new Set(Object.values(client.sockets).map((s) => s.io.engine.id)).size, 1);
  });

  it("calls getToken again on each reconnect, once", async () => {
    let calls = 0;
    const client = await pool.connected({
      url: server.url,
      getToken: () => {
        calls += 1;
        return signToken(server.secret, { sub: "bob" });
      },
    });
    assert.equal(calls, 1);
    const down = waitFor(client, "status", (s) => s === "reconnecting", { timeoutMs: 20_000 });
    const restarting = server.restart();
    await down;
    await restarting;
    // The client may be back before the restart's health check is.
    await until(client, "status", () => client.status === "connected", { timeoutMs: 20_000 });
    assert.equal(calls, 2);
  });

  it("goes offline with an error when a fixed token is refused", async () => {
    const client = pool.create({ url: server.url, token: expiredToken("cy") });
    const error = await waitFor(client, "error");
    assert.equal(error.code, "TOKEN_EXPIRED");
    if (client.status !== "offline") await waitFor(client, "status", (s) => s === "offline");
  });

  it("rejects what waits with the refusal even when an error listener closes the client", async () => {
    const client = pool.create({ url: server.url, token: signToken("not-the-secret", { sub: "eve" }) });
    client.on("error", () => client.close());
    const joining = client.join("fatal-d");
    const queued = client.send("fatal-d", "never stored");
    const unauthorized = { code: "UNAUTHORIZED" };
    await assert.rejects(settles(joining, "the pending join"), unauthorized);
    await assert.rejects(settles(queued, "the queued send"), unauthorized);
  });

  it("rejects what waits and what comes later with UNAUTHORIZED once the token is refused", async () => {
    let calls = 0;
    const client = await pool.connected({
      url: server.url,
      getToken: () => {
        calls += 1;
        // The second attempt presents a token the node cannot verify.
        return signToken(calls === 1 ? server.secret : "not-the-secret", { sub: "dee" });
      },
    });
    await client.join("fatal-a");
    const down = waitFor(client, "status", (s) => s !== "connected");
    client.manager.engine.close(); // the transport drops; the Manager reconnects
    await down;
    const refused = waitFor(client, "error", (e) => e.code === "UNAUTHORIZED");
    const queued = client.send("fatal-a", "queued while down");
    const joining = client.join("fatal-b");
    await refused;
    const unauthorized = { name: "ChatError", code: "UNAUTHORIZED", retryable: false };
    await assert.rejects(settles(queued, "the queued send"), unauthorized);
    await assert.rejects(settles(joining, "the pending join"), unauthorized);
    assert.deepEqual(client.pending(), []);
    assert.equal(client.status, "offline");
    await assert.rejects(settles(client.send("fatal-a", "later"), "a later send"), unauthorized);
    await assert.rejects(settles(client.join("fatal-a"), "a later join"), unauthorized);
    await assert.rejects(settles(client.join("fatal-c"), "a later join of a new room"), unauthorized);
    await assert.rejects(settles(client.history("fatal-a"), "a later history"), unauthorized);
    assert.equal(calls, 2);
  });
});
