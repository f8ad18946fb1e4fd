"""score-ihc's no-DAB rules: a greyscale image is refused; a hematoxylin-only image is
scored but noted ("no_dab_seen"), because a DAB-negative field of a real IHC 0 section
looks the same (measured below), and every real IHC 0 / 1+ image is kept.

Tissue colour is the median of max(R, G, B) - min(R, G, B) over the sampled tissue pixels
(limit GREYSCALE_MAX_CHROMA_LEVELS, 3 levels); the DAB note uses the share of tissue
pixels whose blue OD is their largest (HdabStainCheck.dab_fraction, NO_DAB_HUE_FRACTION
0.5 %).
"""

from __future__ import annotations

import io

import numpy as np
import pytest
from PIL import Image

from her2kit.errors import ImageInputError
from her2kit.imaging.color.hdab import STANDARD_HDAB_MATRIX, separate_stains
from her2kit.imaging.ihc.quality import (
    GREYSCALE_MAX_CHROMA_LEVELS,
    NO_DAB_HUE_FRACTION,
    assess_hdab_stain,
    check_dab_present,
    check_hdab_stain,
)

# Ruifrok hematoxylin at about 0.5: OD (0.327, 0.350, 0.144), blue OD not the largest,
# channel spread 183 - 114 = 69 levels.
HEMATOXYLIN = (120, 114, 183)
# DAB-like brown: OD (0.151, 0.292, 0.452), blue OD the largest.
BROWN = (180, 130, 90)


def _patch(n_brown: int, colour=HEMATOXYLIN) -> np.ndarray:
    """Glass left, ``colour`` right (100 × 100 = 10,000 sampled tissue pixels, every 4th
    row and column); ``n_brown`` sampled pixels of one sampled column made brown."""
    img = np.full((400, 800, 3), 255, np.uint8)
    img[:, 400:] = colour
    img[0:4 * n_brown, 400] = BROWN
    return img


@pytest.mark.parametrize(("n_brown", "noted"), [(40, True), (60, False)])
def test_dab_share_boundary(n_brown, noted):
    # 40 / 10,000 = 0.40 % < 0.5 %: noted; 60 / 10,000 = 0.60 %: not.
    img = _patch(n_brown)
    check = check_hdab_stain(img)
    assert check.n_tissue_pixels == 10_000
    assert check.dab_fraction == pytest.approx(n_brown / 10_000)
    dab = check_dab_present(img, check)
    assert dab.no_dab_seen is noted and (dab.note is not None) is noted
    assert dab.tissue_chroma_levels == 69.0 and not dab.greyscale
    assert NO_DAB_HUE_FRACTION == 0.005


@pytest.mark.parametrize(("spread", "refused"), [(3, True), (4, False)])
def test_greyscale_boundary(spread, refused):
    # Tissue (150, 150, 150 + spread): summed OD 0.69, channel spread 3 (refused) or 4.
    img = _patch(0, colour=(150, 150, 150 + spread))
    check = check_hdab_stain(img)
    if refused:
        with pytest.raises(ImageInputError, match=r"^x\.png: no colour in the tissue "
                                                  r"\(median channel spread 3 levels"):
            check_dab_present(img, check, name="x.png")
    else:
        assert check_dab_present(img, check).tissue_chroma_levels == 4.0
    assert GREYSCALE_MAX_CHROMA_LEVELS == 3.0


def test_too_few_tissue_pixels_do_not_decide():
    img = np.full((400, 400, 3), 255, np.uint8)
    img[200:236, 200:240] = 150  # 9 × 10 = 90 sampled grey pixels
    check = assess_hdab_stain(img)
    assert check.n_tissue_pixels == 90
    dab = check_dab_present(img, check)  # undecided: the blank-tile refusal decides
    assert np.isnan(dab.tissue_chroma_levels) and not dab.no_dab_seen


# --------------------------------------------------------------------- real images


def _rgb(path):
    return np.asarray(Image.open(path).convert("RGB"))


