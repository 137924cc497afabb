// TOO_MANY_ROOMS and RATE_LIMITED.
import assert from "node:assert/strict";
import { after, afterEach, before, describe, it } from "node:test";

import {
  TRANSPORTS,
  chatSocket,
  closeAll,
  collect,
  connect,
  request,
  roomName,
} from "./support/client.mjs";
import { startServer } from "./support/server.mjs";
import { signToken } from "./support/tokens.mjs";

// One message per second, bursts of five: a sixth message sent right after
// the first five is always over the limit.
const RATE = 1;
const BURST = 5;
const MAX_ROOMS = 100;

let server;

before(async () => {
  server = await startServer({
    name: "limits",
    env: { CHATIO_RATE_MESSAGES: `${RATE}/${BURST}` },
  });
});

after(async () => {
  await server?.dispose();
});

function assertOk(ack) {
  assert.equal(ack?.ok, true, `expected ok, got ${JSON.stringify(ack)}`);
  return ack;
}

function assertCode(ack, code) {
  assert.equal(ack?.ok, false, `expected ${code}, got ${JSON.stringify(ack)}`);
  assert.equal(ack.error.code, code, JSON.stringify(ack));
  return ack.error;
}

for (const transport of TRANSPORTS) {
  describe(`limits over ${transport}`, () => {
    const sockets = [];
    afterEach(() => closeAll(sockets));

    async function client(sub) {
      const s = chatSocket(server.url, transport, { token: signToken(server.secret, { sub }) });
      sockets.push(s);
      await connect(s);
      return s;
    }

    it("allows 100 rooms per socket and answers TOO_MANY_ROOMS beyond", async () => {
      const alice = await client(`rooms-${transport}`);
      const rooms = Array.from({ length: MAX_ROOMS + 1 }, () => roomName("many"));
      // Ten joins at a time.
      for (let i = 0; i < MAX_ROOMS; i += 10) {
        const acks = await Promise.all(
          rooms.slice(i, i + 10).map((room) => request(alice, "join", { room })),
        );
        acks.forEach(assertOk);
      }
      const error = assertCode(await request(alice, "join", { room: rooms[MAX_ROOMS] }), "TOO_MANY_ROOMS");
      assert.equal(error.retryable, false);

      // Joining a room the socket is already in is harmless, even at the limit.
      assertOk(await request(alice, "join", { room: rooms[0] }));
      // Leaving makes room for another.
      assertOk(await request(alice, "leave", { room: rooms[0] }));
      assertOk(await request(alice, "join", { room: rooms[MAX_ROOMS] }));
      assertCode(await request(alice, "join", { room: rooms[0] }), "TOO_MANY_ROOMS");

      // The limit is per socket: another socket of the same user may join.
      const aliceOtherTab = await client(`rooms-${transport}`);
      assertOk(await request(aliceOtherTab, "join", { room: rooms[0] }));
    });

    it("answers RATE_LIMITED with retry_after_ms, per user, storing nothing", async () => {
      const user = `rate-${transport}`;
      const room = roomName();
      const alice = await client(user);
      const aliceOtherTab = await client(user);
      const bob = await client(`other-${transport}`);
      for (const s of [alice, aliceOtherTab, bob]) assertOk(await request(s, "join", { room }));
      const bobSees = collect(bob, "message");

      const accepted = [];
      for (let i = 1; i <= BURST; i += 1) {
        const ack = assertOk(
          await request(alice, "message", { room, text: `m${i}`, client_id: `rate-${i}` }),
        );
        accepted.push(ack.message);
      }
      const limited = await request(alice, "message", { room, text: "one too many", client_id: "rate-x" });
      const error = assertCode(limited, "RATE_LIMITED");
      assert.equal(error.retryable, true);
      assert.ok(
        Number.isFinite(error.details?.retry_after_ms) && error.details.retry_after_ms > 0,
        `details.retry_after_ms: ${JSON.stringify(error)}`,
      );
      assert.ok(error.details.retry_after_ms <= 1000 / RATE + 50, JSON.stringify(error));

      // The limit is per user, not per socket.
      assertCode(await request(aliceOtherTab, "message", { room, text: "other tab" }), "RATE_LIMITED");

      // A retry of a message already sent still gets its answer.
      const retry = assertOk(
        await request(alice, "message", { room, text: "m1", client_id: "rate-1" }),
      );
      assert.equal(retry.duplicate, true);
      assert.deepEqual(retry.message, accepted[0]);

      // Other users are not affected.
      assertOk(await request(bob, "message", { room, text: "bob is fine" }));

      const history = await request(bob, "history", { room });
      bobSees.stop();
      assert.deepEqual(
        history.messages.map((m) => m.text),
        ["m1", "m2", "m3", "m4", "m5", "bob is fine"],
        "rate-limited messages were neither stored",
      );
      assert.deepEqual(
        bobSees.seen.map((m) => m.text),
        ["m1", "m2", "m3", "m4", "m5"],
        "nor broadcast",
      );
    });
  });
}
