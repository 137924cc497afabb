// A minimal Socket.IO chat server on the npm `socket.io` package, as a
// reference point for chatio's speed: `join` and `message` on /chat with the
// same acks as chatio, no authentication, no storage, no checks.
//
//   node node_server.mjs PORT
import { createServer } from "node:http";
import { randomUUID } from "node:crypto";
import { Server } from "socket.io";

const port = Number(process.argv[2]);
const http = createServer((req, res) => {
  const ok = req.url === "/healthz" || req.url === "/readyz";
  res.writeHead(ok ? 200 : 404, { "Content-Type": "application/json" });
  res.end(JSON.stringify({ ok }));
});
// Like chatio's default: no permessage-deflate.
const io = new Server(http, { perMessageDeflate: false, serveClient: false });
const seqs = new Map();

io.of("/chat").on("connection", (socket) => {
  const user = { id: socket.id, name: socket.id };
  socket.on("join", ({ room }, ack) => {
    socket.join(room);
    ack({ ok: true, room, history: [], more: false, last_seq: seqs.get(room) ?? 0 });
  });
  socket.on("message", ({ room, text, client_id }, ack) => {
    const seq = (seqs.get(room) ?? 0) + 1;
    seqs.set(room, seq);
    const message = { id: randomUUID(), seq, room, user, text, ts: Date.now(), client_id };
    socket.to(room).emit("message", message);
    ack({ ok: true, message, duplicate: false });
  });
});

http.listen(port, "127.0.0.1");
process.on("SIGTERM", () => io.close(() => process.exit(0)));
