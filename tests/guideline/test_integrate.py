"""Integrated HER2 call: every cell of ASCO/CAP 2018 Figs 1–6 and the reflex rules."""

from __future__ import annotations

import pytest

from her2kit.guideline import Case, classify
from her2kit.guideline.comments import GROUP_COMMENTS, HER2_LOW_COMMENT, ULTRALOW_COMMENT
from her2kit.guideline.hormone import ER_LOW_POSITIVE_COMMENT

# Means that land in each group (ratio, HER2/cell): independent of the code.
GROUP_MEANS = {
    1: {"her2_mean": 5.0, "cep17_mean": 2.0},   # 2.50, 5.0
    2: {"her2_mean": 3.6, "cep17_mean": 1.5},   # 2.40, 3.6
    3: {"her2_mean": 6.4, "cep17_mean": 4.0},   # 1.60, 6.4
    4: {"her2_mean": 4.5, "cep17_mean": 3.0},   # 1.50, 4.5
    5: {"her2_mean": 2.2, "cep17_mean": 2.0},   # 1.10, 2.2
}


def _ish(group, probe="dual"):
    return {"probe": probe, "cells_counted": 20, **GROUP_MEANS[group]}


def _run(guideline="asco-cap-2018", **case):
    return classify(Case.model_validate(case), guideline=guideline)


def _steps(r):
    return [s.code for s in r.next_steps]


# --- IHC alone (Fig. 1) ---------------------------------------------------------------------
@pytest.mark.parametrize(
    ("score", "status", "category", "steps"),
    [("3+", "positive", "positive", []), ("2+", "equivocal", "unknown", ["reflex_ish"]),
     ("1+", "negative", "low", []), ("0+", "negative", "ultralow", []),
     ("0", "negative", "null", [])],
)
def test_ihc_alone(score, status, category, steps):
    r = _run(ihc={"score": score})
    assert (r.her2.status, r.her2.category, _steps(r)) == (status, category, steps)
    assert r.ish is None


def test_negative_ihc_carries_the_0_versus_1plus_comment():
    assert HER2_LOW_COMMENT in _run(ihc={"score": "1+"}).comments
    assert ULTRALOW_COMMENT in _run(ihc={"score": "0+"}).comments
    assert ULTRALOW_COMMENT not in _run(ihc={"score": "0"}).comments
    assert HER2_LOW_COMMENT not in _run(ihc={"score": "3+"}).comments


# --- Groups 1 and 5 (Fig. 3) -----------------------------------------------------------------
@pytest.mark.parametrize("score", [None, "0", "0+", "1+", "2+", "3+"])
def test_group_1_is_positive_whatever_the_ihc(score):
    case = {"ish": _ish(1)} | ({"ihc": {"score": score}} if score else {})
    r = _run(**case)
    assert (r.her2.status, r.her2.category, r.next_steps) == ("positive", "positive", [])


@pytest.mark.parametrize(
    ("score", "status", "category"),
    [(None, "negative", "unknown"), ("0", "negative", "null"), ("0+", "negative", "ultralow"),
     ("1+", "negative", "low"), ("2+", "negative", "low"), ("3+", "positive", "positive")],
)
def test_group_5(score, status, category):
    case = {"ish": _ish(5)} | ({"ihc": {"score": score}} if score else {})
    r = _run(**case)
    assert (r.her2.status, r.her2.category) == (status, category)


# --- Groups 2–4 with concurrent IHC (Figs 4–6) -----------------------------------------------
# group → final status with IHC 0/1+, and after a confirming blinded recount with IHC 2+.
TABLE_2_4 = {2: ("negative", "negative"), 3: ("negative", "positive"), 4: ("negative", "negative")}


@pytest.mark.parametrize("group", [2, 3, 4])
@pytest.mark.parametrize("score", ["0", "0+", "1+"])
def test_groups_2_to_4_with_ihc_0_or_1plus(group, score):
    r = _run(ihc={"score": score}, ish=_ish(group))
    assert r.her2.status == TABLE_2_4[group][0]
    assert GROUP_COMMENTS[group] in r.comments
    assert r.her2.category == {"0": "null", "0+": "ultralow", "1+": "low"}[score]


@pytest.mark.parametrize("group", [2, 3, 4])
def test_groups_2_to_4_with_ihc_3plus_are_positive(group):
    r = _run(ihc={"score": "3+"}, ish=_ish(group))
    assert (r.her2.status, r.comments) == ("positive", [])


@pytest.mark.parametrize("group", [2, 3, 4])
def test_groups_2_to_4_with_ihc_2plus_need_a_blinded_recount(group):
    r = _run(ihc={"score": "2+"}, ish=_ish(group))
    assert (r.her2.status, _steps(r)) == ("equivocal", ["blinded_recount"])
    assert "at least 20 cells" in r.next_steps[0].text


@pytest.mark.parametrize("group", [2, 3, 4])
def test_groups_2_to_4_with_ihc_2plus_and_confirming_recount(group):
    r = _run(ihc={"score": "2+"}, ish=_ish(group), ish_recount=_ish(group))
    assert r.her2.status == TABLE_2_4[group][1]
    assert r.next_steps == []
    assert (GROUP_COMMENTS[group] in r.comments) is (group != 3)
    assert r.her2.category == ("positive" if group == 3 else "low")


@pytest.mark.parametrize(
    ("group", "other"), [(g, o) for g in (2, 3, 4) for o in (1, 2, 3, 4, 5) if o != g]
)
def test_recount_in_another_group_goes_to_adjudication(group, other):
    r = _run(ihc={"score": "2+"}, ish=_ish(group), ish_recount=_ish(other))
    assert (r.her2.status, _steps(r)) == ("equivocal", ["adjudicate"])


