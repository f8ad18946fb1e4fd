"""Amplified Dual ISH at 0.25 µm/px (issue 11, branch amp): the rules for small silver
aggregates, the reference of the single silver dot and opaque silver at coarse sampling,
each at its boundary, and a moderately amplified generated field (its truth table is
the expected value) counted at 0.25 µm/px after a JPEG round trip.
"""

from __future__ import annotations

import numpy as np
import pytest

from her2kit.imaging.ish import count as cnt
from her2kit.imaging.ish import signals as sig
from her2kit.imaging.ish.spots import SpotDetection

from .test_dual_ish_silver import _regions


# --------------------------------------------------------------------------- constants
def test_small_dense_aggregates_are_clusters_from_2_75_singles():
    # a1 = 10 px, i1 = 10; regions of 30 px, one maximum: 2.76 single dots bright and
    # dense is a cluster, 2.74 is not; below 3 a region that is not dense is not (dark
    # texture on DISH3), from 3 on it is.
    assert sig.CLUSTER_MIN_COPIES_BRIGHTFIELD == 2.75 and sig.CLUSTER_MIN_COPIES == 3.0
    reg, _ = _regions([30, 30, 30, 30], [0, 0, 0, 0], integ=[27.6, 27.4, 29.9, 30.0])
    dense = np.array([False, True, True, False, False])
    out = sig._is_cluster(reg, 10.0, 10.0, pixel_size_um=0.065, cluster_max_um=2.0,
                          clear_mode=True, dense=dense,
                          min_copies=sig.CLUSTER_MIN_COPIES_BRIGHTFIELD)
    assert out.tolist() == [False, True, False, False, True]
    # FISH, red and CISH keep 3 (the default), dense or not.
    out = sig._is_cluster(reg, 10.0, 10.0, pixel_size_um=0.065, cluster_max_um=2.0,
                          clear_mode=True, dense=dense)
    assert out.tolist() == [False, False, False, False, True]


def _detections(n_clear, n_weak):
    """``n_clear`` detections of response 10 (threshold 1: clear) and height 1.0 and
    ``n_weak`` of response 1.2 (weak) and height 0.2, all inside nuclei."""
    n = n_clear + n_weak
    det = SpotDetection(np.zeros((n, 2)), np.array([10.0] * n_clear + [1.2] * n_weak,
                                                   np.float32),
                        1.0, "valley", 0.1, 4.0, 1.0, 2, 0.0, None)
    heights = np.array([1.0] * n_clear + [0.2] * n_weak)
    return heights, np.ones(n, np.int32), det


@pytest.mark.parametrize("value, ok", [(0.99, False), (1.0, True), (3.0, True), (3.01, False)])
def test_dense_min_copies_is_validated(value, ok):
    from her2kit.errors import Her2kitInputError
    from her2kit.imaging.ish import BrightfieldIshOptions

    if ok:
        assert BrightfieldIshOptions(silver_dense_min_copies=value).signal_options(
        ).silver_dense_min_copies == value
    else:
        with pytest.raises(Her2kitInputError, match="silver_dense_min_copies"):
            BrightfieldIshOptions(silver_dense_min_copies=value)


@pytest.mark.parametrize("n_clear, n_weak, mask", [(6, 14, 0.5), (5, 15, 0.1)])
def test_clear_signals_set_the_reference_from_30_percent(n_clear, n_weak, mask):
    # 6 of 20 clear (30 %): their mode (1.0) is the single dot, mask at half of it;
    # 5 of 20 (25 %): every detection inside nuclei decides, the mode is 0.2.
    assert sig.CLEAR_MIN_SHARE == 0.3
    heights, nid, det = _detections(n_clear, n_weak)
    got = sig._mask_threshold(heights, nid, det, clear_mode=True,
                              min_clear_share=sig.CLEAR_MIN_SHARE)
    assert got == pytest.approx(mask, rel=0.02)
    # Without the share (red, CISH): the clear signals always.
    assert sig._mask_threshold(heights, nid, det, clear_mode=True) == pytest.approx(0.5,
                                                                                    rel=0.02)


@pytest.mark.parametrize("n_low, lowest", [(8, 0.3), (6, 1.0)])
def test_single_dot_is_the_lowest_mode_from_half_the_highest(n_low, lowest):
    # 14 aggregates' heights around 1.0 and ``n_low`` single dots' around 0.3 (two
    # decades' bandwidth apart): 8 singles make a peak of 0.57 x the highest, the
    # lowest such is the single dot; 6 make 0.43 x, the highest (1.0) stays.
    assert sig.LOWEST_MODE_SHARE == 0.5
    rng = np.random.default_rng(0)
    v = np.concatenate([1.0 * 10 ** rng.normal(0, 0.01, 14), 0.3 * 10 ** rng.normal(0, 0.01,
                                                                                    n_low)])
    got = sig._dominant_mode(v, lowest_share=sig.LOWEST_MODE_SHARE)
    assert got == pytest.approx(lowest, rel=0.05)
    assert sig._dominant_mode(v) == pytest.approx(1.0, rel=0.05)  # without: the highest


@pytest.mark.parametrize("pixel_size_um, expected", [
    (0.065, 0.2), (0.2, 0.2), (0.225, 0.2), (0.25, 0.352), (0.3, 0.55)])
def test_opaque_transmittance_rises_with_the_pixel_beyond_the_core(pixel_size_um, expected):
    # 1 - 0.8 x (0.225 / p)²: at 0.25 µm/px 1 - 0.8 x 0.81 = 0.352; up to the core's
    # width (0.225 µm) the option's 0.2 as it is.
    assert cnt.SILVER_OPAQUE_CORE_UM == 0.225
    assert cnt._opaque_transmittance(0.2, pixel_size_um) == pytest.approx(expected, abs=1e-9)
    assert cnt._opaque_transmittance(0.0, 0.25) == 0.0  # off stays off


# --------------------------------------------------------------------------- generated
def _moderate(seed):
    from benchmarks.ish_amp import COARSE_UM, NATIVE_UM, field_options, score_count
    from benchmarks.ish_scale import downscale

    from her2kit.imaging.ish import count_brightfield_ish
    from her2kit.synthetic.ish import render_brightfield_ish_field

    field = render_brightfield_ish_field(field_options("mod-2.7", seed))
    f = NATIVE_UM / COARSE_UM
    img, header = downscale(field.image, f, jpeg_quality=80, header=True)
    res = count_brightfield_ish(img, assay="dual-ish", pixel_size_um=COARSE_UM,
                                jpeg_source=header)
    whole = field.nuclei[field.nuclei["whole"]]
    return res, score_count(field, res, f), whole["her2"].mean() / whole["cep17"].mean()


def test_moderate_amplification_at_coarse_pixels_after_jpeg():
    # Moderate amplification (HER2 4-8, CEP17 1-3 per nucleus, 3-8 copy aggregates),
    # rendered at 0.065 µm/px, downscaled to 0.25 and stored as JPEG 80 (4:2:0). The
    # truth table's ratio over its whole nuclei is 2.67 (seed 1); the counter's field
    # ratio must lie on its side of 2.0 and within 25 % of it (issue 11's goal for the
    # unseen amplified region). Before branch amp: 1.61 (HER2 2.77 for 5.59 per nucleus).
    res, m, true_ratio = _moderate(1)
    assert true_ratio == pytest.approx(2.67, abs=0.01)
    assert res.ratio >= 2.0 and abs(res.ratio - true_ratio) <= 0.25 * true_ratio, m
    # The generator renders no red clusters: single red dots stay single.
    assert m["red_clusters"] == 0
