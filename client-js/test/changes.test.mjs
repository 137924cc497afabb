// ChatClient against a real chatio node: read positions across devices,
// edits and deletes in seq order, and reaction deltas applied once.
import assert from "node:assert/strict";
import { after, afterEach, before, describe, it } from "node:test";

import { ClientPool, roomName } from "./support/clients.mjs";
import { signToken, startServer } from "./support/server.mjs";
import { Inbox, settles, until, waitFor } from "./support/wait.mjs";

let server;
const pool = new ClientPool();

before(async () => {
  server = await startServer({
    name: "client-changes",
    env: { CHATIO_RATE_MESSAGES: "0", CHATIO_RATE_TYPING: "0", CHATIO_RECEIPT_INTERVAL: "0.1" },
  });
});
after(async () => {
  pool.closeAll();
  await server?.dispose();
});
afterEach(() => pool.closeAll());

function user(id, options = {}) {
  return pool.connected({
    url: server.url,
    token: signToken(server.secret, { sub: id, name: id.toUpperCase() }),
    userId: id,
    ...options,
  });
}

describe("ChatClient changes and reads", () => {
  it("counts unread messages and syncs a read to the user's other device", async () => {
    const room = roomName("reads");
    const bob = await user("bob");
    await settles(bob.join(room), "bob's join");
    for (let i = 1; i <= 3; i += 1) await settles(bob.send(room, `m${i}`), "send");
    const phone = await user("ann");
    const laptop = await user("ann");
    await settles(phone.join(room), "phone join");
    await settles(laptop.join(room), "laptop join");
    assert.deepEqual(phone.readState(room), { seq: 0, unread: 3 });
    await settles(bob.send(room, "m4"), "send");
    await until(laptop, "read", () => laptop.readState(room).unread === 4);
    const receipt = waitFor(bob, "receipts", (e) => e.room === room);
    phone.markRead(room, 3);
    await until(laptop, "read", () => laptop.readState(room).seq === 3);
    assert.deepEqual(laptop.readState(room), { seq: 3, unread: 1 });
    const { reads } = await settles(receipt, "receipts");
    assert.deepEqual(reads, [{ user: { id: "ann", name: "ANN" }, seq: 3 }]);
    const { readers } = await bob.readers(room, 2);
    assert.deepEqual(readers.map((r) => r.user.id), ["ann"]);
  });

  it("delivers edits and deletes once, in seq order, also after a catch-up", async () => {
    const room = roomName("edits");
    const ann = await user("ann");
    const bob = await user("bob");
    await settles(ann.join(room), "join");
    await settles(bob.join(room), "join");
    const edits = [];
    const deletes = [];
    bob.on("edit", (e) => edits.push(e));
    bob.on("delete", (e) => deletes.push(e));
    const inbox = new Inbox(bob);
    const first = await settles(ann.send(room, "helo"), "send");
    await settles(ann.send(room, "second"), "send");
    await inbox.reach(room, 2);
    bob.sockets.chat.io.engine.close();
    const edit = await settles(ann.edit(room, first.seq, "hello"), "edit");
    await settles(ann.delete(room, 2), "delete");
    await until(bob, "delete", () => deletes.length === 1);
    assert.deepEqual(edits, [edit]);
    assert.equal(deletes[0].target, 2);
    assert.deepEqual(inbox.texts(room), ["helo", "second"]);
    assert.equal(bob.lastSeq(room), 4);
  });

  it("applies each reaction delta once", async () => {
    const room = roomName("reactions");
    const ann = await user("ann");
    const bob = await user("bob");
    await settles(ann.join(room), "join");
    await settles(bob.join(room), "join");
    const message = await settles(ann.send(room, "react here"), "send");
    const seen = [];
    ann.on("reaction", (d) => seen.push(d));
    assert.deepEqual(await bob.react(room, message.seq, "👍"), { count: 1, changed: true });
    assert.deepEqual(await bob.react(room, message.seq, "👍"), { count: 1, changed: false });
    await until(ann, "reaction", () => seen.length === 1);
    assert.equal(seen[0].count, 1);
    const page = await ann.history(room);
    assert.deepEqual(page.messages[0].reactions, [{ emoji: "👍", count: 1, me: false }]);
    await assert.rejects(bob.edit(room, message.seq, "not mine"), { code: "FORBIDDEN" });
  });
});
