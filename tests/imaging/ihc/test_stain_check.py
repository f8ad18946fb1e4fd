"""The H-DAB stain check: H&E and fluorescence refused, every real H-DAB image kept.

Boundary images are glass (255) beside flat patches whose colour is chosen so that the
measured quantity sits just on either side of each documented constant (eosin hue 0.10,
eosin share 20 %, tissue OD 0.15, 100 sampled tissue pixels). The hue of a pixel is
(OD_G - max(OD_R, OD_B)) / (OD_R + OD_G + OD_B), OD = -log10(v / 255), worked out by hand
in each test's comment.
"""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image

from her2kit.errors import ImageInputError
from her2kit.imaging.ihc.quality import assess_hdab_stain, check_hdab_stain

GLASS = 255
# Strong eosin pink: OD (0.045, 0.327, 0.106), hue (0.327 - 0.106) / 0.478 = 0.46.
PINK = (230, 120, 200)
# Ruifrok hematoxylin at about 0.5: OD (0.327, 0.350, 0.144), hue 0.029.
HEMATOXYLIN = (120, 114, 183)


def _patch_image(colour, *, rows=400, cols=800):
    """Left half glass, right half one flat colour."""
    img = np.full((rows, cols, 3), GLASS, np.uint8)
    img[:, cols // 2 :] = colour
    return img


@pytest.mark.parametrize(
    ("green", "refused"),
    [
        # R = B = 200: OD 0.10551. G = 184: OD 0.14172, hue 0.03621 / 0.35274 = 0.1027.
        (184, True),
        # G = 185: OD 0.13937, hue 0.03386 / 0.35039 = 0.0966.
        (185, False),
    ],
)
def test_eosin_hue_boundary(green, refused):
    check = assess_hdab_stain(_patch_image((200, green, 200)))
    assert check.is_hdab is not refused
    assert check.eosin_fraction == (1.0 if refused else 0.0)


@pytest.mark.parametrize(("n_pink_cols", "refused"), [(21, True), (19, False)])
def test_eosin_share_boundary(n_pink_cols, refused):
    # 100 sampled tissue columns (every 4th of 400), n of them pink, the rest hematoxylin:
    # eosin share 21 % (refused) or 19 % (kept).
    img = _patch_image(HEMATOXYLIN)
    img[:, 400 : 400 + 4 * n_pink_cols] = PINK
    check = assess_hdab_stain(img)
    assert check.eosin_fraction == pytest.approx(n_pink_cols / 100)
    assert check.is_hdab is not refused


@pytest.mark.parametrize(
    ("green", "is_tissue"),
    [
        # R = B = 250: OD 0.00860 each. G = 187: OD 0.13470, summed 0.1519 > 0.15: tissue
        # (hue 0.83, so refused as eosin).
        (187, True),
        # G = 189: OD 0.13008, summed 0.1473 < 0.15: not tissue, nothing to decide.
        (189, False),
    ],
)
def test_tissue_od_boundary(green, is_tissue):
    check = assess_hdab_stain(_patch_image((250, green, 250)))
    assert (check.n_tissue_pixels > 0) is is_tissue
    assert check.is_hdab is not is_tissue


@pytest.mark.parametrize(("n_sampled", "refused"), [(100, True), (99, False)])
def test_too_few_tissue_pixels_do_not_decide(n_sampled, refused):
    # A 40 x 40 pink patch aligned on the 4-pixel sampling grid holds 10 x 10 = 100
    # sampled pixels; one sampled pixel set to glass leaves 99.
    img = np.full((400, 400, 3), GLASS, np.uint8)
    img[200:240, 200:240] = PINK
    if n_sampled == 99:
        img[200, 200] = GLASS
    check = assess_hdab_stain(img)
    assert check.n_tissue_pixels == n_sampled
    assert check.is_hdab is not refused


def test_glass_white_point_removes_a_pink_cast():
    # Glass with a pink cast (250, 226, 250) and pale hematoxylin-only tissue seen through
    # it: over 255, the cast's green OD (0.052) gives the tissue an eosin hue; over the
    # glass it is gone, and a hematoxylin-only (IHC 0) image is kept.
    cast = np.array([250, 226, 250]) / 255.0
    tissue = np.round(np.array([205, 200, 228]) * cast).astype(np.uint8)
    img = np.full((400, 800, 3), np.round(255 * cast), np.uint8)
    img[:, 400:] = tissue
    check = assess_hdab_stain(img)
    assert check.white_point_source == "glass"
    assert check.is_hdab and check.eosin_fraction == 0.0


def test_hematoxylin_only_is_kept_and_dab_is_evidence():
    check = check_hdab_stain(_patch_image(HEMATOXYLIN))
    assert check.is_hdab and check.dab_fraction == 0.0 and check.reason is None
    brown = check_hdab_stain(_patch_image((180, 130, 90)))  # DAB-like: OD_B largest
    assert brown.dab_fraction == 1.0


def test_refusal_is_one_line():
    with pytest.raises(ImageInputError) as exc:
        check_hdab_stain(_patch_image(PINK), name="slide.png")
    msg = str(exc.value)
    assert "\n" not in msg and msg.startswith("slide.png: no H-DAB stain found: 100% ")
    assert "eosin" in msg and "H&E" in msg


def test_fluorescence_goes_through_the_brightfield_check():
    dark = np.zeros((200, 200, 3), np.uint8)
    dark[50:80, 50:80, 2] = 200  # a DAPI-blue nucleus on black
    with pytest.raises(ImageInputError, match="too dark for brightfield; is this a "
                                              "fluorescence image"):
        check_hdab_stain(dark)


# --------------------------------------------------------------------- real images


def _rgb(path):
    return np.asarray(Image.open(path).convert("RGB"))


def test_real_hdab_images_are_kept(real_data):
    """Every real H-DAB image in the shared folders: HER2 GEA cores (IHC 0 cores hold
    almost no DAB), BCI HER2 tiles, Ki67 tiles and scikit-image's DAB image."""
    paths = sorted(real_data("her2_ihc_gea_tma_bozeklab").glob("*.jpg"))
    paths += sorted((real_data("her2_ihc_bci_sample_mdopx") / "valB").glob("*.png"))
    paths += sorted((real_data("ki67_ihc_nuclei_deepliif") / "test").glob("*.png"))
    paths += [real_data("ihc_dab_unlabelled_skimage") / "ihc.png"]
    assert len(paths) == 24
    for p in paths:
        check = check_hdab_stain(_rgb(p))
        # Measured 0.000-0.051; the limit is 0.20.
        assert check.eosin_fraction < 0.10, p.name


def test_real_he_images_are_refused(real_data):
    """BCI H&E tiles (paired sections), the CPM H&E tiles and CMU-1 (an Aperio H&E)."""
    import openslide

    images = [(p.name, _rgb(p)) for p in
              sorted((real_data("her2_ihc_bci_sample_mdopx") / "valA").glob("*.png"))]
    images += [(p.name, _rgb(p)) for p in
               sorted(real_data("nuclei_he_miccai_cpm_pengyzhang").glob("image*.png"))]
    slide = openslide.OpenSlide(real_data("wsi_real_small") / "CMU-1-Small-Region.svs")
    for xy in [(500, 500), (1000, 1000), (1200, 200)]:
        region = np.asarray(slide.read_region(xy, 0, (512, 512)))[..., :3].copy()
        images.append((f"CMU-1 {xy}", region))
    slide.close()
    assert len(images) == 22
    for name, rgb in images:
        with pytest.raises(ImageInputError, match="no H-DAB stain found"):
            check_hdab_stain(rgb)
        # Measured 0.51-1.00; the limit is 0.20.
        assert assess_hdab_stain(rgb).eosin_fraction > 0.40, name
