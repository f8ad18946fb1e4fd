"""The one optical-density rule reproduces the two conversions it replaced, bit for bit."""

from __future__ import annotations

import math

import numpy as np
import pytest

from her2kit.errors import Her2kitInputError, ImageInputError
from her2kit.imaging.color.od import (
    IHC_DARKEST_INTENSITY,
    ISH_DARKEST_INTENSITY,
    od_lookup_table,
    od_to_rgb,
    rgb_to_od,
)

BACKGROUNDS = [(255, 255, 255), (243.5, 240.0, 251.0), (250, 230, 200), (2.0, 2.5, 128.0)]


def _bits(a: np.ndarray) -> np.ndarray:
    return np.ascontiguousarray(a, dtype=np.float32).view(np.int32)


@pytest.mark.parametrize("background", BACKGROUNDS)
def test_ihc_table_is_the_former_float64_table(background):
    # The H-DAB code's former table: float64 arithmetic, one rounding to float32.
    v = np.maximum(np.arange(256, dtype=np.float64), 0.5)
    old = np.maximum(-np.log10(v[None, :] / np.asarray(background, float)[:, None]), 0.0)
    new = od_lookup_table(background, darkest_intensity=IHC_DARKEST_INTENSITY)
    assert new.dtype == np.float32 and new.shape == (3, 256)
    assert np.array_equal(_bits(new), _bits(old.astype(np.float32)))


@pytest.mark.parametrize("background", BACKGROUNDS)
def test_ish_conversion_is_the_former_float32_per_pixel_formula(background):
    # The ISH code's former per-pixel formula, on every 8-bit value in every channel and
    # at many array positions (so that vectorised and scalar loop tails both occur).
    rng = np.random.default_rng(1)
    rgb = rng.integers(0, 256, (97, 131, 3), dtype=np.uint8)
    rgb[:16, :16] = np.arange(256, dtype=np.uint8).reshape(16, 16)[..., None]
    i0 = np.asarray(background, dtype=np.float32)
    old = -np.log10(np.maximum(rgb.astype(np.float32), 1.0) / i0)
    np.maximum(old, 0.0, out=old)
    new = rgb_to_od(
        rgb,
        background_rgb=background,
        darkest_intensity=ISH_DARKEST_INTENSITY,
        precision="float32",
    )
    assert new.dtype == np.float32 and np.array_equal(_bits(new), _bits(old))


def test_black_and_white_pixels():
    ihc = od_lookup_table(darkest_intensity=IHC_DARKEST_INTENSITY)
    ish = od_lookup_table(darkest_intensity=ISH_DARKEST_INTENSITY, precision="float32")
    assert ihc[0, 0] == pytest.approx(2.7076, abs=1e-4)  # log10(255 / 0.5)
    assert ish[0, 0] == pytest.approx(2.4065, abs=1e-4)  # log10(255 / 1)
    assert ihc[1, 255] == 0.0 and ish[2, 255] == 0.0
    assert ihc[0, 1] == pytest.approx(math.log10(255), rel=1e-6)


def test_od_to_rgb_round_trips_the_table():
    rgb = np.arange(1, 256, dtype=np.uint8).reshape(15, 17)[..., None].repeat(3, axis=2)
    od = rgb_to_od(rgb, darkest_intensity=IHC_DARKEST_INTENSITY)
    assert np.array_equal(od_to_rgb(od), rgb)


def test_bad_inputs_refused():
    with pytest.raises(Her2kitInputError, match="background_rgb"):
        od_lookup_table((255, 300, 255), darkest_intensity=ISH_DARKEST_INTENSITY)
    with pytest.raises(Her2kitInputError, match="darkest_intensity"):
        od_lookup_table(darkest_intensity=0.0)
    with pytest.raises(Her2kitInputError, match="precision"):
        od_lookup_table(darkest_intensity=1.0, precision="float16")
    with pytest.raises(ImageInputError, match="uint8"):
        rgb_to_od(np.zeros((4, 4, 3), np.float32), darkest_intensity=1.0)
