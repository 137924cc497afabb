// src/constants.js names the same wire values as chatio/constants.py.
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { dirname, join } from "node:path";
import { it } from "node:test";

import * as js from "../src/constants.js";
import { CHATIO_BIN } from "./support/server.mjs";

const PYTHON = join(dirname(CHATIO_BIN), "python");
const DUMP = `
import json, re
import chatio.constants as c
out = {}
for k, v in vars(c).items():
    if not k.isupper():
        continue
    if isinstance(v, (frozenset, set)):
        v = sorted(v)
    elif isinstance(v, tuple):
        v = list(v)
    elif isinstance(v, re.Pattern):
        v = v.pattern
    out[k] = v
print(json.dumps(out))
`;

// Python-only names: server internals, not part of what a client sends or reads.
const SERVER_ONLY = new Set([
  "RESERVED_EVENTS", "IDEMPOTENCY_WINDOW_SECONDS", "VOLATILE_BUFFER_LIMIT",
  "TOKEN_SALT", "GUEST_PREFIX", "GUEST_RENEWAL_WINDOW_SECONDS",
]);

function normalise(name, value) {
  if (value instanceof RegExp) return value.source;
  if (Array.isArray(value) && name === "RETRYABLE_CODES") return [...value].sort();
  if (Array.isArray(value)) return [...value];
  return value;
}

it("every Python constant a client needs has the same value in constants.js", () => {
  const py = JSON.parse(execFileSync(PYTHON, ["-c", DUMP], { encoding: "utf8" }));
  const missing = [];
  for (const [name, value] of Object.entries(py)) {
    if (SERVER_ONLY.has(name)) continue;
    if (!(name in js)) {
      missing.push(name);
      continue;
    }
    // Python's \\Z is JavaScript's $ (neither accepts a trailing newline without the m flag).
    const expected = name === "ROOM_NAME_PATTERN" ? value.replace(/\\Z$/, "$") : value;
    assert.deepEqual(normalise(name, js[name]), expected, name);
  }
  assert.deepEqual(missing, [], "missing from client-js/src/constants.js");
});
