// The page's chat features in a real browser: unread counts and the title,
// the new-messages divider, "seen by", edits, deletes, reactions, grouping,
// links, dark mode and the favicon.
import assert from "node:assert/strict";
import { existsSync } from "node:fs";
import { after, before, describe, it } from "node:test";

import { ChatClient } from "../src/index.js";
import { signToken, startServer } from "./support/server.mjs";
import { settles } from "./support/wait.mjs";

const CHROMIUM = process.env.CHROMIUM_PATH || "/usr/bin/chromium";
const FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking"];
const WAIT = { timeout: 15_000 };
const available = existsSync(CHROMIUM);
const required = process.env.CI === "true";

describe("web page features", { skip: !available && !required && `no browser at ${CHROMIUM}` }, () => {
  let server;
  let browser;
  let ada;
  let bob;
  let seeder;
  const pageErrors = [];

  before(async () => {
    if (!available) throw new Error(`chromium is required (CI=true) but ${CHROMIUM} is missing`);
    const { chromium } = await import("playwright-core");
    server = await startServer({
      name: "web-features",
      env: { CHATIO_RATE_GUEST: "0", CHATIO_RATE_MESSAGES: "0", CHATIO_RATE_TYPING: "0", CHATIO_RECEIPT_INTERVAL: "0.1" },
    });
    browser = await chromium.launch({ executablePath: CHROMIUM, args: FLAGS, headless: true, timeout: 30_000 });
    ada = await open(await browser.newContext({ viewport: { width: 1100, height: 720 } }), "Ada");
    bob = await open(await browser.newContext({ viewport: { width: 1100, height: 720 } }), "Bob");
    seeder = new ChatClient({
      url: server.url,
      token: signToken(server.secret, { sub: "seeder", name: "Seeder" }),
      transports: ["websocket"],
    });
  });

  after(async () => {
    seeder?.close();
    await browser?.close();
    await server?.dispose();
  });

  async function open(context, name) {
    const page = await context.newPage();
    page.on("pageerror", (error) => pageErrors.push(`${name}: ${error.message}`));
    await page.goto(`${server.url}/`, WAIT);
    await page.fill("#login-name", name, WAIT);
    await page.click("#login-form button", WAIT);
    await page.waitForSelector('#status[data-status="connected"]', WAIT);
    return page;
  }

  async function say(page, text) {
    await page.fill("#text", text, WAIT);
    await page.press("#text", "Enter", WAIT);
  }

  function item(page, text) {
    return page.locator("#messages li.msg", { hasText: text }).first();
  }

  it("counts unread messages per room and in the title, and marks the first unread", async () => {
    await ada.fill("#join-room", "side", WAIT);
    await ada.press("#join-room", "Enter", WAIT);
    await ada.waitForSelector('#room-list li[data-room="side"] [aria-current="true"]', WAIT);
    await ada.click('#room-list li[data-room="lobby"] button', WAIT);
    await settles(seeder.join("side"), "the seeder's join");
    await settles(seeder.send("side", "first news"), "send");
    await settles(seeder.send("side", "second news"), "send");
    await ada.locator('#room-list li[data-room="side"] .unread', { hasText: "2" }).waitFor(WAIT);
    await ada.waitForFunction(() => document.title === "(2) chatio", null, WAIT);
    await ada.click('#room-list li[data-room="side"] button', WAIT);
    await item(ada, "first news").waitFor(WAIT);
    assert.equal(await item(ada, "first news").evaluate((li) => li.classList.contains("first-unread")), true);
    assert.equal(await item(ada, "second news").evaluate((li) => li.classList.contains("first-unread")), false);
    await ada.waitForFunction(() => document.title === "chatio", null, WAIT);
    await ada.waitForSelector('#room-list li[data-room="side"] .unread', { state: "detached", ...WAIT });
    // The read position is stored: a reload shows nothing unread.
    await ada.reload(WAIT);
    await ada.waitForSelector('#status[data-status="connected"]', WAIT);
    await ada.click('#room-list li[data-room="side"] button', WAIT);
    await item(ada, "second news").waitFor(WAIT);
    assert.equal(await ada.locator("#room-list .unread").count(), 0);
    assert.equal(await ada.locator("#messages li.first-unread").count(), 0);
    await ada.click('#room-list li[data-room="lobby"] button', WAIT);
  });

  it("groups one author's messages, makes only http links clickable and shows who has seen them", async () => {
    await say(ada, "look at https://example.com/a?b=1. and javascript:alert(1)");
    await say(ada, "second in a row");
    await item(bob, "second in a row").waitFor(WAIT);
    const link = item(bob, "example.com").locator("a");
    assert.equal(await link.count(), 1);
    assert.equal(await link.getAttribute("href"), "https://example.com/a?b=1");
    assert.match(await link.getAttribute("rel"), /noopener/);
    assert.equal(await item(bob, "second in a row").evaluate((li) => li.classList.contains("grouped")), true);
    assert.equal(await item(bob, "example.com").evaluate((li) => li.classList.contains("grouped")), false);
    assert.ok(await ada.locator("#messages li.msg").first().getAttribute("data-day"));
    await item(ada, "second in a row").locator(".seen", { hasText: "Seen by Bob" }).waitFor(WAIT);
  });

  it("reacts, edits and deletes, seen live on the other page", async () => {
    await item(bob, "second in a row").hover(WAIT);
    await item(bob, "second in a row").locator('.actions [data-emoji="👍"]').click(WAIT);
    await item(ada, "second in a row").locator(".reaction", { hasText: "👍 1" }).waitFor(WAIT);
    assert.equal(await item(bob, "second in a row").locator(".reaction.me").count(), 1);
    assert.equal(await item(bob, "second in a row").locator("button.edit").count(), 0, "not Bob's to edit");

    await item(ada, "second in a row").hover(WAIT);
    await item(ada, "second in a row").locator("button.edit").click(WAIT);
    assert.equal(await ada.inputValue("#text"), "second in a row");
    await ada.fill("#text", "second, edited", WAIT);
    await ada.press("#text", "Enter", WAIT);
    await item(bob, "second, edited").locator(".edited").waitFor(WAIT);
    assert.equal(await item(bob, "second, edited").locator(".reaction").count(), 1);

    await item(ada, "second, edited").hover(WAIT);
    await item(ada, "second, edited").locator("button.delete").click(WAIT);
    await item(bob, "This message was deleted.").waitFor(WAIT);
    assert.equal(await bob.locator("#messages .text", { hasText: "second, edited" }).count(), 0);
    await bob.reload(WAIT);
    await item(bob, "This message was deleted.").waitFor(WAIT);
    assert.equal(await bob.locator("#messages .text", { hasText: "second, edited" }).count(), 0);
    assert.deepEqual(pageErrors, []);
  });

  it("follows the dark color scheme and has a favicon", async () => {
    const light = await ada.evaluate(() => getComputedStyle(document.documentElement).backgroundColor);
    await ada.emulateMedia({ colorScheme: "dark" });
    const dark = await ada.evaluate(() => getComputedStyle(document.documentElement).backgroundColor);
    assert.notEqual(light, dark);
    assert.equal(dark, "rgb(20, 23, 27)");
    assert.match(await ada.getAttribute('link[rel="icon"]', "href"), /^data:image\/svg\+xml,/);
  });
});
