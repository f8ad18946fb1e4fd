"""Dual ISH multi-copy rules of branch redclust (issue 11): maxima per region area,
piled-up silver, faint red dots called by their dominant colour.

Boundary cases sit on both sides of each rule's threshold; the amounts they are set
against are written here (regions) or measured from the arrays built here (faint dots),
never read from the code under test.
"""

from __future__ import annotations

import numpy as np
import pytest

from her2kit.errors import Her2kitInputError
from her2kit.imaging.ish import BrightfieldIshOptions
from her2kit.imaging.ish import signals as sig
from her2kit.imaging.ish.spots import SpotDetection

from .test_dual_ish_silver import _regions as _silver_regions


def _regions(areas, maxima, integ):
    """A _Regions with one row per area (index 0 = background), all inside nuclei; the
    detections are listed region by region (``maxima`` of each)."""
    reg, _ = _silver_regions(areas, [0] * len(areas), list(integ), list(maxima))
    return reg._replace(spot_comp=np.repeat(np.arange(1, len(areas) + 1), maxima))


def _detections(responses):
    k = len(responses)
    coords = np.column_stack([np.zeros(k), np.arange(k, dtype=float)])
    return SpotDetection(coords, np.asarray(responses, np.float32), 0.1, "valley", 0.01,
                         5.0, 1.2, 2)


# --------------------------------------------------------------------------- maxima cap
def test_maxima_cap_both_sides_of_one_single_area():
    # a1 = 4 px. Region 1: 4 px (exactly one single area) with 2 maxima -> 1 (the
    # stronger, 0.9); region 2: 5 px (1.25 single areas, rounded up to 2) keeps both.
    reg = _regions([4, 5], [2, 2], [10.0, 12.0])
    det = _detections([0.5, 0.9, 0.4, 0.3])
    nid = np.array([7, 7, 8, 8], np.int32)
    flags = np.zeros(4, bool)
    is_cl = np.zeros(3, bool)
    det2, nid2, flags2, reg2 = sig._cap_maxima(det, nid, flags, reg, is_cl, 4.0)
    assert det2.n == 3 and det2.response.tolist() == pytest.approx([0.9, 0.4, 0.3])
    assert nid2.tolist() == [7, 8, 8] and not flags2.any()
    assert reg2.maxima.tolist() == [0, 1, 2] and reg2.spot_comp.tolist() == [1, 2, 2]


def test_maxima_cap_three_in_two_areas_and_spares_clusters_and_background():
    # 8 px = 2 single areas with 3 maxima -> 2; the same region as a cluster keeps its
    # 3 (a cluster's copies come from its amount); detections outside every region
    # (region 0) are never capped.
    reg = _regions([8], [3], [30.0])
    reg = reg._replace(spot_comp=np.array([1, 1, 1, 0, 0]),
                       maxima=np.array([2, 3]))
    det = _detections([0.2, 0.6, 0.4, 0.1, 0.1])
    nid = np.ones(5, np.int32)
    flags = np.zeros(5, bool)
    out = sig._cap_maxima(det, nid, flags, reg, np.array([False, False]), 4.0)
    assert out[0].response.tolist() == pytest.approx([0.6, 0.4, 0.1, 0.1])
    same = sig._cap_maxima(det, nid, flags, reg, np.array([False, True]), 4.0)
    assert same[0] is det


# --------------------------------------------------------------------------- piled silver
def _clusters(integ, peak, *, maxima=1, piled=1.5, dense=False):
    # a1 = 4 px, i1 = 10: 12 px = 3 single areas (wider than CLUSTER_AREA_FACTOR x a1,
    # inside the 2 µm disc at 0.25 µm/px); plateau rule at 5 single areas per height.
    reg = _regions([12], [maxima], [integ])
    return sig._is_cluster(reg, 4.0, 10.0, pixel_size_um=0.25, cluster_max_um=2.0,
                           clear_mode=True, dense=np.array([False, dense]),
                           dense_cluster_max_um=6.0,
                           min_copies=sig.CLUSTER_MIN_COPIES_BRIGHTFIELD,
                           peak=np.array([0.0, peak]), plateau_area_per_peak=5.0,
                           piled_peak=piled)[1]


