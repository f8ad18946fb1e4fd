"""Scoring in tiles: the same cells whatever the tiling; slide options fixed once; the
H&E refusal rule on real images."""

from __future__ import annotations

from collections import Counter

import numpy as np
import pytest
from scipy.spatial import cKDTree

from her2kit.errors import Her2kitInputError
from her2kit.imaging.ihc.quality import EOSIN_MIN_FRACTION, assess_hdab_stain
from her2kit.imaging.ihc.score import IhcOptions
from her2kit.imaging.ihc.tiles import (
    fix_slide_options,
    score_tile,
    stack_tiles,
)
from her2kit.imaging.tiling import tile_grid
from her2kit.synthetic.ihc import generate_ihc_region

PX = 0.5


@pytest.fixture(scope="module")
def region():
    return generate_ihc_region(shape_px=(1400, 1400), pixel_size_um=PX, target_score="2+",
                               seed=3).image


def _read(img, t):
    """The tile's read box, white outside the image (as the slide reader gives it)."""
    out = np.full((t.read_wh[1], t.read_wh[0], 3), 255, np.uint8)
    x0, y0 = t.read_xy
    xs, ys = max(0, x0), max(0, y0)
    xe, ye = min(img.shape[1], x0 + t.read_wh[0]), min(img.shape[0], y0 + t.read_wh[1])
    out[ys - y0:ye - y0, xs - x0:xe - x0] = img[ys:ye, xs:xe]
    return out


def _cells(img, options, core_um):
    g = tile_grid((img.shape[1], img.shape[0]), pixel_size_um=PX,
                  tissue_mask=np.ones((10, 10), bool), mask_pixel_size_um=70.0, core_um=core_um)
    parts = [score_tile(_read(img, t), t, pixel_size_um=PX, options=options).columns
             for t in g.tiles]
    return len(g.tiles), stack_tiles(parts)


def _matched(a, b) -> float:
    """Share of cells with a partner within 1 µm of the same class (of the larger set)."""
    d, i = cKDTree(np.c_[a["x_px"], a["y_px"]]).query(np.c_[b["x_px"], b["y_px"]])
    ok = (d * PX <= 1.0) & (a["class_name"][i] == b["class_name"])
    return ok.sum() / max(a["x_px"].size, b["x_px"].size)


def test_same_cells_untiled_and_with_two_tile_sizes(region):
    fixed = fix_slide_options([region[:600, :600]], region, pixel_size_um=PX,
                              options=IhcOptions()).options
    n1, whole = _cells(region, fixed, 1000.0)  # one tile holds the whole region
    n16, small = _cells(region, fixed, 200.0)
    n9, medium = _cells(region, fixed, 300.0)
    assert (n1, n16, n9) == (1, 16, 9)
    assert whole["x_px"].size > 1500
    assert _matched(whole, small) >= 0.99
    assert _matched(whole, medium) >= 0.99
    # the class shares agree to 0.5 % of cells (the IHC score is checked on whole slides)
    for part in (small, medium):
        ca, cb = Counter(whole["class_name"]), Counter(part["class_name"])
        for k in ca:
            assert abs(ca[k] - cb[k]) <= 0.005 * whole["x_px"].size


def test_without_tile_invariance_the_seams_show(region):
    """The control: per-image nucleus rules (all holes filled, watershed ties by queue
    order) give fewer matched cells, so the invariant options are what the test above
    measures."""
    fixed = fix_slide_options([region[:600, :600]], region, pixel_size_um=PX,
                              options=IhcOptions()).options
    from dataclasses import replace

    loose = replace(fixed, tile_invariant=False)
    _, whole = _cells(region, loose, 1000.0)
    _, small = _cells(region, loose, 200.0)
    assert _matched(whole, small) < 0.99


def test_fixed_options_have_no_per_image_estimate(region):
    opts = IhcOptions(estimate_stains=True, white_point="auto", nucleus_threshold="local_contrast")
    so = fix_slide_options([region[:500, :500], region[500:1000, 500:1000]], region,
                           pixel_size_um=PX, options=opts)
    o = so.options
    assert (o.estimate_stains, o.white_point, o.tile_invariant) == (False, "fixed", True)
    assert np.asarray(o.stain_matrix).shape == (3, 3)
    assert 0.0 < o.nucleus_threshold_od < 5.0
    assert so.evidence["sample_tiles"] == 2
    assert so.evidence["background_source"].startswith("thumbnail")


