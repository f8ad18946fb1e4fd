// One case: facts, images (upload with progress and retry), analysis jobs (live progress),
// each test's result with its evidence and review, sign-out / amendment, reports, history.
import { h, clear, fmtTime, fmtBytes } from "../dom.js";
import { can } from "../session.js";
import * as svc from "../service.js";
import { resultView, setClasses } from "../result.js";
import { statusChip } from "./cases.js";

const IHC_SCORES = ["0", "1+", "2+", "3+"];
const DEFAULT_MAX_UPLOAD_BYTES = 256 * 1024 ** 2; // the service's default; it checks again
const JOB_OF_TEST = { ihc: "score-ihc", ish: "count-ish" };
const REVIEW_WORDS = { pending: "Awaiting review", agreed: "Agreed by the pathologist", overridden: "Overridden by the pathologist" };
const reasonKey = (caseId, testId) => `her2kit.reason.${caseId}.${testId}`;

function specimenRows(c) {
  const s = c.facts?.specimen || {};
  const fix = s.fixation_time_h;
  const fixNote = fix !== undefined && fix !== null && (fix < 6 || fix > 72) ? " (outside 6–72 h)" : "";
  return [
    ["Accession", c.accession],
    ["Specimen", [s.type, s.laterality && s.laterality !== "not specified" ? s.laterality : null, s.site].filter(Boolean).join(", ")],
    ["Fixation", [s.fixative, fix !== undefined && fix !== null ? `${fix} h${fixNote}` : null].filter(Boolean).join(", ")],
    ["Tests", (c.tests || []).map((t) => `${t.kind.toUpperCase()}${t.assay ? ` (${t.assay})` : ""}`).join("; ")],
    ["Registered", fmtTime(c.created_at)],
    ["Revision", c.revision ? `${c.revision} (amended)` : null],
  ].filter(([, v]) => v);
}

function factsCard(c) {
  return h("section", { class: "card", "aria-label": "Specimen and tests" },
    h("dl", { class: "facts" }, specimenRows(c).map(([k, v]) => [h("dt", {}, k), h("dd", {}, v)])));
}

function fileProblem(file, maxBytes) {
  if (!svc.mediaTypeOf(file.name)) {
    return `${file.name}: not an image the service takes. Use ${svc.ACCEPTED.join(", ")}.`;
  }
  if (file.size > maxBytes) return `${file.name} is ${fmtBytes(file.size)}, over the ${fmtBytes(maxBytes)} limit.`;
  if (file.size === 0) return `${file.name} is empty.`;
  return null;
}

// One upload in flight: a progress bar; after a lost connection, Retry sends the same file.
function uploadRow(caseId, file, onDone) {
  const bar = h("progress", { class: "progress", max: 100, value: 0, "aria-label": `Upload of ${file.name}` });
  const note = h("span", { class: "small muted", "aria-live": "polite" }, "starting…");
  const actions = h("div", {});
  const row = h("li", { dataset: { pending: file.name } }, h("div", { class: "spread" }, h("b", {}, file.name), note), bar, actions);
  const start = () => {
    clear(actions);
    bar.value = 0;
    note.textContent = "uploading…";
    svc.upload(caseId, file, {
      onProgress: (done, total) => {
        bar.value = Math.round((100 * done) / total);
        note.textContent = `${fmtBytes(done)} of ${fmtBytes(total)}`;
      },
    }).then(() => { row.remove(); onDone(); }).catch((err) => {
      note.textContent = "not uploaded";
      bar.value = 0;
      const retry = err.code === "network" || err.status === 0 || err.status >= 500;
      actions.append(h("p", { class: "msg error", role: "alert" }, err.message),
        h("div", { class: "row" },
          retry ? h("button", { type: "button", class: "small primary", onclick: start }, "Retry the upload") : null,
          h("button", { type: "button", class: "small", onclick: () => row.remove() }, "Dismiss")));
    });
  };
  start();
  return row;
}

