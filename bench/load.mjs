// Load driver: receivers and senders in one room, over the official
// socket.io-client.
//
//   node load.mjs CONFIG.json
//
// CONFIG holds {url, room, receivers: [token...], senders: [token...],
// rate, window, duration, textChars, drainTimeout}. rate is messages per
// second over all senders; 0 means "as fast as acks allow", each sender
// keeping `window` messages in flight. With a rate, `window` caps each
// sender's messages in flight, and a send that finds the window full is
// skipped and counted as `behind`.
//
// Protocol on stdio, one JSON object per line on stdout:
//   {"event": "ready", ...}  every socket is connected and has joined
//   (a line "go" on stdin starts the load)
//   {"event": "done", ...}   sending stopped and deliveries drained
// Closing stdin ends the process at any time.
import { readFileSync } from "node:fs";
import { createInterface } from "node:readline";
import { performance } from "node:perf_hooks";
import { io } from "socket.io-client";

const CONNECT_TIMEOUT_MS = 20_000;
const ACK_TIMEOUT_MS = 10_000;
const CONNECT_BATCH = 25;
const TICK_MS = 2;
const DRAIN_POLL_MS = 10;

function fail(message) {
  process.stderr.write(`load: ${message}\n`);
  process.exit(1);
}

function say(record) {
  process.stdout.write(JSON.stringify(record) + "\n");
}

const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

function open(url, token) {
  return new Promise((resolve, reject) => {
    const socket = io(`${url}/chat`, {
      auth: { token },
      transports: ["websocket"],
      forceNew: true,
      reconnection: false,
      timeout: CONNECT_TIMEOUT_MS,
    });
    socket.once("connect", () => resolve(socket));
    socket.once("connect_error", (err) => {
      socket.close();
      reject(new Error(`connect_error: ${err.message}`));
    });
  });
}

async function openAndJoin(url, token, room) {
  const socket = await open(url, token);
  const ack = await socket.timeout(ACK_TIMEOUT_MS).emitWithAck(
    "join", { room, limit: 0 });
  if (!ack?.ok) throw new Error(`join refused: ${JSON.stringify(ack)}`);
  return socket;
}

// A few at a time: a burst of joins would measure the connect path, and
// each join is a history read on the server.
async function openAll(url, tokens, room) {
  const sockets = [];
  for (let i = 0; i < tokens.length; i += CONNECT_BATCH) {
    const batch = tokens.slice(i, i + CONNECT_BATCH);
    sockets.push(...(await Promise.all(
      batch.map((token) => openAndJoin(url, token, room)))));
  }
  return sockets;
}

function percentile(sorted, p) {
  if (sorted.length === 0) return null;
  const index = Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1);
  return sorted[Math.max(0, index)];
}

function round(value, digits = 3) {
  return value === null ? null : Number(value.toFixed(digits));
}

async function main() {
  const path = process.argv[2];
  if (!path) fail("usage: node load.mjs CONFIG.json");
  const config = JSON.parse(readFileSync(path, "utf8"));
  const { url, room, rate, window, duration, textChars, drainTimeout } = config;
  const text = "x".repeat(textChars);

  const stdin = createInterface({ input: process.stdin });
  const go = new Promise((resolve) => {
    stdin.on("line", (line) => { if (line.trim() === "go") resolve(); });
  });
  stdin.on("close", () => process.exit(2));

  const started = performance.now();
  let receivers, senders;
  try {
    receivers = await openAll(url, config.receivers, room);
    senders = await openAll(url, config.senders, room);
  } catch (err) {
    fail(err.message);
  }

  let disconnects = 0;
  for (const socket of [...receivers, ...senders]) {
    socket.on("disconnect", () => { disconnects += 1; });
  }
  const perReceiver = receivers.map(() => 0);
  let deliveries = 0;
  let lastDelivery = 0;
  receivers.forEach((socket, index) => {
    socket.on("message", () => {
      perReceiver[index] += 1;
      deliveries += 1;
      lastDelivery = performance.now();
    });
  });
  say({ event: "ready", sockets: receivers.length + senders.length,
        connect_s: round((performance.now() - started) / 1000) });

  await go;

  const inFlight = senders.map(() => 0);
  const counters = { sent: 0, acked: 0, refused: 0, timeouts: 0, behind: 0 };
  const refusals = {};
  const latencies = [];
  let sending = true;
  let next = 0;
  let wakeSender = () => {};

  function send(index) {
    const socket = senders[index];
    const sentAt = performance.now();
    const clientId = `s${index}-${counters.sent}`;
    counters.sent += 1;
    inFlight[index] += 1;
    socket.timeout(ACK_TIMEOUT_MS).emit(
      "message", { room, text, client_id: clientId }, (err, ack) => {
        inFlight[index] -= 1;
        if (err) {
          counters.timeouts += 1;
        } else if (ack?.ok) {
          counters.acked += 1;
          latencies.push(performance.now() - sentAt);
        } else {
          counters.refused += 1;
          const code = ack?.error?.code ?? "UNKNOWN";
          refusals[code] = (refusals[code] ?? 0) + 1;
        }
        wakeSender(index);
      });
  }

  const loadStart = performance.now();
  const deadline = loadStart + duration * 1000;
  if (rate > 0) {
    let scheduled = 0;
    while (performance.now() < deadline) {
      const due = Math.floor(((performance.now() - loadStart) / 1000) * rate);
      for (; scheduled < due; scheduled += 1) {
        const index = next;
        next = (next + 1) % senders.length;
        if (inFlight[index] < window) send(index);
        else counters.behind += 1;
      }
      await sleep(TICK_MS);
    }
  } else {
    wakeSender = (index) => {
      if (sending && performance.now() < deadline) send(index);
    };
    senders.forEach((_, index) => {
      for (let k = 0; k < window; k += 1) send(index);
    });
    await sleep(duration * 1000);
  }
  sending = false;
  const sendEnd = performance.now();

  const drainDeadline = sendEnd + drainTimeout * 1000;
  const settled = () => inFlight.every((n) => n === 0)
    && deliveries >= counters.acked * receivers.length;
  while (!settled() && performance.now() < drainDeadline) {
    await sleep(DRAIN_POLL_MS);
  }
  const end = performance.now();

  latencies.sort((a, b) => a - b);
  const sendSeconds = (sendEnd - loadStart) / 1000;
  const deliverySeconds = ((lastDelivery || end) - loadStart) / 1000;
  say({
    event: "done",
    send_s: round(sendSeconds),
    total_s: round((end - loadStart) / 1000),
    drained: settled(),
    ...counters,
    refusals,
    disconnects,
    deliveries,
    expected_deliveries: counters.acked * receivers.length,
    min_per_receiver: Math.min(...perReceiver),
    max_per_receiver: Math.max(...perReceiver),
    messages_per_s: round(counters.acked / sendSeconds, 1),
    deliveries_per_s: round(deliveries / deliverySeconds, 1),
    ack_ms_p50: round(percentile(latencies, 50), 2),
    ack_ms_p99: round(percentile(latencies, 99), 2),
  });
  for (const socket of [...receivers, ...senders]) socket.close();
  stdin.removeAllListeners("close");
  stdin.close();
  process.stdin.destroy();
}

main().catch((err) => fail(err.stack ?? String(err)));
