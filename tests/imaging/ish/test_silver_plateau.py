"""Dual ISH silver: one dot on a plateau of nuclear texture is not a cluster (issue 11,
branch dish3clust; :data:`~her2kit.imaging.ish.signals.PLATEAU_AREA_PER_PEAK`).

A cluster candidate of one maximum, not dense, whose mask area is more than 5 single-dot
areas per single-dot height of its peak counts one dot: copies merged into one maximum
pile up, a dot whose half-height mask spreads over texture keeps a dot's peak.
"""

from __future__ import annotations

import numpy as np
import pytest

from her2kit.errors import Her2kitInputError
from her2kit.imaging.ish import BrightfieldIshOptions
from her2kit.imaging.ish import signals as sig


def _regions(areas, maxima, integ):
    """A _Regions with one row per area (index 0 = background), all inside nuclei."""
    n = len(areas)
    comp = np.zeros((1, int(sum(areas))), np.int32)
    at = 0
    for i, a in enumerate(areas, start=1):
        comp[0, at:at + a] = i
        at += a
    on = np.flatnonzero(comp.ravel())
    return sig._Regions(comp, n, on, comp.ravel()[on], np.arange(1, n + 1),
                        np.array([0.0, *areas]), np.array([0, *maxima]),
                        np.array([0.0, *integ]), np.array([False, *[True] * n]))


def _clusters(reg, peak, dense, *, per_peak=5.0):
    # a1 = 4 px and i1 = 10 at 0.25 µm/px: every region holds 5 single dots' amount,
    # fits the 2 µm disc (50 px) and is wider than 2 single areas.
    return sig._is_cluster(reg, 4.0, 10.0, pixel_size_um=0.25, cluster_max_um=2.0,
                           clear_mode=True, dense=np.array([False, *dense]),
                           dense_cluster_max_um=6.0,
                           min_copies=sig.CLUSTER_MIN_COPIES_BRIGHTFIELD,
                           peak=np.array([0.0, *peak]), plateau_area_per_peak=per_peak)


def test_plateau_rule_both_sides():
    assert sig.PLATEAU_AREA_PER_PEAK == 5.0
    assert BrightfieldIshOptions().silver_plateau_area_per_peak == 5.0
    # One maximum, not dense: 20 px = 5 single areas at a peak of 1 single height is a
    # cluster, 21 px is not; at a peak of 2 heights 40 px still is, 41 px is not.
    reg = _regions([20, 21, 40, 41], [1, 1, 1, 1], [50.0] * 4)
    out = _clusters(reg, [1.0, 1.0, 2.0, 2.0], [False] * 4)
    assert out.tolist() == [False, True, False, True, False]


def test_plateau_rule_spares_dense_and_several_maxima_and_can_be_off():
    # 40 px at a peak of 1 height (10 single areas per height): a region of two maxima,
    # a dense (opaque) region, and any region with the rule off stay clusters.
    reg = _regions([40, 40, 40], [1, 2, 1], [50.0] * 3)
    assert _clusters(reg, [1.0] * 3, [False, False, True]).tolist() == [
        False, False, True, True]
    assert _clusters(reg, [1.0] * 3, [False, False, True], per_peak=0.0).tolist() == [
        False, True, True, True]


def test_plateau_rule_needs_the_peaks():
    # Without peaks (FISH, red, CISH: no dense flag either) nothing changes.
    reg = _regions([40], [1], [50.0])
    out = sig._is_cluster(reg, 4.0, 10.0, pixel_size_um=0.25, cluster_max_um=2.0,
                          clear_mode=True, dense=np.array([False, False]),
                          plateau_area_per_peak=5.0)
    assert out.tolist() == [False, True]


def test_region_peaks_are_each_regions_highest_value():
    comp = np.array([[1, 1, 0, 2], [0, 1, 0, 2]], np.int32)
    sm = np.array([[0.3, 0.9, 5.0, 0.2], [7.0, 0.4, 0.0, 0.6]], np.float32)
    on = np.flatnonzero(comp.ravel())
    reg = sig._Regions(comp, 2, on, comp.ravel()[on], np.array([1, 2]),
                       np.array([0.0, 3, 2]), np.array([0, 1, 1]), np.zeros(3),
                       np.array([False, True, True]))
    assert sig._region_peaks(reg, sm) == pytest.approx([0.0, 0.9, 0.6])


@pytest.mark.parametrize("bad", [-1.0, float("nan")])
def test_plateau_option_is_validated(bad):
    with pytest.raises(Her2kitInputError, match="silver_plateau_area_per_peak"):
        BrightfieldIshOptions(silver_plateau_area_per_peak=bad)
