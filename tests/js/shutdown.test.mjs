// SIGTERM: clients see a lost connection and start reconnecting at once;
// the restarted node (same port, same data dir) has every acked message.
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

// The default heartbeat: a client that noticed the stop only through a
// missed ping would need PING_INTERVAL + PING_TIMEOUT = 45 s.
const PING_INTERVAL = 25;
const PING_TIMEOUT = 20;
const SHUTDOWN_TIMEOUT = 10;
// "At once": far below the heartbeat, and ample for reconnectionDelay 100 ms.
const PROMPT_MS = 3_000;
const RECONNECT_MS = 15_000;
const LOST_CONNECTION_REASONS = ["transport close", "transport error"];

function assertOk(ack) {
  assert.equal(ack?.ok, true, `expected ok, got ${JSON.stringify(ack)}`);
  return ack;
}

function range(from, to) {
  return Array.from({ length: to - from + 1 }, (_, i) => from + i);
}

/**
 * Sends messages one after another until stopped or disconnected; `acked`
 * holds every message the node acknowledged as stored.
 */
function sendLoad(socket, room, prefix) {
  const acked = [];
  let running = true;
  let reachedResolve;
  const reached = new Promise((r) => {
    reachedResolve = r;
  });
  const done = (async () => {
    for (let i = 0; running && socket.connected; i += 1) {
      let ack;
      try {
        ack = await request(socket, "message", {
          room,
          text: `${prefix} ${i}`,
          client_id: `${prefix}-${i}`,
        });
      } catch {
        // The connection went away with the message in flight: no ack.
        break;
      }
      if (!ack.ok) throw new Error(`send under load failed: ${JSON.stringify(ack)}`);
      acked.push(ack.message);
      if (acked.length === 5) reachedResolve();
    }
    reachedResolve();
  })();
  return {
    acked,
    reached,
    stop: () => {
      running = false;
      return done;
    },
  };
}

