// The web page in a real browser: Debian's chromium driven by playwright-core,
// two browser contexts, two guests.
import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { existsSync, mkdirSync, readdirSync, rmSync } from "node:fs";
import { join, resolve } from "node:path";
import { after, before, describe, it } from "node:test";
import { fileURLToPath } from "node:url";

import { ChatClient } from "../src/index.js";
import { signToken, startServer } from "./support/server.mjs";
import { settles } from "./support/wait.mjs";

const CHROMIUM = process.env.CHROMIUM_PATH || "/usr/bin/chromium";
const FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking"];
const ARTIFACTS = resolve(fileURLToPath(new URL(".", import.meta.url)), "../artifacts");
const WAIT = { timeout: 15_000 };
const available = existsSync(CHROMIUM);
const required = process.env.CI === "true";

describe("web page", { skip: !available && !required && `no browser at ${CHROMIUM}` }, () => {
  let server;
  let browser;
  let ada;
  let bob;
  let bobContext;
  const dialogs = [];
  const pageErrors = [];

  before(async () => {
    if (!available) throw new Error(`chromium is required (CI=true) but ${CHROMIUM} is missing`);
    const { chromium } = await import("playwright-core");
    server = await startServer({
      name: "web-page",
      env: {
        CHATIO_PRESENCE_GRACE: "0.5",
        CHATIO_RATE_GUEST: "0",
        CHATIO_RATE_MESSAGES: "0",
        CHATIO_SHUTDOWN_TIMEOUT: "5",
        // Far beyond any wait below: a typing indicator clears only because
        // the typist's page sent typing: false, never because the node's TTL ran out.
        CHATIO_TYPING_TTL: "60",
      },
    });
    browser = await chromium.launch({ executablePath: CHROMIUM, args: FLAGS, headless: true, timeout: 30_000 });
    const adaContext = await browser.newContext({ viewport: { width: 1100, height: 720 } });
    bobContext = await browser.newContext({ viewport: { width: 390, height: 800 }, isMobile: true, hasTouch: true });
    ada = await open(adaContext, "Ada");
    bob = await open(bobContext, "Bob");
  });

  after(async () => {
    await browser?.close();
    await server?.dispose();
  });

  async function open(context, name) {
    const page = await context.newPage();
    page.on("dialog", (dialog) => {
      dialogs.push(dialog.message());
      dialog.dismiss().catch(() => {});
    });
    page.on("pageerror", (error) => pageErrors.push(`${name}: ${error.message}`));
    await page.goto(`${server.url}/`, WAIT);
    await page.fill("#login-name", name, WAIT);
    await page.click("#login-form button", WAIT);
    await connected(page);
    return page;
  }

  function connected(page) {
    return page.waitForSelector('#status[data-status="connected"]', WAIT);
  }

  async function say(page, text) {
    await page.fill("#text", text, WAIT);
    await page.press("#text", "Enter", WAIT);
  }

  function message(page, text) {
    return page.locator("#messages .text", { hasText: text }).first().waitFor(WAIT);
  }

  function texts(page) {
    return page.$$eval("#messages .text", (nodes) => nodes.map((n) => n.textContent));
  }

  function memberNames(page) {
    return page.$$eval("#member-list .name", (nodes) => nodes.map((n) => n.textContent).sort());
  }

  function typingLineIs(page, text) {
    return page.waitForFunction((expected) => document.getElementById("typing").textContent === expected, text, WAIT);
  }

  async function membersAre(page, names) {
    await page.waitForFunction(
      (expected) => JSON.stringify([...document.querySelectorAll("#member-list .name")]
        .map((n) => n.textContent).sort()) === JSON.stringify(expected),
      names, WAIT);
  }

  it("lets two guests chat both ways", async () => {
    await say(ada, "hello bob");
    await message(bob, "hello bob");
    await say(bob, "hi ada, from my phone");
    await message(ada, "hi ada, from my phone");
    assert.deepEqual(await texts(ada), ["hello bob", "hi ada, from my phone"]);
    assert.deepEqual(await texts(bob), ["hello bob", "hi ada, from my phone"]);
  });

  it("shows who is online", async () => {
    await membersAre(ada, ["Ada", "Bob"]);
    await membersAre(bob, ["Ada", "Bob"]);
  });

  it("shows the typing indicator and clears it", async () => {
    await bob.locator("#text").pressSequentially("I am typ", { delay: 40, ...WAIT });
    await typingLineIs(ada, "Bob is typing…");
    assert.equal(await bob.textContent("#typing"), "");
    // Three idle seconds later the page sends typing: false (the node's TTL is 60 s).
    await typingLineIs(ada, "");

    // Clearing the box sends typing: false at once, so Ada sees Bob stop and
    // start again as he types on, long before three idle seconds could pass.
    await bob.locator("#text").pressSequentially("again", { delay: 40, ...WAIT });
    await typingLineIs(ada, "Bob is typing…");
    await ada.evaluate(() => {
      const line = document.getElementById("typing");
      window.typingSeen = [];
      new MutationObserver(() => window.typingSeen.push(line.textContent))
        .observe(line, { childList: true, characterData: true, subtree: true });
    });
    await bob.fill("#text", "", WAIT);
    await bob.locator("#text").pressSequentially("x", WAIT);
    await ada.waitForFunction(() => {
      const stopped = window.typingSeen.indexOf("");
      return stopped >= 0 && window.typingSeen.indexOf("Bob is typing…", stopped + 1) > stopped;
    }, null, WAIT);
    await bob.fill("#text", "", WAIT);
    await typingLineIs(ada, "");
  });

  it("renders markup from users as text", async () => {
    const hostile = "<img src=x onerror=alert(1)>";
    await say(ada, hostile);
    await message(bob, "<img");
    const shown = await texts(bob);
    assert.equal(shown.at(-1), hostile);
    assert.equal(await bob.locator("#messages img").count(), 0);
    assert.equal(await ada.locator("#messages img").count(), 0);
    assert.deepEqual(dialogs, []);
  });

  it("joins and creates rooms", async () => {
    await ada.fill("#join-room", "side-room");
    await ada.press("#join-room", "Enter");
    await ada.waitForSelector('#room-list li[data-room="side-room"] [aria-current="true"]', WAIT);
    await bob.fill("#join-room", "side-room");
    await bob.press("#join-room", "Enter");
    await membersAre(ada, ["Ada", "Bob"]);
    await say(bob, "over here");
    await message(ada, "over here");
    assert.deepEqual(await texts(ada), ["over here"]);
    await ada.click('#room-list li[data-room="lobby"] button');
    await bob.click('#room-list li[data-room="lobby"] button');
    await message(ada, "hello bob");
    mkdirSync(ARTIFACTS, { recursive: true });
    await ada.screenshot({ path: join(ARTIFACTS, "chat-desktop.png") });
    await bob.screenshot({ path: join(ARTIFACTS, "chat-phone.png") });
  });

  it("reconnects after a server restart with history intact and sends what was queued", async () => {
    const before = await texts(ada);
    await server.stop();
    await ada.waitForSelector('#status:not([data-status="connected"])', WAIT);
    await say(ada, "sent while the server was down");
    await ada.waitForSelector("#pending .msg.pending", WAIT);
    assert.equal(await ada.isVisible("#offline-note"), true);

    await server.start();
    await connected(ada);
    await connected(bob);
    await message(bob, "sent while the server was down");
    await ada.waitForSelector("#pending .msg", { state: "detached", ...WAIT });
    const expected = [...before, "sent while the server was down"];
    assert.deepEqual(await texts(ada), expected);
    assert.deepEqual(await texts(bob), expected);
    const seqs = await ada.$$eval("#messages li", (items) => items.map((li) => Number(li.dataset.seq)));
    assert.deepEqual(seqs, seqs.map((_, i) => i + 1));

    // A reload keeps the guest's identity and shows the stored history.
    await bob.reload(WAIT);
    await connected(bob);
    await message(bob, "sent while the server was down");
    assert.deepEqual(await texts(bob), expected);
    assert.equal(await bob.textContent("#me"), "Bob");
  });

  it("drops a guest from the online list when their page closes", async () => {
    await membersAre(ada, ["Ada", "Bob"]);
    await bobContext.close();
    await membersAre(ada, ["Ada"]);
    assert.deepEqual(await memberNames(ada), ["Ada"]);
    assert.deepEqual(pageErrors, []);
  });

  it("says so when older messages cannot load while offline, and loads them once back", async () => {
    const room = "long-room";
    const seeder = new ChatClient({
      url: server.url,
      token: signToken(server.secret, { sub: "seeder", name: "Seeder" }),
      transports: ["websocket"],
    });
    try {
      await settles(seeder.join(room), "the seeder's join");
      for (let i = 1; i <= 55; i += 1) await settles(seeder.send(room, `old ${i}`), `send ${i}`);
    } finally {
      seeder.close();
    }
    await ada.fill("#join-room", room);
    await ada.press("#join-room", "Enter");
    await message(ada, "old 55");
    await ada.waitForSelector("#older", { state: "visible", ...WAIT });
    assert.equal((await texts(ada))[0], "old 6");

    await server.stop();
    await ada.waitForSelector('#status:not([data-status="connected"])', WAIT);
    await ada.click("#older", WAIT);
    await ada.locator("#older-note", { hasText: "offline" }).waitFor(WAIT);

    await server.start();
    await connected(ada);
    await ada.click("#older", WAIT);
    // "old 1" is also the start of "old 10": wait for the first message itself.
    await ada.waitForFunction(() => document.querySelector("#messages .text")?.textContent === "old 1", null, WAIT);
    assert.equal(await ada.isVisible("#older-note"), false);
    assert.deepEqual(await texts(ada), Array.from({ length: 55 }, (_, i) => `old ${i + 1}`));
    assert.deepEqual(pageErrors, []);
  });

  it("starts a room over, with a note, when the node's database was replaced", async () => {
    const room = "long-room";
    assert.equal((await texts(ada)).length, 55);
    await server.stop();
    await ada.waitForSelector('#status:not([data-status="connected"])', WAIT);
    for (const name of readdirSync(server.dataDir)) {
      if (name.startsWith("chatio.sqlite3")) rmSync(join(server.dataDir, name));
    }
    await server.start();
    await connected(ada);

    // A page that rejoined has reset the room already; one whose connection
    // the node recovered does with the first message of the new history.
    const writer = new ChatClient({
      url: server.url,
      token: signToken(server.secret, { sub: "seeder", name: "Seeder" }),
      transports: ["websocket"],
    });
    try {
      await settles(writer.join(room), "the writer's join");
      await settles(writer.send(room, "new 1"), "the first new message");
    } finally {
      writer.close();
    }
    await message(ada, "new 1");
    await ada.waitForSelector("#reset-note", { state: "visible", ...WAIT });
    assert.deepEqual(await texts(ada), ["new 1"]);
    const seqs = await ada.$$eval("#messages li", (items) => items.map((li) => Number(li.dataset.seq)));
    assert.deepEqual(seqs, [1]);
    assert.equal(await ada.isVisible("#older"), false);
    assert.deepEqual(pageErrors, []);
  });

  it("goes back to login when the node refuses the guest token", async () => {
    await server.stop();
    await ada.waitForSelector('#status:not([data-status="connected"])', WAIT);
    await say(ada, "sent to a node that will not know me");
    await ada.waitForSelector("#pending .msg.pending", WAIT);
    // A node with another secret cannot verify the guest tokens issued before.
    server.secret = randomBytes(24).toString("base64url");
    server.env.CHATIO_SECRET = server.secret;
    await server.start();
    await ada.waitForSelector("#login", { state: "visible", ...WAIT });
    assert.match(await ada.textContent("#login-error"), /session has ended/);
    assert.equal(await ada.isVisible("#chat"), false);
    assert.equal(await ada.evaluate(() => localStorage.getItem("chatio.guest")), null);

    // A new login works against the new node.
    await ada.fill("#login-name", "Ada", WAIT);
    await ada.click("#login-form button", WAIT);
    await connected(ada);
    assert.deepEqual(pageErrors, []);
  });
});
