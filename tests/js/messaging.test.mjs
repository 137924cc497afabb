// Joining, sending, seq, history paging and idempotent sends.
import assert from "node:assert/strict";
import { after, afterEach, before, describe, it } from "node:test";

import {
  TRANSPORTS,
  chatSocket,
  closeAll,
  collect,
  connect,
  nextEvent,
  request,
  roomName,
} from "./support/client.mjs";
import { startServer } from "./support/server.mjs";
import { signToken } from "./support/tokens.mjs";

// Newest messages kept per room; only the retention test sends more.
const RETENTION = 60;

let server;

before(async () => {
  // No rate limit here: these tests send bursts on purpose.
  server = await startServer({
    name: "messaging",
    env: { CHATIO_RATE_MESSAGES: "0", CHATIO_HISTORY_RETENTION: String(RETENTION) },
  });
});

after(async () => {
  await server?.dispose();
});

function assertOk(ack) {
  assert.equal(ack?.ok, true, `expected ok, got ${JSON.stringify(ack)}`);
  return ack;
}

/** Sends `texts` one after another (each awaited); resolves with the messages. */
async function sendAll(socket, room, texts) {
  const messages = [];
  for (const text of texts) {
    messages.push(assertOk(await request(socket, "message", { room, text })).message);
  }
  return messages;
}

/** A join ack without `gap: false`, which the protocol allows but does not require. */
function withoutFalseGap(ack) {
  if (ack?.gap === false) {
    const { gap, ...rest } = ack;
    return rest;
  }
  return ack;
}

function seqs(messages) {
  return messages.map((m) => m.seq);
}

function range(from, to) {
  return Array.from({ length: to - from + 1 }, (_, i) => from + i);
}

