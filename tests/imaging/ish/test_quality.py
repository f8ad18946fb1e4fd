"""Field quality of an ISH count: the dots' focus and the share behind each flag.

Expected widths are the s.d. the dots are drawn with here; the blurred fields are the
generator's (PSF s.d. 0.2 µm) blurred by a Gaussian of known s.d., so their dots are
sqrt(0.2² + b²) µm wide.
"""

from __future__ import annotations

import numpy as np
import pytest
from scipy import ndimage as ndi

from her2kit.imaging.ish import count_fish
from her2kit.imaging.ish.channels import fish_from_stack
from her2kit.imaging.ish.quality import dot_width_um
from her2kit.pipelines.ish import ish_document, quality_flags
from her2kit.synthetic.ish import generate_fish_field

CH = {"dapi": 0, "her2": 1, "cep17": 2}
PX = 0.2


@pytest.mark.parametrize("px", [0.1, 0.2])
@pytest.mark.parametrize("sd_um", [0.2, 0.3, 0.45])
def test_dot_width_recovers_the_drawn_sd(px, sd_um):
    from her2kit.imaging.ish.spots import log_filter

    rr, cc = np.mgrid[:200, :200]
    centres = [(50.3, 50.0), (50.0, 150.6), (150.5, 100.2)]
    img = np.zeros((200, 200), np.float32) + 10.0
    s = sd_um / px
    for r, c in centres:
        img += 100.0 * np.exp(-((rr - r) ** 2 + (cc - c) ** 2) / (2 * s * s))
    resp_img = log_filter(img, sigma_px=0.25 / px)
    coords = np.array([(round(r), round(c)) for r, c in centres], float)
    resp = resp_img[coords[:, 0].astype(int), coords[:, 1].astype(int)]
    w = dot_width_um(img, coords, resp, pixel_size_um=px, spot_sigma_um=0.25)
    np.testing.assert_allclose(w, sd_um, rtol=0.12)


def _blurred_count(blur_um, cols=768, planes=(0, 1, 2)):
    """A generated field with its first ``cols`` columns of ``planes`` (DAPI, HER2,
    CEP17) blurred by ``blur_um``."""
    syn = generate_fish_field(shape_px=(768, 768), n_nuclei=30, scenario="group4", seed=5,
                              snr=10)
    img = np.asarray(syn.image, np.float32)
    if blur_um:
        blurred = ndi.gaussian_filter(img, (blur_um / PX, blur_um / PX, 0))
        for p in planes:
            img[:, :cols, p] = blurred[:, :cols, p]
    return count_fish(fish_from_stack(img, channels=CH), pixel_size_um=PX)


@pytest.mark.parametrize(("blur_um", "flagged"), [(0.0, False), (0.2, False), (0.4, True)])
def test_out_of_focus_flag_on_blurred_fields(blur_um, flagged):
    # Dots 0.2 / 0.28 / 0.45 µm wide against the 1.5 x 0.25 = 0.375 µm bound: a bound
    # of 1.1 x (0.275 µm) flags the 0.2 µm blur, one of 1.9 x misses the 0.4 µm one.
    res = _blurred_count(blur_um)
    assert ("out_of_focus" in res.image_flags) is flagged
    assert ("out_of_focus" in quality_flags(res)) is flagged
    share = res.quality_shares["blurred_signal_share"]
    assert (share > 0.9) if flagged else (share < 0.1)
    expected_sd = np.hypot(0.2, blur_um)
    assert res.quality_shares["median_dot_sd_um"] == pytest.approx(expected_sd, rel=0.15)


def test_quality_shares_are_in_the_json_evidence():
    res = _blurred_count(0.0)
    doc = ish_document(res, image="field.tif", assay="fish", pixel_size_um=PX,
                       pixel_size_source="test")
    shares = doc["evidence"]["quality_shares"]
    assert set(shares) == {"counted_nuclei_share", "out_of_focus_nuclei_share",
                           "signals_outside_nuclei_share", "weak_signal_share",
                           "high_background_share", "blurred_signal_share",
                           "median_dot_sd_um"}
    for key, value in shares.items():
        if key != "median_dot_sd_um":
            assert 0.0 <= value <= 1.0, key
    # Counted share = counted / whole nuclei (not cut by the image edge).
    whole = [n for n in res.nuclei if n.exclusion_reason != "touches_image_edge"]
    assert shares["counted_nuclei_share"] == pytest.approx(res.n_counted / len(whole))
    assert shares["signals_outside_nuclei_share"] == res.outside_signal_fraction