@pytest.mark.parametrize("group", [2, 3, 4])
def test_groups_2_to_4_without_ihc_need_ihc_workup(group):
    r = _run(ish=_ish(group))
    assert (r.her2.status, r.her2.category, _steps(r)) == ("equivocal", "unknown", ["ihc_workup"])


def test_recount_not_needed_is_reported_but_not_used():
    r = _run(ihc={"score": "1+"}, ish=_ish(2), ish_recount=_ish(1))
    assert r.her2.status == "negative"
    assert any("does not need one" in line for line in r.rationale)


# --- Single-probe ISH (Fig. 2) -----------------------------------------------------------------
def _single(her2):
    return {"probe": "single", "cells_counted": 20, "her2_mean": her2}


@pytest.mark.parametrize(
    ("her2", "score", "status", "steps"),
    [
        (6.0, None, "positive", []), (3.99, None, "negative", []),
        (3.99, "3+", "positive", []),
        (5.0, "3+", "positive", []), (5.0, "0", "negative", []), (5.0, "0+", "negative", []),
        (5.0, "1+", "negative", []), (5.0, "2+", "equivocal", ["dual_probe_ish"]),
        (4.0, None, "equivocal", ["ihc_workup", "dual_probe_ish"]),
        (5.99, "2+", "equivocal", ["dual_probe_ish"]),
    ],
)
def test_single_probe(her2, score, status, steps):
    case = {"ish": _single(her2)} | ({"ihc": {"score": score}} if score else {})
    r = _run(**case)
    assert (r.her2.status, _steps(r)) == (status, steps)


@pytest.mark.parametrize(
    ("group", "score", "status", "steps"),
    [(1, "2+", "positive", []), (5, "2+", "negative", []), (1, None, "positive", []),
     (5, None, "negative", []), (3, "2+", "equivocal", ["blinded_recount"]),
     (4, "1+", "negative", []), (2, "3+", "positive", [])],
)
def test_single_probe_workup_with_dual_probe(group, score, status, steps):
    case = {"ish": _single(5.0), "ish_workup": _ish(group)}
    case |= {"ihc": {"score": score}} if score else {}
    r = _run(**case)
    assert (r.her2.status, _steps(r)) == (status, steps)


# --- Rejection → indeterminate ------------------------------------------------------------------
@pytest.mark.parametrize(
    ("score", "status", "steps"),
    [(None, "indeterminate", ["repeat_test"]), ("2+", "indeterminate", ["repeat_test"]),
     ("3+", "positive", []), ("1+", "negative", [])],
)
def test_rejected_ish(score, status, steps):
    ish = _ish(1) | {"qc": {"controls_as_expected": False}}
    case = {"ish": ish} | ({"ihc": {"score": score}} if score else {})
    r = _run(**case)
    assert (r.her2.status, _steps(r)) == (status, steps)
    assert r.ish.group is None


def test_rejected_ihc_alone_is_indeterminate():
    r = _run(ihc={"score": "3+", "qc": {"controls_as_expected": False}})
    assert (r.her2.status, _steps(r), r.ihc.score) == ("indeterminate", ["repeat_test"], None)


def test_rejected_ihc_leaves_groups_2_to_4_to_ihc_workup():
    r = _run(ihc={"score": "1+", "qc": {"artifacts_involve_most_of_sample": True}}, ish=_ish(4))
    assert (r.her2.status, _steps(r)) == ("equivocal", ["ihc_workup"])


# --- Heterogeneity ------------------------------------------------------------------------------
@pytest.mark.parametrize(("share", "status"), [(10.1, "positive"), (10, "negative"),
                                                 (40, "positive")])
def test_amplified_subpopulation_over_10_percent_makes_positive(share, status):
    r = _run(ihc={"score": "1+"}, ish=_ish(5),
             ish_subpopulation=_ish(1) | {"percent_of_tumour": share})
    assert r.her2.status == status
    assert r.ish_subpopulation.group == 1 and r.ish_subpopulation.percent_of_tumour == share
    assert any(c.startswith("Heterogeneity") for c in r.comments)


# --- ER/PgR in the case -------------------------------------------------------------------------
def test_er_low_positive_adds_its_comment():
    r = _run(er={"percent": 5, "intensity": "weak"}, pr={"percent": 0})
    assert r.her2 is None and r.er.status == "low positive" and r.pr.status == "negative"
    assert ER_LOW_POSITIVE_COMMENT in r.comments


# --- 2013 ---------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("means", "score", "status"),
    [(GROUP_MEANS[2], None, "positive"),           # ratio ≥2.0 → positive under 2013
     (GROUP_MEANS[3], "1+", "positive"),           # ≥6 copies → positive under 2013
     (GROUP_MEANS[4], "1+", "negative"), (GROUP_MEANS[4], "3+", "positive"),
     (GROUP_MEANS[4], "2+", "equivocal"), (GROUP_MEANS[5], "2+", "negative")],
)
def test_2013_integration(means, score, status):
    case = {"ish": {"probe": "dual", "cells_counted": 20, **means}}
    case |= {"ihc": {"score": score}} if score else {}
    r = _run("asco-cap-2013", **case)
    assert r.her2.status == status and r.guideline == "asco-cap-2013"


def test_every_result_names_guideline_and_sign_out():
    r = _run(ihc={"score": "2+"})
    assert r.guideline == "asco-cap-2018"
    assert "pathologist" in r.disclaimer and "2018" in r.disclaimer
