import { ChatClient } from "../src/index.js";
import { CLIENT_CLOSED, NOT_CONNECTED, ROOM_LEFT, UNAUTHORIZED } from "../src/constants.js";
import { ConnectionBadge } from "./ConnectionBadge.js";
import { byId } from "./dom.js";
import { applyReaction } from "./MessageItem.js";
import { MessageView } from "./MessageView.js";
import { PresenceView } from "./PresenceView.js";
import { RoomList } from "./RoomList.js";

const ROOMS_KEY = "chatio.rooms";
const DEFAULT_ROOM = "lobby";
const OLDER_PAGE = 50;

/** The chat screen: one ChatClient, the rooms joined, and the views. */
export class ChatApp {
  /** `onSessionEnded()` runs when the guest token can no longer be renewed. */
  constructor(session, { onSessionEnded = () => {} } = {}) {
    this.session = session;
    this.onSessionEnded = onSessionEnded;
    this.me = session.user;
    this.rooms = new Map();
    this.active = null;
    this.localIds = 0;
    this.badge = new ConnectionBadge();
    this.roomList = new RoomList((name) => this.select(name));
    this.messages = new MessageView(() => this.loadOlder());
    this.presence = new PresenceView();
    this.messages.me = this.me;
    this.messages.actions = {
      react: (seq, emoji, on) => this.react(seq, emoji, on),
      edit: (message) => this.startEdit(message),
      remove: (seq) => this.remove(seq),
    };
    this.presence.me = this.me;
    this.editing = null;
    this.text = byId("text");
    this.title = byId("room-title");
    this.listeners = [];
  }