@pytest.mark.parametrize(("n_wide", "flagged"), [(3, False), (4, False), (6, True), (7, True)])
def test_out_of_focus_needs_half_the_dots_blurred(n_wide, flagged):
    # Ten dots in one nucleus, ``n_wide`` of them 0.5 µm wide (above 1.5 x 0.25 µm),
    # the rest 0.2 µm: flagged from half of them on (3-4 of 10 would be flagged with
    # a share bound of 0.05, 6-7 not with 0.95).
    from her2kit.imaging.ish.quality import signal_focus
    from her2kit.imaging.ish.results import ProbeSignals
    from her2kit.imaging.ish.spots import detect_spots

    px = 0.1
    rr, cc = np.mgrid[:300, :300]
    img = np.full((300, 300), 10.0, np.float32)
    for k in range(10):
        r, c = 40 + 110 * (k // 5), 30 + 60 * (k % 5)
        s = (0.5 if k < n_wide else 0.2) / px
        img += (100.0 * np.exp(-((rr - r) ** 2 + (cc - c) ** 2) / (2 * s * s))).astype(
            np.float32)
    det = detect_spots(img, pixel_size_um=px, spot_sigma_um=0.25, threshold=5.0)
    assert det.n == 10
    sig = ProbeSignals("her2", det, np.ones(det.n, np.int32), np.zeros(det.n, bool), (),
                       None, None, None)
    fm = signal_focus([img], [sig], [1], pixel_size_um=px, spot_sigma_um=0.25)
    assert fm.blurred_share == pytest.approx(n_wide / 10)
    assert fm.out_of_focus is flagged


@pytest.mark.parametrize("name", ["nuclei_joined_factor", "diffuse_width_factor_her2",
                                  "diffuse_width_factor_cep17", "nuclei_joined_below_solidity"])
def test_new_fish_options_are_checked(name):
    from her2kit.errors import Her2kitInputError
    from her2kit.imaging.ish import FishOptions

    with pytest.raises(Her2kitInputError, match=name):
        FishOptions(**{name: -0.5})
    FishOptions(**{name: 0.0})  # 0 = off


# --------------------------------------------------------------------------- brightfield
# Issue 11 (branch nuclei025): the focus flag at a slide scanner's 0.25 µm/px. The field
# is the realistic Dual ISH generator's (dots drawn 0.13 µm silver / 0.2 µm red s.d.),
# rendered at the pixel size counted, sharp or blurred as a whole by a Gaussian of 0.5
# µm s.d. (dots then sqrt(0.2² + 0.5²) = 0.54 µm): the bound is 1.5 x 0.3 µm = 0.45 µm
# (with a 0.25 µm pixel's own width, 0.456 µm).
def _brightfield_field(px, blur_um, jpeg_quality=None):
    from benchmarks.ish_scale import jpeg_round_trip

    from her2kit.imaging.ish import count_brightfield_ish
    from her2kit.synthetic.ish import (
        realistic_brightfield_options,
        render_brightfield_ish_field,
    )

    side = round(66.56 / px)  # the same 66.6 µm field at both pixel sizes
    field = render_brightfield_ish_field(realistic_brightfield_options(
        shape_px=(side, side), pixel_size_um=px, scenario="group5", seed=3, jpeg_quality=None))
    img = field.image
    if blur_um:
        x = img.astype(np.float32)
        img = np.clip(np.rint(ndi.gaussian_filter(x, (blur_um / px, blur_um / px, 0))), 0,
                      255).astype(np.uint8)
    header = None
    if jpeg_quality is not None:
        img, header = jpeg_round_trip(img, jpeg_quality)
    return count_brightfield_ish(img, assay="dual-ish", pixel_size_um=px, jpeg_source=header)


@pytest.mark.parametrize(("px", "jpeg_quality"), [(0.065, None), (0.25, None), (0.25, 80)])
@pytest.mark.parametrize("blur_um", [0.0, 0.5])
def test_brightfield_focus_flag_at_both_pixel_sizes(px, jpeg_quality, blur_um):
    # Sharp dots read well under the 0.45 µm bound and blurred ones over it, at 0.065
    # and at 0.25 µm/px; from a 4:2:0 JPEG at 0.25 µm/px (red taken at the colour's
    # half resolution) the sharp field was flagged before branch nuclei025 (its red
    # dots read as wide as blurred ones), now its focus is read from the silver dots.
    res = _brightfield_field(px, blur_um, jpeg_quality)
    blurred = blur_um > 0
    assert ("out_of_focus" in res.image_flags) is blurred
    assert ("out_of_focus" in quality_flags(res)) is blurred
    sd = res.quality_shares["median_dot_sd_um"]
    assert (sd > 0.5) if blurred else (sd < 0.35), sd
    share = res.quality_shares["blurred_signal_share"]
    assert (share > 0.9) if blurred else (share < 0.15), share
    p = res.parameters
    assert p["focus_dot_limit_um"] == pytest.approx(np.hypot(0.45, px / np.sqrt(12)), abs=1e-9)
    assert p["focus_probes"] == (("her2",) if jpeg_quality else ("her2", "cep17"))


def test_focus_bound_widens_with_the_pixel():
    from her2kit.imaging.ish.quality import blurred_dot_limit_um

    assert blurred_dot_limit_um(pixel_size_um=0.25, spot_sigma_um=0.3) == pytest.approx(
        0.4558, abs=1e-4)
    assert blurred_dot_limit_um(pixel_size_um=0.065, spot_sigma_um=0.3) == pytest.approx(
        0.4504, abs=1e-4)


def test_focus_leaves_out_a_probe_taken_at_coarse_resolution():
    # Probe 0 sharp (0.2 µm), probe 1 wide (0.5 µm, as red from 4:2:0 colour): both
    # measured, half the dots are blurred and the field is flagged; with probe 1 named
    # coarse only probe 0 is read and it is not.
    from her2kit.imaging.ish.quality import signal_focus
    from her2kit.imaging.ish.results import ProbeSignals
    from her2kit.imaging.ish.spots import detect_spots

    px = 0.1
    rr, cc = np.mgrid[:300, :300]
    chans, sigs = [], []
    for sd in (0.2, 0.5):
        img = np.full((300, 300), 10.0, np.float32)
        for k in range(10):
            r, c = 40 + 110 * (k // 5), 30 + 60 * (k % 5)
            img += (100.0 * np.exp(-((rr - r) ** 2 + (cc - c) ** 2) / (2 * (sd / px) ** 2))
                    ).astype(np.float32)
        det = detect_spots(img, pixel_size_um=px, spot_sigma_um=0.25, threshold=5.0)
        assert det.n == 10
        chans.append(img)
        sigs.append(ProbeSignals("her2", det, np.ones(det.n, np.int32), np.zeros(det.n, bool),
                                 (), None, None, None))
    both = signal_focus(chans, sigs, [1], pixel_size_um=px, spot_sigma_um=0.25)
    assert both.blurred_share == pytest.approx(0.5) and both.out_of_focus
    assert both.probes == (0, 1)
    sharp = signal_focus(chans, sigs, [1], pixel_size_um=px, spot_sigma_um=0.25,
                         coarse_probes=(1,))
    assert sharp.blurred_share == 0.0 and not sharp.out_of_focus
    assert sharp.probes == (0,) and sharp.n_dots == 10


def _stage(her2_resp, red_resp, *, her2_thr, red_thr, faint_thr):
    """A SignalsStage of one counted nucleus (label 1) holding the given responses."""
    from her2kit.imaging.ish.results import ProbeSignals
    from her2kit.imaging.ish.signals import SignalsStage
    from her2kit.imaging.ish.spots import SpotDetection

    def probe(name, resp, thr):
        n = len(resp)
        det = SpotDetection(np.full((n, 2), 5.0), np.asarray(resp, np.float32), thr, "valley",
                            0.01, 5.0, 1.2, 1)
        return ProbeSignals(name, det, np.ones(n, np.int32), np.zeros(n, bool), (), None,
                            None, None)

    return SignalsStage(probe("her2", her2_resp, her2_thr), probe("cep17", red_resp, red_thr),
                        None, np.zeros((10, 10), np.float32), 0, red_faint_threshold=faint_thr)


@pytest.mark.parametrize(("faint_thr", "weak"), [(None, 0.5), (0.2, 0.25), (0.5, 0.5)])
def test_weak_share_reads_red_against_the_threshold_that_admitted_it(faint_thr, weak):
    # Red valley at 0.4 OD (as DISH1's from 0.15 µm/px on) with faint dots admitted
    # from 0.2 OD: red dots at 0.35 / 0.5 / 0.9 / 1.2 are weak below 1.5 x 0.4 = 0.6
    # (two of four) but, against the faint threshold, below 0.3 (none); silver (4
    # dots, threshold 0.1) has two of four under 0.15. Without faint dots, or with a
    # faint threshold above the valley, the valley stays the reference.
    from her2kit.imaging.ish.signals import signal_quality_stage, weak_reference

    st = _stage([0.12, 0.14, 0.5, 0.8], [0.35, 0.5, 0.9, 1.2], her2_thr=0.1, red_thr=0.4,
                faint_thr=faint_thr)
    assert weak_reference(st, "cep17") == pytest.approx(min(0.4, faint_thr or 1.0))
    assert weak_reference(st, "her2") == pytest.approx(0.1)
    q = signal_quality_stage(st, [1], np.ones((10, 10), np.int32))
    assert q.weak_signal_fraction == pytest.approx(weak)
