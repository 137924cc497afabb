// The token helper agrees byte for byte with itsdangerous, so the tests mint
// tokens exactly the way a Python backend would.
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { existsSync } from "node:fs";
import { dirname, join } from "node:path";
import { describe, it } from "node:test";

import { CHATIO_BIN } from "./support/server.mjs";
import { signToken } from "./support/tokens.mjs";

const PYTHON = join(dirname(CHATIO_BIN), "python");

const CHECK = `
import json, sys
from itsdangerous import TimestampSigner, URLSafeTimedSerializer
out = []
for secret, claims, ts, token in json.load(sys.stdin):
    class Signer(TimestampSigner):
        def get_timestamp(self):
            return ts
    expected = URLSafeTimedSerializer(secret, salt="chatio-auth", signer=Signer).dumps(claims)
    loaded, when = URLSafeTimedSerializer(secret, salt="chatio-auth").loads(
        token, return_timestamp=True)
    out.append({"expected": expected, "claims": loaded, "ts": int(when.timestamp())})
json.dump(out, sys.stdout)
`;

describe("token helper", () => {
  it("matches URLSafeTimedSerializer(secret, salt='chatio-auth')", { skip: !existsSync(PYTHON) && `no ${PYTHON}` }, () => {
    const cases = [
      ["s3cret-0123456789abcdefghijklmnopqrstuv", { sub: "alice" }, 1_700_000_000],
      ["x", { sub: "bob", name: "B\u00f8b \u2603", rooms: ["team-*", "lobby"], exp: 1_234_567_890 }, 1],
      ["secret", { sub: "u", exp: 255 }, 256],
      ["secret", { sub: "emoji \u{1F600}", rooms: [] }, 2 ** 31 - 1],
    ].map(([secret, claims, ts]) => [secret, claims, ts, signToken(secret, claims, { issuedAt: ts })]);
    const results = JSON.parse(
      execFileSync(PYTHON, ["-c", CHECK], { input: JSON.stringify(cases), timeout: 30_000 }),
    );
    cases.forEach(([, claims, ts, token], i) => {
      assert.equal(token, results[i].expected);
      assert.deepEqual(results[i].claims, claims);
      assert.equal(results[i].ts, ts);
    });
  });
});