def test_piled_peak_boundary():
    assert sig.PILED_PEAK_FACTOR == 1.5
    assert BrightfieldIshOptions().silver_piled_peak == 1.5
    # 2.8 single dots' amount in one maximum: a cluster once its peak is 1.5 single
    # heights (copies piled up), not at 1.49 (one dot's peak, below CLUSTER_MIN_COPIES 3).
    assert _clusters(28.0, 1.5)
    assert not _clusters(28.0, 1.49)
    # Below silver_dense_min_copies (2.75) even a piled peak is not a cluster ...
    assert not _clusters(27.4, 3.0)
    assert _clusters(27.6, 3.0)
    # ... and off (0) the rule before branch redclust holds: 3 single dots needed.
    assert not _clusters(28.0, 3.0, piled=0.0)
    assert _clusters(30.0, 1.0, piled=0.0)


def test_piled_peak_needs_one_maximum():
    # Two maxima and 3.2 single dots: a cluster by CLUSTER_MIN_COPIES whatever the peak;
    # two maxima and 2.9: the piled rule does not apply (the copies are not one stack).
    assert _clusters(32.0, 1.0, maxima=2)
    assert not _clusters(29.0, 3.0, maxima=2)


@pytest.mark.parametrize("bad", [-0.1, float("nan")])
def test_piled_option_is_validated(bad):
    with pytest.raises(Her2kitInputError, match="silver_piled_peak"):
        BrightfieldIshOptions(silver_piled_peak=bad)


# --------------------------------------------------------------------------- faint red
PX = 0.065
SPOT_UM = 0.3
SIGMA_PX = SPOT_UM / PX
STRONG = ((40, 40), (40, 160), (160, 40), (160, 160))
FAINT = (100, 100)


def _dot(shape, r, c, peak):
    yy, xx = np.mgrid[: shape[0], : shape[1]]
    return peak * np.exp(-((yy - r) ** 2 + (xx - c) ** 2) / (2 * SIGMA_PX**2))


def _faint_field(silver_peak):
    # Four strong red dots (2 OD), one faint one (0.45 OD) with a silver dot of
    # ``silver_peak`` OD at the same place and the same shape.
    shape = (200, 200)
    rng = np.random.default_rng(1)
    red = rng.normal(0, 0.005, shape)
    for r, c in STRONG:
        red += _dot(shape, r, c, 2.0)
    red += _dot(shape, *FAINT, 0.45)
    silver = rng.normal(0, 0.005, shape) + _dot(shape, *FAINT, silver_peak)
    labels = np.zeros(shape, np.int32)
    labels[10:190, 10:190] = 1
    return red.astype(np.float32), silver.astype(np.float32), labels


def _add_faint(red, silver, labels, *, colour_leak):
    from her2kit.imaging.ish.red import add_faint_red
    from her2kit.imaging.ish.results import ProbeSignals
    from her2kit.imaging.ish.spots import log_filter

    coords = np.asarray(STRONG, float)
    f = log_filter(red, sigma_px=SIGMA_PX)
    resp = f[coords[:, 0].astype(int), coords[:, 1].astype(int)].astype(np.float32)
    det = SpotDetection(coords, resp, 0.5, "valley", 0.005, 5.0, SIGMA_PX, round(2 * SIGMA_PX))
    cep17 = ProbeSignals("cep17", det, np.ones(4, np.int32), np.zeros(4, bool), (), None,
                         None, None)
    none = SpotDetection(np.zeros((0, 2)), np.zeros(0, np.float32), 0.1, "valley", 0.01,
                         5.0, SIGMA_PX, 9)
    her2 = ProbeSignals("her2", none, np.zeros(0, np.int32), np.zeros(0, bool), (), None,
                        None, None)
    # max_silver 2: the silver LoG test passes whatever the silver dot (same shape).
    return add_faint_red(cep17, red, silver, her2, labels, pixel_size_um=PX,
                         spot_sigma_um=SPOT_UM, k_noise=6.0, min_relative=0.1,
                         max_silver=2.0, silver_radius_px=0.5 / PX,
                         colour_leak=colour_leak).added


def test_faint_red_called_by_its_dominant_colour():
    # The silver amount at the faint dot just above its red amount (0.45 OD): not a red
    # dot; just below: added. Off (the rule before branch redclust) it is added anyway.
    red, silver, labels = _faint_field(0.50)
    assert silver[FAINT] > red[FAINT]
    assert _add_faint(red, silver, labels, colour_leak=True) == 0
    assert _add_faint(red, silver, labels, colour_leak=False) == 1
    red, silver, labels = _faint_field(0.40)
    assert silver[FAINT] < red[FAINT]
    assert _add_faint(red, silver, labels, colour_leak=True) == 1


