import { byId, el } from "./dom.js";

/** The list of joined rooms, with unread counts; clicking one selects it. */
export class RoomList {
  constructor(onSelect) {
    this.list = byId("room-list");
    this.onSelect = onSelect;
  }

  render(rooms, active) {
    const items = [];
    for (const [name, room] of rooms) {
      const button = el("button", { className: "room-link", attrs: { type: "button" } }, [
        el("span", { className: "room-name", text: `#${name}` }),
      ]);
      if (room.unread > 0) button.append(el("span", { className: "unread", text: String(room.unread) }));
      if (name === active) button.setAttribute("aria-current", "true");
      button.addEventListener("click", () => this.onSelect(name));
      items.push(el("li", { attrs: { "data-room": name } }, [button]));
    }
    this.list.replaceChildren(...items);
  }
}