def test_counterstain_reference_is_refused(region):
    with pytest.raises(Her2kitInputError, match="counterstain"):
        fix_slide_options([region], region, pixel_size_um=PX,
                          options=IhcOptions(intensity_reference="counterstain"))


def test_a_blank_tile_is_empty_not_an_error():
    t = tile_grid((400, 400), pixel_size_um=PX, tissue_mask=np.ones((2, 2), bool),
                  mask_pixel_size_um=100.0, core_um=100.0).tiles[0]
    res = score_tile(np.full((t.read_wh[1], t.read_wh[0], 3), 250, np.uint8), t,
                     pixel_size_um=PX, options=IhcOptions())
    assert res.status == "empty" and len(res) == 0 and "blank" in res.reason
    assert set(res.columns) >= {"x_px", "y_px", "class_name", "completeness_pct"}


def _thumb(path, side=1024):
    from PIL import Image

    with Image.open(path) as im:
        im.thumbnail((side, side))
        return np.asarray(im.convert("RGB"))


def test_real_ihc_images_pass_and_real_he_are_refused(real_data):
    gea = real_data("her2_ihc_gea_tma_bozeklab")
    bci = real_data("her2_ihc_bci_sample_mdopx")
    he = real_data("nuclei_he_miccai_cpm_pengyzhang")
    # valB holds the BCI HER2 IHC tiles (valA their paired H&E tiles: LABELS.csv)
    ihc = sorted(gea.glob("*.jpg")) + sorted((bci / "valB").glob("*.png"))
    assert len(ihc) >= 18
    # score-slide applies score-ihc's H-DAB stain check to the slide's thumbnail: on
    # thumbnails too, real IHC stays well below the eosin-hue line and real H&E above it
    for f in ihc:
        check = assess_hdab_stain(_thumb(f))
        assert check.is_hdab and check.eosin_fraction < EOSIN_MIN_FRACTION - 0.05, f.name
    hes = sorted(he.rglob("*.png"))[:4]
    assert hes
    for f in hes:
        check = assess_hdab_stain(_thumb(f))
        assert not check.is_hdab and check.eosin_fraction > EOSIN_MIN_FRACTION + 0.05, f.name


def test_real_he_slide_is_refused(real_data):
    import openslide

    wsi = real_data("wsi_real_small")
    for name in ("CMU-1-Small-Region.svs", "tcga-cr-7395-01a-01-ts1.svs"):
        with openslide.OpenSlide(str(wsi / name)) as s:
            thumb = np.asarray(s.get_thumbnail((1024, 1024)).convert("RGB"))
        check = assess_hdab_stain(thumb)
        assert not check.is_hdab and check.eosin_fraction > EOSIN_MIN_FRACTION + 0.05, name



def test_tiles_count_the_red_cells_they_leave_out(real_data):
    # A vessel full of red cells in the GEA 2+ core (tests/data/erythrocyte_marks, crop
    # "r1850 c1950"): with the rule on, each tile reports the red cells of its core it
    # left out; 16 tiles total what one tile does within the seams' tolerance, and the
    # rule off leaves none out.
    from dataclasses import replace

    from her2kit.io.images import read_image
    from her2kit.pipelines.calibrate import CALIBRATION_OPTIONS

    px = 0.25
    path = real_data("her2_ihc_gea_tma_bozeklab") / "2_726fa489-3deb-4d06-ae5c-8f20bd3f3025.jpg"
    img = np.ascontiguousarray(read_image(path).image[1400:2424, 1550:2574])
    kw = {k: v for k, v in CALIBRATION_OPTIONS.items() if k != "erythrocyte_exclusion"}
    fixed = fix_slide_options([img[:512, :512]], img, pixel_size_um=px,
                              options=IhcOptions(**kw)).options

    def excluded(options, core_um):
        g = tile_grid((img.shape[1], img.shape[0]), pixel_size_um=px,
                      tissue_mask=np.ones((10, 10), bool), mask_pixel_size_um=25.6,
                      core_um=core_um)
        return len(g.tiles), sum(
            score_tile(_read(img, t), t, pixel_size_um=px, options=options)
            .n_erythrocytes_excluded for t in g.tiles)

    on = replace(fixed, erythrocyte_exclusion=True)
    (n1, whole), (n16, small) = excluded(on, 300.0), excluded(on, 90.0)
    assert (n1, n16) == (1, 16)
    assert whole >= 10, whole
    assert abs(small - whole) <= max(2, 0.1 * whole), (whole, small)
    assert excluded(replace(fixed, erythrocyte_exclusion=False), 90.0)[1] == 0
