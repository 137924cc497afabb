// Tokens minted the way any backend can: the public itsdangerous format.
//
// URLSafeTimedSerializer(secret, salt="chatio-auth").dumps(claims) is
//   base64url(compact JSON) "." base64url(timestamp) "." base64url(signature)
// where the timestamp is the big-endian integer without leading zero bytes,
// the key is SHA1(salt + "signer" + secret) ("django-concat" derivation) and
// the signature is HMAC-SHA1(key, payload "." timestamp). Payloads are never
// compressed here; itsdangerous only compresses when that makes them shorter,
// and it loads uncompressed payloads either way.
import { createHash, createHmac, randomBytes } from "node:crypto";

export const TOKEN_SALT = "chatio-auth";

function b64url(buffer) {
  return Buffer.from(buffer).toString("base64url");
}

function intToBytes(value) {
  if (!Number.isInteger(value) || value < 0) {
    throw new RangeError(`timestamp must be a non-negative integer: ${value}`);
  }
  const bytes = [];
  let n = BigInt(value);
  while (n > 0n) {
    bytes.unshift(Number(n & 0xffn));
    n >>= 8n;
  }
  return Buffer.from(bytes);
}

/** itsdangerous' compact JSON: json.dumps(obj, separators=(",", ":"), ensure_ascii=False). */
function compactJson(value) {
  return JSON.stringify(value);
}

/**
 * A signed token over `claims`.
 *
 * `issuedAt` (epoch seconds) backdates the signature, which is how a token
 * gets older than CHATIO_TOKEN_TTL without waiting.
 */
export function signToken(secret, claims, { issuedAt, salt = TOKEN_SALT } = {}) {
  const timestamp = Math.floor(issuedAt ?? Date.now() / 1000);
  const key = createHash("sha1").update(salt + "signer" + secret).digest();
  const value = b64url(compactJson(claims)) + "." + b64url(intToBytes(timestamp));
  const signature = createHmac("sha1", key).update(value).digest();
  return value + "." + b64url(signature);
}

/** `length` random URL-safe characters. */
export function randomString(length = 32) {
  return randomBytes(length).toString("base64url").slice(0, length);
}
