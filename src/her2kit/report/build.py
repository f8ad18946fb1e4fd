"""Assemble everything a report shows from a case file: one frozen :class:`LabReport`.

The case is re-classified through the guideline engine: a status typed by hand
(``reported_status``) is never trusted, only compared, and a disagreement is
flagged. Image-analysis results referenced by the case supply missing test
blocks and must agree with blocks the case already has.
"""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict

from her2kit.casefile import ASSAYS, Assay, CaseFile, LabFacts, SignOut
from her2kit.errors import Her2kitInputError
from her2kit.guideline import ClassifyResult, get_guideline
from her2kit.guideline.results import IshResult
from her2kit.report.alerts import case_warnings
from her2kit.report.evidence import ImageEvidence
from her2kit.report.integrate import integrated_case
from her2kit.report.lab import load_lab_settings
from her2kit.report.preanalytics import PreanalyticCheck, check_preanalytics
from her2kit.report.stage import StageBlock, case_stage
from her2kit.report.wording import her2_status_text, ihc_result_text, ish_result_text

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
    stage: StageBlock
    missing: list[str]  # "field.path: what is missing" (the pages show the words only)
    conflicts: list[str]
    warnings: list[str]
    images: list[ImageEvidence]
    lab: LabFacts | None
    status: Literal["preliminary", "final"]
    sign_out: SignOut | None
    generated_at: datetime

    @property
    def missing_text(self) -> list[str]:
        """The missing facts in words, without field paths (for clinical pages)."""
        out = []
        for m in self.missing:
            words = m.split(": ", 1)[-1]
            out.append(words[:1].upper() + words[1:])
        return out


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


def _pct(x: float | None) -> str | None:
    return None if x is None else f"{x:g}%"


def _ish_counts(ish: IshResult, who: str) -> list[CapField]:
    sec = "HER2 by ISH"
    f = [
        CapField(section=sec, label=f"{who}: number of invasive tumor cells counted",
                 value=str(ish.cells_counted)),
        CapField(section=sec, label=f"{who}: average number of HER2 signals per cell",
                 value=f"{ish.her2_mean:.2f}"),
    ]
    if ish.probe == "dual":
        f += [
            CapField(section=sec, label=f"{who}: average number of CEP17 signals per cell",
                     value=f"{ish.cep17_mean:.2f}" if ish.cep17_mean is not None else None),
            CapField(section=sec, label=f"{who}: HER2/CEP17 ratio",
                     value=f"{ish.ratio:.2f}" if ish.ratio is not None else None),
        ]
    if ish.group is not None:
        f.append(CapField(section=sec, label=f"{who}: ISH group", value=f"Group {ish.group}"))
    return f


def _clone(assay: Assay | None) -> str | None:
    """The antibody clone: given, or the one a known kit names in brackets ("(4B5)")."""
    if assay is None:
        return None
    if assay.clone is not None:
        return assay.clone
    if assay.name in ASSAYS and assay.name.endswith(")"):
        return assay.name.rsplit("(", 1)[1].rstrip(")")
    return None


def _ihc_heterogeneity_text(case: CaseFile) -> str | None:
    """The CAP "Heterogeneous staining" row of a case that reports it."""
    h = case.ihc_heterogeneity
    if h is None or h.status == "not identified":
        return "Not identified"
    return (f"Present: clustered, {h.percent_3plus:g}% 3+; remaining areas score "
            f"{h.remaining_score}")


def _ihc_fields(case: CaseFile, result: ClassifyResult) -> list[CapField]:
    ihc = result.ihc
    sec = "HER2 by IHC"
    f = [CapField(section=sec, label="Result", value=ihc_result_text(result))]
    if ihc is None:
        return f
    if ihc.score in ("2+", "3+") or ihc.percent_complete_intense is not None:
        f.append(CapField(
            section=sec,
            label="Percentage of cells with uniform intense complete membrane staining",
            value=_pct(ihc.percent_complete_intense)))
    if ihc.score == "2+" and ihc.percent is not None:
        p = ihc.percent
        pattern = ("Weak to moderate complete membrane staining in >10% of tumor cells"
                   if p["complete_weak_moderate"] + p["complete_intense"] > 10 else
                   "Moderate to intense incomplete (basolateral) membrane staining"
                   if p["incomplete_moderate_intense"] > 10 else
                   "Intense complete membrane staining in ≤10% of tumor cells")
        f.append(CapField(section=sec, label="Staining pattern (2+)", value=pattern))
    if case.ihc_heterogeneity is not None:  # not reported: no row
        f.append(CapField(section=sec, label="Heterogeneous staining",
                          value=_ihc_heterogeneity_text(case)))
    f.append(CapField(section=sec, label="Antibody clone",
                      value=_clone(case.assays.ihc if case.assays else None)))
    c = case.controls
    f += [CapField(section=sec, label="External control", value=c.ihc_external if c else None),
          CapField(section=sec, label="Internal control", value=c.ihc_internal if c else None)]
    return f


