/** A refused guest login or renewal: the HTTP status and the server's error code. */
export class GuestError extends Error {
  constructor(status, body) {
    super(body?.error?.message || `guest login failed (HTTP ${status})`);
    this.status = status;
    this.code = body?.error?.code;
  }
}
