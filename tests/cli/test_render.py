"""The score-ihc text summary names a near-cutoff call with its share, cut and margin."""

from __future__ import annotations

import io

from rich.console import Console

from her2kit.cli.render import print_ihc_image_summary


def _doc(near):
    ev = {"cells_counted": 300, "cells_detected": 310, "roi_used": True,
          "percent_all": {"complete_intense": 9.21, "none": 90.79},
          "counts": {"complete_intense": 28, "none": 272}, "h_score": 27.6,
          "quality_flags": ["score_near_cutoff"] if near else []}
    if near:
        ev["near_cutoff"] = [{"percent": "complete_intense", "value_pct": 9.21,
                              "cut_pct": 10.0, "margin_pct": 2.0, "cut_for": "3+"}]
    return {"image": "x.png", "pixel_size_um": 0.25, "pixel_size_source": "--mpp",
            "ihc": {"score": "2+", "label": "Equivocal (2+)"}, "evidence": ev,
            "rationale": [], "disclaimer": "not for clinical use"}


def _text(doc):
    buf = io.StringIO()
    print_ihc_image_summary(doc, written=[], console=Console(file=buf, width=200))
    return buf.getvalue()


def test_near_cutoff_line():
    text = _text(_doc(True))
    assert "quality flags: score_near_cutoff" in text
    assert ("near the cut-off: complete intense 9.21% is within ±2 points of the 10% cut "
            "for 3+") in text
    assert "near the cut-off" not in _text(_doc(False))
