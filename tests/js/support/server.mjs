// Run `chatio serve` as a real subprocess, the way an operator would.
import { spawn } from "node:child_process";
import {
  closeSync,
  mkdirSync,
  mkdtempSync,
  openSync,
  readFileSync,
  rmSync,
  writeFileSync,
} from "node:fs";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { fileURLToPath } from "node:url";

import { randomString } from "./tokens.mjs";

const HERE = fileURLToPath(new URL(".", import.meta.url));
// Server output of every run is copied here (gitignored) for debugging.
export const ARTIFACTS_DIR = resolve(HERE, "../artifacts");
export const CHATIO_BIN =
  process.env.CHATIO_BIN || resolve(HERE, "../../../.venv/bin/chatio");

export const START_TIMEOUT_MS = 30_000;
export const STOP_TIMEOUT_MS = 20_000;
const HEALTH_POLL_MS = 50;
const HTTP_TIMEOUT_MS = 2_000;

// The parent environment must not configure the node under test.
const NODE_VARIABLES = new Set(["HOST", "PORT", "LOG_LEVEL"]);

function cleanEnv() {
  const env = {};
  for (const [key, value] of Object.entries(process.env)) {
    if (!key.startsWith("CHATIO_") && !NODE_VARIABLES.has(key)) env[key] = value;
  }
  return env;
}

// Nodes still running when this process ends (a crash, an interrupted run)
// are killed rather than left behind.
const live = new Set();
let reaperInstalled = false;

function installReaper() {
  if (reaperInstalled) return;
  reaperInstalled = true;
  const reap = () => {
    for (const child of live) {
      try {
        child.kill("SIGKILL");
      } catch {
        // already gone
      }
    }
    live.clear();
  };
  process.once("exit", reap);
  for (const signal of ["SIGINT", "SIGTERM", "SIGHUP"]) {
    process.once(signal, () => {
      reap();
      process.kill(process.pid, signal);
    });
  }
}

/** A TCP port that was free a moment ago on `host`. */
export function freePort(host = "127.0.0.1") {
  return new Promise((resolvePort, reject) => {
    const probe = createServer();
    probe.unref();
    probe.once("error", reject);
    probe.listen(0, host, () => {
      const { port } = probe.address();
      probe.close(() => resolvePort(port));
    });
  });
}

/** Resolves after `ms`; only for polling intervals and deadlines. */
function delay(ms) {
  return new Promise((r) => setTimeout(r, ms));
}

/**
 * One chatio node: `$CHATIO_BIN serve --host 127.0.0.1 --port P`.
 *
 * Every start writes stdout and stderr to its own log file, so a restart
 * keeps the earlier output; `dispose()` copies all of it to
 * `artifacts/<name>.log`.
 */
export class ChatioServer {
  constructor({ name = "chatio", env = {}, port, host = "127.0.0.1", secret, apiKey } = {}) {
    this.name = name;
    this.root = mkdtempSync(join(tmpdir(), "chatio-js-"));
    this.dataDir = join(this.root, "data");
    this.host = host;
    this.port = port;
    this.secret = secret === undefined ? randomString(32) : secret;
    this.apiKey = apiKey === undefined ? randomString(24) : apiKey;
    this.env = {
      ...cleanEnv(),
      CHATIO_DATA_DIR: this.dataDir,
      CHATIO_GUEST_LOGIN: "1",
      LOG_LEVEL: "info",
      ...(this.secret === null ? {} : { CHATIO_SECRET: this.secret }),
      ...(this.apiKey === null ? {} : { CHATIO_API_KEY: this.apiKey }),
      ...env,
    };
    this.child = null;
    this.exited = null;
    this.starts = 0;
    this.logPaths = [];
  }

  get url() {
    return `http://${this.host}:${this.port}`;
  }

  get running() {
    return this.child !== null && this.child.exitCode === null && this.child.signalCode === null;
  }

  async start({ timeoutMs = START_TIMEOUT_MS } = {}) {
    if (this.running) throw new Error("the node is already running");
    if (this.port === undefined) this.port = await freePort(this.host);
    this.starts += 1;
    const logPath = join(this.root, `chatio.${this.starts}.log`);
    this.logPaths.push(logPath);
    const fd = openSync(logPath, "a");
    let child;
    try {
      child = spawn(
        CHATIO_BIN,
        ["serve", "--host", this.host, "--port", String(this.port)],
        { env: this.env, stdio: ["ignore", fd, fd] },
      );
    } finally {
      closeSync(fd);
    }
    this.child = child;
    installReaper();
    live.add(child);
    this.exited = new Promise((resolveExit) => {
      child.once("exit", (code, signal) => {
        live.delete(child);
        resolveExit({ code, signal, at: Date.now() });
      });
      child.once("error", (error) => {
        live.delete(child);
        resolveExit({ code: null, signal: null, error, at: Date.now() });
      });
    });
    await this.waitHealthy(timeoutMs);
    return this;
  }

