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


# --- score_near_cutoff: the deciding share within ±2 points of the 10 % cut --------------

from dataclasses import replace  # noqa: E402

from her2kit.pipelines.ihc import (  # noqa: E402
    NEAR_CUTOFF_FLAG,
    NEAR_CUTOFF_MARGIN_PCT,
    ihc_document,
    near_cutoff,
)


def _call(**pct):
    handed = {"complete_intense": 0.0, "complete_weak_moderate": 0.0,
              "incomplete_moderate_intense": 0.0, "incomplete_faint": 0.0} | pct
    score, rule, _ = ihc_from_percent(IhcPercent(**handed))
    return score, [(n["percent"], n["cut_for"]) for n in near_cutoff(handed, rule)]


@pytest.mark.parametrize(("pct", "score", "near"), [
    # 3+ by complete intense: 11.9 % is within 2 points of 10 %, 12.1 % is not
    ({"complete_intense": 11.9}, "3+", [("complete_intense", "3+")]),
    ({"complete_intense": 12.1}, "3+", []),
    # 2+ by complete staining (60 %), complete intense below the 3+ cut: 8.1 near, 7.9 not
    ({"complete_intense": 8.1, "complete_weak_moderate": 51.9}, "2+",
     [("complete_intense", "3+")]),
    ({"complete_intense": 7.9, "complete_weak_moderate": 52.1}, "2+", []),
    # 2+ by complete weak-to-moderate just over the cut
    ({"complete_weak_moderate": 11.9}, "2+", [("complete", "2+")]),
    ({"complete_weak_moderate": 12.1}, "2+", []),
    # 1+ by faint staining just over the cut; and a 1+ whose moderate share nears the 2+ cut
    ({"incomplete_faint": 11.9}, "1+", [("stained", "1+")]),
    ({"incomplete_faint": 12.1}, "1+", []),
    ({"incomplete_moderate_intense": 8.1, "incomplete_faint": 30.0}, "1+",
     [("complete_or_incomplete_moderate_intense", "2+")]),
    ({"incomplete_moderate_intense": 7.9, "incomplete_faint": 30.0}, "1+", []),
    # 0+ just under the 1+ cut: 8.1 near, 7.9 not
    ({"incomplete_faint": 8.1}, "0+", [("stained", "1+")]),
    ({"incomplete_faint": 7.9}, "0+", []),
    ({}, "0", []),
])
def test_near_cutoff_band(pct, score, near):
    assert _call(**pct) == (score, near)


def test_near_cutoff_margin_is_two_points():
    assert NEAR_CUTOFF_MARGIN_PCT == 2.0
    handed = {"complete_intense": 11.0, "complete_weak_moderate": 0.0,
              "incomplete_moderate_intense": 0.0, "incomplete_faint": 0.0}
    assert near_cutoff(handed, "complete_intense_gt_10") == [
        {"percent": "complete_intense", "value_pct": 11.0, "cut_pct": 10.0, "margin_pct": 2.0,
         "cut_for": "3+"}]
    assert near_cutoff(handed, "complete_intense_gt_10", margin_pct=0.5) == []


def test_near_cutoff_rejects_an_unknown_rule():
    from her2kit.errors import Her2kitInputError

    with pytest.raises(Her2kitInputError, match="unknown IHC rule"):
        near_cutoff(BASE, "no_such_rule")


def test_document_records_the_flag():
    """The flag and its numbers in the score-ihc evidence, from the result's percentages."""
    import numpy as np

    from her2kit.imaging.color.hdab import STANDARD_HDAB_MATRIX
    from her2kit.imaging.ihc.score import IhcOptions, score_ihc_image

    # 100 hematoxylin discs (as in test_boundaries): a real result whose percentages are
    # then replaced by the ones under test
    rr, cc = np.mgrid[:200, :200]
    hem = np.zeros((200, 200))
    for k in range(100):
        hem[(rr - (k // 10 + 0.5) * 20) ** 2 + (cc - (k % 10 + 0.5) * 20) ** 2 <= 25] = 0.5
    rgb = np.clip(np.rint(255 * 10.0 ** -(hem[..., None] * np.array([0.650, 0.704, 0.286]))),
                  0, 255).astype(np.uint8)
    res = score_ihc_image(rgb, pixel_size_um=1.0, options=IhcOptions(
        stain_matrix=STANDARD_HDAB_MATRIX, estimate_stains=False))
    docs = {}
    for intense in (9.0, 13.0):  # 9 % complete intense in a 2+ (near 3+); 13 % a clear 3+
        pct = {"complete_intense": intense, "complete_weak_moderate": 50.0,
               "incomplete_moderate_intense": 0.0, "incomplete_faint": 0.0,
               "none": 50.0 - intense}
        docs[intense] = ihc_document(replace(res, percent_all=pct), image="x.png",
                                     pixel_size_um=1.0, pixel_size_source="test")
    near, clear = docs[9.0], docs[13.0]
    assert near["ihc"]["score"] == "2+" and clear["ihc"]["score"] == "3+"
    assert NEAR_CUTOFF_FLAG in near["evidence"]["quality_flags"]
    assert near["evidence"]["near_cutoff"] == [
        {"percent": "complete_intense", "value_pct": 9.0, "cut_pct": 10.0, "margin_pct": 2.0,
         "cut_for": "3+"}]
    assert NEAR_CUTOFF_FLAG not in clear["evidence"]["quality_flags"]
    assert "near_cutoff" not in clear["evidence"]