function imagesCard(ctx) {
  const { c } = ctx;
  const list = h("ul", { class: "plain uploads" }, c.uploads.map((u) => h("li", { dataset: { uploadId: u.id } },
    h("div", { class: "spread" },
      h("span", {}, h("b", {}, u.original_name), " ",
        h("span", { class: "muted small" }, `${u.width_px.toLocaleString()} × ${u.height_px.toLocaleString()} px · ${fmtBytes(u.size_bytes)}`)),
      h("a", { class: "btn small", href: `#/viewer/${u.id}?case=${c.id}` }, "View")))));
  const msg = h("div", { role: "alert" });
  const input = h("input", { type: "file", id: "file-input", accept: svc.ACCEPTED.join(","), multiple: true, class: "visually-hidden" });
  const take = (files) => {
    clear(msg);
    for (const file of files) {
      const problem = fileProblem(file, ctx.maxUploadBytes);
      if (problem) msg.append(h("p", { class: "msg error" }, problem));
      else ctx.pending.append(uploadRow(c.id, file, ctx.refresh));
    }
    input.value = "";
  };
  input.addEventListener("change", () => take([...input.files]));
  const drop = h("div", { class: "dropzone",
    ondragover: (e) => { e.preventDefault(); drop.classList.add("over"); },
    ondragleave: () => drop.classList.remove("over"),
    ondrop: (e) => { e.preventDefault(); drop.classList.remove("over"); take([...e.dataTransfer.files]); } },
  "Drop images here, or ", h("label", { for: "file-input", class: "btn small" }, "choose files"), input,
  h("div", { class: "small" }, `PNG, JPEG or TIFF (a slide as a tiled TIFF or SVS), up to ${fmtBytes(ctx.maxUploadBytes)} each`));
  return h("section", { class: "card", "aria-labelledby": "images-title" },
    h("h2", { id: "images-title" }, "Images"),
    c.uploads.length ? list : h("p", { class: "muted" }, "No image yet."),
    ctx.editable && can.upload() ? [drop, msg] : null, ctx.pending);
}

function analysisCard(ctx) {
  const { c } = ctx;
  const jobs = [...c.jobs].reverse();
  const msg = h("div", { role: "alert" });
  let form = null;
  if (ctx.editable && can.analyse() && c.uploads.length && c.tests.some((t) => JOB_OF_TEST[t.kind])) {
    const image = h("select", { id: "job-image" }, [...c.uploads].reverse().map((u) => h("option", { value: u.id }, u.original_name)));
    const test = h("select", { id: "job-test" }, c.tests.filter((t) => JOB_OF_TEST[t.kind]).map((t) =>
      h("option", { value: t.id }, `${t.kind.toUpperCase()}${t.assay ? ` (${t.assay})` : ""}`)));
    const mpp = h("input", { id: "job-mpp", type: "number", min: 0.05, max: 10, step: 0.01, placeholder: "from the file" });
    form = h("form", { id: "job-form", onsubmit: async (e) => {
      e.preventDefault();
      clear(msg);
      const t = c.tests.find((x) => String(x.id) === test.value);
      const params = {};
      if (mpp.value) params.mpp = Number(mpp.value);
      if (t.kind === "ish") params.assay = ctx.jobAssay[t.assay] || "dual-ish";
      try {
        await svc.startJob(c.id, { test_id: t.id, kind: JOB_OF_TEST[t.kind], upload_ids: [Number(image.value)], params });
        ctx.refresh();
      } catch (err) { msg.append(h("p", { class: "msg error" }, err.message)); }
    } },
    h("div", { class: "grid2" },
      h("div", { class: "field" }, h("label", { for: "job-image" }, "Image"), image),
      h("div", { class: "field" }, h("label", { for: "job-test" }, "Test"), test)),
    h("div", { class: "field" }, h("label", { for: "job-mpp" }, "µm per pixel", h("span", { class: "hint" }, " — only when the file does not record it")), mpp),
    h("button", { type: "submit", class: "primary", id: "job-start" }, "Run the analysis"), msg);
  }
  if (!form && !jobs.length) return null;
  return h("section", { class: "card", "aria-labelledby": "jobs-title" },
    h("h2", { id: "jobs-title" }, "Analysis"), form,
    jobs.length ? h("ul", { class: "plain jobs", style: "margin-top:12px" }, jobs.map((j) => {
      const pct = Math.round(100 * (j.progress || 0));
      const name = c.uploads.find((u) => u.id === j.upload_ids[0])?.original_name || "";
      return h("li", { dataset: { job: j.id, status: j.status } },
        h("div", { class: "spread" }, h("span", {}, h("b", {}, j.kind), " ", h("span", { class: "muted small" }, name)),
          h("span", { class: `small job-${j.status}` }, j.status === "running" ? `running · ${pct} %` : j.status)),
        h("progress", { class: "progress", max: 100, value: j.status === "done" ? 100 : pct, "aria-label": `${j.kind} ${j.status}` }),
        j.error ? h("p", { class: "msg error" }, j.error) : null);
    })) : null);
}

