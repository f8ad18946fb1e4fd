// One case: facts, uploads (with progress and retry), analysis jobs (live progress), the
// result with its evidence, the review panel, report downloads and the history.
import { h, clear, fmtTime, fmtBytes } from "../dom.js";
import { can } from "../session.js";
import * as svc from "../service.js";
import { resultView } from "../result.js";
import { statusChip } from "./cases.js";

const IMAGE_TYPES = [".tif", ".tiff", ".png", ".jpg", ".jpeg", ".svs", ".ndpi", ".scn", ".mrxs", ".dcm"];
const DEFAULT_MAX_UPLOAD_BYTES = 2 * 1024 ** 3;
const IHC_SCORES = ["0", "0+", "1+", "2+", "3+"];
const reasonKey = (caseId) => `her2kit.reason.${caseId}`;

function facts(c) {
  const rows = [
    ["Accession", c.accession], ["Specimen", c.specimen_type], ["Site", c.site],
    ["Fixation", c.fixation_hours !== null && c.fixation_hours !== undefined ? `${c.fixation_hours} h` : null],
    ["Tests", (c.tests || []).map((t) => (t.kind || t).toUpperCase()).join(", ")],
    ["Registered", fmtTime(c.created_at)],
    ["Signed out", c.signed_out_at ? `${fmtTime(c.signed_out_at)} by ${c.signed_out_by || "—"}` : null],
  ].filter(([, v]) => v);
  return h("dl", { class: "facts" }, rows.map(([k, v]) => [h("dt", {}, k), h("dd", {}, v)]));
}

function fileProblem(file, maxBytes) {
  const name = file.name.toLowerCase();
  if (!IMAGE_TYPES.some((t) => name.endsWith(t))) {
    return `${file.name} is not an image the lab analyses: use ${IMAGE_TYPES.join(", ")}.`;
  }
  if (file.size > maxBytes) {
    return `${file.name} is ${fmtBytes(file.size)}, over the ${fmtBytes(maxBytes)} limit.`;
  }
  if (file.size === 0) return `${file.name} is empty.`;
  return null;
}

// One upload row: a progress bar, and after a lost connection a Retry button (same file).
function uploadRow(caseId, file, kind, onDone) {
  const bar = h("progress", { class: "progress", max: 100, value: 0, "aria-label": `Upload of ${file.name}` });
  const note = h("span", { class: "small muted", "aria-live": "polite" }, "starting…");
  const actions = h("span", {});
  const row = h("li", { dataset: { upload: file.name } }, h("div", { class: "spread" }, h("b", {}, file.name), note), bar, actions);
  const start = () => {
    clear(actions);
    note.textContent = "uploading…";
    svc.upload(caseId, file, {
      kind,
      onProgress: (done, total) => {
        bar.value = Math.round((100 * done) / total);
        note.textContent = `${fmtBytes(done)} of ${fmtBytes(total)}`;
      },
    }).then(() => {
      bar.value = 100;
      note.textContent = "uploaded";
      row.remove();
      onDone();
    }).catch((err) => {
      note.textContent = "";
      const retry = err.code === "network" || err.status === 0 || err.status >= 500;
      actions.append(h("p", { class: "msg error", role: "alert" }, err.message),
        retry ? h("button", { type: "button", class: "small", onclick: start }, "Retry the upload") : null,
        h("button", { type: "button", class: "small", onclick: () => row.remove() }, "Dismiss"));
    });
  };
  start();
  return row;
}

