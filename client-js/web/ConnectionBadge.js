import { byId } from "./dom.js";

const LABELS = {
  connecting: "connecting…",
  connected: "connected",
  reconnecting: "reconnecting…",
  offline: "offline",
};

/** The connection indicator in the top bar, and the offline note. */
export class ConnectionBadge {
  constructor() {
    this.badge = byId("status");
    this.label = byId("status-label");
    this.note = byId("offline-note");
  }

  show(status) {
    this.badge.dataset.status = status;
    this.label.textContent = LABELS[status] ?? status;
    this.note.hidden = status === "connected";
  }
}