function overrideInputs(test, doc, key) {
  const saved = JSON.parse(sessionStorage.getItem(`${key}.block`) || "null") || {};
  const keep = (el, name) => {
    el.addEventListener("input", () => {
      const cur = JSON.parse(sessionStorage.getItem(`${key}.block`) || "{}");
      cur[name] = el.value;
      sessionStorage.setItem(`${key}.block`, JSON.stringify(cur));
    });
    if (saved[name] !== undefined) el.value = saved[name];
    return el;
  };
  if (test.kind === "ish") {
    const ish = doc?.ish || {};
    const num = (id, label, value, step) => h("div", { class: "field" }, h("label", { for: id }, label),
      keep(h("input", { id, type: "number", step, min: 0, value: value ?? "" }), id.split("-").pop()));
    return h("div", { class: "grid2" },
      num(`ov-${test.id}-cells`, "Nuclei counted", ish.cells_counted, 1),
      num(`ov-${test.id}-her2`, "Mean HER2 / nucleus", ish.her2_mean, 0.01),
      num(`ov-${test.id}-cep17`, "Mean CEP17 / nucleus", ish.cep17_mean, 0.01));
  }
  const machine = doc?.ihc?.score;
  return h("div", { class: "field" }, h("label", { for: `ov-${test.id}-score` }, "IHC score"),
    keep(h("select", { id: `ov-${test.id}-score` }, IHC_SCORES.map((s) => h("option", { value: s, selected: s !== machine && s === "2+" }, s))), "score"));
}

function overrideBlock(test, doc) {
  const v = (name) => document.getElementById(`ov-${test.id}-${name}`).value;
  if (test.kind === "ish") {
    return { probe: doc?.ish?.probe === "single" ? "single" : "dual", cells_counted: Number(v("cells")),
      her2_mean: Number(v("her2")), ...(doc?.ish?.probe === "single" ? {} : { cep17_mean: Number(v("cep17")) }) };
  }
  return { score: v("score") };
}

function reviewForm(ctx, test, doc) {
  const key = reasonKey(ctx.c.id, test.id);
  const msg = h("div", { role: "alert" });
  const typed = sessionStorage.getItem(key) || "";
  const agree = h("input", { type: "radio", name: `decision-${test.id}`, id: `agree-${test.id}`, value: "agree", checked: !typed });
  const override = h("input", { type: "radio", name: `decision-${test.id}`, id: `override-${test.id}`, value: "override", checked: !!typed });
  const reason = h("textarea", { id: `reason-${test.id}`, maxlength: 4000, "aria-describedby": `reason-${test.id}-hint` });
  reason.value = typed;
  reason.addEventListener("input", () => sessionStorage.setItem(key, reason.value));
  const extra = h("div", { class: "override" }, overrideInputs(test, doc, key),
    h("div", { class: "field" }, h("label", { for: `reason-${test.id}` }, "Reason for the override"), reason,
      h("span", { class: "hint", id: `reason-${test.id}-hint` }, "Required. Kept in this browser tab if your session ends.")));
  const sync = () => { extra.hidden = !override.checked; };
  agree.addEventListener("change", sync);
  override.addEventListener("change", sync);
  sync();
  return h("form", { class: "review", dataset: { reviewTest: test.id }, onsubmit: async (e) => {
    e.preventDefault();
    clear(msg);
    const body = { decision: override.checked ? "override" : "agree", version: ctx.c.version };
    if (override.checked) {
      body.reason = reason.value.trim();
      if (!body.reason) {
        msg.append(h("p", { class: "msg error" }, "An override needs a reason: say why the analysis is not right."));
        reason.focus();
        return;
      }
      body.block = overrideBlock(test, doc);
    }
    try {
      await svc.review(ctx.c.id, test.id, body);
      sessionStorage.removeItem(key);
      sessionStorage.removeItem(`${key}.block`);
      ctx.refresh();
    } catch (err) { msg.append(h("p", { class: "msg error" }, err.message)); }
  } },
  h("fieldset", {}, h("legend", {}, `Your reading of the ${test.kind.toUpperCase()}`),
    h("div", { class: "row" }, agree, h("label", { for: `agree-${test.id}` }, "Agree with the result")),
    h("div", { class: "row" }, override, h("label", { for: `override-${test.id}` }, "Override the score or counts"))),
  extra, h("button", { type: "submit", class: "primary", id: `review-submit-${test.id}` }, "Record the review"), msg);
}

