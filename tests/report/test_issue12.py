"""Issue 12: CAP wording, preliminary/final marks, setting × specimen, certainty, warnings,
identification, and the CLI using the report's integrated result. Literals are from the
issue and guideline-facts.md, never read from the code under test."""

from __future__ import annotations

import json
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path

import pytest

from her2kit.casefile import CaseFile
from her2kit.report.build import build_report
from her2kit.report.fhir import build_fhir_bundle
from her2kit.report.html import lab_report_html, patient_summary_html
from her2kit.report.patient import patient_summary
from her2kit.report.pdf import lab_report_pdf, patient_summary_pdf

REPO = Path(__file__).resolve().parents[2]
EX = REPO / "examples" / "report"
WHEN = datetime(2026, 11, 25, 12, 0, tzinfo=UTC)
PRELIM = "PRELIMINARY — NOT FOR CLINICAL USE"
SIGNED = {"by": "Dr. P. Pathologist", "at": "2026-11-24T15:30:00+00:00"}


def example(name: str) -> dict:
    return json.loads((EX / f"{name}.json").read_text())


def report_of(case: dict):
    return build_report(CaseFile.model_validate(case), generated_at=WHEN, base_dir=EX)


def pdf_text_pages(data: bytes) -> list[str]:
    import pypdfium2 as pdfium

    return [" ".join(p.get_textpage().get_text_range().split()) for p in pdfium.PdfDocument(data)]


def cap(report, section: str, label: str) -> str | None:
    return {(f.section, f.label): f.value for f in report.cap_fields}[(section, label)]


def ish(her2: float, cep17: float, cells: int = 20) -> dict:
    return {"probe": "dual", "cells_counted": cells, "her2_mean": her2, "cep17_mean": cep17}


# ---- 1. ISH result wording: every CAP option --------------------------------------------

@pytest.mark.parametrize(("case", "expected"), [
    ({"ihc": {"score": "2+"}, "ish": ish(4.8, 3.0)},
     "Pending (awaiting blinded recount of at least 20 cells by an additional observer)"),
    ({"ish": ish(4.8, 3.0)},
     "Pending (awaiting HER2 IHC on the same tissue, reviewed together with the ISH slides)"),
    ({"ihc": {"score": "2+"}, "ish": ish(2.4, 1.9), "ish_subpopulation": ish(9.5, 2.0) | {
        "percent_of_tumour": 15}},
     "Positive (amplified, Group 1 result in >10 % of the cell population)"),
    ({"ihc": {"score": "1+"}}, "Not performed"),
    ({"ihc": {"score": "2+"}, "ish": ish(2.4, 1.9)}, "Negative (Group 5)"),
    ({"ihc": {"score": "3+"}, "ish": ish(2.4, 1.9)}, "Negative (Group 5)"),  # ISH's own result
    ({"ihc": {"score": "2+"}, "ish": ish(5.2, 2.0)}, "Positive (Group 1)"),
    ({"ihc": {"score": "1+"}, "ish": ish(3.0, 1.4)}, "Negative (Group 2 with IHC 1+)"),
    ({"ihc": {"score": "3+"}, "ish": ish(3.0, 1.4)}, "Positive (Group 2 with IHC 3+)"),
    ({"ihc": {"score": "2+"}, "ish": ish(6.6, 3.6), "ish_recount": ish(6.4, 3.5)},
     "Positive (Group 3 with IHC 2+)"),
    ({"ihc": {"score": "1+"}, "ish": ish(6.6, 3.6)}, "Negative (Group 3 with IHC 1+)"),
    ({"ihc": {"score": "3+"}, "ish": ish(4.8, 3.0)}, "Positive (Group 4 with IHC 3+)"),
])
def test_every_cap_ish_option(case, expected):
    r = report_of(case)
    assert cap(r, "HER2 by ISH", "Result") == expected
    assert "Equivocal" not in (cap(r, "HER2 by ISH", "Result") or "")


def test_pending_is_used_in_pdf_html_fhir_and_never_equivocal():
    r = report_of(example("group4-awaiting-recount"))
    pending = "Pending (awaiting blinded recount of at least 20 cells by an additional observer)"
    assert pending in " ".join(pdf_text_pages(lab_report_pdf(r)))
    html = lab_report_html(r)
    assert pending in html and "Final HER2 status (integrated)" in html
    bundle = build_fhir_bundle(r.result, r.case, issued=WHEN, bundle_id="t")
    values = [e["resource"].get("valueCodeableConcept", {}).get("text") for e in bundle["entry"]]
    assert pending in values
    # IHC 2+ is "Equivocal (2+)" by right; no ISH or HER2 status value says equivocal.
    assert not any(v and "equivocal" in v.lower() for v in values if v != "Equivocal (2+)")


