"""The lab report as one self-contained HTML file (charts and overlays embedded)."""

from __future__ import annotations

import base64
from itertools import groupby
from pathlib import Path
from typing import Any

from her2kit.guideline import get_guideline
from her2kit.report.build import LabReport
from her2kit.report.charts import ihc_class_chart, ish_ratio_histogram
from her2kit.report.legend import overlay_caption, overlay_legend
from her2kit.report.patient import BASIS_WORDS, PatientSummary
from her2kit.report.wording import awaited, her2_status_text

__all__ = [
    "appendix_rows",
    "flatten_evidence",
    "identification",
    "lab_report_html",
    "patient_summary_html",
    "readable_label",
    "report_charts",
    "specimen_text",
    "status_line",
]

TEMPLATES = Path(__file__).with_name("templates")


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


def flatten_evidence(evidence: dict[str, Any], prefix: str = "") -> list[tuple[str, str]]:
    """Nested evidence → (dotted key, short text) rows for a table."""
    rows: list[tuple[str, str]] = []
    for key, value in evidence.items():
        name = f"{prefix}{key}"
        if isinstance(value, dict):
            rows += flatten_evidence(value, prefix=f"{name}.")
        elif isinstance(value, float):
            rows.append((name, f"{value:.4g}"))
        elif isinstance(value, list) and len(value) > 12:
            rows.append((name, f"{len(value)} values"))
        elif value and isinstance(value, list) and all(isinstance(v, dict) for v in value):
            # A short list of records (e.g. the IHC near_cutoff entries): one row per
            # record, its fields in words, not a Python repr.
            for i, record in enumerate(value, start=1):
                rows.append((f"{name}.{i}", "; ".join(
                    f"{readable_label(k)}: {v}" for k, v in flatten_evidence(record))))
        else:
            rows.append((name, str(value)))
    return rows


_UNITS = (("_um2", " (µm²)"), ("_um", " (µm)"), ("_pct", " (%)"), ("_od", " (OD)"),
          ("_h", " (h)"), ("_min", " (min)"), ("_s", " (s)"))
_WORDS = {"ihc": "IHC", "ish": "ISH", "dab": "DAB", "roi": "ROI", "her2": "HER2",
          "cep17": "CEP17", "mad": "MAD", "od": "OD", "h": "H", "k": "k", "z": "z"}


def readable_label(key: str) -> str:
    """A dotted key in words: "parameters.spot_sigma_um" → "Parameters: spot sigma (µm)"."""
    parts = []
    for piece in key.split("."):
        unit = ""
        for suffix, text in _UNITS:
            if piece.endswith(suffix) and len(piece) > len(suffix):
                piece, unit = piece[: -len(suffix)], text
                break
        words = [_WORDS.get(w, w) for w in piece.split("_")]
        parts.append(" ".join(words) + unit)
    text = ": ".join(parts)
    return text[:1].upper() + text[1:]


def appendix_rows(evidence: dict[str, Any]) -> list[tuple[str, str]]:
    """Raw image-analysis parameters with readable labels, for the appendix."""
    return [(readable_label(k), v) for k, v in flatten_evidence(evidence)]


def status_line(report: LabReport) -> str:
    """The report status as every page states it."""
    if report.status == "final" and report.sign_out is not None:
        am = report.sign_out.amendment
        if am is not None:
            return (f"AMENDED — revision {am.revision}, replacing revision "
                    f"{am.replaces_revision} ({am.reason}); signed out by "
                    f"{report.sign_out.by} on {report.sign_out.at:%Y-%m-%d %H:%M}")
        return (f"FINAL — signed out by {report.sign_out.by} on "
                f"{report.sign_out.at:%Y-%m-%d %H:%M}")
    return "PRELIMINARY — NOT FOR CLINICAL USE (awaiting pathologist review and sign-out)"


def identification(report: LabReport) -> list[tuple[str, str]]:
    """The identification and status block: every item, or "missing" when not given."""
    c = report.case
    p = c.patient
    lab = report.lab

    def given(value: Any) -> str:
        return "missing (not given in the case)" if value is None else str(value)

    return [
        ("Patient", given(p.name if p else None)),
        ("Date of birth", given(p.birth_date if p else None)),
        ("Medical record number", given(p.mrn if p else None)),
        ("Accession", given(c.accession)),
        ("Ordering physician", given(c.ordering_physician)),
        ("Performing laboratory", given(
            None if lab is None else f"{lab.name}, {lab.address}; CLIA {lab.clia}"
            + (f"; director {lab.director}" if lab.director else ""))),
        ("Collected / received", f"{given(c.specimen.collected_on if c.specimen else None)} / "
                                 f"{given(c.received_on)}"),
        ("Reported", report.generated_at.strftime("%Y-%m-%d %H:%M %Z").strip()),
        ("Report status", status_line(report)),
    ]


def report_charts(report: LabReport) -> list[tuple[str, bytes]]:
    """The charts a report shows: IHC classes against 10 %, per-nucleus ratio histogram."""
    charts = []
    ihc = ihc_class_chart(report.result)
    if ihc is not None:
        charts.append(("HER2 IHC membrane classes", ihc))
    nuclei = report.case.ish.nuclei if report.case.ish is not None else None
    if nuclei and isinstance(nuclei[0], list) and len(nuclei[0]) == 2:
        cut = get_guideline(report.result.guideline).ish_ratio
        hist = ish_ratio_histogram(nuclei, ratio_cut=cut)
        if hist is not None:
            charts.append(("Per-nucleus HER2/CEP17 ratios", hist))
    return charts


def specimen_text(report: LabReport) -> str:
    s = report.case.specimen
    if s is None:
        return "not given"
    parts = [s.type, s.site, s.laterality, f"block {s.block}" if s.block else None,
             f"collected {s.collected_on}" if s.collected_on else None]
    return ", ".join(p for p in parts if p) or "not given"


def _env():
    from jinja2 import Environment, FileSystemLoader, select_autoescape

    return Environment(loader=FileSystemLoader(TEMPLATES), autoescape=select_autoescape(["j2"]))


def patient_summary_html(summary: PatientSummary) -> str:
    """Render the patient summary to a self-contained HTML string."""
    return _env().get_template("patient.html.j2").render(s=summary, basis_words=BASIS_WORDS)


def lab_report_html(report: LabReport) -> str:
    """Render the lab report to a self-contained HTML string."""
    env = _env()
    sections = [(k, list(v)) for k, v in groupby(report.cap_fields, key=lambda f: f.section)]
    images = []
    for im in report.images:
        overlays = [Path(o) for o in im.overlays]
        images.append({
            "kind": im.kind, "image": im.image, "path": im.path,
            "overlays_b64": [_b64(o.read_bytes()) for o in overlays if o.is_file()],
            "evidence": appendix_rows(im.evidence), "legend": overlay_legend(im),
            "caption": overlay_caption(im, overlays[0]) if overlays else "",
        })
    return env.get_template("lab.html.j2").render(
        case=report.case, result=report.result, cap_sections=sections, methods=report.methods,
        preanalytics=report.preanalytics, stage=report.stage, missing=report.missing_text,
        warnings=report.warnings, ident=identification(report), status=report.status,
        status_line=status_line(report), sign_out=report.sign_out,
        her2_text=her2_status_text(report.result), next_steps=awaited(report.result),
        conflicts=report.conflicts, specimen_text=specimen_text(report),
        charts=[(t, _b64(png)) for t, png in report_charts(report)], images=images,
        sources=get_guideline(report.result.guideline).sources,
        generated_at=report.generated_at.strftime("%Y-%m-%d %H:%M %Z").strip(),
    )
