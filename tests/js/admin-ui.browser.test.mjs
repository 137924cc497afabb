// The UI files the npm @socket.io/admin-ui package ships (ui/dist), served
// from a local static server and loaded in Debian's chromium (playwright-core):
// they connect to a live node and list a connected chat client.
import assert from "node:assert/strict";
import { existsSync, readFileSync, statSync } from "node:fs";
import { createServer } from "node:http";
import { createRequire } from "node:module";
import { dirname, extname, join, normalize } from "node:path";
import { after, before, describe, it } from "node:test";

import { closeAll, connected } from "./support/client.mjs";
import { freePort, startServer } from "./support/server.mjs";
import { randomString } from "./support/tokens.mjs";

const CHROMIUM = process.env.CHROMIUM_PATH || "/usr/bin/chromium";
const FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking"];
const WAIT = { timeout: 15_000 };
const available = existsSync(CHROMIUM);
const UI_DIR = join(
  dirname(createRequire(import.meta.url).resolve("@socket.io/admin-ui/package.json")),
  "ui/dist",
);
const TYPES = {
  ".html": "text/html",
  ".js": "text/javascript",
  ".css": "text/css",
  ".png": "image/png",
  ".svg": "image/svg+xml",
  ".map": "application/json",
};

/** A static file server for `root` on a free local port. */
async function serveStatic(root) {
  const port = await freePort();
  const http = createServer((req, res) => {
    const path = normalize(decodeURIComponent(new URL(req.url, "http://x").pathname));
    let file = join(root, path);
    if (!file.startsWith(root)) file = root;
    if (existsSync(file) && statSync(file).isDirectory()) file = join(file, "index.html");
    if (!existsSync(file)) {
      res.writeHead(404).end();
      return;
    }
    res.writeHead(200, { "content-type": TYPES[extname(file)] ?? "application/octet-stream" });
    res.end(readFileSync(file));
  });
  await new Promise((resolve) => http.listen(port, "127.0.0.1", resolve));
  return { url: `http://127.0.0.1:${port}`, close: () => new Promise((r) => http.close(r)) };
}

describe("the Admin UI in chromium", { skip: !available && process.env.CI !== "true" && `no browser at ${CHROMIUM}` }, () => {
  const PASSWORD = randomString(24);
  let ui;
  let server;
  let browser;
  let page;
  const open = [];
  const pageErrors = [];

  before(async () => {
    if (!available) throw new Error(`chromium is required (CI=true) but ${CHROMIUM} is missing`);
    const { chromium } = await import("playwright-core");
    ui = await serveStatic(UI_DIR);
    server = await startServer({
      name: "admin-ui-browser",
      env: {
        CHATIO_ADMIN_USER: "ops",
        CHATIO_ADMIN_PASSWORD: PASSWORD,
        CHATIO_NODE_ID: "node-browser",
        CHATIO_CORS_ORIGINS: ui.url,
      },
    });
    browser = await chromium.launch({ executablePath: CHROMIUM, args: FLAGS, headless: true, timeout: 30_000 });
    const context = await browser.newContext({ viewport: { width: 1280, height: 800 } });
    // Web fonts and icons come from CDNs: nothing leaves the machine.
    await context.route((url) => url.hostname !== "127.0.0.1", (route) => route.abort());
    page = await context.newPage();
    page.on("pageerror", (error) => pageErrors.push(error.message));
  });

  after(async () => {
    closeAll(open);
    await browser?.close();
    await server?.dispose();
    await ui?.close();
  });

  it("connects with the password and lists a connected chat client, without its token", async () => {
    const token = await server.mintToken({ sub: "alice", name: "Alice" });
    const chat = await connected(server.url, "websocket", { query: { token } });
    open.push(chat);

    await page.goto(`${ui.url}/`, WAIT);
    await page.getByLabel("Server URL").fill(server.url, WAIT);
    await page.getByLabel("Username").fill("ops", WAIT);
    await page.getByLabel("Password").fill(PASSWORD, WAIT);
    await page.getByRole("button", { name: /connect/i }).click(WAIT);
    await page.getByRole("dialog").waitFor({ state: "hidden", ...WAIT });

    await page.evaluate(() => { window.location.hash = "#/clients/"; });
    await page.getByText(chat.io.engine.id).first().waitFor(WAIT);

    await page.evaluate((sid) => {
      window.location.hash = `#/n/${encodeURIComponent("/chat")}/sockets/${sid}`;
    }, chat.id);
    await page.getByText("[redacted]").first().waitFor(WAIT);
    assert.ok(!(await page.content()).includes(token), "the page shows a token");

    await page.evaluate(() => { window.location.hash = "#/servers/"; });
    await page.getByText("node-browser").first().waitFor(WAIT);
    assert.deepEqual(pageErrors, []);
  });
});