function uploadsCard(ctx) {
  const { c, uploads, refresh } = ctx;
  const list = h("ul", { class: "plain uploads" });
  const pending = ctx.pending; // kept across re-renders: an upload in flight stays in view
  const msg = h("div", { role: "alert" });
  for (const u of uploads) {
    list.append(h("li", { dataset: { uploadId: u.id } },
      h("div", { class: "spread" },
        h("span", {}, h("b", {}, u.filename || u.name || u.id), " ",
          h("span", { class: "muted small" }, [u.kind, u.size_bytes ? fmtBytes(u.size_bytes) : null,
            u.width && u.height ? `${u.width}×${u.height} px` : null].filter(Boolean).join(" · "))),
        h("span", { class: "row" },
          h("a", { class: "btn small", href: `#/viewer/${encodeURIComponent(u.id)}?case=${encodeURIComponent(c.id)}` }, "View"),
          can.analyse() && !ctx.frozen ? analyseButtons(ctx, u) : null))));
  }
  const editable = can.upload() && !ctx.frozen;
  const input = h("input", { type: "file", id: "file-input", accept: IMAGE_TYPES.join(","), multiple: true });
  const kind = h("select", { id: "upload-kind", "aria-label": "What the image is" },
    h("option", { value: "field" }, "IHC field / region"),
    h("option", { value: "ish-field" }, "ISH field"),
    h("option", { value: "slide" }, "Whole slide"));
  const take = (files) => {
    clear(msg);
    for (const file of files) {
      const problem = fileProblem(file, ctx.maxUploadBytes);
      if (problem) { msg.append(h("p", { class: "msg error" }, problem)); continue; }
      pending.append(uploadRow(c.id, file, kind.value, refresh));
    }
    input.value = "";
  };
  input.addEventListener("change", () => take([...input.files]));
  const drop = h("div", { class: "dropzone", ondragover: (e) => { e.preventDefault(); drop.classList.add("over"); },
    ondragleave: () => drop.classList.remove("over"),
    ondrop: (e) => { e.preventDefault(); drop.classList.remove("over"); take([...e.dataTransfer.files]); } },
  "Drop images here, or ", h("label", { for: "file-input", class: "btn small" }, "choose files"), input,
  h("div", { class: "small" }, `Up to ${fmtBytes(ctx.maxUploadBytes)} each: ${IMAGE_TYPES.join(" ")}`));
  input.style.cssText = "position:absolute;width:1px;height:1px;opacity:0";
  return h("section", { class: "card", "aria-labelledby": "uploads-title" },
    h("h2", { id: "uploads-title" }, "Images"),
    uploads.length ? list : h("p", { class: "muted" }, "No image yet."),
    editable ? h("div", {}, h("div", { class: "row", style: "margin:10px 0 6px" }, h("label", { for: "upload-kind" }, "Kind"), kind), drop, msg, pending) : null);
}

function analyseButtons(ctx, upload) {
  const kinds = upload.kind === "slide" ? [["score-slide", "Score slide"]]
    : upload.kind === "ish-field" ? [["count-ish", "Count ISH"]] : [["score-ihc", "Score IHC"]];
  return kinds.map(([kind, words]) => h("button", { type: "button", class: "small primary", dataset: { analyse: kind },
    onclick: async (e) => {
      e.target.disabled = true;
      try { await svc.startJob(ctx.c.id, { upload_id: upload.id, kind }); ctx.refresh(); } catch (err) {
        e.target.disabled = false;
        ctx.flash(err.message);
      }
    } }, words));
}

function jobsCard(jobs) {
  if (!jobs.length) return null;
  return h("section", { class: "card", "aria-labelledby": "jobs-title" },
    h("h2", { id: "jobs-title" }, "Analysis"),
    h("ul", { class: "plain jobs" }, jobs.map((j) => {
      const pct = Math.round(100 * (j.progress ?? (j.state === "done" ? 1 : 0)));
      return h("li", { dataset: { job: j.id, state: j.state } },
        h("div", { class: "spread" }, h("b", {}, j.kind || "analysis"),
          h("span", { class: "small" }, `${j.state}${j.state === "running" ? ` · ${pct} %` : ""}`)),
        h("progress", { class: "progress", max: 100, value: pct, "aria-label": `${j.kind} ${j.state}` }),
        j.error ? h("p", { class: "msg error" }, j.error) : null);
    })));
}

function overrideFields(ctx, result) {
  const isIsh = result && result.document && result.document.ish && !result.document.ihc;
  if (isIsh) {
    return h("div", { class: "grid2" },
      h("div", { class: "field" }, h("label", { for: "ov-her2" }, "Mean HER2 / nucleus"), h("input", { id: "ov-her2", type: "number", step: 0.01, min: 0 })),
      h("div", { class: "field" }, h("label", { for: "ov-cep17" }, "Mean CEP17 / nucleus"), h("input", { id: "ov-cep17", type: "number", step: 0.01, min: 0 })),
      h("div", { class: "field" }, h("label", { for: "ov-nuclei" }, "Nuclei counted"), h("input", { id: "ov-nuclei", type: "number", step: 1, min: 1 })));
  }
  return h("div", { class: "field" }, h("label", { for: "ov-score" }, "IHC score"),
    h("select", { id: "ov-score" }, IHC_SCORES.map((s) => h("option", { value: s }, s))));
}

function readOverride() {
  const v = (id) => document.getElementById(id)?.value;
  if (document.getElementById("ov-score")) return { ihc_score: v("ov-score") };
  return { her2_mean: Number(v("ov-her2")), cep17_mean: Number(v("ov-cep17")), nuclei_counted: Number(v("ov-nuclei")) };
}

