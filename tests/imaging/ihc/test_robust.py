"""The real-tissue measures of issue 10 (her2kit.imaging.ihc.robust), on small arrays."""

import numpy as np
import pytest

from her2kit.errors import Her2kitInputError
from her2kit.imaging.ihc.robust import (
    cell_cytoplasm_level,
    contrast_threshold,
    dab_dominant,
    estimate_white_point,
    local_contrast_hematoxylin,
)
from her2kit.imaging.ihc.score import IhcOptions, score_ihc_image


def _glass_with_tissue(glass=(235, 234, 244), tissue_share=0.5, seed=0):
    rng = np.random.default_rng(seed)
    img = np.empty((512, 512, 3), np.uint8)
    img[:] = glass
    cut = int(512 * tissue_share)
    img[:, :cut] = rng.integers(120, 200, size=(512, cut, 3), dtype=np.uint8)
    return img


def test_white_point_is_the_glass_level():
    wp = estimate_white_point(_glass_with_tissue())
    assert wp.source == "glass"
    assert wp.rgb == pytest.approx((235, 234, 244), abs=0.5)
    assert wp.flags == ()
    assert 0.4 < wp.glass_fraction < 0.6


def test_no_glass_and_saturated_glass_are_flagged():
    wp = estimate_white_point(_glass_with_tissue(tissue_share=1.0))
    assert wp.source == "bright_end"
    assert "white_point_no_glass" in wp.flags
    sat = estimate_white_point(_glass_with_tissue(glass=(255, 255, 255)))
    assert sat.source == "glass"
    assert sat.flags == ("white_point_saturated",)


def test_cell_cytoplasm_level_is_a_low_percentile_outside_the_nucleus():
    cells = np.array([[1, 1, 1, 1, 1, 2, 2, 2, 2, 2]])
    dab = np.array([[0.9, 0.1, 0.2, 0.3, 0.4, 0.5, 0.5, 0.5, 0.5, 0.5]], np.float32)
    exclude = np.array([[False, True, False, False, False, False, False, False, False, False]])
    # Cell 1 keeps 0.9, 0.2, 0.3, 0.4: sorted 0.2, 0.3, 0.4, 0.9; rank floor(0.2 * 3) = 0.
    level = cell_cytoplasm_level(dab, cells, exclude, 2, percentile=20)
    assert level.tolist() == pytest.approx([0.2, 0.5])
    level50 = cell_cytoplasm_level(dab, cells, exclude, 2, percentile=50)
    assert level50.tolist() == pytest.approx([0.3, 0.5])


def test_dab_dominant_pixels():
    hem = np.array([0.3, 0.3, 0.05, 0.05], np.float32)
    dab = np.array([0.2, 0.4, 0.10, 0.30], np.float32)
    assert dab_dominant(hem, dab).tolist() == [False, True, False, True]


def test_local_contrast_finds_pale_nuclei_on_a_tinted_level():
    hem = np.full((64, 64), 0.06, np.float32)  # tinted stroma level
    hem[10:18, 10:18] = 0.10  # a pale nucleus, 0.04 OD above it
    lc = local_contrast_hematoxylin(hem, size_px=13)
    assert lc[14, 14] == pytest.approx(0.04, abs=1e-6)
    assert lc[40, 40] == pytest.approx(0.0, abs=1e-6)
    thr, source = contrast_threshold(lc + np.float32(0.01))
    assert 0.02 <= thr <= 0.05
    assert source.startswith("local-contrast")


def test_unknown_robust_choice_is_refused():
    img = _glass_with_tissue()
    with pytest.raises(Her2kitInputError, match="white_point"):
        score_ihc_image(img, pixel_size_um=0.5, options=IhcOptions(white_point="yes"))


def test_counterstain_scale_cancels_a_common_od_scale():
    from her2kit.imaging.ihc.robust import REFERENCE_HEMATOXYLIN_OD, counterstain_scale

    nuclei = np.zeros((40, 40), np.int32)
    for k in range(40):  # 40 one-row nuclei of 40 px
        nuclei[k] = k + 1
    hem = np.full((40, 40), 0.2, np.float32)
    dab = np.full((40, 40), 0.02, np.float32)
    ref = counterstain_scale(hem, dab, nuclei, 40)
    assert ref.reference_od == pytest.approx(0.2)
    assert ref.scale == pytest.approx(REFERENCE_HEMATOXYLIN_OD / 0.2)
    darker = counterstain_scale(hem * 1.5, dab * 1.5, nuclei, 40)
    # DAB x 1.5 times the new scale equals DAB times the old one.
    assert 1.5 * darker.scale == pytest.approx(ref.scale)
    few_nuclei = np.where(nuclei <= 10, nuclei, 0)
    few = counterstain_scale(hem, dab, few_nuclei, 10)
    assert few.scale == 1.0 and few.flags == ("counterstain_reference_unavailable",)
