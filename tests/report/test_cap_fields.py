"""Issue 12, the last CAP template fields: decalcification and its comment, IHC clustered
heterogeneity, and the IHC score of a separately counted amplified ISH population. Each is
checked on the HTML and on the PDF text. Literals are from the issue, the brief and
shared/guideline-facts.md (§4: "Clustered heterogeneity … % of cancer with 3+ staining (must
be >10%), and the score in the non-3+ areas"; "IHC score in the amplified population"),
never read from the code under test."""

from __future__ import annotations

import html as html_lib
import json
import re
from datetime import UTC, datetime
from pathlib import Path

import pytest
from pydantic import ValidationError

from her2kit.casefile import CaseFile
from her2kit.report.build import build_report
from her2kit.report.fhir import build_fhir_bundle
from her2kit.report.html import lab_report_html
from her2kit.report.pdf import lab_report_pdf

REPO = Path(__file__).resolve().parents[2]
EX = REPO / "examples" / "report"
WHEN = datetime(2026, 11, 25, 12, 0, tzinfo=UTC)
ACID_COMMENT = ("HER2 (IHC and ISH), ER and PgR results on acid-decalcified specimens may be "
                "unreliable. If possible, a specimen that was not decalcified should be tested.")


def report_of(case: dict):
    return build_report(CaseFile.model_validate(case), generated_at=WHEN, base_dir=EX)


def html_text(report) -> str:
    raw = re.sub(r"<[^>]+>", " ", lab_report_html(report))
    return " ".join(html_lib.unescape(raw).split())


def pdf_text(report) -> str:
    import pypdfium2 as pdfium

    pages = pdfium.PdfDocument(lab_report_pdf(report))
    return " ".join(" ".join(p.get_textpage().get_text_range().split()) for p in pages)


def both(report) -> tuple[str, str]:
    return html_text(report), pdf_text(report)


def cap(report, section: str, label: str) -> str | None:
    return {(f.section, f.label): f.value for f in report.cap_fields}[(section, label)]


def ish(her2: float, cep17: float, cells: int = 20) -> dict:
    return {"probe": "dual", "cells_counted": cells, "her2_mean": her2, "cep17_mean": cep17}


def specimen(**decal) -> dict:
    return {"type": "metastasis biopsy", "site": "bone, iliac crest",
            "fixative": "10% neutral buffered formalin", "fixation_time_h": 24,
            "cold_ischemia_min": 20} | decal


# ---- (a) decalcification ----------------------------------------------------------------

@pytest.mark.parametrize(("decal", "shown", "comment"), [
    ({"decalcified": True, "decalcification_method": "formic acid"},
     "Decalcified (formic acid)", True),
    ({"decalcified": True, "decalcification_method": "EDTA"}, "Decalcified (EDTA)", False),
    ({"decalcified": False}, "Not decalcified", False),
    ({"decalcified": True, "decalcification_method": "unknown"},
     "Decalcified (method not known)", True),
])
def test_decalcification_is_printed_with_its_comment(decal, shown, comment):
    r = report_of({"ihc": {"score": "1+"}, "er": {"percent": 50}, "specimen": specimen(**decal)})
    for text in both(r):
        assert f"Decalcification {shown}" in text
        assert (ACID_COMMENT in text) is comment
    assert (any(ACID_COMMENT in w for w in r.warnings)) is comment


def test_acid_comment_names_the_acid_and_reaches_the_fhir_conclusion():
    r = report_of({"ihc": {"score": "0"}, "specimen": specimen(
        decalcified=True, decalcification_method="hydrochloric acid")})
    for text in both(r):
        assert "The specimen was decalcified in acid (hydrochloric acid)" in text
    bundle = build_fhir_bundle(r.result, r.case, issued=WHEN, warnings=r.warnings)
    kinds = {e["resource"]["resourceType"]: e["resource"] for e in bundle["entry"]}
    assert ACID_COMMENT in kinds["DiagnosticReport"]["conclusion"]
    assert {"description": "Decalcified (hydrochloric acid)"} in kinds["Specimen"]["processing"]


