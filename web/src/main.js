// The page's shell: who is logged in, the hash routes, and the return to the login form
// when the session has expired (back to the same place afterwards).
import { onUnauthorized } from "./api.js";
import { h, clear } from "./dom.js";
import { session, loadMe, logout } from "./session.js";
import { loginPage } from "./pages/login.js";
import { casesPage } from "./pages/cases.js";
import { casePage } from "./pages/case.js";
import { viewerPage } from "./pages/viewer.js";

const main = () => document.getElementById("main");
let cleanup = null;

function route() {
  const hash = location.hash.replace(/^#/, "") || "/cases";
  const [path, qs] = hash.split("?");
  return { parts: path.split("/").filter(Boolean).map(decodeURIComponent), query: new URLSearchParams(qs || "") };
}

function renderNav() {
  const nav = clear(document.getElementById("usernav"));
  if (!session.user) return;
  nav.append(
    h("a", { href: "#/cases", style: "color:#fff" }, "Cases"),
    h("span", {}, session.user.display_name || session.user.username),
    h("span", { class: "role", "data-role": session.user.role }, session.user.role),
    h("button", { type: "button", class: "small", onclick: async () => { await logout(); location.hash = "#/login"; } }, "Log out"));
}

export function goToLogin() {
  const here = location.hash.replace(/^#/, "");
  if (!here.startsWith("/login")) {
    sessionStorage.setItem("her2kit.next", here || "/cases");
    session.user = null;
    document.getElementById("banner").textContent = "Your session has ended. Log in again to carry on where you were; what you typed is kept.";
    location.hash = "#/login";
  }
}

async function render() {
  if (cleanup) { try { cleanup(); } catch { /* already gone */ } cleanup = null; }
  const el = main();
  el.classList.remove("wide");
  const { parts, query } = route();
  if (parts[0] !== "login" && !session.user) {
    try { await loadMe(); } catch { /* not logged in */ }
    if (!session.user) { goToLogin(); return; }
  }
  renderNav();
  try {
    if (parts[0] === "login") cleanup = await loginPage(el, () => {
      const next = sessionStorage.getItem("her2kit.next") || "/cases";
      sessionStorage.removeItem("her2kit.next");
      document.getElementById("banner").textContent = "";
      location.hash = `#${next}`;
    });
    else if (parts[0] === "cases" && parts[1]) cleanup = await casePage(el, parts[1]);
    else if (parts[0] === "viewer" && parts[1]) cleanup = await viewerPage(el, parts[1], query);
    else cleanup = await casesPage(el, query);
  } catch (err) {
    if (err && err.status === 401) return;
    clear(el).append(h("div", { class: "card" }, h("h1", {}, "This page could not be shown"),
      h("p", { class: "msg error", role: "alert" }, err && err.message ? err.message : String(err)),
      h("a", { href: "#/cases" }, "Back to the case list")));
  }
  el.focus({ preventScroll: true });
}

onUnauthorized(goToLogin);
window.addEventListener("hashchange", render);
window.addEventListener("DOMContentLoaded", render);
