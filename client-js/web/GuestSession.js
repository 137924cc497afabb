import { GuestError } from "./GuestError.js";

const KEY = "chatio.guest";
// Renew a token this long before it expires.
const RENEW_MARGIN_MS = 5 * 60_000;

/**
 * A guest identity kept in localStorage: logs in through POST /api/guest
 * with a name, and renews the token for the same id with {name, token}.
 */
export class GuestSession {
  constructor(storage = globalThis.localStorage) {
    this.storage = storage;
    try {
      this.saved = JSON.parse(storage.getItem(KEY) ?? "null");
    } catch {
      this.saved = null;
    }
  }

  /** `{id, name}` of the guest, or null before login. */
  get user() {
    return this.saved?.user ?? null;
  }

  async login(name) {
    return this.#issue({ name });
  }

  /** A new token for the same guest id. */
  async renew(name = this.user?.name) {
    if (!this.saved) throw new GuestError(401, null);
    return this.#issue({ name, token: this.saved.token });
  }

  /** For ChatClient: the saved token, renewed when close to expiry or refused. */
  async getToken({ refresh = false } = {}) {
    if (!this.saved) throw new GuestError(401, null);
    if (refresh || Date.now() > this.saved.expiresAt - RENEW_MARGIN_MS) await this.renew();
    return this.saved.token;
  }

  forget() {
    this.saved = null;
    this.storage.removeItem(KEY);
  }

  async #issue(body) {
    const response = await fetch("/api/guest", {
      method: "POST",
      headers: { "Content-Type": "application/json" },
      body: JSON.stringify(body),
    });
    const json = await response.json().catch(() => null);
    if (!response.ok) {
      if (response.status === 401) this.forget();
      throw new GuestError(response.status, json);
    }
    this.saved = {
      token: json.token,
      user: json.user,
      expiresAt: Date.now() + json.expires_in * 1000,
    };
    this.storage.setItem(KEY, JSON.stringify(this.saved));
    return this.saved.user;
  }
}
