// A small Socket.IO chat server on the npm `socket.io` package, as a
// reference point for chatio's speed: `join` and `message` on /chat with
// chatio's acks, messages kept in memory per room (the newest 10,000, like
// chatio's default retention), resends of a client_id answered with the
// original. With CHATIO_SECRET set, the namespace connection checks the
// token as chatio does (itsdangerous signature and age).
//
//   CHATIO_SECRET=... node node_server.mjs PORT
import { createServer } from "node:http";
import { createHash, createHmac, randomUUID, timingSafeEqual } from "node:crypto";
import { inflateSync } from "node:zlib";
import { Server } from "socket.io";

const RETENTION = 10_000;
const TOKEN_TTL_S = 3600;
const MAX_TEXT = 2000;

const port = Number(process.argv[2]);
const secret = process.env.CHATIO_SECRET;
// itsdangerous' default key derivation: sha1(salt + "signer" + secret).
const key = secret && createHash("sha1").update(`chatio-authsigner${secret}`).digest();

// The claims of a valid token, or null.
function verify(token) {
  if (typeof token !== "string" || token.length > 8192) return null;
  const sigAt = token.lastIndexOf(".");
  const tsAt = token.lastIndexOf(".", sigAt - 1);
  if (tsAt <= 0) return null;
  const signed = token.slice(0, sigAt);
  const expected = createHmac("sha1", key).update(signed).digest();
  const given = Buffer.from(token.slice(sigAt + 1), "base64url");
  if (given.length !== expected.length || !timingSafeEqual(given, expected)) return null;
  const stamp = Buffer.from(token.slice(tsAt + 1, sigAt), "base64url");
  if (stamp.length < 1 || stamp.length > 6) return null;
  const issued = stamp.readUIntBE(0, stamp.length);
  if (Date.now() / 1000 - issued > TOKEN_TTL_S) return null;
  let payload = token.slice(0, tsAt);
  const compressed = payload.startsWith(".");
  let raw = Buffer.from(compressed ? payload.slice(1) : payload, "base64url");
  if (compressed) raw = inflateSync(raw);
  const claims = JSON.parse(raw.toString("utf8"));
  if (typeof claims?.sub !== "string") return null;
  if (typeof claims.exp === "number" && claims.exp <= Date.now() / 1000) return null;
  return claims;
}

const error = (code, message) => ({ ok: false, error: { code, message, retryable: false } });

const http = createServer((req, res) => {
  const ok = req.url === "/healthz" || req.url === "/readyz";
  res.writeHead(ok ? 200 : 404, { "Content-Type": "application/json" });
  res.end(JSON.stringify({ ok }));
});
// Like chatio's default: no permessage-deflate.
const io = new Server(http, { perMessageDeflate: false, serveClient: false });
const rooms = new Map(); // room -> {seq, messages: [], byClientId: Map}

function roomState(name) {
  let state = rooms.get(name);
  if (!state) {
    state = { seq: 0, messages: [], byClientId: new Map() };
    rooms.set(name, state);
  }
  return state;
}

function page(state, since, limit) {
  const { messages } = state;
  if (since === undefined) {
    const start = Math.max(0, messages.length - limit);
    return { history: messages.slice(start), more: start > 0 };
  }
  const first = messages.findIndex((m) => m.seq > since);
  if (first < 0) return { history: [], more: false };
  return { history: messages.slice(first, first + limit), more: first + limit < messages.length };
}

const chat = io.of("/chat");
chat.use((socket, next) => {
  if (!key) {
    socket.data.user = { id: socket.id, name: socket.id };
    return next();
  }
  let claims = null;
  try {
    claims = verify(socket.handshake.auth?.token);
  } catch {
    claims = null;
  }
  if (!claims) {
    const err = new Error("unauthorized");
    err.data = { code: "UNAUTHORIZED" };
    return next(err);
  }
  socket.data.user = { id: claims.sub, name: claims.name ?? claims.sub };
  return next();
});

chat.on("connection", (socket) => {
  const { user } = socket.data;
  socket.on("join", (payload, ack) => {
    if (typeof ack !== "function") return;
    const { room, since, limit = 50 } = payload ?? {};
    if (typeof room !== "string") return ack(error("INVALID_PAYLOAD", "room"));
    socket.join(room);
    const state = roomState(room);
    ack({ ok: true, room, ...page(state, since, limit), last_seq: state.seq });
  });
  socket.on("message", (payload, ack) => {
    if (typeof ack !== "function") return;
    const { room, client_id } = payload ?? {};
    const text = typeof payload?.text === "string" ? payload.text.trim() : "";
    if (typeof room !== "string" || !text || text.length > MAX_TEXT) {
      return ack(error("INVALID_PAYLOAD", "room and text"));
    }
    const state = roomState(room);
    const resend = client_id === undefined ? undefined : `${user.id}\n${client_id}`;
    const original = resend && state.byClientId.get(resend);
    if (original) return ack({ ok: true, message: original, duplicate: true });
    if (!socket.rooms.has(room)) return ack(error("NOT_IN_ROOM", "join the room first"));
    state.seq += 1;
    const message = { id: randomUUID(), seq: state.seq, room, user, text, ts: Date.now() };
    if (client_id !== undefined) message.client_id = client_id;
    state.messages.push(message);
    if (resend) state.byClientId.set(resend, message);
    if (state.messages.length > RETENTION) {
      const dropped = state.messages.shift();
      if (dropped.client_id !== undefined) {
        state.byClientId.delete(`${dropped.user.id}\n${dropped.client_id}`);
      }
    }
    socket.to(room).emit("message", message);
    ack({ ok: true, message, duplicate: false });
  });
});

http.listen(port, "127.0.0.1");
process.on("SIGTERM", () => io.close(() => process.exit(0)));
