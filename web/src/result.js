// The result of one analysis, as a pathologist reads it: warnings first, then the score,
// the class percentages against the guideline's 10 % lines, the cells counted, the ISH
// means / ratio / group, the guideline's rationale and the next steps.
import { h, fmtNum, fmtPct, shapeIcon } from "./dom.js";

// The IHC classes' words, colours and shapes come from the service (/api/web/config:
// her2kit.viz.colors' palette), the same as the viewer's legend.
let IHC_ROWS = [];
export function setClasses(classes) {
  IHC_ROWS = classes.map((c) => [c.key, c.label[0].toUpperCase() + c.label.slice(1), c.color, c.shape]);
}

export function warningsOf(doc) {
  const ev = doc.evidence || {};
  const out = [];
  for (const flag of ev.quality_flags || []) out.push(typeof flag === "string" ? `Image quality: ${flag.replaceAll("_", " ")}` : JSON.stringify(flag));
  if (ev.note) out.push(ev.note);
  if (ev.stain_fallback_reason) out.push(`Stain vectors: ${ev.stain_fallback_reason}`);
  for (const block of [doc.ihc, doc.ish]) {
    for (const why of (block && block.rejected_because) || []) out.push(why);
  }
  for (const c of doc.comments || []) out.push(typeof c === "string" ? c : c.text || JSON.stringify(c));
  if (doc.pixel_size_source === "--mpp" || (doc.assumed_mpp_um ?? null) !== null) {
    out.push(`Pixel size given by hand (${doc.pixel_size_um} µm/px), not read from the file.`);
  }
  return out;
}

function percentBars(percent, counts) {
  // The 10 % line is where the ASCO/CAP 2018 categories change (> 10 % of cells).
  const scaleMax = 100;
  const rows = IHC_ROWS.map(([key, words, color, shape]) => {
    const v = percent[key] ?? 0;
    return [
      shapeIcon(shape, color, 14),
      h("span", {}, words),
      h("div", { class: "bar", role: "img", "aria-label": `${words}: ${v.toFixed(1)} % of cells; the 10 % line is marked` },
        h("div", { class: "bar-fill", style: `width:${Math.min(100, (100 * v) / scaleMax)}%;background:${color}` }),
        h("div", { class: "bar-line", style: `left:${(100 * 10) / scaleMax}%`, title: "10 % of cells" })),
      h("span", { class: "num" }, `${v.toFixed(1)} %`, counts && counts[key] !== undefined ? h("div", { class: "muted small" }, `${counts[key]} cells`) : null),
    ];
  });
  return h("div", {},
    h("div", { class: "bars", "data-testid": "class-bars" }, rows),
    h("p", { class: "bar-scale" }, "Dashed line: 10 % of cells, the guideline's threshold for 3+ (complete intense) and 2+ / 1+ patterns."));
}

function ihcBlock(doc) {
  const ev = doc.evidence || {};
  const ihc = doc.ihc || {};
  return h("section", { "aria-label": "IHC evidence" },
    h("h3", {}, "Membrane classes"),
    percentBars(ev.percent_all || ihc.percent || {}, ev.counts),
    h("div", { class: "kv" },
      h("div", {}, h("b", {}, String(ev.cells_counted ?? "—")), h("span", {}, "cells counted")),
      h("div", {}, h("b", {}, String(ev.cells_detected ?? "—")), h("span", {}, "cells detected")),
      h("div", {}, h("b", {}, ev.h_score !== undefined ? fmtNum(ev.h_score, 0) : "—"), h("span", {}, "H-score")),
      h("div", {}, h("b", {}, fmtPct(ihc.percent_complete_intense)), h("span", {}, "complete intense"))));
}

function ishBlock(doc) {
  const ish = doc.ish || {};
  const ev = doc.evidence || {};
  return h("section", { "aria-label": "ISH evidence" },
    h("h3", {}, "ISH counts"),
    h("div", { class: "kv" },
      h("div", {}, h("b", {}, fmtNum(ish.her2_mean)), h("span", {}, "mean HER2 signals / nucleus")),
      h("div", {}, h("b", {}, fmtNum(ish.cep17_mean)), h("span", {}, "mean CEP17 signals / nucleus")),
      h("div", {}, h("b", {}, fmtNum(ish.ratio)), h("span", {}, "HER2 / CEP17 ratio (line: 2.0)")),
      h("div", {}, h("b", {}, ish.group ? `Group ${ish.group}` : "—"), h("span", {}, "ASCO/CAP ISH group")),
      h("div", {}, h("b", {}, String(ish.cells_counted ?? ev.nuclei_counted ?? "—")), h("span", {}, `nuclei counted (minimum ${ish.thresholds?.min_cells_counted ?? 20})`)),
      excludedBox(ev.nuclei_excluded)));
}

function excludedBox(excluded) {
  if (excluded === null || excluded === undefined) return null;
  const parts = typeof excluded === "object" ? Object.entries(excluded) : [];
  const total = typeof excluded === "object" ? parts.reduce((a, [, n]) => a + Number(n || 0), 0) : excluded;
  const why = parts.filter(([, n]) => n).map(([k, n]) => `${k.replaceAll("_", " ")} ${n}`).join(", ");
  return h("div", {}, h("b", {}, String(total)), h("span", {}, `nuclei left out${why ? ` (${why})` : ""}`));
}

const STATUS_WORDS = { positive: "HER2 positive", negative: "HER2 negative", equivocal: "Equivocal", low: "HER2-low", ultralow: "HER2-ultralow" };

export function resultView(doc, { finalText, finalState } = {}) {
  const warnings = warningsOf(doc);
  const her2 = doc.her2 || {};
  const ihc = doc.ihc;
  const ish = doc.ish;
  const headline = ihc ? `IHC ${ihc.score}` : ish ? `ISH group ${ish.group ?? "—"}` : "—";
  const status = STATUS_WORDS[her2.category] || STATUS_WORDS[her2.status] || her2.category || her2.status || "";
  return h("div", { class: "result", "data-testid": "result" },
    warnings.length ? h("ul", { class: "warnings", "aria-label": "Warnings" }, warnings.map((w) => h("li", {}, w))) : null,
    h("div", { class: "spread" },
      h("div", {},
        h("div", { class: "score-label" }, "Image analysis"),
        h("div", { class: finalText ? "score superseded" : "score", "data-testid": "score" }, headline),
        h("div", { class: "score-sub" }, [status, ihc?.label].filter(Boolean).join(" · "))),
      finalText ? h("div", { class: `final-box ${finalState}`, "data-testid": "final" },
        h("div", { class: "score-label" }, finalState === "overridden" ? "Pathologist (override)" : "Pathologist (agreed)"),
        h("div", { class: "score" }, finalText)) : null),
    ihc ? ihcBlock(doc) : null,
    ish ? ishBlock(doc) : null,
    h("h3", {}, "Why (the guideline's rationale)"),
    h("ol", { class: "rationale" }, (doc.rationale || []).map((r) => h("li", {}, r))),
    h("h3", {}, "Next steps"),
    (doc.next_steps || []).length
      ? h("ul", {}, doc.next_steps.map((s) => h("li", {}, typeof s === "string" ? s : s.text || JSON.stringify(s))))
      : h("p", { class: "muted" }, "None: the result is complete under the guideline."),
    h("p", { class: "muted small" }, doc.guideline_title || doc.guideline || ""));
}