def test_decalcification_not_recorded_adds_no_row_and_no_comment():
    r = report_of({"ihc": {"score": "1+"}, "specimen": specimen()})
    for text in both(r):
        assert "Decalcification" not in text
        assert "decalcified" not in text.lower()


def test_decalcification_method_without_decalcified_is_refused():
    with pytest.raises(ValidationError, match="decalcification_method"):
        CaseFile.model_validate({"ihc": {"score": "1+"}, "specimen": specimen(
            decalcification_method="formic acid")})


def test_bone_metastasis_example_is_decalcified_in_formic_acid():
    case = json.loads((EX / "image-analysis-positive-metastatic.json").read_text())
    r = report_of(case)
    for text in both(r):
        assert "Decalcification Decalcified (formic acid)" in text
        assert ACID_COMMENT in text


# ---- (b) IHC clustered heterogeneity ----------------------------------------------------

def test_clustered_heterogeneity_row():
    r = report_of({"ihc": {"score": "3+"}, "ihc_heterogeneity": {
        "status": "clustered", "percent_3plus": 30, "remaining_score": "1+"}})
    row = "Present: clustered, 30% 3+; remaining areas score 1+"
    assert cap(r, "HER2 by IHC", "Heterogeneous staining") == row
    for text in both(r):
        assert f"Heterogeneous staining {row}" in text
    assert r.conflicts == []


def test_heterogeneity_not_identified_and_not_reported():
    r = report_of({"ihc": {"score": "2+"}, "ihc_heterogeneity": {"status": "not identified"}})
    for text in both(r):
        assert "Heterogeneous staining Not identified" in text
    silent = report_of({"ihc": {"score": "2+"}})
    for text in both(silent):
        assert "Heterogeneous staining" not in text


@pytest.mark.parametrize("bad", [
    {"status": "clustered", "percent_3plus": 30},                        # no remaining score
    {"status": "clustered", "percent_3plus": 10, "remaining_score": "1+"},  # must be >10%
    {"status": "not identified", "percent_3plus": 30},
    {"status": "clustered", "percent_3plus": 30, "remaining_score": "3+"},
])
def test_bad_heterogeneity_is_refused(bad):
    with pytest.raises(ValidationError):
        CaseFile.model_validate({"ihc": {"score": "3+"}, "ihc_heterogeneity": bad})


def test_heterogeneity_needs_an_ihc_result():
    with pytest.raises(ValidationError, match="ihc_heterogeneity"):
        CaseFile.model_validate({"er": {"percent": 50}, "ihc_heterogeneity": {
            "status": "not identified"}})


def test_clustered_3plus_over_10_percent_with_a_2plus_result_is_a_conflict():
    r = report_of({"ihc": {"score": "2+"}, "ihc_heterogeneity": {
        "status": "clustered", "percent_3plus": 20, "remaining_score": "2+"}})
    assert len(r.conflicts) == 1
    assert "20% 3+" in r.conflicts[0] and "2+" in r.conflicts[0]


# ---- (c) IHC score of the separately counted amplified population -----------------------

def test_ihc_score_of_the_amplified_population_is_printed():
    case = {"ihc": {"score": "2+"}, "ish": ish(2.4, 1.9),
            "ish_subpopulation": ish(9.5, 2.0) | {"percent_of_tumour": 15},
            "ish_subpopulation_facts": {"ihc_score": "2+"}}
    r = report_of(case)
    label = "IHC score in the separately counted population"
    assert cap(r, "HER2 by ISH", label) == "2+"
    for text in both(r):
        assert f"{label} 2+" in text
    del case["ish_subpopulation_facts"]
    for text in both(report_of(case)):
        assert f"{label} not given" in text


def test_subpopulation_facts_need_the_subpopulation():
    with pytest.raises(ValidationError, match="ish_subpopulation_facts"):
        CaseFile.model_validate({"ihc": {"score": "2+"}, "ish": ish(2.4, 1.9),
                                 "ish_subpopulation_facts": {"ihc_score": "2+"}})


def test_heterogeneous_example_carries_the_amplified_area_ihc_score():
    case = json.loads((EX / "heterogeneous-amplified.json").read_text())
    for text in both(report_of(case)):
        assert "IHC score in the separately counted population 2+" in text
