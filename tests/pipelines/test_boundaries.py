"""The score-ihc document flags fewer than 100 counted cells (``few_cells``).

Regions of 99, 100 and 101 uniform nuclei drawn here go through ``score_ihc_image`` and
the document; the count is known from the drawing.
"""

from __future__ import annotations

import numpy as np
import pytest

# The entry points under test, imported in one place (re-point here when they move).
from her2kit.imaging.color.hdab import STANDARD_HDAB_MATRIX
from her2kit.imaging.ihc.score import IhcOptions, score_ihc_image
from her2kit.pipelines.ihc import ihc_document

HEM_RGB = np.array([0.650, 0.704, 0.286])


def _region(n_nuclei, *, spacing_px=20, radius_px=5, hem_od=0.5):
    n_cols = 10
    n_rows = -(-n_nuclei // n_cols)
    shape = (n_rows * spacing_px, n_cols * spacing_px)
    rr, cc = np.mgrid[: shape[0], : shape[1]]
    hem = np.zeros(shape)
    for k in range(n_nuclei):
        r0, c0 = (k // n_cols + 0.5) * spacing_px, (k % n_cols + 0.5) * spacing_px
        hem[(rr - r0) ** 2 + (cc - c0) ** 2 <= radius_px**2] = hem_od
    return np.clip(np.rint(255 * 10.0 ** -(hem[..., None] * HEM_RGB)), 0, 255).astype(np.uint8)


@pytest.mark.parametrize(("n", "few"), [(99, True), (100, False), (101, False)])
def test_few_cells_below_100(n, few):
    res = score_ihc_image(_region(n), pixel_size_um=1.0, options=IhcOptions(
                              stain_matrix=STANDARD_HDAB_MATRIX, estimate_stains=False))
    assert res.n_cells_counted == n
    doc = ihc_document(res, image="drawn.png", pixel_size_um=1.0, pixel_size_source="test")
    assert doc["evidence"]["cells_counted"] == n
    assert ("few_cells" in doc["evidence"]["quality_flags"]) is few
    assert doc["ihc"]["score"] == "0"  # no DAB: no membrane staining
