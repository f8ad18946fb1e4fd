"""The Dual ISH red (CEP17) path: clear single-dot reference and faint red dots.

Boundary cases sit on both sides of each threshold; the responses they are set against
are measured here with the LoG filter itself (not read from the code under test), so a
moved threshold turns a test red.
"""

from __future__ import annotations

import numpy as np
import pytest

from her2kit.errors import Her2kitInputError
from her2kit.imaging.ish import BrightfieldIshOptions
from her2kit.imaging.ish.red import add_faint_red, red_single_reference
from her2kit.imaging.ish.results import ProbeSignals
from her2kit.imaging.ish.spots import SpotDetection, log_filter

PX = 0.065
SPOT_UM = 0.3
SIGMA_PX = SPOT_UM / PX


# --------------------------------------------------------------------------- reference
def _regions(peaks):
    # Region 0 is background; 3 clear dots of ~400 OD px, 4 faint smudges of ~100.
    integ = np.array([0, 400, 420, 410, 90, 100, 95, 110], float)
    area = np.array([0, 150, 160, 155, 40, 45, 42, 50], float)
    single = np.ones(8, bool)
    single[0] = False
    return integ, area, np.asarray(peaks, float), single


def test_single_reference_is_the_clear_dots_mode():
    integ, area, peak, single = _regions([0, 2.0, 2.1, 1.9, 0.8, 0.7, 0.9, 0.8])
    i1, a1 = red_single_reference(integ, area, peak, single, dominant_height=2.0,
                                  clear_height=0.9, bandwidth_decades=0.1)
    assert 395 <= i1 <= 425 and a1 == 155
    # Every single (clear_height 0): the smudges outnumber the clear dots, as the median
    # of real fields did (DISH3), and the reference drops to them.
    i_all, _ = red_single_reference(integ, area, peak, single, dominant_height=2.0,
                                    clear_height=0.0, bandwidth_decades=0.1)
    assert i_all < 150


def test_single_reference_clear_height_boundary():
    # The third clear dot peaks exactly at 0.9 x the dominant height: it counts ...
    integ, area, peak, single = _regions([0, 2.0, 2.1, 1.8, 0.8, 0.7, 0.9, 0.8])
    kw = dict(dominant_height=2.0, bandwidth_decades=0.1)
    assert red_single_reference(integ, area, peak, single, clear_height=0.9, **kw) is not None
    # ... just below it leaves 2 clear dots: too few for a reference.
    peak[3] = 1.79
    assert red_single_reference(integ, area, peak, single, clear_height=0.9, **kw) is None
    assert red_single_reference(integ, area, peak, single, clear_height=0.89, **kw) is not None


# --------------------------------------------------------------------------- faint dots
def _dot(shape, r, c, peak, sigma_px=SIGMA_PX):
    yy, xx = np.mgrid[: shape[0], : shape[1]]
    return peak * np.exp(-((yy - r) ** 2 + (xx - c) ** 2) / (2 * sigma_px**2))


STRONG = ((40, 40), (40, 160), (160, 40), (160, 160))
FAINT = (100, 100)


def _field(faint_peak=0.45, silver_at_faint=-0.05, seed=0):
    # Real red dots read slightly negative in the silver amount (the red vector fitted
    # to the field is a compromise): about -0.2 x their red LoG on DISH1 / DISH3.
    shape = (200, 200)
    rng = np.random.default_rng(seed)
    red = rng.normal(0, 0.01, shape)
    for r, c in STRONG:
        red += _dot(shape, r, c, 2.0)
    red += _dot(shape, *FAINT, faint_peak)
    silver = rng.normal(0, 0.01, shape) + _dot(shape, *FAINT, silver_at_faint)
    labels = np.zeros(shape, np.int32)
    labels[10:190, 10:190] = 1
    return red.astype(np.float32), silver.astype(np.float32), labels


def _signals(coords, red, *, threshold=0.5, noise_sigma=0.005, probe="cep17"):
    coords = np.asarray(coords, float).reshape(-1, 2)
    f = log_filter(red, sigma_px=SIGMA_PX)
    resp = f[coords[:, 0].astype(int), coords[:, 1].astype(int)].astype(np.float32)
    det = SpotDetection(coords, resp, threshold, "valley", noise_sigma, 5.0, SIGMA_PX,
                        round(2 * SIGMA_PX))
    nid = np.ones(len(coords), np.int32)
    return ProbeSignals(probe, det, nid, np.zeros(len(coords), bool), (), None, None, None)


def _empty_silver():
    det = SpotDetection(np.zeros((0, 2)), np.zeros(0, np.float32), 0.1, "valley", 0.01, 5.0,
                        SIGMA_PX, 9)
    return ProbeSignals("her2", det, np.zeros(0, np.int32), np.zeros(0, bool), (), None,
                        None, None)


def _add(red, silver, labels, her2=None, **kw):
    cep17 = _signals(STRONG, red)
    args = dict(pixel_size_um=PX, spot_sigma_um=SPOT_UM, k_noise=6.0, min_relative=0.1,
                max_silver=0.0, silver_radius_px=0.5 / PX)
    args.update(kw)
    return add_faint_red(cep17, red, silver, her2 or _empty_silver(), labels, **args)


