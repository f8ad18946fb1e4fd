"""The lab report as one self-contained HTML file (charts and overlays embedded)."""

from __future__ import annotations

import base64
from itertools import groupby
from pathlib import Path
from typing import Any

from her2kit.guideline import get_guideline
from her2kit.report.build import LabReport
from her2kit.report.charts import ihc_class_chart, ish_ratio_histogram
from her2kit.report.patient import PatientSummary

__all__ = [
    "flatten_evidence",
    "lab_report_html",
    "patient_summary_html",
    "report_charts",
    "specimen_text",
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
        else:
            rows.append((name, str(value)))
    return rows


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
    return _env().get_template("patient.html.j2").render(s=summary)


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
            "evidence": flatten_evidence(im.evidence),
        })
    return env.get_template("lab.html.j2").render(
        case=report.case, result=report.result, cap_sections=sections, methods=report.methods,
        preanalytics=report.preanalytics, stage=report.stage, missing=report.missing,
        conflicts=report.conflicts, specimen_text=specimen_text(report),
        charts=[(t, _b64(png)) for t, png in report_charts(report)], images=images,
        sources=get_guideline(report.result.guideline).sources,
        generated_at=report.generated_at.strftime("%Y-%m-%d %H:%M %Z").strip(),
    )
