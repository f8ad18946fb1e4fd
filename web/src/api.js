// The only place the page talks to the service: same origin, JSON, the session cookie, and
// the CSRF token on every change. A 401 anywhere means the session is gone: the page goes
// to the login form and comes back to where it was (the override reason being typed is
// kept in sessionStorage by the review panel, so nothing typed is lost).
export const API = "/api";

let csrfToken = sessionStorage.getItem("her2kit.csrf") || "";
const listeners = { unauthorized: [] };

export class ApiError extends Error {
  constructor(status, code, message, field) {
    super(message);
    this.status = status;
    this.code = code;
    this.field = field;
  }
}

export function onUnauthorized(fn) { listeners.unauthorized.push(fn); }

export function setCsrf(token) {
  csrfToken = token || "";
  if (csrfToken) sessionStorage.setItem("her2kit.csrf", csrfToken);
  else sessionStorage.removeItem("her2kit.csrf");
}

function cookie(name) {
  const m = document.cookie.match(new RegExp(`(?:^|; )${name}=([^;]*)`));
  return m ? decodeURIComponent(m[1]) : "";
}

function headers(extra = {}) {
  const token = csrfToken || cookie("her2kit_csrf");
  return token ? { "X-CSRF-Token": token, ...extra } : { ...extra };
}

async function errorFrom(response) {
  let code = `http_${response.status}`;
  let message = `${response.status} ${response.statusText}`;
  let field;
  try {
    const body = await response.json();
    const err = body && body.error;
    if (err) {
      code = err.code || code;
      message = err.message || message;
      field = err.field;
    } else if (body && body.detail) {
      message = typeof body.detail === "string" ? body.detail : JSON.stringify(body.detail);
    }
  } catch { /* not JSON: keep the status line */ }
  return new ApiError(response.status, code, message, field);
}

async function request(method, path, { body, json, signal, raw } = {}) {
  const init = { method, credentials: "same-origin", headers: headers(), signal };
  if (json !== undefined) {
    init.headers["Content-Type"] = "application/json";
    init.body = JSON.stringify(json);
  } else if (body !== undefined) init.body = body;
  let response;
  try {
    response = await fetch(API + path, init);
  } catch (err) {
    if (err.name === "AbortError") throw err;
    throw new ApiError(0, "network", "The service cannot be reached: check the connection and try again.");
  }
  if (response.status === 401 && !path.startsWith("/auth/login")) {
    for (const fn of listeners.unauthorized) fn();
    throw await errorFrom(response);
  }
  if (!response.ok) throw await errorFrom(response);
  if (raw) return response;
  if (response.status === 204) return null;
  const type = response.headers.get("content-type") || "";
  return type.includes("json") ? response.json() : response.text();
}

export const apiGet = (path, opts) => request("GET", path, opts);
export const apiPost = (path, json, opts) => request("POST", path, { ...opts, json });
export const apiPatch = (path, json, opts) => request("PATCH", path, { ...opts, json });
export const apiRaw = (path) => request("GET", path, { raw: true });

// An upload with progress (fetch cannot report upload progress; XMLHttpRequest can).
export function uploadFile(path, body, { onProgress, signal, contentType } = {}) {
  return new Promise((resolve, reject) => {
    const xhr = new XMLHttpRequest();
    xhr.open("POST", API + path);
    xhr.withCredentials = true;
    for (const [k, v] of Object.entries(headers())) xhr.setRequestHeader(k, v);
    if (contentType) xhr.setRequestHeader("Content-Type", contentType);
    xhr.upload.onprogress = (e) => { if (e.lengthComputable && onProgress) onProgress(e.loaded, e.total); };
    xhr.onerror = () => reject(new ApiError(0, "network", "The connection was lost during the upload."));
    xhr.onabort = () => reject(new ApiError(0, "aborted", "The upload was cancelled."));
    xhr.onload = () => {
      let body = null;
      try { body = JSON.parse(xhr.responseText); } catch { body = null; }
      if (xhr.status >= 200 && xhr.status < 300) return resolve(body);
      if (xhr.status === 401) for (const fn of listeners.unauthorized) fn();
      const err = (body && body.error) || {};
      const detail = body && typeof body.detail === "string" ? body.detail : null;
      reject(new ApiError(xhr.status, err.code || `http_${xhr.status}`,
        err.message || detail || `${xhr.status} ${xhr.statusText}`, err.field));
    };
    if (signal) signal.addEventListener("abort", () => xhr.abort());
    xhr.send(body);
  });
}
