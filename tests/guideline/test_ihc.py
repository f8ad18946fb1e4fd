"""IHC score: every row of ASCO/CAP 2018 Fig. 1, the unusual 2+ patterns, and the 10 % edges."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from her2kit.errors import Her2kitInputError
from her2kit.guideline import IhcInput, IhcPercent, ihc_from_percent, ihc_result

# (percent per class, expected score, expected rule) — independent of the code:
# read off the guideline table with the cumulative reading the module documents.
PERCENT_ROWS = [
    ({"complete_intense": 10.1}, "3+", "complete_intense_gt_10"),
    ({"complete_intense": 100}, "3+", "complete_intense_gt_10"),
    ({"complete_intense": 10}, "2+", "complete_intense_le_10"),
    ({"complete_intense": 0.1, "incomplete_faint": 50}, "2+", "complete_intense_le_10"),
    ({"complete_intense": 10, "complete_weak_moderate": 0.1}, "2+",
     "complete_weak_moderate_gt_10"),
    ({"complete_weak_moderate": 10.1}, "2+", "complete_weak_moderate_gt_10"),
    ({"complete_weak_moderate": 90}, "2+", "complete_weak_moderate_gt_10"),
    ({"complete_weak_moderate": 10}, "0+", "faint_le_10"),
    ({"incomplete_moderate_intense": 10.1}, "2+", "incomplete_moderate_intense_gt_10"),
    ({"incomplete_moderate_intense": 6, "complete_weak_moderate": 6}, "2+",
     "incomplete_moderate_intense_gt_10"),
    ({"incomplete_moderate_intense": 10}, "0+", "faint_le_10"),
    ({"incomplete_faint": 10.1}, "1+", "incomplete_faint_gt_10"),
    ({"incomplete_faint": 100}, "1+", "incomplete_faint_gt_10"),
    ({"incomplete_faint": 6, "complete_weak_moderate": 5}, "1+", "incomplete_faint_gt_10"),
    ({"incomplete_faint": 10}, "0+", "faint_le_10"),
    ({"incomplete_faint": 0.1}, "0+", "faint_le_10"),
    ({}, "0", "no_staining"),
]


@pytest.mark.parametrize(("percent", "score", "rule"), PERCENT_ROWS)
def test_score_from_percent_2018(percent, score, rule):
    got_score, got_rule, why = ihc_from_percent(IhcPercent(**percent))
    assert (got_score, got_rule) == (score, rule)
    assert score in why


@pytest.mark.parametrize(
    ("percent", "score"),
    [
        ({"complete_intense": 10.1}, "3+"),
        ({"complete_weak_moderate": 10.1}, "2+"),
        ({"incomplete_moderate_intense": 10.1}, "2+"),
        ({"complete_intense": 5}, "2+"),
        ({"incomplete_faint": 10.1}, "1+"),
        ({"incomplete_faint": 10}, "0+"),
        ({}, "0"),
    ],
)
def test_score_from_percent_2013(percent, score):
    got, rule, _ = ihc_from_percent(IhcPercent(**percent), guideline="asco-cap-2013")
    assert got == score
    if percent.get("complete_weak_moderate"):
        assert rule == "incomplete_or_weak_moderate_gt_10"


@pytest.mark.parametrize(
    ("score", "status"),
    [("0", "negative"), ("0+", "negative"), ("1+", "negative"), ("2+", "equivocal"),
     ("3+", "positive")],
)
def test_manual_score_status_and_cap_label(score, status):
    r = ihc_result(IhcInput(score=score))
    assert (r.score, r.status, r.source) == (score, status, "manual")
    assert r.label.startswith({"negative": "Negative", "equivocal": "Equivocal",
                               "positive": "Positive"}[status])


def test_percent_complete_intense_is_carried_for_the_cap_field():
    r = ihc_result(IhcInput(percent=IhcPercent(complete_intense=35, incomplete_faint=20)))
    assert r.percent_complete_intense == 35
    assert r.percent["incomplete_faint"] == 20


def test_score_that_contradicts_percent_is_refused():
    with pytest.raises(Her2kitInputError, match=r"ihc.score: score 1\+ contradicts .* give 3\+"):
        ihc_result(IhcInput(score="1+", percent=IhcPercent(complete_intense=50)))


def test_score_that_agrees_with_percent_is_accepted():
    r = ihc_result(IhcInput(score="1+", percent=IhcPercent(incomplete_faint=50)))
    assert r.score == "1+" and r.source == "percent"


@pytest.mark.parametrize(
    "qc",
    [
        {"controls_as_expected": False},
        {"artifacts_involve_most_of_sample": True},
        {"internal_control_ducts_strongly_stained": True},
    ],
)
def test_rejection_criteria_make_ihc_indeterminate(qc):
    r = ihc_result(IhcInput.model_validate({"score": "3+", "qc": qc}))
    assert r.score is None and r.status == "indeterminate"
    assert len(r.rejected_because) == 1


@pytest.mark.parametrize(
    "percent",
    [{"complete_intense": -1}, {"incomplete_faint": 100.5}, {"complete_intense": 60,
     "incomplete_faint": 41}, {"complete_intense": "50"}],
)
def test_bad_percentages_are_refused(percent):
    with pytest.raises(ValidationError):
        IhcPercent.model_validate(percent)


def test_percentages_summing_to_exactly_100_are_accepted():
    p = IhcPercent(complete_intense=25, complete_weak_moderate=25,
                   incomplete_moderate_intense=25, incomplete_faint=25)
    assert p.stained_total == 100
