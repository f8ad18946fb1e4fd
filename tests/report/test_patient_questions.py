"""Issue 12, patient questions: the fifteen questions of the patient article, each answered
from the case, from the sourced answers file, or with why only the care team can, and each
answer depending on the setting. Literals come from the issue and the cited sources."""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime
from pathlib import Path

import pytest

from her2kit.casefile import CaseFile
from her2kit.report.build import build_report
from her2kit.report.patient import automated_readability_index, load_answers, patient_summary

REPO = Path(__file__).resolve().parents[2]
EX = REPO / "examples" / "report"
WHEN = datetime(2026, 11, 25, 12, 0, tzinfo=UTC)
EARLY = {"cT": "T1c", "cN": "N0", "M": "M0", "setting": "early"}
MET = {"M": "M1", "metastatic_sites": ["liver"], "setting": "metastatic"}
POS = {"ihc": {"score": "3+"}, "er": {"percent": 0}, "pr": {"percent": 0}}
LOW_HR = {"ihc": {"score": "1+"}, "er": {"percent": 90}}
LOW_TN = {"ihc": {"score": "1+"}, "er": {"percent": 0}, "pr": {"percent": 0}}
PENDING = {"ish": {"probe": "dual", "cells_counted": 20, "her2_mean": 4.8, "cep17_mean": 3.0}}
FIFTEEN = (
    "How are you sure of my HER2 result?",
    "What does my HER2 result mean for my treatment?",
    "Where exactly is my cancer?",
    "What is the stage of my cancer, and what does it mean?",
    "What are my treatment options?",
    "Do I need chemotherapy?",
    "Do I need radiation?",
    "Do I need hormone treatment?",
    "Do I need to have my breast removed?",
    "How will the treatment make me feel? What side effects can it have?",
    "Will I be able to work?",
    "Will my insurance cover my treatment?",
    "What if my cancer doesn't respond to treatment?",
    "Is there a clinical trial I should consider?",
    "Will I need more tests?",
)


def summary(results: dict, tumour: dict | None, specimen: dict | None = None, **kw):
    case = dict(results)
    if tumour is not None:
        case["tumour"] = tumour
    case["specimen"] = specimen or {
        "type": "metastasis biopsy" if tumour and tumour.get("M") == "M1" else "core biopsy",
        "site": "liver" if tumour and tumour.get("M") == "M1" else "left breast",
        "laterality": "left"}
    return patient_summary(build_report(CaseFile.model_validate(case), generated_at=WHEN,
                                        base_dir=EX), **kw)


def q(s, question: str):
    (hit,) = [x for x in s.questions if x.question == question]
    return hit


@pytest.mark.parametrize("results", [POS, LOW_HR, LOW_TN, PENDING])
@pytest.mark.parametrize("tumour", [EARLY, MET, None])
def test_all_fifteen_are_answered_and_none_recommends(results, tumour):
    s = summary(results, tumour)
    assert tuple(x.question for x in s.questions) == FIFTEEN
    for x in s.questions:
        assert x.answer, x.question
        assert x.basis in ("case", "knowledge", "care team")
        assert (x.basis == "knowledge") <= bool(x.sources) or x.question == FIFTEEN[4]
        low = x.answer.lower()
        for word in ("we recommend", "you should", "you need to", "you must"):
            assert word not in low, (x.question, word)


def test_where_comes_from_the_case_and_the_setting():
    assert "left breast (left side)" not in q(summary(LOW_HR, EARLY), FIFTEEN[2]).answer
    early = q(summary(LOW_HR, EARLY), FIFTEEN[2]).answer
    assert early.startswith("The tissue tested came from: left breast.")
    assert "spread" not in early
    met = q(summary(LOW_HR, MET), FIFTEEN[2]).answer
    assert "came from: liver" in met and "has spread to: liver" in met
    none = q(summary(LOW_HR, EARLY, specimen={"type": "core biopsy"}), FIFTEEN[2]).answer
    assert "does not say where the tissue came from" in none


def test_treatment_options_point_to_the_table_for_the_setting_and_wait_for_a_final_result():
    early = q(summary(POS, EARLY), FIFTEEN[4])
    assert "for cancer that has not spread" in early.answer and "not a plan for you" in early.answer
    met = q(summary(POS, MET), FIFTEEN[4]).answer
    assert "for cancer that has spread" in met and "earlier treatment" in met
    pending = q(summary(PENDING, EARLY), FIFTEEN[4])
    assert "not final yet" in pending.answer and pending.basis == "care team"


def test_chemotherapy_by_result_and_setting():
    early = q(summary(POS, EARLY), FIFTEEN[5])
    assert early.basis == "knowledge" and "before or after surgery" in early.answer
    assert any("APHINITY" in src for src in early.sources)
    met = q(summary(POS, MET), FIFTEEN[5])
    assert "has spread" in met.answer and "surgery" not in met.answer
    assert any("CLEOPATRA" in src for src in met.sources)
    hr_early = q(summary(LOW_HR, EARLY), FIFTEEN[5])
    assert "gene test" in hr_early.answer and any("TAILORx" in x for x in hr_early.sources)
    tn = q(summary(LOW_TN, EARLY), FIFTEEN[5])  # no general answer: said plainly why
    assert tn.basis == "care team" and "only your oncologist can" in tn.answer
    assert "not final yet" in q(summary(PENDING, EARLY), FIFTEEN[5]).answer