function reasonBox(caseId, id, label) {
  const box = h("textarea", { id, maxlength: 2000, "aria-describedby": `${id}-hint` });
  box.value = sessionStorage.getItem(reasonKey(caseId)) || "";
  box.addEventListener("input", () => sessionStorage.setItem(reasonKey(caseId), box.value));
  return h("div", { class: "field" }, h("label", { for: id }, label), box,
    h("span", { class: "hint", id: `${id}-hint` }, "Required. Kept in this tab if the session ends."));
}

function reviewCard(ctx) {
  const { c, result } = ctx;
  const msg = h("div", { role: "alert" });
  const fail = (err) => clear(msg).append(h("p", { class: "msg error" }, err.message));
  if (!can.review()) {
    return h("section", { class: "card", "aria-labelledby": "review-title" }, h("h2", { id: "review-title" }, "Review"),
      h("p", { class: "muted" }, c.status === "signed_out" || c.status === "amended"
        ? "Signed out." : "A pathologist reviews the result and signs the case out."));
  }
  if (ctx.frozen) {
    const form = h("form", { id: "amend-form", hidden: true, onsubmit: async (e) => {
      e.preventDefault();
      const reason = document.getElementById("amend-reason").value.trim();
      if (!reason) return fail(new Error("Give the reason for the amendment."));
      try {
        await svc.amend(c.id, { reason, ...readOverride() });
        sessionStorage.removeItem(reasonKey(c.id));
        ctx.refresh();
      } catch (err) { fail(err); }
    } }, overrideFields(ctx, result), reasonBox(c.id, "amend-reason", "Reason for the amendment"),
    h("button", { type: "submit", class: "primary" }, "Issue the amended report"));
    return h("section", { class: "card", "aria-labelledby": "review-title" }, h("h2", { id: "review-title" }, "Review"),
      h("p", { class: "review-done" }, `Signed out${c.signed_out_by ? ` by ${c.signed_out_by}` : ""}${c.signed_out_at ? `, ${fmtTime(c.signed_out_at)}` : ""}. The result is frozen; a change needs an amendment, which makes a new version.`),
      h("button", { type: "button", id: "amend-button", onclick: () => { form.hidden = false; form.querySelector("select,input")?.focus(); } }, "Amend…"),
      form, msg);
  }
  if (!result) {
    return h("section", { class: "card" }, h("h2", {}, "Review"), h("p", { class: "muted" }, "Nothing to review until the analysis has finished."));
  }
  const agree = h("input", { type: "radio", name: "decision", id: "decision-agree", value: "agree", checked: !sessionStorage.getItem(reasonKey(c.id)) });
  const override = h("input", { type: "radio", name: "decision", id: "decision-override", value: "override", checked: !!sessionStorage.getItem(reasonKey(c.id)) });
  const extra = h("div", { id: "override-fields" }, overrideFields(ctx, result), reasonBox(c.id, "override-reason", "Reason for the override"));
  const sync = () => { extra.hidden = !override.checked; };
  agree.addEventListener("change", sync);
  override.addEventListener("change", sync);
  sync();
  const form = h("form", { id: "review-form", onsubmit: async (e) => {
    e.preventDefault();
    clear(msg);
    const body = { decision: override.checked ? "override" : "agree", result_id: result.id, version: c.version };
    if (override.checked) {
      body.reason = document.getElementById("override-reason").value.trim();
      if (!body.reason) return fail(new Error("An override needs a reason: say why the machine's result is not right."));
      Object.assign(body, readOverride());
    }
    try {
      await svc.review(c.id, body);
      sessionStorage.removeItem(reasonKey(c.id));
      ctx.refresh();
    } catch (err) { fail(err); }
  } },
  h("fieldset", {}, h("legend", {}, "Your reading"),
    h("div", { class: "row" }, agree, h("label", { for: "decision-agree" }, "Agree with the result")),
    h("div", { class: "row" }, override, h("label", { for: "decision-override" }, "Override the score or counts"))),
  extra, h("button", { type: "submit", class: "primary", id: "review-submit" }, "Record the review"));
  const signOut = c.status === "under_review" ? h("div", { style: "margin-top:14px" },
    h("p", { class: "small muted" }, ctx.lastReview ? `Reviewed: ${ctx.lastReview}` : ""),
    h("button", { type: "button", class: "primary", id: "sign-out", onclick: async (e) => {
      e.target.disabled = true;
      try { await svc.signOut(c.id, { version: c.version }); ctx.refresh(); } catch (err) { e.target.disabled = false; fail(err); }
    } }, "Sign out the case")) : null;
  return h("section", { class: "card", "aria-labelledby": "review-title" }, h("h2", { id: "review-title" }, "Review"), form, signOut, msg);
}

