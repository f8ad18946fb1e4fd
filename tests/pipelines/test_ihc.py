"""The image-analysis hand-off to the guideline (score-ihc's JSON document)."""

from __future__ import annotations

import pytest

from her2kit.guideline import IhcPercent, ihc_from_percent
from her2kit.pipelines.ihc import MIN_INTENSE_PCT, guideline_percent

BASE = {"complete_intense": 0.0, "complete_weak_moderate": 2.0,
        "incomplete_moderate_intense": 1.0, "incomplete_faint": 30.0, "none": 67.0}


@pytest.mark.parametrize(("intense", "score", "moved"),
                         [(0.0, "1+", False), (0.2, "1+", True), (0.99, "1+", True),
                          (1.0, "2+", False), (5.0, "2+", False), (10.5, "3+", False)])
def test_intense_floor(intense, score, moved):
    pct = BASE | {"complete_intense": intense, "none": BASE["none"] - intense}
    handed, note = guideline_percent(pct)
    assert ihc_from_percent(IhcPercent(**handed))[0] == score
    assert (note is not None) is moved
    # Nothing is lost: the cells stay in the complete-staining total.
    assert handed["complete_intense"] + handed["complete_weak_moderate"] == pytest.approx(
        intense + BASE["complete_weak_moderate"])


def test_floor_zero_is_the_literal_guideline():
    pct = BASE | {"complete_intense": 0.2, "none": 66.8}
    handed, note = guideline_percent(pct, min_intense_pct=0)
    assert note is None and ihc_from_percent(IhcPercent(**handed))[0] == "2+"
    assert MIN_INTENSE_PCT == 1.0