def test_classify_terminal_states_the_cap_ish_result():
    proc = subprocess.run([sys.executable, "-m", "her2kit", "classify",
                           str(EX / "group4-awaiting-recount.json")], capture_output=True,
                          text=True, timeout=120, cwd=REPO)
    assert proc.returncode == 0, proc.stderr
    assert ("ISH result (CAP template): Pending (awaiting blinded recount of at least 20 cells "
            "by an additional observer)") in proc.stdout


# ---- 2. preliminary until signed out -----------------------------------------------------

def test_unsigned_report_is_preliminary_on_every_page_and_in_fhir():
    r = report_of(example("group4-awaiting-recount"))
    pages = pdf_text_pages(lab_report_pdf(r))
    assert len(pages) >= 2 and all(PRELIM in p for p in pages)
    assert "Awaiting pathologist review and sign-out" in " ".join(pages)
    assert "Reviewed and signed out by the pathologist" not in " ".join(pages)
    s = patient_summary(r)
    assert all(PRELIM in p for p in pdf_text_pages(patient_summary_pdf(s)))
    assert PRELIM in patient_summary_html(s)
    bundle = build_fhir_bundle(r.result, r.case, issued=WHEN, bundle_id="t")
    # The results and the report (Patient, Specimen … have no status).
    results = ("DiagnosticReport", "Observation")
    assert {e["resource"]["status"] for e in bundle["entry"]
            if e["resource"]["resourceType"] in results} == {"preliminary"}


def test_signed_out_report_shows_who_and_when_and_is_final():
    r = report_of(example("group4-awaiting-recount") | {"sign_out": SIGNED})
    text = " ".join(pdf_text_pages(lab_report_pdf(r)))
    assert PRELIM not in text
    assert "Signed out by Dr. P. Pathologist on 2026-11-24 15:30" in text
    assert "FINAL — signed out by Dr. P. Pathologist" in lab_report_html(r)
    bundle = build_fhir_bundle(r.result, r.case, issued=WHEN, bundle_id="t")
    # The results and the report (Patient, Specimen … have no status).
    results = ("DiagnosticReport", "Observation")
    assert {e["resource"]["status"] for e in bundle["entry"]
            if e["resource"]["resourceType"] in results} == {"final"}
    assert PRELIM not in patient_summary_html(patient_summary(r))


# ---- 3. setting × specimen ---------------------------------------------------------------

BASE = {"ihc": {"score": "1+"}, "er": {"percent": 90}}


@pytest.mark.parametrize(("specimen", "tumour", "kind", "group", "setting"), [
    ("excision", {"pT": "T1c", "pN": "N0", "M": "M0"}, "pathologic", "IA", "early"),
    ("mastectomy", {"pT": "T3", "pN": "N2a", "M": "M0"}, "pathologic", "IIIA",
     "locally advanced"),
    ("core biopsy", {"pT": "T1c", "pN": "N0", "M": "M0"}, None, None, "unknown"),
    ("core biopsy", {"cT": "T2", "cN": "N1", "M": "M0"}, "clinical", "IIB", "early"),
    ("core biopsy", {"cT": "T4b", "cN": "N2", "M": "M0"}, "clinical", "IIIB",
     "locally advanced"),
    ("metastasis biopsy", {"M": "M1", "metastatic_sites": ["liver"]}, "pathologic", "IV",
     "metastatic"),
    ("core biopsy", {"cT": "T2", "cN": "N1", "M": "M1"}, "clinical", "IV", "metastatic"),
])
def test_stage_depends_on_specimen(specimen, tumour, kind, group, setting):
    r = report_of(BASE | {"specimen": {"type": specimen}, "tumour": tumour})
    assert (r.stage.kind, r.stage.group, r.stage.setting) == (kind, group, setting)


def test_biopsy_with_pathologic_categories_is_not_staged_and_warned():
    r = report_of(example("missing-facts-conflicts"))
    assert r.stage.group is None and "needs a resection" in r.stage.reason
    assert any("a pathologic stage needs a resection" in w for w in r.warnings)
    q = {x.question: x.answer for x in patient_summary(r).questions}
    assert "gives no stage" in q["What is the stage of my cancer, and what does it mean?"]


def test_demo_core_biopsy_gets_its_clinical_stage_not_a_pathologic_one():
    r = report_of(json.loads((EX / "demo-case.json").read_text()))
    assert (r.stage.kind, r.stage.group) == ("clinical", "IA")


