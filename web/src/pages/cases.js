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

function newCaseForm(onCreated) {
  const msg = h("div", { role: "alert" });
  const field = (id, label, input, hint) => h("div", { class: "field" },
    h("label", { for: id }, label, hint ? h("span", { class: "hint" }, ` — ${hint}`) : null), input);
  const accession = h("input", { id: "nc-accession", required: true, maxlength: 64, autocomplete: "off" });
  const specimen = h("select", { id: "nc-specimen" },
    ["core biopsy", "excision", "resection", "cytology cell block", "metastasis biopsy"].map((v) => h("option", { value: v }, v)));
  const site = h("input", { id: "nc-site", value: "breast", maxlength: 120 });
  const fixation = h("input", { id: "nc-fixation", type: "number", min: 0, max: 240, step: 0.5, value: 24 });
  const tests = ["ihc", "ish"].map((t) => h("label", { class: "row" },
    h("input", { type: "checkbox", name: "nc-test", value: t, checked: t === "ihc" }), t.toUpperCase()));
  const form = h("form", { class: "card", id: "new-case", "aria-labelledby": "nc-title",
    onsubmit: async (e) => {
      e.preventDefault();
      clear(msg);
      const chosen = [...form.querySelectorAll("input[name=nc-test]:checked")].map((i) => i.value);
      try {
        const created = await svc.createCase({
          accession: accession.value.trim(), specimen_type: specimen.value, site: site.value.trim(),
          fixation_hours: fixation.value === "" ? null : Number(fixation.value), tests: chosen,
        });
        onCreated(created);
      } catch (err) {
        msg.append(h("p", { class: "msg error" }, err.message));
      }
    } },
  h("h2", { id: "nc-title" }, "Register a case"),
  h("div", { class: "grid2" },
    h("div", {}, field("nc-accession", "Accession number", accession, "as on the requisition"),
      field("nc-specimen", "Specimen", specimen)),
    h("div", {}, field("nc-site", "Site", site),
      field("nc-fixation", "Fixation time (hours)", fixation, "formalin, 6–72 h"))),
  h("fieldset", {}, h("legend", {}, "Tests"), h("div", { class: "row" }, tests)),
  msg,
  h("div", { class: "row" }, h("button", { type: "submit", class: "primary" }, "Register"),
    h("button", { type: "button", onclick: () => form.remove() }, "Cancel")));
  return form;
}

function caseTable(cases) {
  if (!cases.length) return h("p", { class: "empty" }, "No case matches.");
  return h("table", { "aria-label": "Cases" },
    h("thead", {}, h("tr", {}, ["Accession", "Specimen", "Tests", "Status", "Updated"].map((t) => h("th", { scope: "col" }, t)))),
    h("tbody", {}, cases.map((c) => h("tr", { dataset: { accession: c.accession } },
      h("td", {}, h("a", { href: `#/cases/${encodeURIComponent(c.id)}` }, c.accession)),
      h("td", {}, [c.specimen_type, c.site].filter(Boolean).join(", ")),
      h("td", {}, (c.tests || []).map((t) => (t.kind || t).toUpperCase()).join(", ")),
      h("td", {}, statusChip(c.status)),
      h("td", {}, fmtTime(c.updated_at || c.created_at))))));
}

export async function casesPage(main, query) {
  const search = h("input", { id: "search", type: "search", placeholder: "e.g. S26-1234", value: query.get("q") || "" });
  const status = h("select", { id: "status-filter" }, h("option", { value: "" }, "All statuses"),
    Object.entries(STATUS_WORDS).map(([k, v]) => h("option", { value: k, selected: query.get("status") === k }, v)));
  const test = h("select", { id: "test-filter" }, h("option", { value: "" }, "All tests"),
    h("option", { value: "ihc", selected: query.get("test") === "ihc" }, "IHC"),
    h("option", { value: "ish", selected: query.get("test") === "ish" }, "ISH"));
  const results = h("div", { "aria-live": "polite" });
  const top = h("div", {});
  let timer = 0;
  const load = async () => {
    const cases = await svc.listCases({ q: search.value.trim(), status: status.value, test: test.value });
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
      const form = newCaseForm((created) => { location.hash = `#/cases/${encodeURIComponent(created.id)}`; });
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
