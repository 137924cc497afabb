import { byId, el } from "./dom.js";
import { messageItem } from "./MessageItem.js";

const NEAR_BOTTOM_PX = 80;
const GROUP_MS = 5 * 60_000;

function day(ms) {
  return new Date(ms).toLocaleDateString([], { weekday: "long", year: "numeric", month: "long", day: "numeric" });
}

/** The active room's messages, its pending sends and the "load older" button. */
export class MessageView {
  constructor(onOlder) {
    this.list = byId("messages");
    this.pendingList = byId("pending");
    this.older = byId("older");
    this.olderNote = byId("older-note");
    this.resetNote = byId("reset-note");
    this.scroller = byId("scroller");
    this.me = null;
    this.actions = { react() {}, edit() {}, remove() {} };
    this.older.addEventListener("click", () => onOlder());
  }

  /** Shows a whole room: `{messages, pending, restarted}`. */
  show(room) {
    this.olderNotice("");
    this.resetNote.hidden = !room.restarted;
    this.list.replaceChildren(...room.messages.map((m) => this.#item(m)));
    this.decorate(room);
    this.renderPending(room);
    this.#showOlder(room);
    this.#toBottom();
  }

  /** Adds a message of `room`, the room in view. */
  append(message, room) {
    const stick = this.#nearBottom();
    this.list.append(this.#item(message));
    this.decorate(room);
    // The first messages of a room just joined can start above seq 1.
    this.#showOlder(room);
    if (stick) this.#toBottom();
  }

  prepend(messages, room) {
    const height = this.scroller.scrollHeight;
    this.list.prepend(...messages.map((m) => this.#item(m)));
    this.decorate(room);
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
    this.resetNote.hidden = true;
    this.list.replaceChildren();
    this.pendingList.replaceChildren();
    this.older.hidden = true;
  }

  #showOlder(room) {
    this.older.hidden = !(room.messages[0]?.seq > 1) || room.noOlder;
  }

  /** Redraws one message of the room in view, in its current state. */
  update(message, room) {
    const old = this.list.querySelector(`li[data-seq="${message.seq}"]`);
    if (!old) return;
    old.replaceWith(this.#item(message));
    this.decorate(room);
  }

  /**
   * Groups consecutive messages of one author, marks the first message of
   * each day and the first unread one, and says who has seen the user's last
   * message.
   */
  decorate(room) {
    const bySeq = new Map(room.messages.map((m) => [m.seq, m]));
    let previous = null;
    let unreadMarked = false;
    let lastMine = null;
    for (const item of this.list.children) {
      const message = bySeq.get(Number(item.dataset.seq));
      if (!message) continue;
      const today = day(message.ts);
      const newDay = !previous || day(previous.ts) !== today;
      if (newDay) item.dataset.day = today;
      else delete item.dataset.day;
      const grouped = !newDay && previous.user.id === message.user.id && message.ts - previous.ts < GROUP_MS;
      item.classList.toggle("grouped", grouped);
      const unread = !unreadMarked && room.dividerAfter !== null && message.seq > room.dividerAfter
        && message.user.id !== this.me?.id;
      item.classList.toggle("first-unread", unread);
      if (unread) unreadMarked = true;
      item.querySelector(".seen")?.remove();
      if (message.user.id === this.me?.id) lastMine = { item, message };
      previous = message;
    }
    if (lastMine && !lastMine.message.deleted) {
      const names = [...room.readers.values()]
        .filter((r) => r.id !== this.me?.id && r.seq >= lastMine.message.seq).map((r) => r.name).sort();
      if (names.length) lastMine.item.append(el("p", { className: "seen", text: `Seen by ${names.join(", ")}` }));
    }
  }

  #item(message) {
    return messageItem(message, this.me, this.actions);
  }

  #nearBottom() {
    const s = this.scroller;
    return s.scrollHeight - s.scrollTop - s.clientHeight < NEAR_BOTTOM_PX;
  }

  #toBottom() {
    this.scroller.scrollTop = this.scroller.scrollHeight;
  }
}
