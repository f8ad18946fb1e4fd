"""Assemble everything a report shows from a case file: one frozen :class:`LabReport`.

The case is re-classified through the guideline engine: a status typed by hand
(``reported_status``) is never trusted, only compared, and a disagreement is
flagged. Image-analysis results referenced by the case supply missing test
blocks and must agree with blocks the case already has.
"""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, ValidationError

from her2kit.casefile import ASSAYS, Assay, CaseFile
from her2kit.errors import Her2kitInputError
from her2kit.guideline import ClassifyResult, classify, get_guideline
from her2kit.io.jsonio import validation_error_line
from her2kit.report.evidence import ImageEvidence, load_image_evidence
from her2kit.report.preanalytics import PreanalyticCheck, check_preanalytics
from her2kit.report.stage import AnatomicStage, anatomic_stage

__all__ = ["CapField", "LabReport", "build_report"]


class CapField(BaseModel):
    """One field of the CAP breast biomarker template with its value."""

    model_config = ConfigDict(frozen=True)

    section: str
    label: str
    value: str | None


class LabReport(BaseModel):
    """Everything the lab report, the FHIR bundle and the patient summary show."""

    model_config = ConfigDict(frozen=True)

    case: CaseFile
    result: ClassifyResult
    cap_fields: list[CapField]
    methods: list[CapField]
    preanalytics: list[PreanalyticCheck]
    stage: AnatomicStage
    missing: list[str]
    conflicts: list[str]
    images: list[ImageEvidence]
    generated_at: datetime


def _assay_text(assay: Assay | None, test: str) -> tuple[str | None, str | None]:
    if assay is None:
        return None, None
    if assay.ldt:
        return assay.name, "Laboratory-developed test"
    known = ASSAYS.get(assay.name)
    if known is None:
        names = "; ".join(n for n, v in ASSAYS.items() if v[0] == test.split("_")[0])
        raise Her2kitInputError(
            f"unknown assay {assay.name!r}; known {test.split('_')[0]} assays: {names} "
            "(or set \"ldt\": true for a laboratory-developed test)",
            field=f"assays.{test}.name",
        )
    kit_test, maker, status = known
    if kit_test != test.split("_")[0]:
        raise Her2kitInputError(f"{assay.name!r} is a {kit_test.upper()} assay, not "
                                f"{test.split('_')[0].upper()}", field=f"assays.{test}.name")
    return f"{assay.name} ({maker})", status


def _merge_images(case: CaseFile, base_dir: Path | None) -> tuple[CaseFile, list[ImageEvidence]]:
    images = [load_image_evidence(p, base_dir=base_dir) for p in case.image_analysis]
    raw = case.model_dump(exclude_none=True)
    for ev in images:
        for block, value in ev.case_input.items():
            if block not in raw:
                raw[block] = value
                continue
            if block == "ihc":
                mine = case.ihc
                theirs_score = _classify_block({"ihc": value}).ihc.score
                mine_score = _classify_block({"ihc": mine.model_dump(exclude_none=True)}).ihc.score
                if theirs_score != mine_score:
                    raise Her2kitInputError(
                        f"image-analysis result gives IHC {theirs_score} but the case has IHC "
                        f"{mine_score}: the file does not match the case", field=ev.path)
            else:
                theirs = _classify_block({"ish": value}).ish
                mine_ish = _classify_block({"ish": raw["ish"]}).ish
                if (theirs.cells_counted, theirs.her2_mean, theirs.cep17_mean) != (
                        mine_ish.cells_counted, mine_ish.her2_mean, mine_ish.cep17_mean):
                    raise Her2kitInputError(
                        "image-analysis ISH counts differ from the case's ISH counts: the file "
                        "does not match the case", field=ev.path)
    try:
        return CaseFile.model_validate(raw), images
    except ValidationError as exc:
        raise Her2kitInputError(validation_error_line(exc)) from None


def _classify_block(block: dict[str, Any]) -> ClassifyResult:
    from her2kit.guideline import Case

    try:
        return classify(Case.model_validate(block))
    except ValidationError as exc:
        raise Her2kitInputError(validation_error_line(exc)) from None


def _pct(x: float | None) -> str | None:
    return None if x is None else f"{x:g}%"


