// The service's resources as the pages use them: one function per call, so the pages
// never spell a URL. Every call goes to the same origin under /api/v1.
import { apiGet, apiPost, uploadFile } from "./api.js";

const enc = encodeURIComponent;
const items = (body) => (Array.isArray(body) ? body : body.items || body.results || []);

export async function listCases({ q, status, test } = {}) {
  const params = new URLSearchParams();
  if (q) params.set("accession", q);
  if (status) params.set("status", status);
  if (test) params.set("test", test);
  const qs = params.toString();
  return items(await apiGet(`/cases${qs ? `?${qs}` : ""}`));
}

export const createCase = (body) => apiPost("/cases", body);
export const getCase = (id) => apiGet(`/cases/${enc(id)}`);
export const listUploads = async (id) => items(await apiGet(`/cases/${enc(id)}/uploads`));
export const listJobs = async (id) => items(await apiGet(`/cases/${enc(id)}/jobs`));
export const listResults = async (id) => items(await apiGet(`/cases/${enc(id)}/results`));
export const listReports = async (id) => items(await apiGet(`/cases/${enc(id)}/reports`));
export const history = async (id) => items(await apiGet(`/cases/${enc(id)}/history`));
export const limits = () => apiGet("/limits");

export function upload(caseId, file, { kind, onProgress, signal }) {
  const form = new FormData();
  form.append("file", file, file.name);
  if (kind) form.append("kind", kind);
  return uploadFile(`/cases/${enc(caseId)}/uploads`, form, { onProgress, signal });
}

export const startJob = (caseId, body) => apiPost(`/cases/${enc(caseId)}/jobs`, body);
export const review = (caseId, body) => apiPost(`/cases/${enc(caseId)}/reviews`, body);
export const signOut = (caseId, body) => apiPost(`/cases/${enc(caseId)}/sign-out`, body);
export const amend = (caseId, body) => apiPost(`/cases/${enc(caseId)}/amendments`, body);
export const makeReports = (caseId) => apiPost(`/cases/${enc(caseId)}/reports`, {});
export const reportUrl = (caseId, report) =>
  report.url || `/api/v1/cases/${enc(caseId)}/reports/${enc(report.id || report.kind)}`;