function finalWords(test) {
  const f = test.final || {};
  if (test.kind === "ihc") return f.score ? `IHC ${f.score}` : "";
  if (f.her2_mean !== undefined) {
    const ratio = f.cep17_mean ? ` · ratio ${(f.her2_mean / f.cep17_mean).toFixed(2)}` : "";
    return `HER2 ${f.her2_mean} / CEP17 ${f.cep17_mean ?? "—"}${ratio} (${f.cells_counted} nuclei)`;
  }
  if (f.probe) return "ISH counts as analysed";
  return "";
}

function machineWords(doc) {
  if (doc.ihc) return `IHC ${doc.ihc.score}`;
  return doc.ish ? `ISH group ${doc.ish.group ?? "—"}` : "as analysed";
}

function resultCard(ctx, test) {
  const entry = ctx.docs.get(test.id);
  const state = test.review_state;
  const head = h("div", { class: "spread" },
    h("h2", { id: `result-${test.id}` }, `${test.kind.toUpperCase()} result`),
    entry ? h("a", { class: "btn small", id: `open-viewer-${test.id}`, href: `#/viewer/${entry.uploadId}?case=${ctx.c.id}` }, "Open in the viewer") : null);
  const reviewed = state !== "pending"
    ? h("p", { class: state === "overridden" ? "msg info" : "review-done", dataset: { reviewState: state } },
      REVIEW_WORDS[state], finalWords(test) ? `: ${finalWords(test)}` : "", ctx.reviewReason.get(test.id) ? ` — “${ctx.reviewReason.get(test.id)}”` : "")
    : h("p", { class: "small muted", dataset: { reviewState: state } }, REVIEW_WORDS[state]);
  return h("section", { class: "card", "aria-labelledby": `result-${test.id}`, dataset: { test: test.kind } }, head,
    entry ? resultView(entry.doc, { finalText: state === "pending" ? "" : finalWords(test) || machineWords(entry.doc), finalState: state })
      : h("p", { class: "muted" }, "No result yet: upload an image and run the analysis."),
    entry ? reviewed : null,
    entry && ctx.editable && can.review() ? reviewForm(ctx, test, entry.doc) : null);
}

