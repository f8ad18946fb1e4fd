"""The report's content: CAP fields, methods, pre-analytics, missing facts, conflicts."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

import pytest

from her2kit.casefile import CaseFile
from her2kit.errors import Her2kitInputError
from her2kit.report.build import build_report

REPO = Path(__file__).resolve().parents[2]
DEMO = json.loads((REPO / "examples" / "report" / "demo-case.json").read_text())
WHEN = datetime(2026, 11, 25, 12, 0, tzinfo=UTC)


def build(case: dict, **kw):
    return build_report(CaseFile.model_validate(case), generated_at=WHEN, **kw)


def fields(report) -> dict[tuple[str, str], str | None]:
    return {(f.section, f.label): f.value for f in [*report.cap_fields, *report.methods]}


def test_every_cap_field_appears_when_its_data_is_given():
    f = fields(build(DEMO))
    expected = {
        ("HER2 by IHC", "Result"): "Equivocal (2+)",
        ("HER2 by IHC", "Percentage of cells with uniform intense complete membrane staining"):
            "0%",
        ("HER2 by ISH", "Result"): "Negative (Group 4 with IHC 2+)",
        ("HER2 by ISH", "Number of observers"): "2",
        ("HER2 by ISH", "Number of invasive tumor cells counted"): "20",
        ("HER2 by ISH", "Average number of HER2 signals per cell"): "4.90",
        ("HER2 by ISH", "Average number of CEP17 signals per cell"): "3.10",
        ("HER2 by ISH", "HER2/CEP17 ratio"): "1.58",
        ("HER2", "Final HER2 status (integrated)"): "Negative",
        ("Estrogen receptor (ER)", "Result"): "Positive (>10%)",
        ("Estrogen receptor (ER)", "Percentage of cells with nuclear positivity"): "95%",
        ("Estrogen receptor (ER)", "Average intensity of staining"): "Strong",
        ("Estrogen receptor (ER)", "Allred score"): "8 (proportion 5 + intensity 3)",
        ("Progesterone receptor (PgR)", "Result"): "Positive (≥1%)",
        ("Progesterone receptor (PgR)", "Allred score"): "5 (proportion 3 + intensity 2)",
        ("Methods", "HER2 IHC assay"): "PATHWAY HER2 (4B5) (Roche/Ventana)",
        ("Methods", "HER2 IHC test type"): "FDA-approved",
        ("Methods", "HER2 ISH assay"): "INFORM HER2 Dual ISH (Roche/Ventana)",
        ("Methods", "ER test type"): "FDA-cleared",
        ("Methods", "Quantitative image analysis used"): "No",
    }
    for key, value in expected.items():
        assert f[key] == value, key
    assert f[("HER2 by ISH", "Heterogeneity")] == "Not identified"


def test_complete_case_has_nothing_missing_and_passes_preanalytics():
    r = build(DEMO)
    assert r.missing == [] and r.conflicts == []
    assert [p.met for p in r.preanalytics] == ["yes", "yes", "yes"]
    assert r.stage.group == "IA"


def test_missing_facts_are_listed_not_blank():
    r = build({"ihc": {"score": "2+"}, "er": {"percent": 5}})
    text = " ".join(r.missing)
    for fact in ("specimen.type", "specimen.fixation_time_h", "specimen.cold_ischemia_min",
                 "controls.ihc_external", "controls.er_internal", "assays.ihc", "assays.er",
                 "ihc.percent"):
        assert fact in text


@pytest.mark.parametrize(("hours", "met"), [(5.9, "no"), (6, "yes"), (72, "yes"), (72.5, "no")])
def test_fixation_time_window(hours, met):
    case = DEMO | {"specimen": DEMO["specimen"] | {"fixation_time_h": hours}}
    assert build(case).preanalytics[1].met == met


def test_typed_status_that_disagrees_is_flagged_and_engine_wins():
    r = build(DEMO | {"reported_status": {"her2": "positive", "er": "positive"}})
    assert r.result.her2.status == "negative"
    assert len(r.conflicts) == 1 and "typed as 'positive'" in r.conflicts[0]


def test_unknown_assay_is_refused_but_ldt_is_accepted():
    bad = DEMO | {"assays": DEMO["assays"] | {"ihc": {"name": "HER2 Magic Kit"}}}
    with pytest.raises(Her2kitInputError, match=r"assays\.ihc\.name: unknown assay 'HER2 Magic"):
        build(bad)
    ldt = DEMO | {"assays": DEMO["assays"] | {"ihc": {"name": "In-house A0485", "ldt": True}}}
    assert fields(build(ldt))[("Methods", "HER2 IHC test type")] == "Laboratory-developed test"


def test_assay_of_the_wrong_test_is_refused():
    bad = DEMO | {"assays": DEMO["assays"] | {"ihc": {"name": "INFORM HER2 Dual ISH"}}}
    with pytest.raises(Her2kitInputError, match="is a ISH assay, not IHC"):
        build(bad)


def _image_result(tmp_path: Path, block: dict) -> str:
    path = tmp_path / "ia.json"
    path.write_text(json.dumps({"kind": "score-ihc", "case_input": block,
                                "evidence": {"cells_counted": 812}}))
    return str(path)


def test_image_analysis_result_fills_a_missing_block(tmp_path):
    case = {k: v for k, v in DEMO.items() if k != "ihc"}
    case["image_analysis"] = [_image_result(
        tmp_path, {"ihc": {"percent": {"complete_weak_moderate": 30}}})]
    r = build(case)
    assert r.result.ihc.score == "2+" and r.images[0].evidence["cells_counted"] == 812
    assert fields(r)[("Methods", "Quantitative image analysis used")] == "Yes (her2kit)"


def test_image_analysis_result_that_does_not_match_the_case_is_refused(tmp_path):
    case = DEMO | {"image_analysis": [_image_result(
        tmp_path, {"ihc": {"percent": {"complete_intense": 60}}})]}
    with pytest.raises(Her2kitInputError, match="does not match the case"):
        build(case)


def test_not_an_image_analysis_file_is_refused(tmp_path):
    (tmp_path / "x.json").write_text('{"kind": "photo"}')
    with pytest.raises(Her2kitInputError, match="not an image-analysis result"):
        build(DEMO | {"image_analysis": [str(tmp_path / "x.json")]})
