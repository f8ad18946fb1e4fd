// Who is logged in (the service's /auth/me), and logging in and out.
import { apiGet, apiPost, setCsrf } from "./api.js";

export const session = { user: null };

export async function loadMe() {
  const me = await apiGet("/auth/me");
  session.user = me.user || me;
  if (me.csrf_token) setCsrf(me.csrf_token);
  return session.user;
}

export async function login(username, password) {
  const body = await apiPost("/auth/login", { username, password });
  if (body && body.csrf_token) setCsrf(body.csrf_token);
  session.user = (body && body.user) || (await loadMe());
  return session.user;
}

export async function logout() {
  try { await apiPost("/auth/logout", {}); } catch { /* already logged out */ }
  setCsrf("");
  session.user = null;
}

export const can = {
  createCase: () => ["technologist", "admin"].includes(session.user?.role),
  upload: () => ["technologist", "admin"].includes(session.user?.role),
  analyse: () => ["technologist", "admin"].includes(session.user?.role),
  review: () => session.user?.role === "pathologist",
};