# --------------------------------------------------------------------------- recorded
def test_redclust_options_are_recorded_on_a_generated_field():
    from her2kit.imaging.ish import count_brightfield_ish
    from her2kit.synthetic.ish import generate_brightfield_ish_field

    syn = generate_brightfield_ish_field(shape_px=(256, 256), pixel_size_um=0.1, n_nuclei=4,
                                         seed=3)
    res = count_brightfield_ish(syn.image, assay="dual-ish", pixel_size_um=0.1)
    p = res.parameters
    assert p["silver_piled_peak"] == 1.5 and p["maxima_area_cap"] is True
    assert p["red_faint_colour_leak"] is True
    assert p["her2_maxima_capped"] >= 0 and p["cep17_maxima_capped"] >= 0
    off = count_brightfield_ish(syn.image, assay="dual-ish", pixel_size_um=0.1,
                                options=BrightfieldIshOptions(maxima_area_cap=False))
    assert off.parameters["her2_maxima_capped"] == 0
    assert off.parameters["cep17_maxima_capped"] == 0


# --------------------------------------------------------------------------- merged red
def test_red_merged_pair_boundaries():
    from her2kit.imaging.ish.red import red_rounded_clusters

    # Per region (index 0 = background): copies (amount over the single dot's), area
    # (single areas), maxima. One maximum: a pair from 2.0 single dots' amount and 2.0
    # single areas on, not at 1.99 of either; two maxima need 3.0 dots' amount.
    copies = np.array([5.0, 2.0, 1.99, 2.0, 3.0, 2.99, 2.5])
    areas = np.array([5.0, 2.0, 2.0, 1.99, 3.0, 3.0, 2.5])
    maxima = np.array([0, 1, 1, 1, 2, 2, 1])
    inside = np.ones(7, bool)
    fits = np.ones(7, bool)
    out = red_rounded_clusters(copies, areas, maxima, inside, fits=fits)
    assert out.tolist() == [False, True, False, False, True, False, True]
    # Outside nuclei or wider than the red cluster extent: never.
    inside[1] = False
    fits[6] = False
    out = red_rounded_clusters(copies, areas, maxima, inside, fits=fits)
    assert out.tolist() == [False, False, False, False, True, False, False]


def test_red_merged_pair_counts_one_more_than_its_maxima():
    # A red spot built from two touching dots 0.65 µm apart (one LoG maximum) between six
    # isolated single dots of 2 OD: with dots of 2.3 OD the spot holds ~2.3 single dots'
    # amount and counts 2 (1 with the rule off); with dots of 1.7 OD, ~1.7: it counts 1.
    from her2kit.imaging.ish.red import red_probe_signals
    from her2kit.imaging.ish.spots import detect_spots

    def pair_copies(pair_od, rounded):
        shape = (240, 240)
        red = np.random.default_rng(2).normal(0, 0.005, shape)
        for r, c in [(30, 30), (30, 120), (30, 210), (120, 30), (210, 30), (210, 210)]:
            red += _dot(shape, r, c, 2.0)
        for dc in (-5.0, 5.0):
            red += _dot(shape, 120, 120 + dc, pair_od)
        red = red.astype(np.float32)
        labels = np.zeros(shape, np.int32)
        labels[5:235, 5:235] = 1
        det = detect_spots(red, pixel_size_um=PX, spot_sigma_um=SPOT_UM, threshold=0.3)
        sig = red_probe_signals(red, labels, pixel_size_um=PX, spot_sigma_um=SPOT_UM,
                                cluster_max_um=3.0, det=det, reference="clear-mode",
                                percentile=50.0, clear_height=0.9, bandwidth_decades=0.1,
                                rounded_copies=rounded)
        near = np.hypot(*(sig.detection.coords_px - [120, 120]).T) < 10
        assert near.sum() == 1  # one maximum
        cl = [c for c in sig.clusters if abs(c.row - 120) < 10 and abs(c.col - 120) < 10]
        return int((near & ~sig.in_cluster).sum()) + sum(c.copies for c in cl)

    assert pair_copies(2.3, True) == 2
    assert pair_copies(2.3, False) == 1
    assert pair_copies(1.7, True) == 1
