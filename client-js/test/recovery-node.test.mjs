// chatio-client on a node with connection state recovery: after a network
// drop the sockets come back recovered, nothing is asked again, and the
// missed messages arrive exactly once.
import assert from "node:assert/strict";
import { after, afterEach, before, describe, it } from "node:test";

import { ClientPool, roomName } from "./support/clients.mjs";
import { FlakyProxy } from "./support/proxy.mjs";
import { signToken, startServer } from "./support/server.mjs";
import { Inbox, range, until, waitFor } from "./support/wait.mjs";

const RECONNECT_MS = 20_000;

/** Records every request a client's sockets send: `nsp event`. */
function spy(client) {
  const asked = [];
  for (const socket of Object.values(client.sockets)) {
    const timeout = socket.timeout.bind(socket);
    socket.timeout = (ms) => {
      const flagged = timeout(ms);
      const emitWithAck = flagged.emitWithAck.bind(flagged);
      return Object.assign(Object.create(flagged), {
        emitWithAck: (event, payload) => {
          asked.push(`${socket.nsp} ${event}`);
          return emitWithAck(event, payload);
        },
      });
    };
  }
  return asked;
}

for (const transport of ["websocket", "polling"]) {
  describe(`recovery over ${transport}`, { timeout: 60_000 }, () => {
    let server;
    let proxy;
    const pool = new ClientPool();

    before(async () => {
      server = await startServer({
        name: `client-recovery-${transport}`,
        env: { CHATIO_RATE_MESSAGES: "0", CHATIO_RATE_TYPING: "0", CHATIO_PRESENCE_GRACE: "30", CHATIO_TYPING_TTL: "30" },
      });
      proxy = await new FlakyProxy(server.port).listen();
    });
    after(async () => {
      pool.closeAll();
      await proxy?.close();
      await server?.dispose();
    });
    afterEach(() => {
      pool.closeAll();
      proxy.accept();
    });

    function user(id, url) {
      return pool.connected({ url, transports: [transport], token: signToken(server.secret, { sub: id, name: id }) });
    }

    it("resumes without rejoining: the missed messages once each, members and typists resynchronised", async () => {
      const room = roomName("recover");
      const ann = await user("ann", proxy.url);
      const bob = await user("bob", server.url);
      const inbox = new Inbox(ann);
      await Promise.all([ann.join(room), bob.join(room)]);
      await until(ann, "members", () => ann.members(room).length === 2);
      for (const text of ["a1", "a2"]) await ann.send(room, text);
      await inbox.reach(room, 2);
      const asked = spy(ann);

      proxy.refuse();
      const away = waitFor(ann, "status", (s) => s === "reconnecting");
      proxy.cut();
      await away;
      for (const i of range(3, 6)) await bob.send(room, `b${i}`);
      bob.typing(room);
      const queued = ann.send(room, "q7");
      const back = waitFor(ann, "status", (s) => s === "connected", { timeoutMs: RECONNECT_MS });
      proxy.accept();
      await back;
      assert.deepEqual(Object.values(ann.sockets).map((s) => s.recovered), [true, true, true]);
      const stored = await queued;
      assert.equal(stored.seq, 7);
      await inbox.reach(room, 7, { timeoutMs: RECONNECT_MS });
      await until(ann, "typing", () => ann.typingUsers(room).some((u) => u.id === "bob"));
      assert.deepEqual(inbox.seqs(room), range(1, 7));
      assert.deepEqual(inbox.texts(room), ["a1", "a2", "b3", "b4", "b5", "b6", "q7"]);
      assert.deepEqual(ann.members(room).map((m) => m.id), ["ann", "bob"]);
      assert.deepEqual(asked, ["/chat message"]);
    });

    it("sends a leave made while away once the node has recovered the room", async () => {
      const room = roomName("owed-leave");
      const ann = await user("ann", proxy.url);
      const bob = await user("bob", server.url);
      await Promise.all([ann.join(room), bob.join(room)]);
      await until(bob, "members", () => bob.members(room).length === 2);

      proxy.refuse();
      const away = waitFor(ann, "status", (s) => s === "reconnecting");
      proxy.cut();
      await away;
      await ann.leave(room); // no ack while away: owed to the recovered connection
      assert.deepEqual(ann.rooms(), []);
      const left = waitFor(bob, "presence", (e) => e.user.id === "ann" && e.status === "left", { timeoutMs: RECONNECT_MS });
      proxy.accept();
      await left;
      assert.equal(ann.sockets.chat.recovered, true);
      assert.deepEqual(bob.members(room).map((m) => m.id), ["bob"]);
      const { json } = await server.request(`/api/rooms/${room}`, { headers: { authorization: `Bearer ${server.apiKey}` } });
      assert.deepEqual(json.members.map((m) => m.id), ["bob"]);
    });
  });
}
