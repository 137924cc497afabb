// The page committed under chatio/static/ is exactly a fresh build.
import assert from "node:assert/strict";
import { it } from "node:test";

import { check } from "../build.mjs";

it("chatio/static/ equals a fresh build of the page", async () => {
  const stale = await check();
  assert.deepEqual(stale, [], 'run "npm run build" in client-js and commit chatio/static/');
});
