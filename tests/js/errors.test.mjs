// Error acks, chatio_error, hostile payloads and hostile packets.
import assert from "node:assert/strict";
import { after, afterEach, before, describe, it } from "node:test";

import {
  TRANSPORTS,
  chatSocket,
  closeAll,
  connect,
  nextEvent,
  rawRequest,
  request,
  roomName,
} from "./support/client.mjs";
import { startServer } from "./support/server.mjs";
import { signToken } from "./support/tokens.mjs";

const MAX_PAYLOAD = 65536;

let server;

before(async () => {
  server = await startServer({
    name: "errors",
    env: { CHATIO_RATE_MESSAGES: "0", CHATIO_MAX_PAYLOAD: String(MAX_PAYLOAD) },
  });
});

after(async () => {
  await server?.dispose();
});

function assertOk(ack) {
  assert.equal(ack?.ok, true, `expected ok, got ${JSON.stringify(ack)}`);
  return ack;
}

/** Asserts `ack` is the documented error shape with one of `codes`. */
function assertError(ack, codes, context = "") {
  const expected = [codes].flat();
  const where = `${context} -> ${JSON.stringify(ack)}`;
  assert.equal(ack?.ok, false, `expected an error ack: ${where}`);
  const { error } = ack;
  assert.ok(expected.includes(error?.code), `expected ${expected.join("/")}: ${where}`);
  assert.equal(typeof error.message, "string", where);
  assert.ok(error.message.length > 0, where);
  const retryable = ["RATE_LIMITED", "UNAVAILABLE", "INTERNAL"].includes(error.code);
  assert.equal(error.retryable, retryable, `retryable: ${where}`);
  assert.deepEqual(
    Object.keys(error).filter((k) => !["code", "message", "retryable", "details"].includes(k)),
    [],
    where,
  );
  assert.deepEqual(Object.keys(ack).sort(), ["error", "ok"], where);
  return error;
}

/** Asserts INVALID_PAYLOAD whose details name `field`, when a field is given. */
function assertInvalid(ack, field, context) {
  const error = assertError(ack, "INVALID_PAYLOAD", context);
  if (field !== undefined) {
    assert.ok(
      error.details && typeof error.details === "object",
      `INVALID_PAYLOAD lists field errors in details: ${context} -> ${JSON.stringify(ack)}`,
    );
    assert.ok(
      JSON.stringify(error.details).includes(JSON.stringify(field)),
      `details name ${field}: ${context} -> ${JSON.stringify(ack)}`,
    );
  }
  return error;
}

const BAD_ROOMS = [
  "",
  "with space",
  "slash/room",
  "x".repeat(65),
  "trailing-newline\n",
  "caf\u00e9",
  "emoji-\u{1F600}",
  "nul\u0000",
];
const NON_OBJECTS = [null, "room", 42, true, [], [{ room: "lobby" }]];
const MAX_MESSAGE_CHARS = 2000;

