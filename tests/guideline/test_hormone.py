"""ER/PgR (ASCO/CAP 2020) thresholds and the Allred table."""

from __future__ import annotations

import pytest

from her2kit.errors import Her2kitInputError
from her2kit.guideline import HormoneReceptorInput, allred_proportion_score
from her2kit.guideline import hormone_receptor_result as result


@pytest.mark.parametrize(
    ("percent", "status"),
    [(0, "negative"), (0.99, "negative"), (1, "low positive"), (5, "low positive"),
     (10, "low positive"), (10.01, "positive"), (11, "positive"), (100, "positive")],
)
def test_er_status(percent, status):
    assert result("ER", HormoneReceptorInput(percent=percent)).status == status


@pytest.mark.parametrize(
    ("percent", "status"),
    [(0, "negative"), (0.99, "negative"), (1, "positive"), (10, "positive"), (50, "positive")],
)
def test_pgr_status(percent, status):
    assert result("PgR", HormoneReceptorInput(percent=percent)).status == status


# Allred proportion score: 0 none, 1 <1 %, 2 1–10 %, 3 11–33 %, 4 34–66 %, 5 ≥67 %.
@pytest.mark.parametrize(
    ("percent", "score"),
    [(0, 0), (0.1, 1), (0.99, 1), (1, 2), (10, 2), (11, 3), (33, 3), (34, 4), (66, 4),
     (67, 5), (100, 5)],
)
def test_allred_proportion_table(percent, score):
    assert allred_proportion_score(percent) == score


@pytest.mark.parametrize(
    ("percent", "intensity", "total"),
    [(0, "none", 0), (0, None, None), (0.5, "weak", 2), (5, "moderate", 4), (20, "strong", 6),
     (50, "moderate", 6), (90, "strong", 8), (70, "weak", 6)],
)
def test_allred_total(percent, intensity, total):
    r = result("ER", HormoneReceptorInput(percent=percent, intensity=intensity))
    assert r.allred == total


def test_intensity_none_with_staining_is_refused():
    with pytest.raises(Her2kitInputError, match=r"er\.intensity: intensity 'none' contradicts"):
        result("ER", HormoneReceptorInput(percent=20, intensity="none"))


def test_intensity_with_zero_percent_is_refused():
    with pytest.raises(Her2kitInputError, match=r"pr\.intensity"):
        result("PgR", HormoneReceptorInput(percent=0, intensity="strong"))
