// The hand-written types declare every export of the package.
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { it } from "node:test";

import * as pkg from "../src/index.js";

const DTS = readFileSync(new URL("../types/index.d.ts", import.meta.url), "utf8");

it("index.d.ts declares every export, every ChatClient method and every constant", () => {
  for (const name of Object.keys(pkg)) {
    assert.match(DTS, new RegExp(`export declare (class|const) ${name}\\b`), name);
  }
  const methods = Object.getOwnPropertyNames(pkg.ChatClient.prototype).filter((n) => n !== "constructor");
  for (const method of methods) assert.match(DTS, new RegExp(`\\n  (readonly )?${method}[(:]`), method);
  for (const name of Object.keys(pkg.constants)) assert.match(DTS, new RegExp(`readonly ${name}:`), name);
});