for (const transport of TRANSPORTS) {
  describe(`messaging over ${transport}`, () => {
    const sockets = [];
    afterEach(() => closeAll(sockets));

    async function client(sub, name) {
      const claims = name === undefined ? { sub } : { sub, name };
      const s = chatSocket(server.url, transport, { token: signToken(server.secret, claims) });
      sockets.push(s);
      await connect(s);
      assert.equal(s.io.engine.transport.name, transport);
      return s;
    }

    it("join acks {ok, room, history, more, last_seq, epoch, read_seq, unread}", async () => {
      const room = roomName();
      const alice = await client("alice");
      const joined = withoutFalseGap(await request(alice, "join", { room }));
      assert.match(joined.epoch, /^[0-9a-f]{16}$/);
      assert.deepEqual(joined, {
        ok: true, room, history: [], more: false, last_seq: 0, epoch: joined.epoch,
        read_seq: 0, unread: 0,
      });
      // Joining twice is harmless.
      assert.deepEqual(withoutFalseGap(await request(alice, "join", { room })), joined);
      assert.deepEqual(await request(alice, "leave", { room }), { ok: true });
    });

    it("broadcasts a message to the others, not the sender, and acks it", async () => {
      const room = roomName();
      const alice = await client("alice", "Alice");
      const aliceElsewhere = await client("alice", "Alice");
      const bob = await client("bob", "Bob");
      for (const s of [alice, aliceElsewhere, bob]) assertOk(await request(s, "join", { room }));
      const echoes = collect(alice, "message");

      const bobGets = nextEvent(bob, "message");
      const otherTabGets = nextEvent(aliceElsewhere, "message");
      const before = Date.now();
      const ack = await request(alice, "message", {
        room,
        text: " \u00a0hello, world\u3000\n",
        client_id: "c-hello",
      });
      const after = Date.now();

      assert.deepEqual(Object.keys(ack).sort(), ["duplicate", "message", "ok"]);
      assert.equal(ack.ok, true);
      assert.equal(ack.duplicate, false);
      const { message } = ack;
      assert.deepEqual(Object.keys(message).sort(), [
        "client_id",
        "epoch",
        "id",
        "room",
        "seq",
        "text",
        "ts",
        "user",
      ]);
      assert.equal(typeof message.id, "string");
      assert.ok(message.id.length > 0);
      assert.equal(message.seq, 1);
      assert.equal(message.room, room);
      assert.deepEqual(message.user, { id: "alice", name: "Alice" });
      assert.equal(message.text, "hello, world", "text is trimmed of Unicode whitespace");
      assert.equal(message.client_id, "c-hello");
      assert.ok(Number.isInteger(message.ts), "ts is an integer");
      assert.ok(message.ts >= before - 2000 && message.ts <= after + 2000, "ts is epoch ms");

      assert.deepEqual(await bobGets, message);
      assert.deepEqual(await otherTabGets, message, "only the sending socket is skipped");

      // Events from one socket are handled in order: by the time this ack
      // arrives, any broadcast of the message to alice would have arrived too.
      assertOk(await request(alice, "history", { room }));
      echoes.stop();
      assert.deepEqual(echoes.seen, [], "the sender does not receive its own message");
      for (const s of [alice, aliceElsewhere, bob]) {
        assert.equal(s.io.engine.transport.name, transport, "no transport upgrade");
      }
    });

    it("keeps the user from the token, whatever the payload says", async () => {
      const room = roomName();
      const alice = await client("alice", "Alice");
      assertOk(await request(alice, "join", { room }));
      const ack = await request(alice, "message", {
        room,
        text: "hi",
        user: { id: "mallory", name: "Mallory" },
      });
      if (ack.ok) {
        assert.deepEqual(ack.message.user, { id: "alice", name: "Alice" });
      } else {
        assert.equal(ack.error.code, "INVALID_PAYLOAD");
      }
    });

    it("assigns gapless seqs, in the order the socket sent them", async () => {
      const room = roomName();
      const alice = await client("alice");
      const bob = await client("bob");
      assertOk(await request(alice, "join", { room }));
      assertOk(await request(bob, "join", { room }));
      const received = collect(bob, "message");

      const first = await sendAll(alice, room, ["one", "two", "three"]);
      assert.deepEqual(seqs(first), [1, 2, 3]);

      // Sent back to back without waiting: stored in the order sent.
      const texts = range(4, 13).map((n) => `burst ${n}`);
      const acks = await Promise.all(
        texts.map((text) => request(alice, "message", { room, text })),
      );
      acks.forEach(assertOk);
      assert.deepEqual(seqs(acks.map((a) => a.message)), range(4, 13));
      assert.deepEqual(
        acks.map((a) => a.message.text),
        texts,
      );

      // A second sender continues the same sequence.
      const fromBob = await sendAll(bob, room, ["from bob"]);
      assert.deepEqual(seqs(fromBob), [14]);
      const ids = new Set([...first, ...acks.map((a) => a.message), ...fromBob].map((m) => m.id));
      assert.equal(ids.size, 14, "ids are unique");

      assertOk(await request(bob, "history", { room }));
      received.stop();
      assert.deepEqual(seqs(received.seen), range(1, 13), "bob saw every message in order");

      const joined = await request(alice, "join", { room, since: 0, limit: 200 });
      assert.deepEqual(seqs(joined.history), range(1, 14));
      assert.equal(joined.last_seq, 14);
    });

    it("answers every event of a burst the client sends in one go", async () => {
      // Over polling, socket.io-client batches everything emitted in one tick
      // into a single HTTP request.
      const room = roomName();
      const alice = await client("alice");
      const bob = await client("bob");
      assertOk(await request(bob, "join", { room }));
      const received = collect(bob, "message");
      const texts = range(1, 50).map((n) => `batched ${n}`);
      const settled = await Promise.allSettled([
        request(alice, "join", { room }),
        ...texts.map((text) => request(alice, "message", { room, text })),
      ]);
      const unanswered = settled.filter((r) => r.status === "rejected").length;
      assert.equal(unanswered, 0, `${unanswered} of ${settled.length} events got no ack`);
      const acks = settled.map((r) => r.value);
      acks.forEach(assertOk);
      assert.deepEqual(seqs(acks.slice(1).map((a) => a.message)), range(1, 50));
      assertOk(await request(bob, "history", { room }));
      received.stop();
      assert.deepEqual(seqs(received.seen), range(1, 50));
    });

    it("join immediately followed by a message never gets NOT_IN_ROOM", async () => {
      const alice = await client("alice");
      for (let i = 0; i < 100; i += 1) {
        const room = roomName("fast");
        // Deliberately not awaiting the join before sending.
        const [joined, sent] = await Promise.all([
          request(alice, "join", { room }),
          request(alice, "message", { room, text: `first in ${room}` }),
        ]);
        assertOk(joined);
        assertOk(sent);
        assert.equal(sent.message.seq, 1);
        assertOk(await request(alice, "leave", { room }));
      }
    });

    it("pages history on join with since and limit", async () => {
      const room = roomName();
      const alice = await client("alice");
      assertOk(await request(alice, "join", { room }));
      const sent = await sendAll(
        alice,
        room,
        range(1, 12).map((n) => `m${n}`),
      );
      const bob = await client("bob");

      const newest = await request(bob, "join", { room, limit: 3 });
      assert.equal(newest.ok, true);
      assert.equal(newest.room, room);
      assert.deepEqual(newest.history, sent.slice(9), "the newest 3, oldest first");
      assert.equal(newest.more, true);
      assert.equal(newest.last_seq, 12);
      assert.equal(newest.gap ?? false, false);

      const all = await request(bob, "join", { room });
      assert.deepEqual(all.history, sent, "default limit covers 12 messages");
      assert.equal(all.more, false);

      const since = await request(bob, "join", { room, since: 3, limit: 4 });
      assert.deepEqual(seqs(since.history), [4, 5, 6, 7]);
      assert.equal(since.more, true);
      assert.equal(since.last_seq, 12);

      const tail = await request(bob, "join", { room, since: 8 });
      assert.deepEqual(tail.history, sent.slice(8));
      assert.equal(tail.more, false);

      const upToDate = await request(bob, "join", { room, since: 12 });
      assert.deepEqual(upToDate.history, []);
      assert.equal(upToDate.more, false);
      assert.equal(upToDate.last_seq, 12);

      const zero = await request(bob, "join", { room, limit: 0 });
      assert.deepEqual(zero.history, []);
      assert.equal(zero.more, true);
      assert.equal(zero.last_seq, 12);
    });

    it("join returns at most 50 messages by default", async () => {
      const room = roomName();
      const alice = await client("alice");
      assertOk(await request(alice, "join", { room }));
      await sendAll(
        alice,
        room,
        range(1, 55).map((n) => `n${n}`),
      );
      const joined = await request(alice, "join", { room });
      assert.deepEqual(seqs(joined.history), range(6, 55));
      assert.equal(joined.more, true);
      const fromStart = await request(alice, "join", { room, since: 0 });
      assert.deepEqual(seqs(fromStart.history), range(1, 50));
      assert.equal(fromStart.more, true);
    });

    it("flags a gap when since is older than retention kept", async () => {
      const room = roomName();
      const alice = await client("alice");
      assertOk(await request(alice, "join", { room }));
      const first = assertOk(
        await request(alice, "message", { room, text: "first", client_id: "oldest" }),
      ).message;
      const total = RETENTION + 5;
      for (let n = 2; n <= total; n += 10) {
        const batch = range(n, Math.min(n + 9, total)).map((i) => `r${i}`);
        const acks = await Promise.all(batch.map((text) => request(alice, "message", { room, text })));
        acks.forEach(assertOk);
      }
      const oldestKept = total - RETENTION + 1;

      const fromZero = await request(alice, "join", { room, since: 0, limit: 10 });
      assert.equal(fromZero.gap, true, JSON.stringify(fromZero).slice(0, 200));
      assert.deepEqual(seqs(fromZero.history), range(oldestKept, oldestKept + 9));
      assert.equal(fromZero.more, true);
      assert.equal(fromZero.last_seq, total);

      const fromTwo = await request(alice, "join", { room, since: 2, limit: 3 });
      assert.equal(fromTwo.gap, true);
      assert.deepEqual(seqs(fromTwo.history), range(oldestKept, oldestKept + 2));

      // Nothing was missed when since is just before the oldest kept message.
      const noGap = await request(alice, "join", { room, since: oldestKept - 1, limit: 3 });
      assert.equal(noGap.gap ?? false, false);
      assert.deepEqual(seqs(noGap.history), range(oldestKept, oldestKept + 2));

      const newest = await request(alice, "join", { room });
      assert.equal(newest.gap ?? false, false);
      assert.deepEqual(seqs(newest.history), range(total - 49, total));

      // The idempotency window does not depend on retention.
      const retry = assertOk(
        await request(alice, "message", { room, text: "first", client_id: "oldest" }),
      );
      assert.equal(retry.duplicate, true);
      assert.deepEqual(retry.message, first);
    });

    it("pages the history event with before and after", async () => {
      const room = roomName();
      const alice = await client("alice");
      assertOk(await request(alice, "join", { room }));
      const sent = await sendAll(
        alice,
        room,
        range(1, 10).map((n) => `h${n}`),
      );

      const latest = await request(alice, "history", { room });
      assert.deepEqual(latest, { ok: true, messages: sent, more: false, epoch: sent[0].epoch });

      const latestTwo = await request(alice, "history", { room, limit: 2 });
      assert.deepEqual(seqs(latestTwo.messages), [9, 10]);
      assert.equal(latestTwo.more, true);

      const before = await request(alice, "history", { room, before: 6, limit: 3 });
      assert.deepEqual(before.messages, sent.slice(2, 5), "seqs 3..5, oldest first");
      assert.equal(before.more, true);

      const beforeStart = await request(alice, "history", { room, before: 3 });
      assert.deepEqual(seqs(beforeStart.messages), [1, 2]);
      assert.equal(beforeStart.more, false);

      const after = await request(alice, "history", { room, after: 7 });
      assert.deepEqual(after.messages, sent.slice(7));
      assert.equal(after.more, false);

      const afterPage = await request(alice, "history", { room, after: 2, limit: 3 });
      assert.deepEqual(seqs(afterPage.messages), [3, 4, 5]);
      assert.equal(afterPage.more, true);

      const both = await request(alice, "history", { room, before: 8, after: 2 });
      assert.equal(both.ok, false);
      assert.equal(both.error.code, "INVALID_PAYLOAD");
    });

    it("makes sending idempotent with client_id", async () => {
      const room = roomName();
      const alice = await client("alice");
      const bob = await client("bob");
      assertOk(await request(alice, "join", { room }));
      assertOk(await request(bob, "join", { room }));
      const received = collect(bob, "message");

      const original = assertOk(
        await request(alice, "message", { room, text: "first", client_id: "retry-1" }),
      );
      assert.equal(original.duplicate, false);

      const again = assertOk(
        await request(alice, "message", { room, text: "different text", client_id: "retry-1" }),
      );
      assert.equal(again.duplicate, true);
      assert.deepEqual(again.message, original.message, "the original message comes back");

      // Same client_id from another user, or in another room: a new message.
      const fromBob = assertOk(
        await request(bob, "message", { room, text: "bob's", client_id: "retry-1" }),
      );
      assert.equal(fromBob.duplicate, false);
      assert.equal(fromBob.message.seq, 2);

      // The idempotency check comes before the membership check.
      assertOk(await request(alice, "leave", { room }));
      const afterLeave = assertOk(
        await request(alice, "message", { room, text: "first", client_id: "retry-1" }),
      );
      assert.equal(afterLeave.duplicate, true);
      assert.deepEqual(afterLeave.message, original.message);

      assertOk(await request(bob, "history", { room }));
      received.stop();
      assert.deepEqual(
        received.seen.map((m) => m.id),
        [original.message.id],
        "a duplicate is not broadcast again",
      );
      const history = await request(bob, "history", { room });
      assert.deepEqual(seqs(history.messages), [1, 2], "nothing stored twice");
    });

    it("yields exactly one message for concurrent duplicates", async () => {
      const room = roomName();
      const alice = await client("alice");
      const aliceOtherTab = await client("alice");
      assertOk(await request(alice, "join", { room }));
      assertOk(await request(aliceOtherTab, "join", { room }));
      const payload = { room, text: "only once", client_id: "concurrent-1" };
      const acks = await Promise.all([
        ...range(1, 5).map(() => request(alice, "message", payload)),
        ...range(1, 5).map(() => request(aliceOtherTab, "message", payload)),
      ]);
      acks.forEach(assertOk);
      assert.equal(acks.filter((a) => a.duplicate === false).length, 1);
      assert.equal(new Set(acks.map((a) => a.message.id)).size, 1);
      const history = await request(alice, "history", { room });
      assert.equal(history.messages.length, 1);
    });

    it("counts text length in code points and keeps newlines and tabs", async () => {
      const room = roomName();
      const alice = await client("alice");
      assertOk(await request(alice, "join", { room }));
      // 2000 code points, 4000 UTF-16 code units.
      const astral = "\u{1F600}".repeat(2000);
      const ok = assertOk(await request(alice, "message", { room, text: astral }));
      assert.equal(ok.message.text, astral);
      const tooLong = await request(alice, "message", { room, text: astral + "\u{1F600}" });
      assert.equal(tooLong.ok, false);
      assert.equal(tooLong.error.code, "INVALID_PAYLOAD");

      const multiline = "line one\n\tline two";
      const sent = assertOk(await request(alice, "message", { room, text: multiline }));
      assert.equal(sent.message.text, multiline);
    });
  });
}