def _ish_fields(case: CaseFile, result: ClassifyResult) -> list[CapField]:
    sec = "HER2 by ISH"
    ish = result.ish
    f = [CapField(section=sec, label="Result", value=ish_result_text(result))]
    if ish is None:
        return f
    observers = case.ish_observers or (2 if result.ish_recount is not None else 1)
    f += [
        CapField(section=sec, label="Number of observers", value=str(observers)),
        CapField(section=sec, label="Number of invasive tumor cells counted",
                 value=str(ish.cells_counted)),
        CapField(section=sec, label="Average number of HER2 signals per cell",
                 value=f"{ish.her2_mean:.2f}"),
    ]
    if ish.probe == "dual":
        f += [
            CapField(section=sec, label="Average number of CEP17 signals per cell",
                     value=f"{ish.cep17_mean:.2f}" if ish.cep17_mean is not None else None),
            CapField(section=sec, label="HER2/CEP17 ratio",
                     value=f"{ish.ratio:.2f}" if ish.ratio is not None else None),
        ]
    if result.ish_recount is not None:
        f += _ish_counts(result.ish_recount, "Second observer (blinded recount)")
    if result.ish_workup is not None:
        f += _ish_counts(result.ish_workup, "Dual-probe work-up")
    sub = result.ish_subpopulation
    if sub is not None:
        f.append(CapField(
            section=sec, label="Heterogeneity",
            value=f"Present: {sub.percent_of_tumour:g}% of the cell population counted "
                  "separately"))
        f += _ish_counts(sub, "Separately counted population")
        facts = case.ish_subpopulation_facts
        f.append(CapField(section=sec, label="IHC score in the separately counted population",
                          value=facts.ihc_score if facts else None))
    else:
        f.append(CapField(section=sec, label="Heterogeneity", value="Not identified"))
    f.append(CapField(section=sec, label="ISH controls",
                      value=case.controls.ish if case.controls else None))
    return f


def _receptor_fields(case: CaseFile, result: ClassifyResult) -> list[CapField]:
    f: list[CapField] = []
    c = case.controls
    for rec, control in ((result.er, c.er_internal if c else None),
                         (result.pr, c.pr_internal if c else None)):
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
        assay = (case.assays.er if rec.receptor == "ER" else case.assays.pr) if case.assays \
            else None
        f.append(CapField(section=name, label="Antibody clone", value=_clone(assay)))
        if rec.status != "positive" or (rec.receptor == "ER" and rec.percent <= 10):
            f.append(CapField(section=name, label="Internal control cells", value=control))
        else:
            f.append(CapField(section=name, label="Internal control cells",
                              value=control or "not given (not required for this result)"))
    return f


def _cap_fields(case: CaseFile, result: ClassifyResult) -> list[CapField]:
    f: list[CapField] = []
    if result.her2 is not None:
        f += _ihc_fields(case, result) + _ish_fields(case, result)
        f.append(CapField(section="HER2", label="Final HER2 status (integrated)",
                          value=her2_status_text(result)))
    return f + _receptor_fields(case, result)


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


def _identification_missing(case: CaseFile) -> list[str]:
    p = case.patient
    out = []
    for key, value, words in (
            ("patient.name", p.name if p else None, "the patient's name"),
            ("patient.birth_date", p.birth_date if p else None, "the patient's date of birth"),
            ("patient.mrn", p.mrn if p else None, "the medical record number"),
            ("accession", case.accession, "the accession number"),
            ("ordering_physician", case.ordering_physician, "the ordering physician"),
            ("received_on", case.received_on, "the date the specimen was received"),
            ("lab", case.lab, "the performing laboratory (lab settings file)")):
        if value is None:
            out.append(f"{key}: {words}")
    return out


def _missing_facts(case: CaseFile, result: ClassifyResult) -> list[str]:
    missing = _identification_missing(case)
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
    if result.pr is not None and (c is None or c.pr_internal is None):
        missing.append("controls.pr_internal: the PgR internal control status")
    a = case.assays
    for test, done, words in (("ihc", result.ihc, "HER2 IHC"), ("er", result.er, "ER"),
                              ("pr", result.pr, "PgR")):
        assay = getattr(a, test) if a else None
        if done is not None and assay is not None and _clone(assay) is None:
            missing.append(f"assays.{test}.clone: the {words} antibody clone")
    return missing


def _conflicts(case: CaseFile, result: ClassifyResult) -> list[str]:
    rs = case.reported_status
    out = []
    h = case.ihc_heterogeneity
    # A clustered 3+ population over 10% of the cancer is, by the 2018 definition of 3+
    # (complete intense staining in >10% of cells), an IHC 3+ result [S1].
    if h is not None and h.status == "clustered" and result.ihc is not None and (
            result.ihc.score != "3+"):
        out.append(f"Clustered heterogeneity with {h.percent_3plus:g}% 3+ staining is given, "
                   f"but the HER2 IHC result is {result.ihc.score}: a 3+ population in >10% "
                   "of the cancer makes the result 3+; review before sign-out.")
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
    case, result, images = integrated_case(case, guideline=g, base_dir=base_dir)
    methods, missing_assays = _methods(case, result, images)
    stage = case_stage(case.tumour, case.specimen.type if case.specimen else None)
    preanalytics = check_preanalytics(case.specimen)
    return LabReport(
        case=case, result=result, cap_fields=_cap_fields(case, result), methods=methods,
        preanalytics=preanalytics, stage=stage,
        missing=_missing_facts(case, result) + missing_assays,
        conflicts=_conflicts(case, result),
        warnings=case_warnings(case, result, images, preanalytics, stage), images=images,
        lab=load_lab_settings(case.lab, base_dir=base_dir),
        status="final" if case.sign_out is not None else "preliminary",
        sign_out=case.sign_out, generated_at=generated_at or datetime.now().astimezone(),
    )