function signOutCard(ctx) {
  const { c } = ctx;
  const msg = h("div", { role: "alert" });
  const fail = (err) => clear(msg).append(h("p", { class: "msg error" }, err.message));
  if (c.state === "signed_out") {
    const reason = h("textarea", { id: "amend-reason", maxlength: 4000 });
    const form = h("form", { id: "amend-form", hidden: true, onsubmit: async (e) => {
      e.preventDefault();
      if (!reason.value.trim()) return fail(new Error("Give the reason for the amendment."));
      try { await svc.amend(c.id, { reason: reason.value.trim(), version: c.version }); ctx.refresh(); } catch (err) { fail(err); }
    } }, h("div", { class: "field" }, h("label", { for: "amend-reason" }, "Reason for the amendment"), reason),
    h("button", { type: "submit", class: "primary" }, "Open the amendment"));
    return h("section", { class: "card", "aria-labelledby": "signout-title" }, h("h2", { id: "signout-title" }, "Sign-out"),
      h("p", { class: "review-done", id: "signed-out-note" }, `Signed out${ctx.signedOutBy ? ` by ${ctx.signedOutBy}` : ""}, ${fmtTime(c.signed_out_at)}. `,
        "The result is frozen: a change needs an amendment, which makes a new version of the report."),
      can.review() ? [h("button", { type: "button", id: "amend-button", onclick: () => { form.hidden = false; reason.focus(); } }, "Amend…"), form] : null, msg);
  }
  if (!can.review()) {
    return h("section", { class: "card" }, h("h2", {}, "Sign-out"), h("p", { class: "muted" }, "A pathologist reviews each result and signs the case out."));
  }
  const pending = c.tests.filter((t) => t.review_state === "pending");
  return h("section", { class: "card", "aria-labelledby": "signout-title" }, h("h2", { id: "signout-title" }, "Sign-out"),
    c.state === "amending" ? h("p", { class: "msg info" }, `Amendment ${c.revision} in progress: review again, then sign out.`) : null,
    pending.length ? h("p", { class: "muted" }, `Review ${pending.map((t) => t.kind.toUpperCase()).join(" and ")} before signing out.`) : null,
    h("button", { type: "button", class: "primary", id: "sign-out", disabled: pending.length > 0 || !c.tests.length,
      onclick: async (e) => {
        e.target.disabled = true;
        try { await svc.signOut(c.id, c.version); ctx.refresh(); } catch (err) { e.target.disabled = false; fail(err); }
      } }, c.state === "amending" ? "Sign out the amended case" : "Sign out the case"), msg);
}

function reportsCard(ctx) {
  const { c, reports } = ctx;
  const msg = h("div", { role: "alert" });
  const make = can.report() && c.tests.some((t) => ctx.docs.has(t.id) || t.final) ? h("button", { type: "button", id: "make-report", onclick: async (e) => {
    e.target.disabled = true;
    try { await svc.makeReport(c.id); ctx.refresh(); } catch (err) { e.target.disabled = false; clear(msg).append(h("p", { class: "msg error" }, err.message)); }
  } }, c.state !== "signed_out" ? "Make a preliminary report"
    : c.revision > 0 ? "Make the amended report" : "Make the final report") : null;
  if (!make && !reports.length) return null;
  return h("section", { class: "card", "aria-labelledby": "reports-title" },
    h("div", { class: "spread" }, h("h2", { id: "reports-title" }, "Reports"), make), msg,
    reports.length ? h("ul", { class: "plain reports" }, [...reports].reverse().map((r) => h("li", { dataset: { report: r.id, status: r.status } },
      h("div", {}, h("span", { class: `tag ${r.status}` }, r.status), " ", h("span", { class: "small muted" }, `revision ${r.revision} · ${fmtTime(r.created_at)}`),
        h("div", { class: "row", style: "margin-top:4px" }, [...r.files].sort((a, b) => FILE_WORDS.findIndex(([e]) => a.name.endsWith(e)) - FILE_WORDS.findIndex(([e]) => b.name.endsWith(e)))
          .map((f) => h("a", { class: "btn small", href: f.url, download: f.name, dataset: { file: f.name } }, fileWords(f.name)))))))) : h("p", { class: "muted small" }, "No report yet."));
}

const FILE_WORDS = [["lab.pdf", "Lab report (PDF)"], ["lab.html", "Lab report (HTML)"], ["fhir.json", "FHIR bundle"],
  ["patient.pdf", "Patient summary (PDF)"], ["patient.html", "Patient summary (HTML)"], ["report.json", "Report data (JSON)"]];
const fileWords = (name) => (FILE_WORDS.find(([end]) => name.endsWith(end)) || [null, name])[1];

const ACTION_WORDS = {
  "case.create": "registered the case", "test.create": "ordered a test", "upload.create": "uploaded an image",
  "job.create": "started an analysis", "job.fail": "analysis failed", "result.create": "analysis result stored",
  "review.agree": "agreed with the result", "review.override": "overrode the result", "case.sign_out": "signed the case out",
  "case.amend": "opened an amendment", "report.create": "made a report", "case.update": "changed the facts",
};

