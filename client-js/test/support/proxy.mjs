// A TCP relay between a client and a chatio node, which a test can cut,
// hold closed, or make swallow the node's replies: a network that fails on
// cue.
import { createServer, connect } from "node:net";

export class FlakyProxy {
  constructor(targetPort, targetHost = "127.0.0.1") {
    this.target = { port: targetPort, host: targetHost };
    this.pairs = new Set();
    this.refusing = false;
    this.swallowing = false;
    this.server = createServer((client) => this.#relay(client));
  }

  async listen() {
    await new Promise((resolve, reject) => {
      this.server.once("error", reject);
      this.server.listen(0, "127.0.0.1", resolve);
    });
    this.port = this.server.address().port;
    return this;
  }

  get url() {
    return `http://127.0.0.1:${this.port}`;
  }

  #relay(client) {
    if (this.refusing) {
      client.destroy();
      return;
    }
    const upstream = connect(this.target);
    const pair = { client, upstream };
    this.pairs.add(pair);
    client.on("data", (chunk) => upstream.write(chunk));
    upstream.on("data", (chunk) => {
      if (!this.swallowing) client.write(chunk);
    });
    const close = () => {
      this.pairs.delete(pair);
      client.destroy();
      upstream.destroy();
    };
    client.on("close", close);
    upstream.on("close", close);
    client.on("error", close);
    upstream.on("error", close);
  }

  /** New connections are dropped at once until `accept()`. */
  refuse() {
    this.refusing = true;
  }

  accept() {
    this.refusing = false;
    this.swallowing = false;
  }

  /** Data from the node stops reaching the client (requests still go through). */
  swallowReplies() {
    this.swallowing = true;
  }

  /** Cuts every open connection. */
  cut() {
    for (const { client, upstream } of this.pairs) {
      client.destroy();
      upstream.destroy();
    }
    this.pairs.clear();
  }

  async close() {
    this.refuse();
    this.cut();
    await new Promise((resolve) => this.server.close(resolve));
  }
}