def _ish_cap_result(result: ClassifyResult) -> str | None:
    ish, her2 = result.ish, result.her2
    if ish is None or her2 is None:
        return None
    if ish.call == "indeterminate":
        return "Cannot be determined (indeterminate): " + "; ".join(ish.rejected_because)
    status = her2.status.capitalize()
    if ish.group is None:
        return f"{status} ({ish.probe}-probe ISH {ish.call.replace('_', ' ')})"
    if ish.group in (2, 3, 4) and result.ihc is not None and result.ihc.score is not None:
        return f"{status} (Group {ish.group} with IHC {result.ihc.score})"
    return f"{status} (Group {ish.group})"


def _cap_fields(case: CaseFile, result: ClassifyResult) -> list[CapField]:
    f: list[CapField] = []
    ihc = result.ihc
    if ihc is not None:
        f.append(CapField(section="HER2 by IHC", label="Result", value=ihc.label))
        if ihc.score in ("2+", "3+") or ihc.percent_complete_intense is not None:
            f.append(CapField(
                section="HER2 by IHC",
                label="Percentage of cells with uniform intense complete membrane staining",
                value=_pct(ihc.percent_complete_intense)))
    ish = result.ish
    if ish is not None:
        observers = case.ish_observers or (2 if result.ish_recount is not None else 1)
        f += [
            CapField(section="HER2 by ISH", label="Result", value=_ish_cap_result(result)),
            CapField(section="HER2 by ISH", label="Number of observers", value=str(observers)),
            CapField(section="HER2 by ISH", label="Number of invasive tumor cells counted",
                     value=str(ish.cells_counted)),
            CapField(section="HER2 by ISH", label="Average number of HER2 signals per cell",
                     value=f"{ish.her2_mean:.2f}"),
        ]
        if ish.probe == "dual":
            f += [
                CapField(section="HER2 by ISH", label="Average number of CEP17 signals per cell",
                         value=f"{ish.cep17_mean:.2f}" if ish.cep17_mean is not None else None),
                CapField(section="HER2 by ISH", label="HER2/CEP17 ratio",
                         value=f"{ish.ratio:.2f}" if ish.ratio is not None else None),
            ]
        sub = result.ish_subpopulation
        f.append(CapField(
            section="HER2 by ISH", label="Heterogeneity",
            value=(f"Present: {sub.percent_of_tumour:g}% of cells counted separately "
                   f"(HER2 {sub.her2_mean:.2f}/cell"
                   + (f", ratio {sub.ratio:.2f}, Group {sub.group}" if sub.ratio is not None
                      else "") + ")")
            if sub is not None else "Not reported (no separately counted population)"))
    if result.her2 is not None:
        f.append(CapField(section="HER2", label="Final HER2 status (integrated)",
                          value=result.her2.status.capitalize()))
    for rec, controls in ((result.er, case.controls.er_internal if case.controls else None),
                          (result.pr, case.controls.pr_internal if case.controls else None)):
        if rec is None:
            continue
        name = "Estrogen receptor (ER)" if rec.receptor == "ER" else "Progesterone receptor (PgR)"
        band = {"positive": ">10%" if rec.receptor == "ER" else "≥1%",
                "low positive": "1–10%", "negative": "<1%"}[rec.status]
        f += [
            CapField(section=name, label="Result", value=f"{rec.status.capitalize()} ({band})"),
            CapField(section=name, label="Percentage of cells with nuclear positivity",
                     value=_pct(rec.percent)),
            CapField(section=name, label="Average intensity of staining",
                     value=rec.intensity.capitalize() if rec.intensity else None),
            CapField(section=name, label="Allred score",
                     value=(f"{rec.allred} (proportion {rec.allred_proportion} + intensity "
                            f"{rec.allred_intensity})") if rec.allred is not None else None),
        ]
        if rec.status != "positive" or (rec.receptor == "ER" and rec.percent <= 10):
            f.append(CapField(section=name, label="Internal control cells", value=controls))
    return f