  start() {
    this.client = new ChatClient({ userId: this.me.id, getToken: (options) => this.session.getToken(options) });
    const c = this.client;
    c.on("read", ({ room, unread }) => this.#onRead(room, unread));
    c.on("edit", (entry) => this.#onChange(entry));
    c.on("delete", (entry) => this.#onChange(entry));
    c.on("reaction", (delta) => this.#onReaction(delta));
    c.on("receipts", ({ room, reads }) => this.#onReceipts(room, reads));
    c.on("status", (status) => this.badge.show(status));
    c.on("message", (message) => this.#onMessage(message));
    c.on("reset", ({ room }) => this.#onReset(room));
    c.on("members", ({ room }) => room === this.active && this.presence.members(c.members(room)));
    c.on("typing", ({ room }) => room === this.active && this.presence.typing(c.typingUsers(room)));
    c.on("error", (error) => {
      console.warn("chatio:", error.code ?? "", error.message);
      // A refused token is not renewed: the guest has to log in again.
      if (error.code === UNAUTHORIZED) this.session.forget();
      if (!this.session.user) this.onSessionEnded();
    });
    this.badge.show(c.status);
    this.#bind();
    let saved = [];
    try {
      saved = JSON.parse(localStorage.getItem(ROOMS_KEY) ?? "[]");
    } catch {
      // start with the default room
    }
    const names = Array.isArray(saved) && saved.length ? saved : [DEFAULT_ROOM];
    for (const name of names) this.open(name, { select: false });
    this.select(names[0]);
  }

  stop() {
    for (const [target, type, fn] of this.listeners) target.removeEventListener(type, fn);
    this.client?.close();
  }

  /** Joins (or creates) a room. */
  open(name, { select = true } = {}) {
    if (!this.rooms.has(name)) {
      this.rooms.set(name, {
        messages: [], pending: new Map(), unread: 0, noOlder: false, loadingOlder: false,
        dividerAfter: null, readers: new Map(), restarted: false,
      });
      this.client.join(name).then(() => this.#joined(name), (error) => {
        if (error.code === CLIENT_CLOSED || error.code === ROOM_LEFT) return;
        this.#drop(name);
        byId("join-room").setCustomValidity(`Cannot join ${name}: ${error.message}`);
        byId("join-room").reportValidity();
      });
      this.#save();
    }
    if (select) this.select(name);
  }

  select(name) {
    const room = this.rooms.get(name);
    if (!room) return;
    this.active = name;
    const read = this.client.readState(name);
    room.dividerAfter = read && read.unread > 0 ? read.seq : null;
    this.title.textContent = `#${name}`;
    this.messages.show(room);
    this.#markRead(name);
    this.presence.members(this.client.members(name));
    this.presence.typing(this.client.typingUsers(name));
    this.roomList.render(this.rooms, this.active);
  }

  async leave() {
    const name = this.active;
    if (!name) return;
    this.#drop(name);
    await this.client.leave(name).catch(() => {});
  }

  send(text) {
    const name = this.active;
    const room = this.rooms.get(name);
    if (!room || !text.trim()) return;
    const id = ++this.localIds;
    room.pending.set(id, { text });
    this.messages.renderPending(room);
    this.client.send(name, text).then(
      () => room.pending.delete(id),
      (error) => {
        room.pending.set(id, { text, error: error.message || error.code });
      },
    ).finally(() => {
      if (this.active === name) this.messages.renderPending(room);
    });
  }

  async loadOlder() {
    const name = this.active;
    const room = this.rooms.get(name);
    const first = room?.messages[0];
    if (!first || room.loadingOlder) return;
    room.loadingOlder = true;
    let page;
    try {
      page = await this.client.history(name, { before: first.seq, limit: OLDER_PAGE });
    } catch (error) {
      if (this.active === name) {
        this.messages.olderNotice(error.code === NOT_CONNECTED
          ? "You are offline: older messages can load once the connection is back."
          : `Could not load older messages: ${error.message}`);
      }
      return;
    } finally {
      room.loadingOlder = false;
    }
    // The room's history started over: the reset event reloads it.
    if (page.reset) return;
    // Pages hold messages in their current state; change entries are only news.
    const older = page.messages.filter((m) => !m.kind);
    room.messages.unshift(...older);
    if (!page.more) room.noOlder = true;
    if (this.active === name) {
      this.messages.olderNotice("");
      this.messages.prepend(older, room);
    }
  }

  #onMessage(message) {
    const room = this.rooms.get(message.room);
    if (!room) return;
    room.messages.push(message);
    if (message.room === this.active) {
      this.messages.append(message, room);
      this.#markRead(message.room);
    }
  }

  /** The room's history started over: its old messages are gone, the new ones follow. */
  #onReset(name) {
    const room = this.rooms.get(name);
    if (!room) return;
    room.messages = [];
    room.readers.clear();
    room.noOlder = false;
    room.dividerAfter = null;
    room.restarted = true;
    if (name === this.active) this.messages.show(room);
  }

  async #joined(name) {
    const room = this.rooms.get(name);
    if (!room) return;
    this.#onRead(name, this.client.readState(name)?.unread ?? 0);
    if (name === this.active) {
      const read = this.client.readState(name);
      room.dividerAfter = read && read.unread > 0 ? read.seq : null;
      this.messages.decorate(room);
      this.#markRead(name);
    }
    try {
      const { readers } = await this.client.readers(name, 1);
      this.#onReceipts(name, readers);
    } catch {
      // receipts fill the list in as they come
    }
  }

  /** The room in view is read up to its newest message while the page is seen. */
  #markRead(name) {
    const room = this.rooms.get(name);
    const last = room?.messages.at(-1);
    if (last && name === this.active && document.visibilityState === "visible") {
      this.client.markRead(name, this.client.lastSeq(name) ?? last.seq);
    }
  }

  #onRead(name, unread) {
    const room = this.rooms.get(name);
    if (!room) return;
    room.unread = unread;
    this.roomList.render(this.rooms, this.active);
    const total = [...this.rooms.values()].reduce((sum, r) => sum + r.unread, 0);
    document.title = total > 0 ? `(${total}) chatio` : "chatio";
  }

  #onChange(entry) {
    const room = this.rooms.get(entry.room);
    const target = room?.messages.find((m) => m.seq === entry.target);
    if (!target) return;
    if (entry.kind === "delete") {
      delete target.text;
      delete target.edited_at;
      delete target.reactions;
      target.deleted = true;
    } else {
      target.text = entry.text;
      target.edited_at = entry.ts;
    }
    if (entry.room === this.active) this.messages.update(target, room);
  }

