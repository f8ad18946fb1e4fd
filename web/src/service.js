// The service's resources as the pages use them (the lab service's API under /api, the
// same origin): one function per call, so the pages never spell a URL.
import { apiGet, apiPost, uploadFile } from "./api.js";

const enc = encodeURIComponent;

// What the case list and the case page call a case's status, from the service's state,
// revision, tests and results.
export function caseStatus(c) {
  if (c.state === "signed_out") return c.revision > 0 ? "amended" : "signed_out";
  if (c.state === "amending") return "under_review";
  if ((c.tests || []).some((t) => t.review_state !== "pending")) return "under_review";
  if ((c.results || []).length) return "analysed";
  return "awaiting_analysis";
}

async function mapLimited(items, limit, fn) {
  const out = new Array(items.length);
  let next = 0;
  const worker = async () => {
    while (next < items.length) {
      const i = next++;
      out[i] = await fn(items[i]);
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
  return out;
}

// Every case with its status (the list holds cases only: each case's tests and results
// come from its own page of the API, four at a time).
export async function listCases() {
  const rows = await apiGet("/cases?limit=500");
  return mapLimited(rows, 4, async (row) => {
    const c = await apiGet(`/cases/${enc(row.id)}`);
    return { ...c, status: caseStatus(c) };
  });
}

export async function getCase(id) {
  const c = await apiGet(`/cases/${enc(id)}`);
  return { ...c, status: caseStatus(c) };
}

export async function createCase({ accession, specimen, tests }) {
  let c = await apiPost("/cases", { accession, facts: { specimen } });
  for (const t of tests) c = await apiPost(`/cases/${enc(c.id)}/tests`, { ...t, version: c.version });
  return c;
}

let configCache = null;
export async function config() {
  if (!configCache) configCache = await apiGet("/web/config");
  return configCache;
}
export const getResult = (id) => apiGet(`/results/${enc(id)}`);
export const history = (id) => apiGet(`/cases/${enc(id)}/history`);
export const listReports = (id) => apiGet(`/cases/${enc(id)}/reports`);

const MEDIA = { png: "image/png", jpg: "image/jpeg", jpeg: "image/jpeg", tif: "image/tiff", tiff: "image/tiff", svs: "image/tiff" };
export const ACCEPTED = Object.keys(MEDIA).map((s) => `.${s}`);
export const mediaTypeOf = (name) => MEDIA[(name.split(".").pop() || "").toLowerCase()];

export function upload(caseId, file, { onProgress, signal } = {}) {
  return uploadFile(`/cases/${enc(caseId)}/uploads?filename=${enc(file.name)}`, file,
    { onProgress, signal, contentType: mediaTypeOf(file.name) });
}

export const startJob = (caseId, body) => apiPost(`/cases/${enc(caseId)}/jobs`, body);
export const review = (caseId, testId, body) => apiPost(`/cases/${enc(caseId)}/tests/${enc(testId)}/review`, body);
export const signOut = (caseId, version) => apiPost(`/cases/${enc(caseId)}/sign-out`, { version });
export const amend = (caseId, body) => apiPost(`/cases/${enc(caseId)}/amendments`, body);
export const makeReport = (caseId) => apiPost(`/cases/${enc(caseId)}/reports`, {});