for (const transport of TRANSPORTS) {
  describe(`SIGTERM over ${transport}`, () => {
    let server;
    const sockets = [];

    before(async () => {
      server = await startServer({
        name: `shutdown-${transport}`,
        env: {
          CHATIO_PING_INTERVAL: String(PING_INTERVAL),
          CHATIO_PING_TIMEOUT: String(PING_TIMEOUT),
          CHATIO_SHUTDOWN_TIMEOUT: String(SHUTDOWN_TIMEOUT),
          CHATIO_RATE_MESSAGES: "0",
        },
      });
    });

    afterEach(() => closeAll(sockets));

    after(async () => {
      closeAll(sockets);
      await server?.dispose();
    });

    function socketFor(sub) {
      const s = chatSocket(server.url, transport, { token: signToken(server.secret, { sub }) });
      sockets.push(s);
      return s;
    }

    it("drops clients as a lost connection, they reconnect to the restarted node", async (t) => {
      const room = roomName("sigterm");
      const alice = await connect(socketFor("alice"));
      const bob = await connect(socketFor("bob"));
      assert.equal(alice.io.engine.transport.name, transport);
      assertOk(await request(alice, "join", { room }));
      assertOk(await request(bob, "join", { room }));
      const before = [];
      for (const text of ["one", "two", "three"]) {
        before.push(assertOk(await request(alice, "message", { room, text })).message);
      }

      const load = sendLoad(alice, room, "load");
      const bobLoad = sendLoad(bob, room, "bob-load");
      await Promise.all([load.reached, bobLoad.reached]);

      const reasons = {};
      const lost = [alice, bob].map((s, i) =>
        Promise.all([
          nextEvent(s, "disconnect", { timeoutMs: PROMPT_MS }).then((reason) => {
            reasons[i] = reason;
          }),
          nextEvent(s.io, "reconnect_attempt", { timeoutMs: PROMPT_MS }),
        ]),
      );
      const signalled = Date.now();
      server.terminate();
      await Promise.all(lost);
      const reacted = Date.now() - signalled;

      for (const reason of Object.values(reasons)) {
        assert.ok(
          LOST_CONNECTION_REASONS.includes(reason),
          `disconnect reason is a lost connection, not ${JSON.stringify(reason)}`,
        );
      }
      t.diagnostic(`disconnect reasons ${JSON.stringify(reasons)}; reconnecting after ${reacted} ms`);
      assert.ok(reacted < PROMPT_MS, `reconnecting began after ${reacted} ms`);
      assert.equal(alice.active, true, "socket.io-client still means to reconnect");

      await Promise.all([load.stop(), bobLoad.stop()]);
      const ackedUnderLoad = [...load.acked, ...bobLoad.acked];
      assert.ok(ackedUnderLoad.length >= 10);
      t.diagnostic(`${ackedUnderLoad.length} messages acked under load`);

      const exit = await server.exited;
      assert.equal(exit.signal, null, "the node handled SIGTERM itself");
      assert.equal(exit.code, 0, "a graceful stop exits 0");
      assert.ok(
        exit.at - signalled <= SHUTDOWN_TIMEOUT * 1000,
        `exited ${exit.at - signalled} ms after SIGTERM`,
      );

      // Same port, same data dir: the clients come back by themselves.
      const back = [alice, bob].map((s) =>
        nextEvent(s, "connect", { timeoutMs: RECONNECT_MS }),
      );
      await server.start();
      await Promise.all(back);
      assert.equal(alice.io.engine.transport.name, transport);

      // Rooms are not kept across a restart; rejoining from seq 0 returns
      // everything stored before, gapless, including every acked message.
      const rejoined = assertOk(await request(alice, "join", { room, since: 0, limit: 200 }));
      const history = rejoined.history;
      assert.deepEqual(
        history.map((m) => m.seq),
        range(1, history.length),
      );
      assert.equal(rejoined.last_seq, history.length);
      assert.deepEqual(history.slice(0, 3), before);
      const stored = new Map(history.map((m) => [m.id, m]));
      for (const message of ackedUnderLoad) {
        assert.deepEqual(stored.get(message.id), message, `acked message ${message.seq} survived`);
      }

      assertOk(await request(bob, "join", { room }));
      const bobGets = nextEvent(bob, "message");
      const next = assertOk(await request(alice, "message", { room, text: "after restart" }));
      assert.equal(next.message.seq, history.length + 1);
      assert.deepEqual(await bobGets, next.message);

      // A retry of a message sent before the stop still gets its answer.
      const retry = assertOk(
        await request(alice, "message", { room, text: "load 0", client_id: "load-0" }),
      );
      assert.equal(retry.duplicate, true);
      assert.deepEqual(retry.message, load.acked[0]);
      for (const s of [alice, bob]) {
        assert.equal(s.io.engine.transport.name, transport, "no transport upgrade");
      }
    });
  });
}

describe("restart with a generated secret", () => {
  let server;
  const sockets = [];

  before(async () => {
    // No CHATIO_SECRET: the node generates one and keeps it in its data dir.
    server = await startServer({ name: "generated-secret", secret: null });
  });

  after(async () => {
    closeAll(sockets);
    await server?.dispose();
  });

  it("keeps accepting tokens minted before the restart, and the history", async () => {
    const room = roomName("secret");
    const tokens = {};
    const sent = {};
    for (const transport of TRANSPORTS) {
      tokens[transport] = await server.mintToken({ sub: `user-${transport}` });
      const s = chatSocket(server.url, transport, { token: tokens[transport] });
      sockets.push(s);
      await connect(s);
      assertOk(await request(s, "join", { room }));
      sent[transport] = assertOk(await request(s, "message", { room, text: transport })).message;
    }
    closeAll(sockets);

    const stopped = await server.stop();
    assert.equal(stopped.code, 0);
    await server.start();

    for (const transport of TRANSPORTS) {
      const s = chatSocket(server.url, transport, { token: tokens[transport] });
      sockets.push(s);
      await connect(s);
      const joined = assertOk(await request(s, "join", { room, since: 0 }));
      assert.deepEqual(joined.history, [sent.websocket, sent.polling]);
    }
  });
});
