// One message of the conversation as a list item: author, time, text with
// links, edited or deleted state, reactions, and actions.
import { clock, el } from "./dom.js";
import { linkified } from "./linkify.js";

export const QUICK_REACTIONS = ["👍", "❤️", "😂", "🎉"];

/** The `<li>` of `message`; `actions` = {react(seq, emoji, on), edit(message), remove(seq)}. */
export function messageItem(message, me, actions) {
  const mine = message.user.id === me?.id;
  const item = el("li", {
    className: `msg${mine ? " mine" : ""}${message.deleted ? " deleted" : ""}`,
    attrs: { "data-seq": String(message.seq), "data-user": message.user.id },
  });
  const meta = el("div", { className: "meta" }, [
    el("span", { className: "author", text: message.user.name }),
    el("time", { text: clock(message.ts), attrs: { datetime: new Date(message.ts).toISOString() } }),
  ]);
  const text = el("p", { className: "text" });
  if (message.deleted) text.textContent = "This message was deleted.";
  else text.append(...linkified(message.text ?? ""));
  item.append(meta, text);
  if (message.edited_at && !message.deleted) item.append(el("span", { className: "edited", text: "(edited)" }));
  if (message.deleted) return item;
  const reactions = el("div", { className: "reactions" });
  for (const r of message.reactions ?? []) {
    const button = el("button", {
      className: `reaction${r.me ? " me" : ""}`,
      text: `${r.emoji} ${r.count}`,
      attrs: { type: "button", "aria-pressed": String(r.me), "data-emoji": r.emoji },
    });
    button.addEventListener("click", () => actions.react(message.seq, r.emoji, !r.me));
    reactions.append(button);
  }
  const tools = el("div", { className: "actions" });
  for (const emoji of QUICK_REACTIONS) {
    const button = el("button", { className: "link quick", text: emoji, attrs: { type: "button", "data-emoji": emoji, "aria-label": `React ${emoji}` } });
    const mineAlready = (message.reactions ?? []).some((r) => r.emoji === emoji && r.me);
    button.addEventListener("click", () => actions.react(message.seq, emoji, !mineAlready));
    tools.append(button);
  }
  if (mine) {
    const edit = el("button", { className: "link edit", text: "Edit", attrs: { type: "button" } });
    edit.addEventListener("click", () => actions.edit(message));
    const remove = el("button", { className: "link delete", text: "Delete", attrs: { type: "button" } });
    remove.addEventListener("click", () => actions.remove(message.seq));
    tools.append(edit, remove);
  }
  item.append(reactions, tools);
  return item;
}

/** Applies a reaction delta to `message` (in place). */
export function applyReaction(message, delta, me) {
  const list = [...(message.reactions ?? [])];
  const index = list.findIndex((r) => r.emoji === delta.emoji);
  const previous = index >= 0 ? list[index] : { emoji: delta.emoji, count: 0, me: false };
  const next = { ...previous, count: delta.count, me: delta.user.id === me?.id ? delta.on : previous.me };
  if (index >= 0) list.splice(index, 1);
  if (next.count > 0) list.push(next);
  list.sort((a, b) => (a.emoji < b.emoji ? -1 : a.emoji > b.emoji ? 1 : 0));
  message.reactions = list;
}