  async waitHealthy(timeoutMs) {
    const deadline = Date.now() + timeoutMs;
    let last = "no answer";
    while (Date.now() < deadline) {
      if (!this.running) {
        const { code, signal, error } = await this.exited;
        throw new Error(
          `chatio exited while starting (code ${code}, signal ${signal}` +
            `${error ? `, ${error.message}` : ""})\n${this.logs()}`,
        );
      }
      try {
        const res = await fetch(`${this.url}/healthz`, {
          signal: AbortSignal.timeout(HTTP_TIMEOUT_MS),
        });
        await res.arrayBuffer();
        if (res.status === 200) return;
        last = `HTTP ${res.status}`;
      } catch (error) {
        last = error.cause?.code ?? error.message;
      }
      await delay(HEALTH_POLL_MS);
    }
    this.kill();
    throw new Error(`chatio was not healthy within ${timeoutMs} ms (${last})\n${this.logs()}`);
  }

  /** Send SIGTERM without waiting; `stop()` waits. */
  terminate() {
    if (this.running) this.child.kill("SIGTERM");
  }

  /**
   * Graceful stop: SIGTERM, then wait for the exit. Resolves to
   * {code, signal, ms}; kills the node and rejects if it outlives `timeoutMs`.
   */
  async stop({ timeoutMs = STOP_TIMEOUT_MS } = {}) {
    if (this.child === null) return null;
    const started = Date.now();
    this.terminate();
    let timer;
    const outcome = await Promise.race([
      this.exited,
      new Promise((r) => {
        timer = setTimeout(() => r(null), timeoutMs);
      }),
    ]);
    clearTimeout(timer);
    if (outcome === null) {
      await this.kill();
      throw new Error(`chatio did not exit within ${timeoutMs} ms of SIGTERM\n${this.logs()}`);
    }
    return { ...outcome, ms: Date.now() - started };
  }

  /** SIGKILL, no graceful stop. */
  async kill() {
    if (this.child === null) return null;
    if (this.running) this.child.kill("SIGKILL");
    return this.exited;
  }

  /** Stop (if running) and start again on the same port and data dir. */
  async restart(options = {}) {
    if (this.running) await this.stop();
    return this.start(options);
  }

  /** Stop the node (killing it if need be) and remove its files. */
  async dispose() {
    try {
      if (this.running) await this.stop();
    } catch {
      await this.kill();
    }
    try {
      mkdirSync(ARTIFACTS_DIR, { recursive: true });
      writeFileSync(join(ARTIFACTS_DIR, `${this.name}.log`), this.logs());
    } catch {
      // debugging aid only
    }
    if (!process.env.CHATIO_KEEP_TMP) rmSync(this.root, { recursive: true, force: true });
  }

  logs() {
    return this.logPaths
      .map((path) => {
        let text;
        try {
          text = readFileSync(path, "utf8");
        } catch {
          text = "";
        }
        return `--- ${path} ---\n${text}`;
      })
      .join("\n");
  }

  /** `fetch` against the node, with an explicit timeout. */
  async request(path, { method = "GET", body, headers = {}, timeoutMs = HTTP_TIMEOUT_MS } = {}) {
    const res = await fetch(`${this.url}${path}`, {
      method,
      headers: body === undefined ? headers : { "content-type": "application/json", ...headers },
      body: body === undefined ? undefined : JSON.stringify(body),
      signal: AbortSignal.timeout(timeoutMs),
    });
    const text = await res.text();
    let json = null;
    try {
      json = JSON.parse(text);
    } catch {
      // not JSON; callers look at `text`
    }
    return { status: res.status, json, text };
  }

  /** A token minted by the node: POST /api/tokens with the API key. */
  async mintToken(claims) {
    const { status, json, text } = await this.request("/api/tokens", {
      method: "POST",
      body: claims,
      headers: { authorization: `Bearer ${this.apiKey}` },
    });
    if (status !== 200 || typeof json?.token !== "string") {
      throw new Error(`POST /api/tokens answered ${status}: ${text}`);
    }
    return json.token;
  }
}

/** Start a node; the caller disposes of it. */
export async function startServer(options) {
  const server = new ChatioServer(options);
  try {
    await server.start();
  } catch (error) {
    await server.dispose();
    throw error;
  }
  return server;
}