def _methods(case: CaseFile, result: ClassifyResult,
             images: list[ImageEvidence]) -> tuple[list[CapField], list[str]]:
    f: list[CapField] = []
    missing: list[str] = []
    a = case.assays
    for test, done in (("ihc", result.ihc is not None), ("ish", result.ish is not None),
                       ("ish_workup", result.ish_workup is not None),
                       ("er", result.er is not None), ("pr", result.pr is not None)):
        if not done:
            continue
        name, status = _assay_text(getattr(a, test) if a else None, test)
        label = {"ihc": "HER2 IHC", "ish": "HER2 ISH", "ish_workup": "HER2 dual-probe ISH work-up",
                 "er": "ER", "pr": "PgR"}[test]
        if name is None:
            missing.append(f"assays.{test}: the {label} assay name")
        f.append(CapField(section="Methods", label=f"{label} assay", value=name))
        f.append(CapField(section="Methods", label=f"{label} test type", value=status))
    used = bool(images) or bool(a and a.image_analysis_used)
    f.append(CapField(section="Methods", label="Quantitative image analysis used",
                      value="Yes (her2kit)" if used else "No"))
    return f, missing


def _missing_facts(case: CaseFile, result: ClassifyResult) -> list[str]:
    missing = []
    s, c = case.specimen, case.controls
    if s is None or s.type is None:
        missing.append("specimen.type: the specimen type")
    if s is None or s.site is None:
        missing.append("specimen.site: the specimen site")
    if s is None or s.fixation_time_h is None:
        missing.append("specimen.fixation_time_h: the fixation time")
    if s is None or s.cold_ischemia_min is None:
        missing.append("specimen.cold_ischemia_min: the cold ischemia time")
    if result.ihc is not None and result.ihc.score in ("2+", "3+") and (
            result.ihc.percent_complete_intense is None):
        missing.append("ihc.percent: the percentage of cells with uniform intense complete "
                       "membrane staining (CAP field for 2+ and 3+)")
    if result.ihc is not None and (c is None or c.ihc_external is None):
        missing.append("controls.ihc_external: the status of the HER2 IHC controls")
    if result.ish is not None and (c is None or c.ish is None):
        missing.append("controls.ish: the status of the ISH controls")
    if result.er is not None and result.er.percent <= 10 and (c is None or c.er_internal is None):
        missing.append("controls.er_internal: the internal control status (required for ER "
                       "0–10%)")
    return missing


def _conflicts(case: CaseFile, result: ClassifyResult) -> list[str]:
    rs = case.reported_status
    out = []
    if rs is None:
        return out
    pairs = (("HER2", rs.her2, result.her2.status if result.her2 else None),
             ("ER", rs.er, result.er.status if result.er else None),
             ("PgR", rs.pr, result.pr.status if result.pr else None))
    for name, typed, engine in pairs:
        if typed is not None and typed != engine:
            out.append(f"{name} status typed as '{typed}' but the guideline engine gives "
                       f"'{engine}' from the results: the report shows the engine's result; "
                       "review before sign-out.")
    return out


def build_report(
    case: CaseFile, *, guideline: str = "asco-cap-2018", base_dir: Path | None = None,
    generated_at: datetime | None = None,
) -> LabReport:
    """Re-classify a case and gather every field the reports show.

    Parameters
    ----------
    case : CaseFile
        The validated case file.
    guideline : str
        Rule set name.
    base_dir : Path, optional
        Folder that relative image-analysis paths are taken from.
    generated_at : datetime, optional
        Report time (default: now, UTC); fixed in tests for reproducible output.

    Raises
    ------
    Her2kitInputError
        Unknown assays, unreadable or mismatching image-analysis results, or
        counts the engine refuses.
    """
    g = get_guideline(guideline)
    case, images = _merge_images(case, base_dir)
    result = classify(case, guideline=g)
    methods, missing_assays = _methods(case, result, images)
    stage_facts = case.tumour
    stage = anatomic_stage(stage_facts.pT if stage_facts else None,
                           stage_facts.pN if stage_facts else None,
                           stage_facts.M if stage_facts else None)
    return LabReport(
        case=case, result=result, cap_fields=_cap_fields(case, result), methods=methods,
        preanalytics=check_preanalytics(case.specimen), stage=stage,
        missing=_missing_facts(case, result) + missing_assays,
        conflicts=_conflicts(case, result), images=images,
        generated_at=generated_at or datetime.now().astimezone(),
    )
