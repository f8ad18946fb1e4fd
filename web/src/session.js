// Who is logged in (the service's /auth/me), and logging in and out.
import { apiGet, apiPost, setCsrf } from "./api.js";

export const session = { user: null };

export async function loadMe() {
  session.user = await apiGet("/auth/me");
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

// The service's roles: technologists and pathologists register cases, upload and start
// analyses; only pathologists review, sign out and amend; admins manage users.
const lab = () => ["technologist", "pathologist"].includes(session.user?.role);
export const can = {
  createCase: lab,
  upload: lab,
  analyse: lab,
  report: lab,
  review: () => session.user?.role === "pathologist",
};
