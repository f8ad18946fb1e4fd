"""IHC calibration (issue 10): the grid search, leave-one-out, the file, on known measures."""

from __future__ import annotations

import numpy as np
import pytest

from her2kit.errors import Her2kitInputError
from her2kit.imaging.ihc.membrane import MembraneMeasures, MembraneThresholds
from her2kit.imaging.ihc.robust import WhitePoint
from her2kit.pipelines.calibrate import (
    ControlMeasures,
    calibration_from_dict,
    fit_calibration,
    options_from_calibration,
    score_from_measures,
)

WHITE = WhitePoint((240.0, 240.0, 240.0), "glass", 0.3, ())


def _cells(n_none, n_faint, n_moderate, n_intense, seed=0):
    """Cells with a known pattern: none (no sector), faint (6 / 24 sectors at 0.06 OD),
    moderate (24 / 24 at 0.15 OD), intense (24 / 24 at 0.45 OD); ridge = the OD."""
    rng = np.random.default_rng(seed)
    rows = []
    for n, k, od in ((n_none, 0, 0.0), (n_faint, 6, 0.06), (n_moderate, 24, 0.15),
                     (n_intense, 24, 0.45)):
        for _ in range(n):
            r = np.full(24, 0.005, np.float32)
            r[:k] = od + rng.normal(0, 0.003, k).astype(np.float32)
            rows.append(r)
    sectors = np.array(rows, np.float32)
    n = len(rows)
    return MembraneMeasures(np.arange(1, n + 1, dtype=np.int32), sectors,
                            np.zeros(n, np.float32), np.zeros(n, np.float32), 0.4, 1.5,
                            sectors.copy())


def _control(name, score, mix, tissue="breast", seed=0):
    return ControlMeasures(name, score, tissue, _cells(*mix, seed=seed), 1, WHITE)


CONTROLS = [
    _control("a0", "0", (100, 0, 0, 0)),
    _control("b0", "0", (97, 3, 0, 0), seed=1),
    _control("a1", "1+", (60, 40, 0, 0), seed=2),
    _control("b1", "1+", (70, 30, 0, 0), seed=3),
    _control("a2", "2+", (50, 10, 40, 0), seed=4),
    _control("b2", "2+", (60, 10, 30, 0), seed=5),
    _control("a3", "3+", (40, 0, 10, 50), seed=6),
    _control("b3", "3+", (50, 0, 10, 40), seed=7),
]


def test_the_classical_thresholds_score_the_known_patterns():
    # Checks the test data against the documented rules first (faint 0.05, moderate 0.14).
    t = MembraneThresholds()
    assert [score_from_measures(c.measures, t) for c in CONTROLS] == [
        "0", "0+", "1+", "1+", "2+", "2+", "3+", "3+"]


def test_fit_agrees_in_sample_and_leave_one_out():
    cal = fit_calibration(CONTROLS)
    ev = cal.evidence["breast"]
    assert ev["n_controls"] == 8
    assert ev["in_sample_exact"] == 8
    assert ev["leave_one_out_exact"] == 8
    assert ev["in_sample_gross_errors"] == 0
    t = cal.thresholds["breast"]
    assert 0.15 <= t.intense_od <= 0.45
    assert t.complete_pct >= 60  # breast completeness is never lowered below 60 %
    assert set(cal.thresholds) == {"breast"}


def test_calibration_file_round_trip_and_options():
    cal = fit_calibration(CONTROLS)
    doc = cal.as_dict()
    assert doc["kind"] == "ihc-calibration"
    again = calibration_from_dict(doc)
    assert again.thresholds["breast"] == cal.thresholds["breast"]
    o = options_from_calibration(again, "breast")
    assert o.thresholds == cal.thresholds["breast"]
    assert o.white_point == "auto" and o.membrane_baseline == "cell_cytoplasm"
    with pytest.raises(Her2kitInputError, match="gastric"):
        options_from_calibration(again, "gastric")


@pytest.mark.parametrize("doc", [{}, {"kind": "other"},
                                 {"kind": "ihc-calibration", "thresholds": {"lung": {}}},
                                 {"kind": "ihc-calibration",
                                  "thresholds": {"breast": {"faint_od": -1}}}])
def test_bad_calibration_documents_are_refused(doc):
    with pytest.raises(Her2kitInputError):
        calibration_from_dict(doc)


def test_one_control_per_tissue_is_refused():
    with pytest.raises(Her2kitInputError, match="leave-one-out"):
        fit_calibration(CONTROLS[:1])
