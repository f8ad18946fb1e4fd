"""Diffuse FISH blobs (texture, haze) dropped, dots kept: both sides of each bound.

Eight clear dots 0.25 µm wide (the spot scale) set the channel's typical width; the
LoG response of a Gaussian of s.d. ``s`` and height ``A`` at scale σ = 0.25 µm is
``2 A s² σ² / (s² + σ²)²``, so each test spot's height is chosen for its response
relative to the fixed threshold (20).
"""

from __future__ import annotations

import numpy as np
import pytest

from her2kit.imaging.ish.diffuse import drop_diffuse
from her2kit.imaging.ish.spots import detect_spots

PX, SIGMA, THR = 0.1, 0.25, 20.0


def _height(sd_um, relative):
    g = 2 * sd_um**2 * SIGMA**2 / (sd_um**2 + SIGMA**2) ** 2
    return relative * THR / g


def _kept(sd_um, relative, width_factor=1.5):
    """Whether a test spot of ``sd_um`` and relative response survives."""
    rr, cc = np.mgrid[:240, :240]
    img = np.full((240, 240), 10.0)
    spots = [(30 + 60 * (k // 4), 30 + 60 * (k % 4), 0.25, _height(0.25, 4.0))
             for k in range(8)]
    spots.append((180, 120, sd_um, _height(sd_um, relative)))
    for r, c, s, a in spots:
        img += a * np.exp(-((rr - r) ** 2 + (cc - c) ** 2) / (2 * (s / PX) ** 2))
    det = detect_spots(img.astype(np.float32), pixel_size_um=PX, spot_sigma_um=SIGMA,
                       threshold=THR)
    assert det.n == 9
    keep, _ = drop_diffuse(img, det, pixel_size_um=PX, spot_sigma_um=SIGMA,
                           width_factor=width_factor)
    test = np.argmin(np.hypot(det.coords_px[:, 0] - 180, det.coords_px[:, 1] - 120))
    assert keep.sum() >= 8
    return bool(keep[test])


@pytest.mark.parametrize(("sd_um", "relative", "kept"), [
    (0.25, 1.3, True),    # a weak dot of the field's width: a faint signal
    (0.45, 1.3, False),   # weak and 1.8 x wider: texture (kept with a factor of 2.0)
    (0.34, 1.3, True),    # weak and 1.35 x wider: kept (dropped with a factor of 1.2)
    (0.45, 1.8, True),    # wide but clear: kept (dropped if weak meant < 2.0 x)
])
def test_weak_wide_blobs_are_dropped(sd_um, relative, kept):
    assert _kept(sd_um, relative) is kept


def test_weak_bound_is_1_5_thresholds():
    # At 1.3 x the threshold a wide blob is weak (kept if weak meant < 1.2 x).
    assert _kept(0.45, 1.3) is False
    assert _kept(0.45, 1.3, width_factor=0) is True  # rule off
