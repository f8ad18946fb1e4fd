// The case list: status, filters, search by accession number, and (for technologists) a
// form to register a new case.
import { h, clear, fmtTime } from "../dom.js";
import { can } from "../session.js";
import * as svc from "../service.js";

export const STATUS_WORDS = {
  awaiting_analysis: "Awaiting analysis",
  analysed: "Analysed",
  under_review: "Under review",
  signed_out: "Signed out",
  amended: "Amended",
};

export function statusChip(status) {
  return h("span", { class: `status ${status}`, "data-status": status }, STATUS_WORDS[status] || status);
}

function newCaseForm(onCreated, assays) {
  const msg = h("div", { role: "alert" });
  const field = (id, label, input, hint) => h("div", { class: "field" },
    h("label", { for: id }, label, hint ? h("span", { class: "hint" }, ` — ${hint}`) : null), input);
  const accession = h("input", { id: "nc-accession", required: true, maxlength: 64, autocomplete: "off" });
  const specimen = h("select", { id: "nc-specimen" },
    ["core biopsy", "excision", "mastectomy", "cytology cell block", "metastasis biopsy", "other"]
      .map((v) => h("option", { value: v }, v)));
  const site = h("input", { id: "nc-site", value: "breast", maxlength: 120 });
  const laterality = h("select", { id: "nc-laterality" },
    ["left", "right", "bilateral", "not specified"].map((v) => h("option", { value: v }, v)));
  const fixative = h("input", { id: "nc-fixative", value: "10% NBF", maxlength: 120 });
  const fixation = h("input", { id: "nc-fixation", type: "number", min: 0, max: 240, step: 0.5, value: 24 });
  const ihc = h("input", { type: "checkbox", id: "nc-ihc", checked: true });
  const ish = h("input", { type: "checkbox", id: "nc-ish" });
  const kits = (test) => assays.filter((a) => a.test === test).map((a) =>
    h("option", { value: a.name }, `${a.name} (${a.maker}, ${a.status})`));
  const ihcAssay = h("select", { id: "nc-ihc-assay", "aria-label": "IHC assay" }, kits("ihc"));
  const ishAssay = h("select", { id: "nc-ish-assay", "aria-label": "ISH assay" }, kits("ish"));
  const form = h("form", { class: "card", id: "new-case", "aria-labelledby": "nc-title",
    onsubmit: async (e) => {
      e.preventDefault();
      clear(msg);
      const tests = [];
      if (ihc.checked) tests.push({ kind: "ihc", assay: ihcAssay.value });
      if (ish.checked) tests.push({ kind: "ish", assay: ishAssay.value });
      if (!tests.length) { msg.append(h("p", { class: "msg error" }, "Order at least one test.")); return; }
      const spec = { type: specimen.value, site: site.value.trim() || null, laterality: laterality.value,
        fixative: fixative.value.trim() || null,
        fixation_time_h: fixation.value === "" ? null : Number(fixation.value) };
      try {
        onCreated(await svc.createCase({ accession: accession.value.trim(),
          specimen: Object.fromEntries(Object.entries(spec).filter(([, v]) => v !== null)), tests }));
      } catch (err) {
        msg.append(h("p", { class: "msg error" }, err.message));
      }
    } },
  h("h2", { id: "nc-title" }, "Register a case"),
  h("div", { class: "grid2" },
    h("div", {}, field("nc-accession", "Accession number", accession, "as on the requisition"),
      field("nc-specimen", "Specimen", specimen), field("nc-site", "Site", site)),
    h("div", {}, field("nc-laterality", "Laterality", laterality), field("nc-fixative", "Fixative", fixative),
      field("nc-fixation", "Fixation time (hours)", fixation, "ASCO/CAP: 6–72 h"))),
  h("fieldset", {}, h("legend", {}, "Tests"),
    h("div", { class: "row" }, ihc, h("label", { for: "nc-ihc" }, "HER2 IHC"), ihcAssay),
    h("div", { class: "row" }, ish, h("label", { for: "nc-ish" }, "HER2 ISH"), ishAssay)),
  msg,
  h("div", { class: "row" }, h("button", { type: "submit", class: "primary" }, "Register"),
    h("button", { type: "button", onclick: () => form.remove() }, "Cancel")));
  return form;
}

function caseTable(cases) {
  if (!cases.length) return h("p", { class: "empty" }, "No case matches.");
  return h("table", { "aria-label": "Cases" },
    h("thead", {}, h("tr", {}, ["Accession", "Specimen", "Tests", "Status", "Registered / signed out"].map((t) => h("th", { scope: "col" }, t)))),
    h("tbody", {}, cases.map((c) => h("tr", { dataset: { accession: c.accession } },
      h("td", {}, h("a", { href: `#/cases/${encodeURIComponent(c.id)}` }, c.accession)),
      h("td", {}, [c.facts?.specimen?.type, c.facts?.specimen?.site].filter(Boolean).join(", ")),
      h("td", {}, (c.tests || []).map((t) => t.kind.toUpperCase()).join(", ")),
      h("td", {}, statusChip(c.status)),
      h("td", {}, fmtTime(c.signed_out_at || c.created_at))))));
}

export async function casesPage(main, query) {
  const cfg = await svc.config();
  const search = h("input", { id: "search", type: "search", placeholder: "e.g. S26-1234", value: query.get("q") || "" });
  const status = h("select", { id: "status-filter" }, h("option", { value: "" }, "All statuses"),
    Object.entries(STATUS_WORDS).map(([k, v]) => h("option", { value: k, selected: query.get("status") === k }, v)));
  const test = h("select", { id: "test-filter" }, h("option", { value: "" }, "All tests"),
    h("option", { value: "ihc", selected: query.get("test") === "ihc" }, "IHC"),
    h("option", { value: "ish", selected: query.get("test") === "ish" }, "ISH"));
  const results = h("div", { "aria-live": "polite" });
  const top = h("div", {});
  let timer = 0;
  let all = null;
  const load = async () => {
    if (!all) all = await svc.listCases();
    const q = search.value.trim().toLowerCase();
    const cases = all.filter((c) => (!q || c.accession.toLowerCase().includes(q))
      && (!status.value || c.status === status.value)
      && (!test.value || (c.tests || []).some((t) => t.kind === test.value)));
    clear(results).append(h("p", { class: "muted small" }, `${cases.length} case${cases.length === 1 ? "" : "s"}`), caseTable(cases));
  };
  const changed = () => { clearTimeout(timer); timer = setTimeout(() => load().catch(showError), 200); };
  const showError = (err) => clear(results).append(h("p", { class: "msg error", role: "alert" }, err.message));
  search.addEventListener("input", changed);
  status.addEventListener("change", changed);
  test.addEventListener("change", changed);
  const newButton = can.createCase() ? h("button", { type: "button", class: "primary", id: "new-case-button",
    onclick: () => {
      if (document.getElementById("new-case")) return;
      const form = newCaseForm((created) => { location.hash = `#/cases/${encodeURIComponent(created.id)}`; }, cfg.assays);
      top.append(form);
      form.querySelector("input").focus();
    } }, "Register a case") : null;
  clear(main).append(
    h("div", { class: "spread" }, h("h1", {}, "Cases"), newButton),
    top,
    h("div", { class: "card" },
      h("div", { class: "toolbar", role: "search" },
        h("div", { class: "field" }, h("label", { for: "search" }, "Accession number"), search),
        h("div", { class: "field" }, h("label", { for: "status-filter" }, "Status"), status),
        h("div", { class: "field" }, h("label", { for: "test-filter" }, "Test"), test)),
      results));
  await load();
  return () => clearTimeout(timer);
}
