/**
 * Hands out the token for each connection attempt.
 *
 * The three namespace sockets of one attempt ask for the token together, and
 * they all get the result of a single `getToken()` call. A new attempt (a new
 * engine.io connection, the `attempt` key) calls `getToken()` again, and so
 * does the next request after `expire()` reported the current token refused.
 */
export class TokenSource {
  #getToken;
  #attempt = undefined;
  #promise = null;
  #version = 0;
  #stale = false;

  constructor({ token, getToken }) {
    if (typeof getToken === "function") this.#getToken = getToken;
    else if (typeof token === "string") this.#getToken = () => token;
    else throw new TypeError("ChatClient needs a token string or a getToken function");
    this.canRefresh = typeof getToken === "function";
  }

  /** Resolves with `{token, version}` for the connection attempt `attempt`. */
  forAttempt(attempt) {
    if (this.#promise === null || attempt !== this.#attempt || this.#stale) {
      const refresh = this.#stale;
      this.#attempt = attempt;
      this.#stale = false;
      this.#version += 1;
      const version = this.#version;
      this.#promise = Promise.resolve()
        .then(() => this.#getToken({ refresh }))
        .then((token) => {
          if (typeof token !== "string" || token === "") {
            throw new TypeError("getToken must resolve with a non-empty string");
          }
          return { token, version };
        });
      // A failed fetch is not reused by the next attempt.
      this.#promise.catch(() => {
        if (this.#version === version) this.#promise = null;
      });
    }
    return this.#promise;
  }

  /**
   * Reports that the token of `version` was refused as expired. Only the
   * newest token can go stale: refusals of older ones change nothing.
   */
  expire(version) {
    if (version === this.#version) this.#stale = true;
  }
}