  #onReaction(delta) {
    const room = this.rooms.get(delta.room);
    const target = room?.messages.find((m) => m.seq === delta.seq);
    if (!target) return;
    applyReaction(target, delta, this.me);
    if (delta.room === this.active) this.messages.update(target, room);
  }

  #onReceipts(name, reads) {
    const room = this.rooms.get(name);
    if (!room) return;
    for (const { user, seq } of reads) {
      const known = room.readers.get(user.id);
      if (!known || seq > known.seq) room.readers.set(user.id, { id: user.id, name: user.name, seq });
    }
    if (name === this.active) this.messages.decorate(room);
  }

  react(seq, emoji, on) {
    const name = this.active;
    this.client.react(name, seq, emoji, on).then(({ count, changed }) => {
      if (changed) this.#onReaction({ room: name, seq, emoji, count, on, user: this.me });
    }, (error) => console.warn("chatio:", error.code ?? "", error.message));
  }

  startEdit(message) {
    this.editing = { room: message.room, seq: message.seq };
    this.text.value = message.text ?? "";
    this.text.placeholder = "Edit your message (Esc cancels)";
    this.text.focus();
  }

  #stopEdit() {
    this.editing = null;
    this.text.placeholder = "Write a message";
  }

  remove(seq) {
    const name = this.active;
    this.client.delete(name, seq).then((entry) => this.#onChange(entry),
      (error) => console.warn("chatio:", error.code ?? "", error.message));
  }

  #drop(name) {
    this.rooms.delete(name);
    this.#save();
    if (this.active === name) {
      this.active = null;
      const next = this.rooms.keys().next();
      if (next.done) {
        this.title.textContent = "";
        this.messages.clear();
        this.presence.members([]);
        this.presence.typing([]);
        this.roomList.render(this.rooms, null);
      } else {
        this.select(next.value);
      }
    } else {
      this.roomList.render(this.rooms, this.active);
    }
  }

  #save() {
    localStorage.setItem(ROOMS_KEY, JSON.stringify([...this.rooms.keys()]));
  }

  #listen(target, type, fn) {
    target.addEventListener(type, fn);
    this.listeners.push([target, type, fn]);
  }

  #bind() {
    const joinInput = byId("join-room");
    this.#listen(byId("join-form"), "submit", (event) => {
      event.preventDefault();
      const name = joinInput.value.trim();
      if (!name) return;
      joinInput.value = "";
      this.open(name);
    });
    this.#listen(joinInput, "input", () => joinInput.setCustomValidity(""));
    this.#listen(byId("leave"), "click", () => this.leave());
    this.#listen(byId("composer"), "submit", (event) => {
      event.preventDefault();
      this.#submit();
    });
    this.#listen(this.text, "keydown", (event) => {
      if (event.key === "Escape" && this.editing) {
        this.#stopEdit();
        this.text.value = "";
        return;
      }
      if (event.key === "Enter" && !event.shiftKey && !event.isComposing) {
        event.preventDefault();
        this.#submit();
      }
    });
    this.#listen(document, "visibilitychange", () => this.active && this.#markRead(this.active));
    this.#listen(this.text, "input", () => {
      if (!this.active) return;
      if (this.text.value.trim()) this.client.typing(this.active);
      else this.client.stopTyping(this.active);
    });
  }

  #submit() {
    const text = this.text.value;
    if (!text.trim()) return;
    this.text.value = "";
    const editing = this.editing;
    if (editing) {
      this.#stopEdit();
      this.client.edit(editing.room, editing.seq, text).then((entry) => this.#onChange(entry),
        (error) => console.warn("chatio:", error.code ?? "", error.message));
      return;
    }
    this.send(text);
  }
}