function change(e) {
  const n = e.new || {};
  if (e.action.startsWith("review.")) {
    const f = n.final || {};
    if (f.score) return `IHC ${f.score}`;
    if (f.her2_mean !== undefined) return `HER2 ${f.her2_mean} / CEP17 ${f.cep17_mean ?? "—"} (${f.cells_counted} nuclei)`;
    return n.final ? "as analysed" : "";
  }
  if (e.action === "upload.create") return n.original_name || "";
  if (e.action === "job.create") return n.kind || "";
  if (e.action === "report.create") return n.status || "";
  if (e.action === "case.create") return n.accession || "";
  if (e.action === "case.sign_out" || e.action === "case.amend") return `${e.old?.state || ""} → ${n.state || ""}`;
  return "";
}

function historyCard(rows) {
  return h("section", { class: "card", "aria-labelledby": "history-title" },
    h("h2", { id: "history-title" }, "History"),
    rows.length ? h("table", { class: "history", "aria-label": "Audit trail, oldest first" },
      h("thead", {}, h("tr", {}, ["When", "Who", "What", "Change", "Reason"].map((t) => h("th", { scope: "col" }, t)))),
      h("tbody", {}, rows.map((e) => h("tr", { dataset: { action: e.action } },
        h("td", { class: "nowrap" }, fmtTime(e.at)), h("td", {}, e.actor), h("td", {}, ACTION_WORDS[e.action] || e.action),
        h("td", { class: "small" }, change(e)), h("td", {}, e.reason || "")))))
      : h("p", { class: "muted" }, "Nothing recorded yet."),
    h("p", { class: "small muted" }, "Each row is chained to the one before by its hash: `her2kit audit verify` finds a changed row."));
}

async function loadAll(caseId) {
  const c = await svc.getCase(caseId);
  const [hist, reports] = await Promise.all([svc.history(caseId), svc.listReports(caseId)]);
  const docs = new Map();
  for (const test of c.tests) {
    const newest = [...c.results].reverse().find((r) => r.test_id === test.id);
    if (!newest) continue;
    const res = await svc.getResult(newest.id);
    const job = c.jobs.find((j) => j.id === res.job_id);
    docs.set(test.id, { doc: res.document, uploadId: job ? job.upload_ids[0] : null });
  }
  const reviewReason = new Map();
  for (const e of hist) if (e.action.startsWith("review.") && e.reason) reviewReason.set(e.entity_id, e.reason);
  for (const e of hist) if (e.action.startsWith("review.") && !e.reason) reviewReason.delete(e.entity_id);
  const signedOutBy = [...hist].reverse().find((e) => e.action === "case.sign_out")?.actor;
  return { c, hist, reports, docs, reviewReason, signedOutBy };
}

export async function casePage(main, caseId) {
  let timer = 0;
  let alive = true;
  const pending = h("ul", { class: "plain uploads", id: "pending-uploads" }); // kept across re-renders
  const cfg = await svc.config();
  setClasses(cfg.ihc_classes);
  const maxUploadBytes = cfg.max_upload_bytes || DEFAULT_MAX_UPLOAD_BYTES;
  const jobAssay = Object.fromEntries(cfg.assays.filter((a) => a.job_assay).map((a) => [a.name, a.job_assay]));
  const render = async () => {
    const data = await loadAll(caseId);
    if (!alive) return;
    const { c } = data;
    const ctx = { ...data, pending, maxUploadBytes, jobAssay, editable: c.state !== "signed_out",
      refresh: () => render().catch(show) };
    const left = h("div", {}, factsCard(c), imagesCard(ctx), analysisCard(ctx), reportsCard(ctx));
    const right = h("div", {}, c.tests.filter((t) => JOB_OF_TEST[t.kind]).map((t) => resultCard(ctx, t)),
      signOutCard(ctx));
    clear(main).append(
      h("div", { class: "spread" }, h("div", {}, h("a", { href: "#/cases", class: "back" }, "← Cases"),
        h("h1", {}, `Case ${c.accession}`)), statusChip(c.status)),
      h("div", { class: "grid2" }, left, right), historyCard(data.hist));
    clearTimeout(timer);
    if (c.jobs.some((j) => j.status === "queued" || j.status === "running")) timer = setTimeout(ctx.refresh, 1000);
  };
  const show = (err) => {
    if (err.status === 401) return;
    document.getElementById("banner").textContent = err.message;
  };
  await render();
  return () => { alive = false; clearTimeout(timer); };
}
