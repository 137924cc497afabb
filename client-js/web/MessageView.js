import { byId, clock, el } from "./dom.js";

const NEAR_BOTTOM_PX = 80;

/** The active room's messages, its pending sends and the "load older" button. */
export class MessageView {
  constructor(onOlder) {
    this.list = byId("messages");
    this.pendingList = byId("pending");
    this.older = byId("older");
    this.olderNote = byId("older-note");
    this.scroller = byId("scroller");
    this.me = null;
    this.older.addEventListener("click", () => onOlder());
  }

  /** Shows a whole room: `{messages, pending}`. */
  show(room) {
    this.olderNotice("");
    this.list.replaceChildren(...room.messages.map((m) => this.#item(m)));
    this.renderPending(room);
    this.#showOlder(room);
    this.#toBottom();
  }

  /** Adds a message of `room`, the room in view. */
  append(message, room) {
    const stick = this.#nearBottom();
    this.list.append(this.#item(message));
    // The first messages of a room just joined can start above seq 1.
    this.#showOlder(room);
    if (stick) this.#toBottom();
  }

  prepend(messages, room) {
    const height = this.scroller.scrollHeight;
    this.list.prepend(...messages.map((m) => this.#item(m)));
    this.scroller.scrollTop += this.scroller.scrollHeight - height;
    this.#showOlder(room);
  }

  /** A short line under "load older" (an empty `text` hides it). */
  olderNotice(text) {
    this.olderNote.textContent = text;
    this.olderNote.hidden = !text;
  }

  renderPending(room) {
    const stick = this.#nearBottom();
    const items = [...room.pending.values()].map((p) => {
      const state = p.error ? `not sent: ${p.error}` : "sending…";
      return el("li", { className: `msg mine pending${p.error ? " failed" : ""}` }, [
        el("div", { className: "meta" }, [
          el("span", { className: "author", text: this.me?.name ?? "" }),
          el("span", { className: "state", text: state }),
        ]),
        el("p", { className: "text", text: p.text }),
      ]);
    });
    this.pendingList.replaceChildren(...items);
    if (stick) this.#toBottom();
  }

  clear() {
    this.olderNotice("");
    this.list.replaceChildren();
    this.pendingList.replaceChildren();
    this.older.hidden = true;
  }

  #showOlder(room) {
    this.older.hidden = !(room.messages[0]?.seq > 1) || room.noOlder;
  }

  #item(message) {
    const mine = message.user.id === this.me?.id;
    return el("li", { className: mine ? "msg mine" : "msg", attrs: { "data-seq": String(message.seq) } }, [
      el("div", { className: "meta" }, [
        el("span", { className: "author", text: message.user.name }),
        el("time", { text: clock(message.ts), attrs: { datetime: new Date(message.ts).toISOString() } }),
      ]),
      el("p", { className: "text", text: message.text }),
    ]);
  }

  #nearBottom() {
    const s = this.scroller;
    return s.scrollHeight - s.scrollTop - s.clientHeight < NEAR_BOTTOM_PX;
  }

  #toBottom() {
    this.scroller.scrollTop = this.scroller.scrollHeight;
  }
}
