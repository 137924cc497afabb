// The chatio web page: guest login, then the chat screen.
import { ChatApp } from "./ChatApp.js";
import { byId } from "./dom.js";
import { GuestSession } from "./GuestSession.js";

const session = new GuestSession();
let app = null;

function showLogin(message = "") {
  app?.stop();
  app = null;
  byId("chat").hidden = true;
  byId("me").hidden = true;
  byId("logout").hidden = true;
  byId("login").hidden = false;
  byId("login-error").textContent = message;
  const input = byId("login-name");
  input.value = session.user?.name ?? "";
  input.focus();
}

function showChat() {
  byId("login").hidden = true;
  byId("chat").hidden = false;
  byId("me").hidden = false;
  byId("logout").hidden = false;
  byId("me").textContent = session.user.name;
  app = new ChatApp(session, {
    onSessionEnded: () => showLogin("Your guest session has ended. Pick a name to start again."),
  });
  app.start();
  byId("text").focus();
}

byId("login-form").addEventListener("submit", async (event) => {
  event.preventDefault();
  const name = byId("login-name").value.trim();
  if (!name) return;
  try {
    // A returning guest keeps their id and only changes the name.
    if (session.user) await session.renew(name);
    else await session.login(name);
  } catch (error) {
    if (session.user) {
      showLogin(error.message);
      return;
    }
    try {
      await session.login(name);
    } catch (again) {
      byId("login-error").textContent = again.message;
      return;
    }
  }
  showChat();
});

byId("logout").addEventListener("click", () => showLogin());

async function boot() {
  if (!session.user) {
    showLogin();
    return;
  }
  try {
    await session.getToken();
  } catch (error) {
    if (error.status === 401 || !session.user) {
      session.forget();
      showLogin("Your guest session has ended. Pick a name to start again.");
      return;
    }
    // The node is unreachable for now: the client keeps trying.
  }
  showChat();
}

boot();
