"""Dual ISH and FISH counts do not depend on how finely a field is sampled (branch ishscale).

A user gives the pixel size (``--mpp``); a field scanned at 0.25 µm/px (a 40x slide
scanner) must read as the same field imaged at 0.065 µm/px. The real-field test
downscales a tuning field of the hand-counted reference (tests/data/ish_reference:
DISH1 / DISH3, the project's own counts, not an expert's) and checks the issue-11
targets literally: HER2 and CEP17 within ±1 for >= 80 % of the nuclei without
clusters, and the ratio within 15 % of the hand ratio on the same side of 2.0.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from her2kit.imaging.color.stains import STAIN_VECTORS
from her2kit.imaging.ish import BrightfieldIshOptions, count_brightfield_ish
from her2kit.imaging.ish.count import MIN_NUCLEI_SILVER_ANGLE_DEG, _nuclei_silver_angle

REF = Path(__file__).resolve().parents[2] / "data" / "ish_reference"


def _rotated(a, b, deg):
    """The unit vector ``deg`` degrees from ``a`` towards ``b`` (in their plane)."""
    a = np.asarray(a, float) / np.linalg.norm(a)
    b = np.asarray(b, float)
    perp = b - (b @ a) * a
    perp /= np.linalg.norm(perp)
    t = np.deg2rad(deg)
    return tuple(np.cos(t) * a + np.sin(t) * perp)


@pytest.mark.parametrize("deg, split", [(14.8, True), (15.2, False)])
def test_silver_split_angle_uses_the_hematoxylin_reference_too(deg, split):
    # Silver ``deg`` from the published hematoxylin, and 25 degrees from the estimate
    # used: the split follows the reference's side of the 15-degree line.
    href = STAIN_VECTORS["hematoxylin"]
    silver = _rotated(href, STAIN_VECTORS["fast_red"], deg)
    est = _rotated(silver, STAIN_VECTORS["fast_red"], -25.0)
    vectors = {"nuclei": est, "her2": silver}
    assert MIN_NUCLEI_SILVER_ANGLE_DEG == 15.0
    assert _nuclei_silver_angle(vectors) == pytest.approx(25.0, abs=0.01)
    angle = _nuclei_silver_angle(vectors, href)
    assert angle == pytest.approx(deg, abs=0.01)
    assert (angle < MIN_NUCLEI_SILVER_ANGLE_DEG) is split


def test_silver_split_reference_is_recorded_and_can_be_turned_off():
    rng = np.random.default_rng(0)
    rgb = np.full((96, 96, 3), 220, np.uint8)
    rgb[20:60, 20:60] = (120, 110, 170)  # a hematoxylin-blue block
    rgb[30:33, 30:33] = (40, 40, 45)  # a dark neutral dot
    rgb = np.clip(rgb + rng.normal(0, 3, rgb.shape), 0, 255).astype(np.uint8)
    on = count_brightfield_ish(rgb, assay="dual-ish", pixel_size_um=0.25)
    off = count_brightfield_ish(rgb, assay="dual-ish", pixel_size_um=0.25,
                                options=BrightfieldIshOptions(silver_split_reference=False))
    assert on.parameters["silver_split_reference"] is True
    assert off.parameters["silver_split_reference"] is False
    assert on.parameters["nuclei_silver_angle_deg"] <= off.parameters["nuclei_silver_angle_deg"]