def test_radiation_and_surgery_depend_on_the_setting():
    r_early = q(summary(LOW_HR, EARLY), FIFTEEN[6])
    assert "After surgery that keeps the breast" in r_early.answer
    assert "surgeon" in r_early.answer and any("Lancet 2011" in x for x in r_early.sources)
    r_met = q(summary(LOW_HR, MET), FIFTEEN[6]).answer
    assert "not the main treatment" in r_met and "After surgery" not in r_met
    s_early = q(summary(POS, EARLY), FIFTEEN[8])
    assert "keep the breast" in s_early.answer and "surgeon" in s_early.answer
    s_met = q(summary(POS, MET), FIFTEEN[8])
    # A metastatic case is never told about surgery as if it were curative.
    assert "not the main treatment" in s_met.answer and "keep the breast" not in s_met.answer
    assert any("E2108" in x for x in s_met.sources)
    unknown = q(summary(POS, None), FIFTEEN[8])
    assert unknown.basis == "care team" and "whether the cancer has spread" in unknown.answer


def test_hormone_answer_from_the_receptors():
    assert "usually part of treatment" in q(summary(LOW_HR, EARLY), FIFTEEN[7]).answer
    assert "not expected to help" in q(summary(LOW_TN, EARLY), FIFTEEN[7]).answer
    no_hr = q(summary({"ihc": {"score": "1+"}}, EARLY), FIFTEEN[7]).answer
    assert "not part of these results" in no_hr


def test_side_effects_follow_the_treatments_shown():
    pos_early = q(summary(POS, EARLY), FIFTEEN[9])
    assert "heart" in pos_early.answer and "scan before and during" in pos_early.answer
    assert "interstitial lung disease" not in pos_early.answer  # T-DXd is not shown early
    assert any("Herceptin" in x for x in pos_early.sources)
    low_met = q(summary(LOW_HR, MET), FIFTEEN[9])
    assert "interstitial lung disease" in low_met.answer and "hot flushes" in low_met.answer
    assert any("Enhertu" in x for x in low_met.sources)
    pending = q(summary(PENDING, EARLY), FIFTEEN[9])
    assert pending.basis == "care team" and "depends on which treatment" in pending.answer


def test_work_and_insurance_say_why_only_the_care_team_can_answer():
    s = summary(POS, EARLY)
    for i in (10, 11):
        assert q(s, FIFTEEN[i]).basis == "care team"
        assert q(s, FIFTEEN[i]).answer.startswith("This report cannot answer this")
    assert "insurer" in q(s, FIFTEEN[11]).answer


def test_no_response_by_setting():
    met = q(summary(POS, MET), FIFTEEN[12])
    assert "T-DXd" in met.answer and any("DESTINY-Breast03" in x for x in met.sources)
    early = q(summary(POS, EARLY), FIFTEEN[12])
    assert "T-DM1" in early.answer and "T-DXd" not in early.answer
    assert q(summary(LOW_TN, MET), FIFTEEN[12]).basis == "care team"
    assert "not final yet" in q(summary(PENDING, MET), FIFTEEN[12]).answer


def test_trials_and_more_tests_from_the_case():
    none = q(summary(POS, EARLY), FIFTEEN[13])
    assert "did not search for trials" in none.answer
    found = q(summary(POS, EARLY, trials=[{"nct_id": "NCT1", "title": "t", "url": "u"}]),
              FIFTEEN[13])
    assert "listed above" in found.answer
    assert "second count of the HER2 gene copies" in q(summary(
        {"ihc": {"score": "2+"}} | PENDING, EARLY), FIFTEEN[14]).answer
    assert "no more tests on this tissue" in q(summary(POS, EARLY), FIFTEEN[14]).answer


def test_every_general_answer_has_a_source():
    entries = load_answers()["entries"]
    assert {e["question"] for e in entries} == {"side_effects", "chemotherapy", "radiation",
                                               "surgery", "no_response"}
    assert all(e["sources"] and e["text"] for e in entries)


def test_automated_readability_index_by_hand():
    # "The cat sat. It ran home.": 18 letters, 6 words, 2 sentences:
    # 4.71 × 3 + 0.5 × 3 − 21.43 = −5.8 (by hand).
    assert automated_readability_index("The cat sat. It ran home.") == pytest.approx(-5.8)
    # A line break ends a sentence (headings): 2 sentences again.
    assert automated_readability_index("The cat sat\nIt ran home") == pytest.approx(-5.8)


@pytest.mark.parametrize("name", ["demo-case", "failed-controls", "group4-awaiting-recount",
                                  "heterogeneous-amplified", "image-analysis-positive-metastatic",
                                  "missing-facts-conflicts", "ultralow-metastatic-liver"])
def test_reading_level_grade_5_to_7_by_two_methods(name):
    case = json.loads((EX / f"{name}.json").read_text())
    s = patient_summary(build_report(CaseFile.model_validate(case), generated_at=WHEN,
                                     base_dir=EX))
    assert 5.0 <= s.readability["flesch_kincaid_grade"] <= 7.0  # textstat (syllables)
    assert 4.0 <= s.readability["automated_readability_index"] <= 7.0  # characters, our own
    assert not re.search(r"\bwe are sure\b", s.plain_text(), re.I)


def test_how_sure_names_failed_preanalytics_and_a_rejected_ihc():
    case = json.loads((EX / "failed-controls.json").read_text())
    s = patient_summary(build_report(CaseFile.model_validate(case), generated_at=WHEN,
                                     base_dir=EX))
    sure = q(s, FIFTEEN[0]).answer
    assert "fixing liquid" in sure and "less reliable" in sure  # fixation 80 h, cold 75 min
    assert "protein test (IHC) could not be used" in sure
    # A final negative result with nothing in the table does not say "until final".
    assert s.treatments == [] and "until the result is final" not in s.treatments_note
    assert "care team" in s.treatments_note
    assert "until the result is final" in summary(PENDING, EARLY).treatments_note
