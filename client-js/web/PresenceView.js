import { byId, el } from "./dom.js";

/** Who is online in the active room, and who is typing there. */
export class PresenceView {
  constructor() {
    this.list = byId("member-list");
    this.count = byId("member-count");
    this.typingLine = byId("typing");
    this.me = null;
  }

  members(members) {
    this.count.textContent = members.length ? `(${members.length})` : "";
    this.list.replaceChildren(...members.map((m) => {
      const item = el("li", { className: "member", attrs: { "data-user": m.id } }, [
        el("span", { className: "dot", attrs: { "aria-hidden": "true" } }),
        el("span", { className: "name", text: m.name }),
      ]);
      if (m.id === this.me?.id) item.append(el("span", { className: "you", text: "(you)" }));
      return item;
    }));
  }

  typing(users) {
    const others = users.filter((u) => u.id !== this.me?.id).map((u) => u.name);
    let text = "";
    if (others.length === 1) text = `${others[0]} is typing…`;
    else if (others.length === 2) text = `${others[0]} and ${others[1]} are typing…`;
    else if (others.length > 2) text = "Several people are typing…";
    this.typingLine.textContent = text;
  }
}
