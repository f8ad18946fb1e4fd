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
from her2kit.imaging.color.stains import STAIN_VECTORS
from her2kit.imaging.ish import BrightfieldIshOptions, count_brightfield_ish
from her2kit.imaging.ish import signals as sig

from .test_dual_ish_silver import _regions as _silver_regions

PX = 0.25  # µm per pixel of the built fields (a 40x scanner's)


def _regions(areas, maxima, integ):
    """A _Regions with one row per area (index 0 = background), all inside nuclei."""
    return _silver_regions(areas, [0] * len(areas), list(integ), list(maxima))[0]


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


# --------------------------------------------------------------------------- built fields
def _field(*, clump: bool, seed: int = 0) -> np.ndarray:
    """Nine pale nuclei (4.5 µm radius) built from Beer-Lambert with the published stain
    vectors (not from the counter): eight hold 3 single silver dots (0.5 OD, s.d.
    0.25 µm), every one 2 red dots. The centre one holds either one faint silver dot
    (0.1 OD) on a 2.2 µm patch of faint silver-coloured texture (0.3 OD, soft edge: one
    dot by truth) or, ``clump``, 4 single dots within 0.35 µm (4 copies)."""
    rng = np.random.default_rng(seed)
    n = 120
    yy, xx = np.mgrid[:3 * n, :3 * n]
    hema = np.full(yy.shape, 0.02)
    silver = np.zeros(yy.shape)
    red = np.zeros(yy.shape)
    s = 0.25 / PX

    def dot(a, y, x, peak):
        a += peak * np.exp(-((yy - y) ** 2 + (xx - x) ** 2) / (2 * s * s))

    for k, (cy, cx) in enumerate((n // 2 + n * i, n // 2 + n * j) for i in range(3)
                                 for j in range(3)):
        hema[(yy - cy) ** 2 + (xx - cx) ** 2 <= (4.5 / PX) ** 2] += 0.15
        if k == 4 and clump:
            for dy, dx in ((0, 0), (1.2, 0.8), (-0.9, 1.1), (0.3, -1.3)):
                dot(silver, cy + dy, cx + dx, 0.5)
        elif k == 4:
            r = np.hypot(yy - cy, xx - cx)
            silver += 0.3 / (1 + np.exp((r - 0.5 * 2.2 / PX) / 0.7))
            dot(silver, cy, cx, 0.1)
        else:
            for a in (0.3, 2.4, 4.4):
                dot(silver, cy + 8 * np.sin(a + k), cx + 8 * np.cos(a + k), 0.5)
        for a in (1.3, 3.5):
            dot(red, cy + 9 * np.sin(a + k), cx + 9 * np.cos(a + k), 0.5)
    od = sum(amount[..., None] * np.asarray(STAIN_VECTORS[name]) for amount, name in
             ((hema, "hematoxylin"), (silver, "silver"), (red, "fast_red")))
    return np.clip(235 * 10 ** (-od) + rng.normal(0, 1.5, od.shape), 0, 255).astype(np.uint8)


def _her2(rgb, **options):
    res = count_brightfield_ish(rgb, assay="dual-ish", pixel_size_um=PX,
                                options=BrightfieldIshOptions(**options))
    nid = int(res.labels[180, 180])
    others = [n.her2 for n in res.nuclei if n.nucleus_id != nid]
    return next(n.her2 for n in res.nuclei if n.nucleus_id == nid), others


def test_a_faint_dot_on_texture_counts_one():
    her2, others = _her2(_field(clump=False))
    assert her2 == 1 and others == [3] * 8, (her2, others)
    # Without the rule the patch's amount made it a cluster of 5.
    assert _her2(_field(clump=False), silver_plateau_area_per_peak=0.0)[0] >= 4


def test_copies_merged_into_one_maximum_stay_a_cluster():
    # Their peak rises with their area: 4 copies read 4 with the rule as without it.
    assert _her2(_field(clump=True))[0] == 4
    assert _her2(_field(clump=True), silver_plateau_area_per_peak=0.0)[0] == 4
