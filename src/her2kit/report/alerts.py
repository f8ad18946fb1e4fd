"""Warnings a pathologist must see first: on page 1 and as CAP comments.

Failed pre-analytics, image analysis without an invasive-tumour outline, image
quality flags (weak ISH signals …), rejected tests (too few cells, failed
controls), controls not as expected, a heterogeneous population flagged but
not counted, and stage facts the specimen cannot support.
"""

from __future__ import annotations

from her2kit.casefile import CaseFile
from her2kit.guideline.results import ClassifyResult
from her2kit.report.evidence import ImageEvidence
from her2kit.report.preanalytics import (
    DECALCIFICATION_ITEM,
    PreanalyticCheck,
    decalcification_comment,
)
from her2kit.report.stage import StageBlock

__all__ = ["QUALITY_FLAG_TEXT", "case_warnings"]

# Image-analysis quality flags (``evidence.quality_flags``) in the lab's words.
QUALITY_FLAG_TEXT = {
    "weak_signals": "weak ISH signals (signals may be unscorable; the ISH is rejected when "
                    ">25% of signals are unscorable because weak)",
    "weak_dab": "weak DAB staining overall",
    "out_of_focus": "parts of the image are out of focus",
    "few_cells": "few cells were detected",
    "low_contrast": "low image contrast",
    "score_near_cutoff": "a percentage that decided the IHC score lies close to the "
                         "guideline's 10% cut-off (the score may change on a recount; the "
                         "evidence's near_cutoff gives the share and the margin)",
    "jpeg_degraded": "JPEG compression at this pixel size makes the ISH counts less reliable "
                     "(export the region losslessly, PNG or TIFF)",
}

_CONTROLS = (
    ("ihc_external", "HER2 IHC external control"),
    ("ihc_internal", "HER2 IHC internal control"),
    ("ish", "HER2 ISH controls"),
    ("er_internal", "ER internal control"),
    ("pr_internal", "PgR internal control"),
)


def _image_warnings(ev: ImageEvidence, case: CaseFile) -> list[str]:
    out = []
    e = ev.evidence
    test = "IHC" if ev.kind != "count-ish" else "ISH"
    if e.get("roi_used") is False:
        n = e.get("cells_counted") or e.get("nuclei_counted")
        out.append(f"HER2 {test} image analysis was run without an invasive-tumour outline: "
                   f"every detected cell{f' ({n})' if n else ''} was counted, not only "
                   "invasive tumour cells. Review the overlay before sign-out.")
    for flag in e.get("quality_flags") or ():
        text = QUALITY_FLAG_TEXT.get(flag, str(flag).replace("_", " "))
        out.append(f"HER2 {test} image analysis quality flag: {text}.")
    het = e.get("heterogeneity")
    if isinstance(het, dict) and het.get("flagged") and case.ish_subpopulation is None:
        share = het.get("fraction_high")
        pct = f" ({100 * share:.0f}% of nuclei)" if isinstance(share, int | float) else ""
        out.append("Image analysis flagged a second population of nuclei with more HER2 "
                   f"signals{pct}: if it is >10% of tumour cells, count ≥20 of its nuclei "
                   "separately and report it.")
    return out


def case_warnings(case: CaseFile, result: ClassifyResult, images: list[ImageEvidence],
                  preanalytics: list[PreanalyticCheck], stage: StageBlock) -> list[str]:
    """Every warning for page 1, most serious first (tests rejected, then quality)."""
    out: list[str] = []
    for name, part in (("HER2 IHC", result.ihc), ("HER2 ISH", result.ish),
                       ("HER2 ISH recount", result.ish_recount),
                       ("HER2 ISH work-up", result.ish_workup),
                       ("HER2 ISH separate population", result.ish_subpopulation)):
        for why in getattr(part, "rejected_because", None) or ():
            out.append(f"{name} rejected: {why}.")
    for p in preanalytics:
        if p.met == "no" and p.item != DECALCIFICATION_ITEM:  # its own comment, below
            out.append(f"{p.item} {p.value} does not meet the requirement ({p.requirement}): "
                       "state this exception in the report and interpret the results with "
                       "caution.")
    decal = decalcification_comment(case.specimen)
    if decal is not None:
        out.append(decal)
    c = case.controls
    for key, label in _CONTROLS:
        status = getattr(c, key) if c is not None else None
        if status in ("not as expected", "absent"):
            out.append(f"{label}: {status}.")
    ish_qc = case.ish.qc if case.ish is not None else None
    if ish_qc is not None and ish_qc.weak_signals_pct and not (
            result.ish and result.ish.rejected_because):
        out.append(f"{ish_qc.weak_signals_pct:g}% of ISH signals were weak (the ISH is "
                   "rejected above 25%).")
    for ev in images:
        out += _image_warnings(ev, case)
    out += list(stage.warnings)
    return out
