// A real redis-server on a free loopback port, for nodes in cluster mode,
// with the one command tests need: deleting keys, as an operator (or a
// Redis that lost its data) would.
import { spawn } from "node:child_process";
import { existsSync, mkdtempSync, rmSync } from "node:fs";
import { connect } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";

import { freePort } from "./server.mjs";

export const REDIS_SERVER = "/usr/bin/redis-server";
const START_TIMEOUT_MS = 10_000;
const COMMAND_TIMEOUT_MS = 2_000;
const PING_POLL_MS = 20;

// Deletes every key matching ARGV[1]; answers how many.
const DELETE_MATCHING = `local n = 0
for _, key in ipairs(redis.call("KEYS", ARGV[1])) do n = n + redis.call("DEL", key) end
return n`;

/** Whether redis-server is installed; under CI=true its absence fails the test instead of skipping it. */
export function redisAvailable() {
  return existsSync(REDIS_SERVER);
}

/** `redis-server --save "" --appendonly no`, in a directory of its own. */
export class RedisServer {
  constructor() {
    this.dir = mkdtempSync(join(tmpdir(), "chatio-redis-"));
    this.host = "127.0.0.1";
    this.port = undefined;
    this.child = null;
  }

  get url() {
    return `redis://${this.host}:${this.port}/0`;
  }

  async start() {
    this.port = await freePort(this.host);
    this.child = spawn(REDIS_SERVER, [
      "--port", String(this.port), "--bind", this.host, "--save", "", "--appendonly", "no",
      "--dir", this.dir, "--daemonize", "no",
    ], { stdio: "ignore" });
    const exited = new Promise((resolve) => this.child.once("exit", resolve));
    const deadline = Date.now() + START_TIMEOUT_MS;
    for (;;) {
      try {
        if (await this.command("PING") === "PONG") return this;
      } catch (error) {
        if (Date.now() > deadline) throw new Error(`redis-server did not answer PING: ${error.message}`);
      }
      const gone = await Promise.race([exited, new Promise((r) => setTimeout(() => r(false), PING_POLL_MS))]);
      if (gone !== false) throw new Error(`redis-server exited (${gone}) while starting`);
    }
  }

  /** Deletes the keys matching the glob `pattern`; resolves with how many. */
  deleteMatching(pattern) {
    return this.command("EVAL", DELETE_MATCHING, "0", pattern);
  }

  /** One command on a fresh connection: a simple string, an integer or a bulk string. */
  command(...args) {
    const request = `*${args.length}\r\n${args.map((a) => `$${Buffer.byteLength(a)}\r\n${a}\r\n`).join("")}`;
    return new Promise((resolve, reject) => {
      const socket = connect({ host: this.host, port: this.port });
      let reply = "";
      const done = (error, value) => {
        socket.destroy();
        if (error) reject(error);
        else resolve(value);
      };
      socket.setTimeout(COMMAND_TIMEOUT_MS, () => done(new Error("redis-server did not answer")));
      socket.on("error", (error) => done(error));
      socket.on("connect", () => socket.write(request));
      socket.on("data", (chunk) => {
        reply += chunk.toString("utf8");
        const end = reply.indexOf("\r\n");
        if (end < 0) return;
        const [kind, head] = [reply[0], reply.slice(1, end)];
        if (kind === "+") done(null, head);
        else if (kind === "-") done(new Error(head));
        else if (kind === ":") done(null, Number(head));
        else if (kind === "$") {
          const size = Number(head);
          if (size < 0) done(null, null);
          else if (Buffer.byteLength(reply.slice(end + 2)) >= size + 2) done(null, reply.slice(end + 2, end + 2 + size));
        } else done(new Error(`unexpected reply ${JSON.stringify(reply)}`));
      });
    });
  }

  async dispose() {
    if (this.child && this.child.exitCode === null && this.child.signalCode === null) {
      const exited = new Promise((resolve) => this.child.once("exit", resolve));
      this.child.kill("SIGKILL");
      await exited;
    }
    rmSync(this.dir, { recursive: true, force: true });
  }
}
