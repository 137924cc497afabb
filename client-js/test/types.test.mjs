// The hand-written types and the package's exports agree, both ways.
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { it } from "node:test";

import * as pkg from "../src/index.js";

const DTS = readFileSync(new URL("../types/index.d.ts", import.meta.url), "utf8");

/** The runtime names index.d.ts declares (interfaces and types have no value). */
function declaredValues() {
  return [...DTS.matchAll(/^export declare (?:abstract )?(?:class|const|let|function|enum) (\w+)/gm)]
    .map((m) => m[1]);
}

it("index.d.ts declares every export, every ChatClient method and every constant", () => {
  for (const name of Object.keys(pkg)) {
    assert.match(DTS, new RegExp(`export declare (class|const) ${name}\\b`), name);
  }
  const methods = Object.getOwnPropertyNames(pkg.ChatClient.prototype).filter((n) => n !== "constructor");
  for (const method of methods) assert.match(DTS, new RegExp(`\\n  (readonly )?${method}[(:]`), method);
  for (const name of Object.keys(pkg.constants)) assert.match(DTS, new RegExp(`readonly ${name}:`), name);
});

it("every value index.d.ts declares is exported at runtime", () => {
  const declared = declaredValues();
  assert.ok(declared.includes("ChatClient"), "the declarations were read");
  const missing = declared.filter((name) => !(name in pkg));
  assert.deepEqual(missing, [], "declared in types/index.d.ts but not exported by src/index.js");
  for (const name of declared) {
    if (new RegExp(`^export declare class ${name}\\b`, "m").test(DTS)) {
      assert.equal(typeof pkg[name], "function", `${name} is declared as a class`);
    }
  }
});
