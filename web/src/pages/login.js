import { h, clear } from "../dom.js";
import { login } from "../session.js";

export async function loginPage(main, done) {
  const user = h("input", { id: "username", name: "username", autocomplete: "username", required: true });
  const pass = h("input", { id: "password", name: "password", type: "password", autocomplete: "current-password", required: true });
  const message = h("div", { role: "alert", "aria-live": "assertive" });
  const button = h("button", { type: "submit", class: "primary" }, "Log in");
  const form = h("form", { class: "card login", "aria-labelledby": "login-title",
    onsubmit: async (e) => {
      e.preventDefault();
      clear(message);
      button.disabled = true;
      try {
        await login(user.value.trim(), pass.value);
        done();
      } catch (err) {
        message.append(h("p", { class: "msg error" },
          err.status === 401 || err.status === 400 ? "Wrong user name or password." : err.message));
        pass.select();
      } finally {
        button.disabled = false;
      }
    } },
  h("h1", { id: "login-title" }, "Log in to the HER2 lab"),
  h("div", { class: "field" }, h("label", { for: "username" }, "User name"), user),
  h("div", { class: "field" }, h("label", { for: "password" }, "Password"), pass),
  message, button,
  h("p", { class: "muted small" }, "Accounts are made by the lab's administrator (her2kit users add)."));
  clear(main).append(form);
  user.focus();
  return null;
}