def _noisy_jpeg(rgb, seed=0):
    """Camera noise (SD 2.5 levels) and JPEG quality 80, as a photo would carry."""
    rng = np.random.default_rng(seed)
    noisy = np.clip(rgb + rng.normal(0, 2.5, rgb.shape), 0, 255).astype(np.uint8)
    buf = io.BytesIO()
    Image.fromarray(noisy).save(buf, format="JPEG", quality=80)
    return np.asarray(Image.open(buf).convert("RGB"))


def _hematoxylin_only(rgb):
    """The image re-rendered from its hematoxylin alone (standard vectors, glass 255)."""
    h = separate_stains(rgb, estimate=False).hematoxylin_od
    od = h[..., None] * STANDARD_HDAB_MATRIX[0][None, None, :]
    return _noisy_jpeg(np.clip(255 * 10 ** (-od), 0, 255).round().astype(np.uint8))


def _grey(rgb):
    g = rgb.astype(np.float32) @ np.array([0.299, 0.587, 0.114], np.float32)
    return _noisy_jpeg(np.repeat(g.round().astype(np.uint8)[..., None], 3, axis=2))


def _ihc_low(real_data):
    """Every real IHC 0 / 1+ image: GEA 0 and 1+ cores, the BCI 0 and 1+ tiles and the
    DeepLIIF Ki67 tiles (IHC whose HER2-like negativity is beside the point: DAB-stained
    sections)."""
    gea = real_data("her2_ihc_gea_tma_bozeklab")
    paths = sorted(gea.glob("0_*.jpg")) + sorted(gea.glob("1_*.jpg"))
    bci = real_data("her2_ihc_bci_sample_mdopx") / "valB"
    paths += [bci / "00345_test_0.png", bci / "00901_test_1+.png"]
    paths += sorted((real_data("ki67_ihc_nuclei_deepliif") / "test").glob("*.png"))
    assert len(paths) == 13
    return paths


def _tissue_crops(rgb):
    """The whole image and its tissue-filled 1024² crops (≥ 20,000 sampled tissue px)."""
    yield rgb
    for r0 in range(0, rgb.shape[0] - 1023, 1024):
        for c0 in range(0, rgb.shape[1] - 1023, 1024):
            crop = rgb[r0:r0 + 1024, c0:c0 + 1024]
            if assess_hdab_stain(crop).n_tissue_pixels >= 20_000:
                yield crop


def test_real_ihc_0_and_1plus_are_kept_and_their_greyscale_copies_refused(real_data):
    lowest_real_chroma, lowest_real_dab = np.inf, np.inf
    for p in _ihc_low(real_data):
        rgb = _rgb(p)
        for k, part in enumerate(_tissue_crops(rgb)):
            check = check_hdab_stain(part)
            dab = check_dab_present(part, check)  # kept: not greyscale
            lowest_real_chroma = min(lowest_real_chroma, dab.tissue_chroma_levels)
            lowest_real_dab = min(lowest_real_dab, check.dab_fraction)
            if k == 0:
                assert check.dab_fraction >= 0.012, p.name  # whole: measured ≥ 1.23 %
        r0, c0 = (max(0, (n - 1024) // 2) for n in rgb.shape[:2])
        grey = _grey(rgb[r0:r0 + 1024, c0:c0 + 1024])
        check = check_hdab_stain(grey)
        assert check.n_tissue_pixels >= 100, p.name
        with pytest.raises(ImageInputError, match="no colour in the tissue"):
            check_dab_present(grey, check)
    # The evidence behind the rules (see imaging/ihc/quality.py): real tissue spreads its
    # channels by ≥ 6 levels; a real IHC 0 crop can show less DAB hue than 0.02 %.
    assert lowest_real_chroma >= 6
    assert lowest_real_dab < 0.0002


def test_hematoxylin_only_copies_are_noted_not_refused(real_data):
    for p in _ihc_low(real_data)[:4]:  # the GEA IHC 0 cores
        rgb = _rgb(p)
        r0, c0 = (max(0, (n - 1024) // 2) for n in rgb.shape[:2])
        hem = _hematoxylin_only(rgb[r0:r0 + 1024, c0:c0 + 1024])
        dab = check_dab_present(hem, check_hdab_stain(hem))
        assert dab.no_dab_seen and dab.dab_fraction < 0.003, p.name