function reportsCard(ctx) {
  const { c, reports } = ctx;
  if (!ctx.result) return null;
  return h("section", { class: "card", "aria-labelledby": "reports-title" },
    h("h2", { id: "reports-title" }, "Reports"),
    reports.length ? h("ul", { class: "plain reports" }, reports.map((r) => h("li", { dataset: { report: r.kind } },
      h("span", {}, h("b", {}, r.title || r.kind), " ", h("span", { class: `tag ${r.status}` }, r.status)),
      h("a", { class: "btn small", href: svc.reportUrl(c.id, r), download: r.filename || "" }, "Download"))))
      : h("p", { class: "muted" }, "No report yet."));
}

function historyCard(rows) {
  return h("section", { class: "card", "aria-labelledby": "history-title" },
    h("h2", { id: "history-title" }, "History"),
    rows.length ? h("table", { class: "history", "aria-label": "Audit trail" },
      h("thead", {}, h("tr", {}, ["When", "Who", "What", "Change", "Reason"].map((t) => h("th", { scope: "col" }, t)))),
      h("tbody", {}, rows.map((r) => h("tr", {},
        h("td", {}, fmtTime(r.at || r.created_at)), h("td", {}, r.actor || r.user || ""),
        h("td", {}, r.action || ""),
        h("td", {}, [r.old !== undefined && r.old !== null ? `${fmt(r.old)} → ` : "", r.new !== undefined && r.new !== null ? fmt(r.new) : ""].join("")),
        h("td", {}, r.reason || "")))))
      : h("p", { class: "muted" }, "Nothing recorded yet."));
}

function fmt(v) { return typeof v === "string" ? v : JSON.stringify(v); }

async function loadAll(caseId) {
  const c = await svc.getCase(caseId);
  const [uploads, jobs, results, reports, hist] = await Promise.all([
    svc.listUploads(caseId), svc.listJobs(caseId), svc.listResults(caseId),
    svc.listReports(caseId).catch(() => []), svc.history(caseId).catch(() => [])]);
  return { c, uploads, jobs, results, reports, hist };
}

export async function casePage(main, caseId) {
  let timer = 0;
  let alive = true;
  let maxUploadBytes = DEFAULT_MAX_UPLOAD_BYTES;
  const pending = h("ul", { class: "plain uploads", id: "pending-uploads" });
  try { maxUploadBytes = (await svc.limits()).max_upload_bytes || maxUploadBytes; } catch { /* default */ }
  const render = async () => {
    const data = await loadAll(caseId);
    if (!alive) return;
    const { c, results } = data;
    const result = results.length ? results[results.length - 1] : null;
    const ctx = { ...data, result, maxUploadBytes, pending, frozen: c.status === "signed_out" || c.status === "amended",
      refresh: () => render().catch(show), flash: (m) => show(new Error(m)) };
    const left = h("div", {},
      h("section", { class: "card" }, facts(c)), uploadsCard(ctx), jobsCard(data.jobs), reportsCard(ctx));
    const right = h("div", {},
      h("section", { class: "card", "aria-labelledby": "result-title" },
        h("div", { class: "spread" }, h("h2", { id: "result-title" }, "Result"),
          result && result.upload_id ? h("a", { class: "btn small", href: `#/viewer/${encodeURIComponent(result.upload_id)}?case=${encodeURIComponent(c.id)}` }, "Open in the viewer") : null),
        result ? resultView(result.document, { override: c.override_label }) : h("p", { class: "muted" }, "No result yet: upload an image and run the analysis.")),
      reviewCard(ctx), historyCard(data.hist));
    clear(main).append(
      h("div", { class: "spread" }, h("div", {}, h("a", { href: "#/cases", class: "back" }, "← Cases"),
        h("h1", {}, `Case ${c.accession}`)), statusChip(c.status)),
      h("div", { class: "grid2" }, left, right));
    clearTimeout(timer);
    if (data.jobs.some((j) => j.state === "queued" || j.state === "running")) timer = setTimeout(ctx.refresh, 1000);
  };
  const show = (err) => {
    if (err.status === 401) return;
    document.getElementById("banner").textContent = err.message;
  };
  await render();
  return () => { alive = false; clearTimeout(timer); };
}
