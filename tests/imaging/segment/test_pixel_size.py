"""``--mpp auto``'s estimator on generated tissue of known pixel size, and its refusals.

The generator draws nuclei 6.5–10 µm across (discs, median ≈ 8.2 µm) at the pixel size it
is given; the estimator assumes a 7.0 µm median profile, so it must land within ±15 % of
the true size (measured 0.95–0.99×) and refuse what it cannot measure.
"""

from __future__ import annotations

import numpy as np
import pytest

from her2kit.errors import ImageInputError
from her2kit.imaging.color.hdab import separate_stains
from her2kit.imaging.segment.pixel_size import (
    MIN_NUCLEUS_DIAMETER_PX,
    MIN_WELL_SHAPED_NUCLEI,
    estimate_pixel_size,
)
from her2kit.synthetic.ihc import generate_ihc_region


def _hem(pixel_size_um, shape, seed=3):
    s = generate_ihc_region(target_score="1+", pixel_size_um=pixel_size_um, shape_px=shape,
                            seed=seed)
    return separate_stains(s.image, estimate=False).hematoxylin_od


@pytest.mark.parametrize(("pixel_size_um", "shape"),
                         [(0.25, (1024, 1024)), (0.5, (512, 512)), (1.0, (384, 384))])
def test_known_pixel_sizes_are_found(pixel_size_um, shape):
    e = estimate_pixel_size(_hem(pixel_size_um, shape))
    assert e.usable, e.reason
    assert 0.85 * pixel_size_um <= e.pixel_size_um <= 1.15 * pixel_size_um
    assert e.low_um < e.pixel_size_um < e.high_um
    assert 0 < e.relative_uncertainty <= 0.40
    assert e.n_well_shaped >= MIN_WELL_SHAPED_NUCLEI
    assert e.as_dict()["reason"] is None


def test_the_estimate_scales_with_the_reference():
    # The reference is the ruler: a 14 µm reference doubles the pixel size found.
    h = _hem(0.5, (512, 512))
    a = estimate_pixel_size(h)
    b = estimate_pixel_size(h, reference_diameter_um=14.0)
    assert b.pixel_size_um == pytest.approx(2 * a.pixel_size_um, rel=0.15)


def test_a_tiny_crop_is_refused():
    e = estimate_pixel_size(_hem(0.25, (96, 96)))
    assert not e.usable and e.pixel_size_um is None
    assert "no nucleus size matched" in e.reason
    assert e.as_dict()["relative_uncertainty"] is None


def test_too_few_nuclei_are_refused():
    # A 160² crop at 0.5 µm/px (80 µm a side) holds about 20 whole nuclei, fewer than the
    # 30 needed; a 200² crop about 40, enough (both sides of MIN_WELL_SHAPED_NUCLEI).
    h = _hem(0.5, (512, 512))
    few = estimate_pixel_size(h[:160, :160])
    assert 10 <= few.n_well_shaped < MIN_WELL_SHAPED_NUCLEI
    assert not few.usable and few.reason.startswith(f"only {few.n_well_shaped} well-shaped")
    enough = estimate_pixel_size(h[:200, :200])
    assert enough.n_well_shaped >= MIN_WELL_SHAPED_NUCLEI and enough.usable


def test_nuclei_too_small_in_pixels_are_refused():
    # 2 µm/px: the nuclei are about 4 px across, under the 6 px needed (at 1 µm/px, about
    # 7 px, they are measured: test_known_pixel_sizes_are_found).
    e = estimate_pixel_size(_hem(2.0, (512, 512)))
    assert not e.usable and e.median_diameter_px < MIN_NUCLEUS_DIAMETER_PX
    assert e.reason.startswith("nuclei only") and "need ≥ 6 px" in e.reason


def test_blank_and_bad_input():
    assert not estimate_pixel_size(np.zeros((256, 256), np.float32)).usable
    with pytest.raises(ImageInputError, match="2-D"):
        estimate_pixel_size(np.zeros((4, 4, 3)))
    with pytest.raises(ImageInputError, match="factor > 1"):
        estimate_pixel_size(np.zeros((64, 64)), reference_spread_factor=1.0)
