"""The stain table is immutable and holds the published vectors."""

from __future__ import annotations

import numpy as np
import pytest

from her2kit.imaging.color.stains import (
    CISH_STAINS,
    DAB_OD_RGB,
    DUAL_ISH_STAINS,
    HEMATOXYLIN_OD_RGB,
    STAIN_VECTORS,
)


def test_published_rows():
    # Fast red: (0.214, 0.851, 0.478) / 0.99924 (its length, by hand).
    # Ruifrok & Johnston (2001), Table 1, H DAB.
    assert HEMATOXYLIN_OD_RGB.tolist() == [0.650, 0.704, 0.286]
    assert DAB_OD_RGB.tolist() == [0.268, 0.570, 0.776]
    assert STAIN_VECTORS["silver"] == pytest.approx((0.57735, 0.57735, 0.57735), abs=1e-5)
    assert STAIN_VECTORS["fast_red"] == pytest.approx((0.21416, 0.85165, 0.47836), abs=1e-5)


def test_ihc_and_ish_share_the_hematoxylin_and_dab_directions():
    for name, row in (("hematoxylin", HEMATOXYLIN_OD_RGB), ("dab", DAB_OD_RGB)):
        assert np.allclose(STAIN_VECTORS[name], row / np.linalg.norm(row), atol=1e-15)


def test_tables_are_read_only():
    with pytest.raises(ValueError):
        HEMATOXYLIN_OD_RGB[0] = 1.0
    with pytest.raises(ValueError):
        DAB_OD_RGB[1] = 1.0
    for table in (STAIN_VECTORS, DUAL_ISH_STAINS, CISH_STAINS):
        with pytest.raises(TypeError):
            table["x"] = "y"  # type: ignore[index]
    assert DUAL_ISH_STAINS == {"nuclei": "hematoxylin", "her2": "silver", "cep17": "fast_red"}
    assert CISH_STAINS == {"nuclei": "hematoxylin", "her2": "dab"}