@pytest.mark.parametrize(("setting", "tumour", "must", "must_not"), [
    ("early", {"cT": "T1c", "cN": "N0", "M": "M0", "setting": "early"},
     ["5 to 10 years after surgery", "not part of the treatment of early cancer"],
     ["Stage IV", "has spread to other parts"]),
    ("metastatic", {"M": "M1", "metastatic_sites": ["liver"], "setting": "metastatic"},
     ["Stage IV", "here: liver", "not from the size of the tumour", "For cancer that has spread"],
     ["5 to 10 years after surgery", "if the cancer spreads", "tumour size and lymph nodes"]),
])
def test_patient_text_depends_on_setting(setting, tumour, must, must_not):
    case = {"ihc": {"score": "1+"}, "er": {"percent": 90}, "tumour": tumour,
            "specimen": {"type": "core biopsy" if setting == "early" else "metastasis biopsy"}}
    s = patient_summary(report_of(case))
    text = s.plain_text() + " ".join(t["plain"] for t in s.treatments)
    for m in must:
        assert m in text, m
    for m in must_not:
        assert m not in text, m
    ids = {t["id"] for t in s.treatments}
    if setting == "early":
        assert ids == {"hrpos-endocrine"}
    else:
        assert ids == {"her2low-tdxd", "hrpos-her2low-ultralow-tdxd", "hrpos-endocrine-metastatic"}


# ---- 4. certainty ------------------------------------------------------------------------

def test_how_sure_reflects_image_analysis_without_outline_and_review_to_come():
    s = patient_summary(report_of(example("image-analysis-positive-metastatic")))
    sure = {q.question: q.answer for q in s.questions}["How are you sure of my HER2 result?"]
    assert "We are sure" not in s.plain_text()
    assert "before anyone marked where the cancer is" in sure
    assert "has not yet checked and signed" in sure


def test_pending_says_what_is_awaited_in_plain_words():
    s = patient_summary(report_of(example("group4-awaiting-recount")))
    text = s.plain_text()
    assert "a second count of the HER2 gene copies on the same slide" in text
    assert "another test has been ordered" not in text


# ---- 5. classify and trials use the integrated result -------------------------------------

def test_classify_and_trials_use_image_analysis_results():
    case = str(EX / "image-analysis-positive-metastatic.json")
    proc = subprocess.run([sys.executable, "-m", "her2kit", "classify", "--json", case],
                          capture_output=True, text=True, timeout=120, cwd=REPO)
    assert proc.returncode == 0, proc.stderr
    assert json.loads(proc.stdout)["her2"]["status"] == "positive"
    proc = subprocess.run([sys.executable, "-m", "her2kit", "trials", "--dry-run", "--json", case],
                          capture_output=True, text=True, timeout=120, cwd=REPO)
    assert proc.returncode == 0, proc.stderr
    assert '"HER2-positive"' in json.loads(proc.stdout)["params"]["query.term"]


# ---- 6. identification -------------------------------------------------------------------

def test_identification_on_every_page_and_missing_listed():
    r = report_of(example("group4-awaiting-recount"))
    pages = pdf_text_pages(lab_report_pdf(r))
    for i, page in enumerate(pages, 1):
        assert "Example Patient 2001 (demo)" in page and "MRN-2001" in page
        assert "S26-2001" in page and "CLIA 99D9999999" in page
        assert f"Page {i} of {len(pages)}" in page
    first = pages[0]
    for must in ("Date of birth 1961-07-15", "Dr. A. Oncologist", "100 Example Street",
                 "2026-11-18"):
        assert must in first, must
    bare = report_of(example("missing-facts-conflicts"))
    text = " ".join(pdf_text_pages(lab_report_pdf(bare)))
    assert "Patient missing (not given in the case)" in text
    assert "Medical record number missing" in text


# ---- 7. warnings first, no development notes ---------------------------------------------

def test_warnings_box_on_page_one_and_as_comments():
    r = report_of(example("failed-controls"))
    first = pdf_text_pages(lab_report_pdf(r))[0]
    assert "Warnings — read before the results" in first
    for must in ("Fixation time 80 h", "Cold ischemia time 75 min", "external control: not as "
                 "expected", "ER internal control: absent", "20% of ISH signals were weak"):
        assert must in first, must
    html = lab_report_html(r)
    assert html.index("Warnings — read before the results") < html.index("<h2>Summary</h2>")
    comments = html[html.index("<h2>Comments</h2>"):]
    assert "Fixation time 80 h" in comments


def test_image_analysis_without_outline_is_warned():
    r = report_of(example("image-analysis-positive-metastatic"))
    assert any("without an invasive-tumour outline" in w and "812" in w for w in r.warnings)


@pytest.mark.parametrize("name", ["demo-case", "group4-awaiting-recount", "failed-controls",
                                  "missing-facts-conflicts", "image-analysis-positive-metastatic"])
def test_no_development_notes_on_clinical_pages(name):
    r = report_of(example(name))
    html = lab_report_html(r).split('<section class="appendix">')[0]  # technical appendix
    text = " ".join(p for p in pdf_text_pages(lab_report_pdf(r)) if "Appendix:" not in p)
    assert "Awaiting pathologist review" in text or "Signed out" in text
    for note in ("unconfirmed", "[blinded_recount]", "ish_recount", "controls.ihc_external",
                 "specimen.type", "patient.mrn", "<code>"):
        assert note not in html and note not in text, note