def _relative(red):
    """The faint dot's LoG response over the strong dots' (75th percentile)."""
    f = log_filter(red, sigma_px=SIGMA_PX)
    strong = np.percentile([f[r, c] for r, c in STRONG], 75)
    return float(f[FAINT]) / float(strong)


def test_faint_red_dot_is_added_inside_its_nucleus():
    red, silver, labels = _field()
    out = _add(red, silver, labels)
    assert out.added == 1 and out.signals.detection.n == 5
    assert np.allclose(out.signals.detection.coords_px[-1], FAINT, atol=1.0)
    assert out.signals.nucleus_id[-1] == 1 and not out.signals.in_cluster[-1]
    assert out.threshold is not None and out.threshold < out.signals.detection.threshold
    # Outside every nucleus it is not a CEP17 signal.
    labels[90:110, 90:110] = 0
    assert _add(red, silver, labels).added == 0


def test_faint_threshold_relative_boundary():
    red, silver, labels = _field()
    rel = _relative(red)
    assert 0.1 < rel < 0.35  # below the strong-dot rule, above the default faint floor
    assert _add(red, silver, labels, min_relative=0.97 * rel).added == 1
    assert _add(red, silver, labels, min_relative=1.03 * rel).added == 0


def test_faint_threshold_noise_boundary():
    # The noise bound: k x the red detection's noise s.d. (0.005 here) against the
    # faint dot's response.
    red, silver, labels = _field()
    resp = float(log_filter(red, sigma_px=SIGMA_PX)[FAINT])
    k = resp / 0.005
    assert _add(red, silver, labels, min_relative=0.0, k_noise=0.97 * k).added == 1
    assert _add(red, silver, labels, min_relative=0.0, k_noise=1.03 * k).added == 0
    off = _add(red, silver, labels, k_noise=0.0)
    assert off.added == 0 and off.threshold is None


def test_faint_candidate_must_be_red_not_silver():
    # Silver under the faint dot: its silver LoG over its red LoG against max_silver.
    red, silver, labels = _field(silver_at_faint=0.1)
    f_red = log_filter(red, sigma_px=SIGMA_PX)[FAINT]
    f_sil = log_filter(silver, sigma_px=SIGMA_PX)[FAINT]
    q = float(f_sil / f_red)
    assert 0.1 < q < 0.5
    assert _add(red, silver, labels, max_silver=q + 0.02).added == 1
    assert _add(red, silver, labels, max_silver=q - 0.02).added == 0


def test_faint_candidate_near_a_silver_dot_is_its_twin():
    red, silver, labels = _field()
    her2 = _signals([(FAINT[0], FAINT[1] + 6)], silver, probe="her2")  # 6 px = 0.39 µm
    assert _add(red, silver, labels, her2=her2, silver_radius_px=7.0).added == 0
    assert _add(red, silver, labels, her2=her2, silver_radius_px=5.0).added == 1


def test_strong_dots_are_not_added_twice():
    red, silver, labels = _field(faint_peak=0.0)
    assert _add(red, silver, labels).added == 0


# --------------------------------------------------------------------------- options
@pytest.mark.parametrize("bad", [dict(red_single_reference="median"),
                                 dict(red_clear_height=1.01), dict(red_clear_height=-0.01),
                                 dict(red_faint_k=-1), dict(red_faint_min_relative=-0.1),
                                 dict(red_faint_max_silver=float("nan"))])
def test_red_options_are_validated(bad):
    with pytest.raises(Her2kitInputError, match=next(iter(bad))):
        BrightfieldIshOptions(**bad)


def test_red_options_edges_are_accepted():
    BrightfieldIshOptions(red_clear_height=0.0, red_faint_k=0.0, red_faint_min_relative=0.0,
                          red_faint_max_silver=-1.0)
    BrightfieldIshOptions(red_clear_height=1.0, red_single_reference="percentile")


def test_red_options_are_recorded_on_a_generated_field():
    from her2kit.imaging.ish import count_brightfield_ish
    from her2kit.synthetic.ish import generate_brightfield_ish_field

    syn = generate_brightfield_ish_field(shape_px=(256, 256), pixel_size_um=0.1, n_nuclei=4,
                                         seed=3)
    res = count_brightfield_ish(syn.image, assay="dual-ish", pixel_size_um=0.1)
    p = res.parameters
    assert p["red_single_reference"] == "clear-mode" and p["red_clear_height"] == 0.9
    assert p["red_faint_k"] == 6.0 and p["red_faint_min_relative"] == 0.15
    assert p["red_faint_max_silver"] == 0.0
    assert p["cep17_faint_added"] >= 0
    off = count_brightfield_ish(syn.image, assay="dual-ish", pixel_size_um=0.1,
                                options=BrightfieldIshOptions(red_faint_k=0))
    assert off.parameters["cep17_faint_threshold"] is None
    assert off.parameters["cep17_faint_added"] == 0