for (const transport of TRANSPORTS) {
  describe(`errors over ${transport}`, () => {
    const sockets = [];
    afterEach(() => closeAll(sockets));

    async function client(claims = { sub: "alice" }, options = {}) {
      const s = chatSocket(server.url, transport, {
        token: signToken(server.secret, claims),
        ...options,
      });
      sockets.push(s);
      await connect(s);
      return s;
    }

    it("answers NOT_IN_ROOM to a message or history outside the socket's rooms", async () => {
      const room = roomName();
      const alice = await client();
      assertError(await request(alice, "message", { room, text: "hi" }), "NOT_IN_ROOM");
      assertError(await request(alice, "history", { room }), "NOT_IN_ROOM");

      // Another socket of the same user being in the room does not count.
      const aliceOtherTab = await client();
      assertOk(await request(aliceOtherTab, "join", { room }));
      assertError(await request(alice, "message", { room, text: "hi" }), "NOT_IN_ROOM");

      assertOk(await request(alice, "join", { room }));
      assertOk(await request(alice, "message", { room, text: "hi" }));
      assertOk(await request(alice, "leave", { room }));
      assertError(await request(alice, "message", { room, text: "again" }), "NOT_IN_ROOM");
      assertError(await request(alice, "history", { room }), "NOT_IN_ROOM");
    });

    it("answers FORBIDDEN to rooms the token's patterns exclude", async () => {
      const limited = await client({ sub: "limited", rooms: ["team-*", "lobby"] });
      assertOk(await request(limited, "join", { room: "team-red" }));
      assertOk(await request(limited, "join", { room: "lobby" }));
      assertError(await request(limited, "join", { room: "team" }), "FORBIDDEN");
      assertError(await request(limited, "join", { room: "lobby2" }), "FORBIDDEN");
      assertError(await request(limited, "join", { room: "other" }), "FORBIDDEN");
      assertOk(await request(limited, "message", { room: "team-red", text: "allowed" }));

      const nowhere = await client({ sub: "nowhere", rooms: [] });
      assertError(await request(nowhere, "join", { room: "lobby" }), "FORBIDDEN");
    });

    it("applies rooms patterns of a token minted by POST /api/tokens", async () => {
      const token = await server.mintToken({ sub: "minted", rooms: ["support:*"] });
      const s = chatSocket(server.url, transport, { token });
      sockets.push(s);
      await connect(s);
      assertOk(await request(s, "join", { room: "support:42" }));
      assertError(await request(s, "join", { room: "sales:42" }), "FORBIDDEN");
    });

    it("answers UNKNOWN_EVENT to events the protocol does not define", async () => {
      const alice = await client();
      for (const event of ["frobnicate", "typing", "Message", "JOIN", "chatio_error", "error", "*"]) {
        assertError(await request(alice, event, { room: "lobby" }), "UNKNOWN_EVENT", event);
      }
      assertError(await request(alice, "frobnicate"), "UNKNOWN_EVENT", "no payload");
    });

    it("emits chatio_error {event, error} when the client gave no ack callback", async () => {
      const room = roomName();
      const alice = await client();
      const events = [];
      alice.onAny((event, ...args) => events.push([event, ...args]));

      let next = nextEvent(alice, "chatio_error");
      alice.emit("message", { room, text: "no ack" });
      let payload = await next;
      assert.deepEqual(Object.keys(payload).sort(), ["error", "event"]);
      assert.equal(payload.event, "message");
      assertError({ ok: false, error: payload.error }, "NOT_IN_ROOM");

      next = nextEvent(alice, "chatio_error");
      alice.emit("frobnicate", { x: 1 });
      payload = await next;
      assert.equal(payload.event, "frobnicate");
      assertError({ ok: false, error: payload.error }, "UNKNOWN_EVENT");

      next = nextEvent(alice, "chatio_error");
      alice.emit("join", { room: "not a room" });
      payload = await next;
      assert.equal(payload.event, "join");
      assertInvalid({ ok: false, error: payload.error }, "room", "join without ack");

      // A valid event without an ack produces no event at all.
      alice.emit("join", { room });
      assertOk(await request(alice, "message", { room, text: "after" }));
      assert.deepEqual(
        events.map(([event]) => event),
        ["chatio_error", "chatio_error", "chatio_error"],
        "errors arrive as chatio_error, never as error",
      );
    });

    it("answers INVALID_PAYLOAD to non-object payloads of every event", async () => {
      const alice = await client();
      for (const event of ["join", "leave", "message", "history"]) {
        for (const payload of NON_OBJECTS) {
          assertInvalid(await request(alice, event, payload), undefined, `${event} ${JSON.stringify(payload)}`);
        }
        assertInvalid(await request(alice, event), undefined, `${event} without payload`);
      }
    });

    it("answers INVALID_PAYLOAD to bad room names", async () => {
      const alice = await client();
      for (const event of ["join", "leave", "message", "history"]) {
        const extra = event === "message" ? { text: "hi" } : {};
        for (const room of [...BAD_ROOMS, 42, null, ["lobby"], { name: "lobby" }]) {
          assertInvalid(
            await request(alice, event, { room, ...extra }),
            "room",
            `${event} room=${JSON.stringify(room)}`,
          );
        }
        assertInvalid(await request(alice, event, { ...extra }), "room", `${event} without room`);
      }
      // The longest and most varied valid name is accepted.
      const longest = `A-z_0.9:@${"x".repeat(55)}`;
      assert.equal(longest.length, 64);
      assertOk(await request(alice, "join", { room: longest }));
    });

    it("answers INVALID_PAYLOAD to bad message texts and client_ids", async () => {
      const room = roomName();
      const alice = await client();
      assertOk(await request(alice, "join", { room }));
      const badTexts = [
        undefined,
        null,
        42,
        ["hi"],
        { text: "hi" },
        "",
        "   ",
        "\u00a0\u2003\n\t",
        "x".repeat(MAX_MESSAGE_CHARS + 1),
        "x".repeat(60000),
        "bell\u0007",
        "nul\u0000byte",
        "escape\u001b[31m",
        "delete\u007f",
        "c1\u0085control",
        "lone \ud800 high surrogate",
        "lone \udc00 low surrogate",
      ];
      for (const text of badTexts) {
        const payload = text === undefined ? { room } : { room, text };
        assertInvalid(
          await request(alice, "message", payload),
          "text",
          `text=${JSON.stringify(text)?.slice(0, 40)}`,
        );
      }
      const badClientIds = [
        "",
        "x".repeat(65),
        42,
        null,
        ["id"],
        "new\nline",
        "tab\tid",
        "nul\u0000",
      ];
      for (const clientId of badClientIds) {
        assertInvalid(
          await request(alice, "message", { room, text: "hi", client_id: clientId }),
          "client_id",
          `client_id=${JSON.stringify(clientId)}`,
        );
      }
      // Exactly at the limits is fine.
      assertOk(await request(alice, "message", { room, text: "x".repeat(MAX_MESSAGE_CHARS) }));
      assertOk(await request(alice, "message", { room, text: "ok", client_id: "c".repeat(64) }));
      const history = await request(alice, "history", { room });
      assert.equal(history.messages.length, 2, "nothing invalid was stored");
    });

    it("answers INVALID_PAYLOAD to bad paging arguments", async () => {
      const room = roomName();
      const alice = await client();
      assertOk(await request(alice, "join", { room }));
      const cases = [
        ["join", { room, limit: 201 }, "limit"],
        ["join", { room, limit: -1 }, "limit"],
        ["join", { room, limit: "many" }, "limit"],
        ["join", { room, since: "yesterday" }, "since"],
        ["join", { room, since: [1] }, "since"],
        ["history", { room, limit: 201 }, "limit"],
        ["history", { room, limit: -1 }, "limit"],
        ["history", { room, before: "x" }, "before"],
        ["history", { room, after: { seq: 1 } }, "after"],
        ["history", { room, before: 5, after: 1 }, undefined],
      ];
      for (const [event, payload, field] of cases) {
        assertInvalid(await request(alice, event, payload), field, `${event} ${JSON.stringify(payload)}`);
      }
      assertOk(await request(alice, "join", { room, limit: 200 }));
      assertOk(await request(alice, "join", { room, limit: 0 }));
      assertOk(await request(alice, "history", { room, limit: 200 }));
    });

    it("answers the wrong number of arguments without running the handler", async () => {
      const room = roomName();
      const alice = await client();
      assertOk(await request(alice, "join", { room }));
      for (const event of ["join", "leave", "message", "history"]) {
        const payload = event === "message" ? { room, text: "two args" } : { room };
        const ack = await request(alice, event, payload, "extra");
        assertError(ack, ["INVALID_PAYLOAD", "UNKNOWN_EVENT"], `${event} with 2 arguments`);
        const three = await request(alice, event, payload, { room }, 3);
        assertError(three, ["INVALID_PAYLOAD", "UNKNOWN_EVENT"], `${event} with 3 arguments`);
      }
      const history = await request(alice, "history", { room });
      assert.deepEqual(history.messages, [], "no message was stored from a bad packet");
    });

    it("answers hostile event names and stays connected, in its rooms", async () => {
      const room = roomName();
      const alice = await client();
      const bob = await client({ sub: "bob" });
      assertOk(await request(alice, "join", { room }));
      assertOk(await request(bob, "join", { room }));
      let disconnects = 0;
      alice.on("disconnect", () => {
        disconnects += 1;
      });
      const packets = [
        ["connect", {}],
        ["connect", { token: "x" }],
        ["disconnect", {}],
        ["disconnect"],
        ["disconnecting", {}],
        ["connect_error", {}],
        ["*", { room }],
        ["", { room }],
        [42, { room }],
        [null, { room }],
        [{ event: "join" }, { room }],
        [["message"], { room, text: "hi" }],
        [true],
        [],
      ];
      for (const data of packets) {
        assertError(
          await rawRequest(alice, data),
          ["UNKNOWN_EVENT", "INVALID_PAYLOAD"],
          `packet ${JSON.stringify(data)}`,
        );
      }
      assert.equal(alice.connected, true);
      assert.equal(disconnects, 0);
      // The disconnect handler did not run: alice is still in the room.
      const bobGets = nextEvent(bob, "message");
      const sent = assertOk(await request(alice, "message", { room, text: "still here" }));
      assert.deepEqual(await bobGets, sent.message);
      assertOk(await request(alice, "history", { room }));
    });

    it("closes a connection that sends a packet over CHATIO_MAX_PAYLOAD, and serves the others", async () => {
      const room = roomName();
      const bystander = await client({ sub: "bystander" });
      assertOk(await request(bystander, "join", { room }));
      const big = await client({ sub: "big" }, { reconnection: false });
      assertOk(await request(big, "join", { room }));

      const closed = nextEvent(big, "disconnect");
      big.emit("message", { room, text: "x".repeat(MAX_PAYLOAD + 1024) });
      const reason = await closed;
      assert.notEqual(reason, "io client disconnect");

      assertOk(await request(bystander, "message", { room, text: "still served" }));
      const history = await request(bystander, "history", { room });
      assert.deepEqual(
        history.messages.map((m) => m.text),
        ["still served"],
      );
      const newcomer = await client({ sub: "newcomer" });
      assertOk(await request(newcomer, "join", { room }));
    });

    it("keeps serving after all of the above", async () => {
      const res = await server.request("/healthz");
      assert.equal(res.status, 200);
      const room = roomName();
      const alice = await client();
      const bob = await client({ sub: "bob" });
      assertOk(await request(alice, "join", { room }));
      assertOk(await request(bob, "join", { room }));
      const bobGets = nextEvent(bob, "message");
      const sent = assertOk(await request(alice, "message", { room, text: "fine" }));
      assert.deepEqual(await bobGets, sent.message);
    });
  });
}
