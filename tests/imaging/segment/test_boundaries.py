"""The automatic nucleus threshold is Otsu's, clipped to 0.08–0.40 hematoxylin OD.

Two-level images built here (uniform nuclei on a uniform background) put Otsu's
threshold below, inside and above those bounds; the threshold used and the nuclei found
follow from the construction.
"""

from __future__ import annotations

import numpy as np
import pytest

# The entry point under test, imported in one place (re-point here when it moves).
from her2kit.imaging.segment.nuclei import detect_nuclei


def _grid(levels, *, background, spacing_px=24, radius_px=6):
    """Hematoxylin OD image: one uniform disk per value in ``levels`` (rows of 5)."""
    n_rows = -(-len(levels) // 5)
    shape = (n_rows * spacing_px, 5 * spacing_px)
    rr, cc = np.mgrid[: shape[0], : shape[1]]
    hem = np.full(shape, background, dtype=np.float32)
    for k, od in enumerate(levels):
        r0, c0 = (k // 5 + 0.5) * spacing_px, (k % 5 + 0.5) * spacing_px
        hem[(rr - r0) ** 2 + (cc - c0) ** 2 <= radius_px**2] = od
    return hem


@pytest.mark.parametrize(("nucleus_od", "found"), [(0.07, 0), (0.09, 10)])
def test_threshold_floor_008(nucleus_od, found):
    # Pale tint on a 0.035 OD background: Otsu falls between them (< 0.08), so the
    # floor applies and only nuclei above 0.08 OD are nuclei.
    det = detect_nuclei(_grid([nucleus_od] * 10, background=0.035), pixel_size_um=1.0)
    assert det.threshold_od == pytest.approx(0.08)
    assert det.threshold_source == "otsu-clipped"
    assert det.n_nuclei == found


def test_threshold_inside_bounds_is_otsu():
    det = detect_nuclei(_grid([0.35] * 10, background=0.05), pixel_size_um=1.0)
    assert det.threshold_source == "otsu"
    assert 0.08 < det.threshold_od < 0.40
    assert det.n_nuclei == 10


def test_threshold_ceiling_040_keeps_pale_nuclei():
    # Five dark (1.2 OD) and five pale (0.45 OD) nuclei: Otsu lands above 0.40 and the
    # ceiling keeps the pale ones (a light counterstain must not lose nuclei).
    det = detect_nuclei(_grid([1.2] * 5 + [0.45] * 5, background=0.05), pixel_size_um=1.0)
    assert det.threshold_od == pytest.approx(0.40)
    assert det.threshold_source == "otsu-clipped"
    assert det.n_nuclei == 10
