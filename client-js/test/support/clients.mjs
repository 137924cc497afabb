// ChatClients for tests: fast reconnects, tracked so each test closes them.
import { ChatClient } from "../../src/index.js";
import { waitFor } from "./wait.mjs";

export const FAST_RECONNECT = { reconnectionDelay: 100, reconnectionDelayMax: 300 };

export class ClientPool {
  constructor() {
    this.clients = [];
  }

  /** A ChatClient that is connected (status `connected`). */
  async connected(options) {
    const client = this.create(options);
    if (client.status !== "connected") await waitFor(client, "status", (s) => s === "connected");
    return client;
  }

  create({ transports = ["websocket"], managerOptions = {}, ...options }) {
    const client = new ChatClient({
      transports,
      managerOptions: { ...FAST_RECONNECT, ...managerOptions },
      ...options,
    });
    this.clients.push(client);
    return client;
  }

  closeAll() {
    for (const client of this.clients.splice(0)) client.close();
  }
}

let counter = 0;
/** A fresh, valid room name. */
export function roomName(prefix = "room") {
  counter += 1;
  return `${prefix}-${process.pid}-${Date.now().toString(36)}-${counter}`;
}
