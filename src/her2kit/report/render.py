"""Render a case into the requested report files (bytes by file name)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from her2kit.casefile import CaseFile
from her2kit.report.build import build_report
from her2kit.report.patient import patient_summary

__all__ = ["render_report"]


def _slug(text: str) -> str:
    return "".join(c if c.isalnum() or c in "-_." else "-" for c in text) or "case"


def render_report(
    case: CaseFile, *, formats: set[str], audience: str, guideline: str = "asco-cap-2018",
    base_dir: Path | None = None, trials: list[dict[str, Any]] | None = None,
) -> dict[str, bytes]:
    """Build the report once and render each requested format.

    Parameters
    ----------
    formats : set of {"json", "html", "pdf", "fhir"}
    audience : {"lab", "patient", "both"}
        The FHIR bundle belongs to the lab side; the JSON holds both when asked.

    Returns
    -------
    dict
        File name → content, ready for :func:`her2kit._atomic.write_files_atomically`.
    """
    report = build_report(case, guideline=guideline, base_dir=base_dir)
    lab = audience in ("lab", "both")
    patient = audience in ("patient", "both")
    summary = patient_summary(report, trials=trials) if patient else None
    stem = _slug(case.case_id or "case")
    files: dict[str, bytes] = {}
    if "json" in formats:
        doc: dict[str, Any] = {}
        if lab:
            doc["lab"] = report.model_dump(mode="json")
        if summary is not None:
            doc["patient"] = summary.model_dump(mode="json")
        files[f"{stem}-report.json"] = json.dumps(doc, indent=2, ensure_ascii=False).encode()
    if "html" in formats:
        from her2kit.report.html import lab_report_html, patient_summary_html

        if lab:
            files[f"{stem}-lab.html"] = lab_report_html(report).encode()
        if summary is not None:
            files[f"{stem}-patient.html"] = patient_summary_html(summary).encode()
    if "pdf" in formats:
        from her2kit.report.pdf import lab_report_pdf, patient_summary_pdf

        if lab:
            files[f"{stem}-lab.pdf"] = lab_report_pdf(report)
        if summary is not None:
            files[f"{stem}-patient.pdf"] = patient_summary_pdf(summary)
    if "fhir" in formats and lab:
        from her2kit.report.fhir import build_fhir_bundle

        # The lab PDF of this run, when there is one, goes in as presentedForm.
        bundle = build_fhir_bundle(report.result, report.case, issued=report.generated_at,
                                   lab=report.lab, warnings=report.warnings,
                                   lab_report_pdf=files.get(f"{stem}-lab.pdf"))
        files[f"{stem}-fhir.json"] = json.dumps(bundle, indent=2, ensure_ascii=False).encode()
    return files
