// The page committed under chatio/static/ is exactly a fresh build.
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { readFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { it } from "node:test";

import { check } from "../build.mjs";
import { CHATIO_BIN } from "./support/server.mjs";

const PYTHON = join(dirname(CHATIO_BIN), "python");

it("chatio/static/ equals a fresh build of the page", async () => {
  const stale = await check();
  assert.deepEqual(stale, [], 'run "npm run build" in client-js and commit chatio/static/');
});

it("the message box takes as many characters as a node stores by default", () => {
  const html = readFileSync(new URL("../web/index.html", import.meta.url), "utf8");
  const box = html.match(/<textarea[^>]*\bid="text"[^>]*>/)?.[0];
  assert.ok(box, "index.html has the message box");
  const limit = execFileSync(PYTHON, ["-c", "from chatio.settings import Settings; print(Settings().max_message_chars)"],
    { encoding: "utf8" }).trim();
  assert.equal(box.match(/\bmaxlength="(\d+)"/)?.[1], limit);
});
