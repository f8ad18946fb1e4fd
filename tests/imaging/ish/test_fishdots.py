"""FISH dots: measured bleed-through, twins, granules, the faint-dot cap, local contrast.

Each rule is tested on both sides of its bound with hand-made numbers (detections
built directly, or Gaussian dots whose LoG response at the matched scale is half
their height), so that a changed constant turns a test red.
"""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from her2kit.errors import Her2kitInputError
from her2kit.imaging.ish import FishOptions, count_fish
from her2kit.imaging.ish.channels import fish_from_stack
from her2kit.imaging.ish.fishdots import (
    BLEED_CLEAR_FACTOR,
    BLEED_MAX,
    BLEED_MIN_DOTS,
    cap_threshold,
    granules,
    local_contrast,
    resolve_bleed,
)
from her2kit.imaging.ish.fishdots import bleed_coefficient as bleed
from her2kit.imaging.ish.spots import SpotDetection, detect_spots


def _det(coords, response, threshold=10.0, method="valley", floor=5.0):
    return SpotDetection(np.asarray(coords, float).reshape(-1, 2),
                         np.asarray(response, np.float32), threshold, method, 1.0, 5.0,
                         2.0, 2, floor, None)


def _grid(n):
    return [(10 + 10 * (k // 10), 10 + 10 * (k % 10)) for k in range(n)]


def _target(coords, values, shape=(120, 120)):
    f = np.zeros(shape, np.float32)
    for (r, c), v in zip(coords, values, strict=True):
        f[r, c] = v
    return f


# ------------------------------------------------------------------ bleed_coefficient
def test_bleed_share_is_the_median_ratio_at_clear_dots():
    xy = _grid(12)
    det = _det(xy, [100.0] * 12)
    # 0.3 of each dot in the other channel, one dot brighter there (the other's dot)
    # and ignored.
    vals = [30.0] * 11 + [250.0]
    assert bleed(det, _target(xy, vals)) == pytest.approx(0.3)


def test_bleed_share_is_bounded():
    xy = _grid(12)
    det = _det(xy, [100.0] * 12)
    assert BLEED_MAX == 0.6
    assert bleed(det, _target(xy, [80.0] * 12)) == pytest.approx(0.6)  # clipped
    assert bleed(det, _target(xy, [59.0] * 12)) == pytest.approx(0.59)
    assert bleed(det, _target(xy, [-5.0] * 12)) == 0.0


def test_bleed_needs_enough_clear_dots():
    assert BLEED_MIN_DOTS == 10 and BLEED_CLEAR_FACTOR == 2.0
    xy = _grid(12)
    vals = [6.0] * 12
    # 10 dots at exactly 2 x the threshold count; 9 do not.
    clear10 = [20.0] * 10 + [19.9] * 2
    clear9 = [20.0] * 9 + [19.9] * 3
    assert bleed(_det(xy, clear10), _target(xy, vals)) == pytest.approx(0.3)
    assert bleed(_det(xy, clear9), _target(xy, vals)) is None


def test_bleed_ignores_dots_brighter_in_the_other_channel():
    xy = _grid(12)
    det = _det(xy, [100.0] * 12)
    # Only 9 dots are brighter in their own channel: too few to measure.
    assert bleed(det, _target(xy, [30.0] * 9 + [100.0] * 3)) is None


# ------------------------------------------------------------------ resolve_bleed
def _pair(rh, rc):
    h = _det([(50, 50)], [rh])
    c = _det([(50, 51)], [rc])
    return resolve_bleed(h, c, bleed_cep17_to_her2=0.3, bleed_her2_to_cep17=0.1,
                         radius_px=2.0, margin=2.0)


def test_a_twin_within_the_measured_share_is_dropped():
    kh, kc, both = _pair(59.0, 100.0)  # 0.59 <= 2 x 0.3
    assert not kh[0] and kc[0] and both.shape == (0, 2)
    kh, kc, both = _pair(100.0, 19.0)  # CEP17 0.19 <= 2 x 0.1 of HER2
    assert kh[0] and not kc[0]


def test_a_pair_bleed_does_not_explain_is_two_signals():
    kh, kc, both = _pair(61.0, 100.0)  # 0.61 > 0.6 and 100 > 0.2 x 61
    assert kh[0] and kc[0]
    assert both.tolist() == [[0, 0]]


def test_pairs_are_only_within_the_radius():
    h = _det([(50, 50)], [10.0])
    c = _det([(50, 53)], [100.0])
    kh, kc, _ = resolve_bleed(h, c, bleed_cep17_to_her2=0.3, bleed_her2_to_cep17=0.1,
                              radius_px=2.9, margin=2.0)
    assert kh[0] and kc[0]
    kh, _, _ = resolve_bleed(h, c, bleed_cep17_to_her2=0.3, bleed_her2_to_cep17=0.1,
                             radius_px=3.1, margin=2.0)
    assert not kh[0]


def test_a_twin_is_never_brighter_than_its_source():
    # margin x share = 4 x 0.3 = 1.2 is capped at 1: a HER2 dot brighter than the CEP17
    # one beside it is not its twin.
    h = _det([(50, 50)], [101.0])
    c = _det([(50, 51)], [100.0])
    kh, kc, both = resolve_bleed(h, c, bleed_cep17_to_her2=0.3, bleed_her2_to_cep17=0.1,
                                 radius_px=2.0, margin=4.0)
    assert kh[0] and kc[0] and both.shape == (1, 2)
    h = _det([(50, 50)], [99.0])
    kh, _, _ = resolve_bleed(h, c, bleed_cep17_to_her2=0.3, bleed_her2_to_cep17=0.1,
                             radius_px=2.0, margin=4.0)
    assert not kh[0]


# ------------------------------------------------------------------ granules
def _granule(dapi_at_pair, rh=100.0, rc=100.0, factor=3.0):
    xy = _grid(12)
    # 12 clear dots per probe with 0.1 of their response in DAPI; pair = dot 0 of each.
    h = _det(xy, [rh] + [100.0] * 11)
    c = _det(xy, [rc] + [100.0] * 11)
    dapi = _target(xy, [dapi_at_pair] + [10.0] * 11)
    return bool(granules(h, c, np.array([[0, 0]]), dapi, factor=factor)[0])


def test_granule_is_bright_in_every_channel():
    # DAPI share 0.1 at the dots: a granule shows over 3 x 0.1 x 100 = 30 in DAPI.
    assert _granule(31.0) is True
    assert _granule(29.0) is False
    assert _granule(31.0, factor=3.2) is False


def test_a_dot_with_a_weak_partner_is_not_a_granule():
    # Both probes must be at least their median dot (100).
    assert _granule(60.0, rh=99.0) is False
    assert _granule(60.0, rc=99.0) is False
    assert _granule(60.0, rh=100.0, rc=100.0) is True


# ------------------------------------------------------------------ cap_threshold
PX, SIGMA = 0.1, 0.25


def _dots_image(heights):
    rr, cc = np.mgrid[:160, :160]
    img = np.full((160, 160), 10.0)
    for k, a in enumerate(heights):
        r, c = 20 + 40 * (k // 4), 20 + 40 * (k % 4)
        img += a * np.exp(-((rr - r) ** 2 + (cc - c) ** 2) / (2 * (SIGMA / PX) ** 2))
    return img.astype(np.float32)


def _capped(fraction, floor=5.0):
    # Ten dots of LoG response ~100 (height 200), two faint ones of ~45 and ~35.
    img = _dots_image([200.0] * 10 + [90.0, 70.0])
    det = detect_spots(img, pixel_size_um=PX, spot_sigma_um=SIGMA, threshold=60.0,
                       noise_mask=None)
    assert det.n == 10
    det = dataclasses.replace(det, threshold_method="valley", floor=floor)
    from her2kit.imaging.ish.spots import log_filter

    out, cap = cap_threshold(img, det, filtered=log_filter(img, sigma_px=SIGMA / PX),
                             pixel_size_um=PX, spot_sigma_um=SIGMA, noise_mask=None,
                             fraction=fraction)
    return out.n, cap, float(np.median(det.response))


def test_cap_lowers_the_valley_to_a_share_of_the_median_dot():
    n, cap, med = _capped(0.4)
    assert cap == pytest.approx(0.4 * med)
    assert n == 11  # the ~45 dot kept, the ~35 one not
    assert _capped(0.3)[0] == 12
    assert _capped(0.5)[0] == 10


def test_cap_never_goes_below_the_noise_floor():
    n, cap, _ = _capped(0.4, floor=0.47 * 100)
    assert cap == pytest.approx(47.0)
    assert n == 10


def test_cap_leaves_other_thresholds_alone():
    img = _dots_image([200.0] * 10)
    det = detect_spots(img, pixel_size_um=PX, spot_sigma_um=SIGMA, threshold=60.0,
                       noise_mask=None)
    out, cap = cap_threshold(img, det, filtered=np.zeros_like(img), pixel_size_um=PX,
                             spot_sigma_um=SIGMA, noise_mask=None, fraction=0.4)
    assert out is det and cap is None  # a user threshold
    det = dataclasses.replace(det, threshold_method="valley", floor=5.0)
    out, cap = cap_threshold(img, det, filtered=np.zeros_like(img), pixel_size_um=PX,
                             spot_sigma_um=SIGMA, noise_mask=None, fraction=0.0)
    assert out is det and cap is None  # off


# ------------------------------------------------------------------ local_contrast
def test_local_contrast_is_over_the_own_nucleus_texture():
    rng = np.random.default_rng(0)
    labels = np.zeros((100, 200), np.int32)
    labels[:, :100] = 1
    labels[:, 100:] = 2
    f = rng.normal(0.0, 1.0, labels.shape)
    f[:, 100:] *= 10.0  # a textured nucleus
    f[50, 50] = f[50, 150] = 30.0
    z = local_contrast(f, labels, np.ones(labels.shape, bool), np.array([[50, 50], [50, 150]]),
                       stride=1)
    assert 25 < z[0] < 35  # 30 over sd 1
    assert 2.5 < z[1] < 3.5  # 30 over sd 10


def test_local_contrast_outside_nuclei_is_infinite():
    labels = np.zeros((50, 50), np.int32)
    z = local_contrast(np.zeros((50, 50)), labels, np.ones((50, 50), bool),
                       np.array([[10.0, 10.0]]))
    assert np.isinf(z[0])


# ------------------------------------------------------------------ options and evidence
@pytest.mark.parametrize(("name", "value"), [
    ("faint_fraction_her2", 1.0), ("faint_fraction_cep17", -0.1), ("bleed_margin", -1.0),
    ("faint_local_k", -0.5), ("faint_width_factor", -0.1), ("faint_check_fraction", 1.0),
    ("granule_factor", -1.0)])
def test_bad_options_are_rejected(name, value):
    with pytest.raises(Her2kitInputError):
        FishOptions(**{name: value})


def test_defaults_are_recorded():
    o = FishOptions()
    assert (o.bleed_margin, o.faint_fraction_her2, o.faint_fraction_cep17, o.faint_local_k,
            o.faint_width_factor, o.faint_check_fraction, o.granule_factor) == (
                4.0, 0.4, 0.4, 4.0, 2.0, 0.6, 3.0)


def test_every_automatic_choice_is_in_parameters():
    from her2kit.synthetic.ish import realistic_fish_options, render_fish_field

    syn = render_fish_field(realistic_fish_options(shape_px=(384, 384), pixel_size_um=0.069,
                                                   n_nuclei=6, seed=1))
    res = count_fish(fish_from_stack(syn.image, channels={"dapi": 0, "her2": 1, "cep17": 2}),
                     pixel_size_um=0.069)
    p = res.parameters
    for key in ("bleed_margin", "faint_fraction_her2", "faint_fraction_cep17", "faint_local_k",
                "faint_width_factor", "faint_check_fraction", "her2_faint_checked_below",
                "granule_factor", "her2_threshold_valley",
                "cep17_threshold_valley",
                "her2_threshold_cap", "cep17_threshold_cap", "her2_faint_dropped",
                "cep17_faint_dropped", "bleed_cep17_to_her2", "bleed_her2_to_cep17",
                "bleed_rule", "bleed_twins_dropped", "granules_dropped"):
        assert key in p, key
    assert p["bleed_rule"] in ("measured", "relative")
    if p["her2_threshold_cap"] is not None:
        assert p["her2_threshold"] == pytest.approx(min(p["her2_threshold_valley"],
                                                        max(p["her2_threshold_cap"],
                                                            p["her2_threshold_floor"])))


# ------------------------------------------------------------------ faint dots
def _faint_field(faint_sd_um):
    """Ten dots of response ~100 and two faint ones (~45, s.d. 0.25 µm, and ~45 with
    ``faint_sd_um``) in one uniform nucleus."""
    rr, cc = np.mgrid[:160, :160]
    img = np.full((160, 160), 10.0)
    spots = [(20 + 40 * (k // 4), 20 + 40 * (k % 4), SIGMA, 200.0) for k in range(10)]
    for r, c, sd in ((100, 100, SIGMA), (140, 140, faint_sd_um)):
        g = 2 * sd**2 * SIGMA**2 / (sd**2 + SIGMA**2) ** 2  # LoG response per unit height
        spots.append((r, c, sd, 45.0 / g))
    for r, c, sd, a in spots:
        img += a * np.exp(-((rr - r) ** 2 + (cc - c) ** 2) / (2 * (sd / PX) ** 2))
    return img.astype(np.float32)


def _faint_kept(faint_sd_um, width_factor=2.0, local_k=0.0):
    from her2kit.imaging.ish.fishdots import faint_dots
    from her2kit.imaging.ish.spots import log_filter

    img = _faint_field(faint_sd_um)
    f = log_filter(img, sigma_px=SIGMA / PX)
    det = detect_spots(img, pixel_size_um=PX, spot_sigma_um=SIGMA, threshold=30.0,
                       noise_mask=None, filtered=f)
    labels = np.ones(img.shape, np.int32)
    keep = faint_dots(img, f, det, valley=60.0, labels=labels,
                      interior=np.ones(img.shape, bool), pixel_size_um=PX,
                      spot_sigma_um=SIGMA, local_k=local_k, width_factor=width_factor)
    strong = det.response >= 60.0
    assert strong.sum() == 10 and keep[strong].all()
    at = {(round(r / 40), round(c / 40)): k for (r, c), k in zip(det.coords_px, keep,
                                                                  strict=True)}
    return at[(2, 2)], at[(4, 4)]


def test_faint_dots_must_be_dot_shaped():
    # A faint dot of the field's width is kept; one 2.4 x wider is a blob.
    assert _faint_kept(0.6) == (True, False)
    assert _faint_kept(0.6, width_factor=2.6) == (True, True)
    assert _faint_kept(0.6, width_factor=0.0) == (True, True)  # check off
    assert _faint_kept(0.4) == (True, True)  # 1.6 x wider: a faint dot


def test_faint_dots_must_stand_out_of_their_nucleus():
    # A uniform nucleus has no texture: the local s.d. is that of the dots' skirts,
    # and a huge k rejects both faint dots.
    assert _faint_kept(0.25, local_k=1e6) == (False, False)
    assert _faint_kept(0.25, local_k=0.0) == (True, True)


def test_split_and_merge_keep_faint_dots_out_of_clusters():
    from her2kit.imaging.ish.fishdots import merge_faint, split_faint
    from her2kit.imaging.ish.results import ClusterRecord, ProbeSignals

    det = _det([(10, 10), (50, 50), (80, 80), (52, 52)], [100.0, 100.0, 40.0, 40.0])
    strong, faint = split_faint(det, 60.0)
    assert strong.n == 2 and faint.n == 2
    assert split_faint(det, None) == (det, None)
    assert split_faint(det, 30.0) == (det, None)
    labels = np.ones((100, 100), np.int32)
    # A cluster of area pi µm² (radius 1 µm = 10 px at 0.1 µm/px) at (50, 50): the
    # faint detection 2.8 px away is inside it; the one at (80, 80) is a single signal.
    cl = ClusterRecord("her2", 50.0, 50.0, 1, float(np.pi), 500.0, 5, 1)
    sig = ProbeSignals("her2", strong, np.ones(2, np.int32), np.array([False, True]), (cl,),
                       100.0, 0.1, 50.0)
    out = merge_faint(sig, faint, labels, pixel_size_um=PX)
    assert out.detection.n == 3
    assert out.in_cluster.tolist() == [False, True, False]
    assert out.clusters == (cl,)
    assert merge_faint(sig, None, labels, pixel_size_um=PX) is sig


def _blob_kept(check_fraction):
    """Ten dots of response ~100 and a wide blob (s.d. 0.6 µm) of response ~55 on a
    noisy uniform nucleus, through :func:`fish_detections` with automatic thresholds."""
    from types import SimpleNamespace

    from her2kit.imaging.ish.fishdots import fish_detections

    rng = np.random.default_rng(4)
    rr, cc = np.mgrid[:200, :200]
    img = 10.0 + rng.normal(0.0, 0.5, (200, 200))
    spots = [(25 + 40 * (k // 5), 25 + 40 * (k % 5), SIGMA, 200.0) for k in range(10)]
    g = 2 * 0.6**2 * SIGMA**2 / (0.6**2 + SIGMA**2) ** 2
    spots.append((150, 100, 0.6, 55.0 / g))
    for r, c, sd, a in spots:
        img += a * np.exp(-((rr - r) ** 2 + (cc - c) ** 2) / (2 * (sd / PX) ** 2))
    img = img.astype(np.float32)
    o = SimpleNamespace(threshold_her2=None, threshold_cep17=None, faint_fraction_her2=0.0,
                        faint_fraction_cep17=0.0, faint_local_k=4.0, faint_width_factor=2.0,
                        faint_check_fraction=check_fraction, diffuse_width_factor_her2=0.0,
                        diffuse_width_factor_cep17=0.0, crosstalk_radius_um=0.3,
                        bleed_margin=4.0, granule_factor=0.0)
    common = dict(pixel_size_um=PX, spot_sigma_um=SIGMA, k_mad=5.0, threshold_method="valley",
                  noise_mask=None)
    h, _, _, ev = fish_detections(img, np.full_like(img, 10.0), o, common,
                                  labels=np.ones(img.shape, np.int32),
                                  interior=np.ones(img.shape, bool))
    d = np.hypot(h.coords_px[:, 0] - 150, h.coords_px[:, 1] - 100)
    near = np.hypot(h.coords_px[:, 0][:, None] - np.array([s[0] for s in spots[:10]]),
                    h.coords_px[:, 1][:, None] - np.array([s[1] for s in spots[:10]]))
    assert (near.min(axis=0) < 2).all()  # every dot kept
    return bool((d < 3).any()), ev


def test_faint_checks_reach_up_to_the_check_fraction():
    kept, ev = _blob_kept(0.6)  # 55 < 0.6 x 100: checked, and too wide
    assert not kept and ev["her2_faint_checked_below"] == pytest.approx(60.0, rel=0.05)
    assert _blob_kept(0.5)[0]  # 55 > 50: not checked
    assert _blob_kept(0.0)[0]  # off
