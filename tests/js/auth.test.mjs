// Connecting to /chat: where the token goes, and how refusals look.
import assert from "node:assert/strict";
import { after, afterEach, before, describe, it } from "node:test";

import {
  TRANSPORTS,
  chatSocket,
  closeAll,
  connect,
  refusal,
  request,
  roomName,
} from "./support/client.mjs";
import { startServer } from "./support/server.mjs";
import { randomString, signToken } from "./support/tokens.mjs";

const TOKEN_TTL = 600;

let server;
const usedTokens = [];

before(async () => {
  server = await startServer({
    name: "auth",
    env: { CHATIO_TOKEN_TTL: String(TOKEN_TTL), CHATIO_RATE_MESSAGES: "0" },
  });
});

after(async () => {
  await server?.dispose();
});

function token(claims, options) {
  const value = signToken(server.secret, claims, options);
  usedTokens.push(value);
  return value;
}

function nowSeconds() {
  return Math.floor(Date.now() / 1000);
}

function assertRefused(err, code) {
  assert.ok(err instanceof Error, `connect_error is an Error: ${err}`);
  assert.equal(err.message, "unauthorized");
  assert.deepEqual(err.data, { code });
}

for (const transport of TRANSPORTS) {
  describe(`auth over ${transport}`, () => {
    const sockets = [];
    afterEach(() => closeAll(sockets));

    function socket(options) {
      const s = chatSocket(server.url, transport, options);
      sockets.push(s);
      return s;
    }

    /** Join a fresh room and send a message; resolves with the message. */
    async function chatAs(s) {
      const room = roomName("auth");
      const joined = await request(s, "join", { room });
      assert.equal(joined.ok, true, JSON.stringify(joined));
      const sent = await request(s, "message", { room, text: "hello" });
      assert.equal(sent.ok, true, JSON.stringify(sent));
      return sent.message;
    }

    it("refuses a connection without any token", async () => {
      assertRefused(await refusal(socket()), "UNAUTHORIZED");
    });

    it("refuses an empty auth payload and a non-string token", async () => {
      assertRefused(await refusal(socket({ auth: {} })), "UNAUTHORIZED");
      assertRefused(await refusal(socket({ auth: { token: "" } })), "UNAUTHORIZED");
      assertRefused(await refusal(socket({ auth: { token: 42 } })), "UNAUTHORIZED");
      assertRefused(
        await refusal(socket({ auth: { token: { sub: "alice" } } })),
        "UNAUTHORIZED",
      );
    });

    it("refuses a malformed token", async () => {
      assertRefused(await refusal(socket({ token: "not-a-token" })), "UNAUTHORIZED");
      assertRefused(await refusal(socket({ token: "a.b.c" })), "UNAUTHORIZED");
    });

    it("refuses a token forged with another secret", async () => {
      const forged = signToken(randomString(32), { sub: "alice" });
      assertRefused(await refusal(socket({ token: forged })), "UNAUTHORIZED");
    });

    it("refuses a token signed with another salt", async () => {
      const forged = signToken(server.secret, { sub: "alice" }, { salt: "other-salt" });
      assertRefused(await refusal(socket({ token: forged })), "UNAUTHORIZED");
    });

    it("refuses a token whose payload was tampered with", async () => {
      const genuine = token({ sub: "alice" });
      const [, stamp, signature] = genuine.split(".");
      const payload = Buffer.from(JSON.stringify({ sub: "admin" })).toString("base64url");
      const tampered = [payload, stamp, signature].join(".");
      assertRefused(await refusal(socket({ token: tampered })), "UNAUTHORIZED");
    });

    it("refuses validly signed claims without a usable sub", async () => {
      for (const claims of [{}, { name: "nobody" }, { sub: 42 }, "alice", ["alice"]]) {
        const err = await refusal(socket({ token: token(claims) }));
        assertRefused(err, "UNAUTHORIZED");
      }
    });

    it("refuses a token whose exp has passed with TOKEN_EXPIRED", async () => {
      const expired = token({ sub: "alice", exp: nowSeconds() - 5 });
      assertRefused(await refusal(socket({ token: expired })), "TOKEN_EXPIRED");
    });

    it("refuses a token older than CHATIO_TOKEN_TTL with TOKEN_EXPIRED", async () => {
      const old = token({ sub: "alice" }, { issuedAt: nowSeconds() - TOKEN_TTL - 60 });
      assertRefused(await refusal(socket({ token: old })), "TOKEN_EXPIRED");
    });

    it("accepts a token that is not yet expired", async () => {
      const fresh = token(
        { sub: "alice", exp: nowSeconds() + 60 },
        { issuedAt: nowSeconds() - TOKEN_TTL + 60 },
      );
      const s = await connect(socket({ token: fresh }));
      assert.equal(s.connected, true);
    });

    it("accepts the token in the auth payload; user comes from the token", async () => {
      const s = await connect(socket({ token: token({ sub: "alice", name: "Alice" }) }));
      assert.equal(s.io.engine.transport.name, transport);
      const message = await chatAs(s);
      assert.deepEqual(message.user, { id: "alice", name: "Alice" });
    });

    it("defaults the name to sub", async () => {
      const s = await connect(socket({ token: token({ sub: "bob" }) }));
      const message = await chatAs(s);
      assert.deepEqual(message.user, { id: "bob", name: "bob" });
    });

    it("accepts the token as ?token=", async () => {
      const s = await connect(socket({ query: { token: token({ sub: "carol", name: "Carol" }) } }));
      const message = await chatAs(s);
      assert.deepEqual(message.user, { id: "carol", name: "Carol" });
    });

    it("accepts the token as Authorization: Bearer", async () => {
      const bearer = token({ sub: "dave", name: "Dave" });
      const s = await connect(socket({ extraHeaders: { authorization: `Bearer ${bearer}` } }));
      const message = await chatAs(s);
      assert.deepEqual(message.user, { id: "dave", name: "Dave" });
    });

    it("accepts a token minted by POST /api/tokens", async () => {
      const res = await server.request("/api/tokens", {
        method: "POST",
        headers: { authorization: `Bearer ${server.apiKey}` },
        body: { sub: "erin", name: "Erin", ttl: 120 },
      });
      assert.equal(res.status, 200, res.text);
      assert.equal(typeof res.json.token, "string");
      assert.ok(res.json.expires_in > 0 && res.json.expires_in <= 120, res.text);
      usedTokens.push(res.json.token);
      const s = await connect(socket({ token: res.json.token }));
      const message = await chatAs(s);
      assert.deepEqual(message.user, { id: "erin", name: "Erin" });
    });

    it("accepts a guest token from POST /api/guest", async () => {
      const res = await server.request("/api/guest", {
        method: "POST",
        body: { name: `Guest ${transport}` },
      });
      assert.equal(res.status, 200, res.text);
      const { token: guestToken, expires_in: expiresIn, user } = res.json;
      assert.equal(typeof guestToken, "string");
      assert.ok(expiresIn > 0);
      assert.match(user.id, /^guest-/);
      assert.equal(user.name, `Guest ${transport}`);
      usedTokens.push(guestToken);
      const s = await connect(socket({ token: guestToken }));
      const message = await chatAs(s);
      assert.deepEqual(message.user, user);
    });
  });
}

describe("the token API", () => {
  it("answers 401 to a missing or wrong API key", async () => {
    const missing = await server.request("/api/tokens", {
      method: "POST",
      body: { sub: "alice" },
    });
    assert.equal(missing.status, 401, missing.text);
    const wrong = await server.request("/api/tokens", {
      method: "POST",
      headers: { authorization: `Bearer ${server.apiKey}x` },
      body: { sub: "alice" },
    });
    assert.equal(wrong.status, 401, wrong.text);
  });

  it("never writes a token to the log", async () => {
    assert.ok(usedTokens.length > 10, "the tests above used tokens");
    const logs = server.logs();
    assert.match(logs, /connect/, "the node logged connections");
    for (const used of usedTokens) {
      // the signature part is what would make a leaked token usable
      const signature = used.split(".").at(-1);
      assert.ok(!logs.includes(signature), `a token appears in the log: ${used}`);
    }
  });
});
