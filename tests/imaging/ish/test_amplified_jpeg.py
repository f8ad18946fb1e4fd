"""Amplified Dual ISH at 0.25 µm/px after a JPEG round trip (issue 11, branch ampjpeg):
merged copies left out of the single silver dot's references, at the rule's boundary,
and a moderately amplified generated field whose truth table is the expected value.
"""

from __future__ import annotations

import functools

import numpy as np
import pytest

from her2kit.errors import Her2kitInputError
from her2kit.imaging.ish import BrightfieldIshOptions
from her2kit.imaging.ish import signals as sig

from .test_dual_ish_silver import _regions


# --------------------------------------------------------------------------- the rule
def _peaked(peaks):
    """Regions of 4 px and one maximum each, ``sm`` constant at ``peaks[i]`` over
    region i."""
    reg, _ = _regions([4] * len(peaks), [0] * len(peaks))
    sm = np.zeros(reg.comp.shape, np.float32)
    for i, p in enumerate(peaks, start=1):
        sm[reg.comp == i] = p
    one = reg.inside & (reg.maxima == 1)
    one[0] = False
    return reg, sm, one


def test_merged_peak_boundary_both_sides():
    # Typical single height 1.0: a one-maximum region peaking at 1.49 x it is a single
    # dot, at 1.51 x merged copies (JPEG_MERGED_PEAK_FACTOR 1.5).
    assert sig.JPEG_MERGED_PEAK_FACTOR == 1.5
    reg, sm, one = _peaked([1.0, 0.9, 1.49, 1.51, 3.0])
    keep, merged = sig._without_merged(one, sig._region_peaks(reg, sm), sig.JPEG_MERGED_PEAK_FACTOR)
    assert keep.tolist() == [False, True, True, True, False, False]
    assert merged == 2


def test_merged_peak_keeps_the_regions_when_fewer_than_3_would_remain():
    reg, sm, one = _peaked([1.0, 2.0, 2.0, 2.0])
    keep, merged = sig._without_merged(one, sig._region_peaks(reg, sm), 1.5)
    assert keep.tolist() == one.tolist() and merged == 0


@pytest.mark.parametrize("value, ok", [(-0.01, False), (0.0, True), (1.5, True), (3.0, True)])
def test_merged_peak_option_is_validated(value, ok):
    if ok:
        assert BrightfieldIshOptions(silver_jpeg_merged_peak=value).silver_jpeg_merged_peak \
            == value
    else:
        with pytest.raises(Her2kitInputError, match="silver_jpeg_merged_peak"):
            BrightfieldIshOptions(silver_jpeg_merged_peak=value)


# --------------------------------------------------------------------------- generated
@functools.lru_cache(maxsize=1)
def _field():
    from benchmarks.ish_amp import field_options

    from her2kit.synthetic.ish import render_brightfield_ish_field

    return render_brightfield_ish_field(field_options("mod-3.4", 1, shape="aggregate"))


def _count(jpeg_quality, options=None):
    from benchmarks.ish_amp import COARSE_UM, NATIVE_UM, score_count
    from benchmarks.ish_scale import downscale

    from her2kit.imaging.ish import count_brightfield_ish

    field = _field()
    f = NATIVE_UM / COARSE_UM
    img, header = downscale(field.image, f, jpeg_quality=jpeg_quality, header=True)
    res = count_brightfield_ish(img, assay="dual-ish", pixel_size_um=COARSE_UM,
                                jpeg_source=header, options=options)
    return res, score_count(field, res, f)


def test_moderate_amplification_3_4_at_coarse_pixels_after_jpeg_80():
    # HER2 5-8, CEP17 1-3 per nucleus, 3-8 copy irregular aggregates (benchmarks/ish_amp.py
    # case mod-3.4, seed 1), rendered at 0.065 µm/px, downscaled to 0.25 and stored as
    # JPEG 80 (4:2:0). The truth table: ratio 3.16 over its whole nuclei, HER2 6.10 per
    # counted nucleus. Before branch ampjpeg: field ratio 2.17 (outside 25 %), HER2 3.71,
    # 5 of 21 true clusters within 30 % (10 lossless).
    whole = _field().nuclei[_field().nuclei["whole"]]
    true_ratio = whole["her2"].mean() / whole["cep17"].mean()
    assert true_ratio == pytest.approx(3.16, abs=0.01)
    res, m = _count(80)
    assert m["true_her2"] == pytest.approx(6.10, abs=0.01)
    assert res.ratio >= 2.0 and abs(res.ratio - true_ratio) <= 0.25 * true_ratio, m
    assert m["her2"] >= 0.7 * m["true_her2"], m
    assert m["clusters_ok"] >= 8, m
    assert res.parameters["silver_merged_peak_applied"] == 1.5
    assert res.parameters["her2_merged_singles"] > 0
    # Off (0), the rule before this branch: the field reads low again.
    off, m_off = _count(80, BrightfieldIshOptions(silver_jpeg_merged_peak=0))
    assert off.parameters["silver_merged_peak_applied"] is None
    assert abs(off.ratio - true_ratio) > 0.25 * true_ratio, m_off


def test_merged_peak_is_not_applied_to_a_lossless_field():
    res, _ = _count(None)
    assert res.parameters["jpeg_degraded"] is False
    assert res.parameters["silver_merged_peak_applied"] is None
    assert res.parameters["her2_merged_singles"] == 0
    assert res.parameters["silver_jpeg_merged_peak"] == 1.5
