/**
 * Whether a `join` or `history` ack says that the room's history started
 * over since the client's position `{epoch, since}` (its epoch, null when it
 * knows none, and its last seq).
 *
 * It did when the ack names another epoch, or, from a server that names
 * none, when the ack has `gap: true` with a page that does not continue after
 * `since` (its `last_seq`, or its first message, is not above `since`).
 * `gap: true` with the same epoch and a page above `since` is retention
 * having dropped old messages, not a new history.
 */
export function startedOver({ epoch, since }, ack, messages) {
  if (typeof epoch === "string" && typeof ack?.epoch === "string" && ack.epoch !== epoch) return true;
  if (ack?.gap !== true || since === null || since === undefined) return false;
  if (Number.isSafeInteger(ack.last_seq) && ack.last_seq < since) return true;
  return messages.length > 0 && messages[0].seq <= since;
}
