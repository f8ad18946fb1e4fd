"""Blank images are refused from a look at their pixels a block at a time, before the
scorer's float copies (issue 13, item 17): a 1.2 MB white 20000² TIFF cost 10.4 GB and
30-50 s before "blank"."""

from __future__ import annotations

import time
import tracemalloc

import numpy as np
import pytest
import tifffile
from PIL import Image

import her2kit.imaging.ihc.score as score_module
from her2kit.errors import ImageInputError
from her2kit.imaging.color.hdab import separate_stains
from her2kit.imaging.ihc.quality import count_tissue_pixels, tissue_mask, tissue_table
from her2kit.pipelines.score_ihc import score_ihc
from her2kit.synthetic.ihc import generate_ihc_region


@pytest.fixture(scope="module")
def tissue():
    return generate_ihc_region(shape_px=(256, 256), pixel_size_um=0.5, target_score="2+",
                               seed=3).image


@pytest.fixture
def no_scoring(monkeypatch):
    def boom(*args, **kwargs):
        raise AssertionError("the scorer ran")
    monkeypatch.setattr(score_module, "score_ihc_image", boom)


def _white_tiff(path, side, **layout):
    tifffile.imwrite(path, np.broadcast_to(np.uint8(255), (side, side, 3)),
                     compression="zlib", photometric="rgb", **layout)


def test_the_tissue_count_is_the_scorers(tissue):
    sep = separate_stains(tissue, estimate=False)
    expected = int(tissue_mask(sep.hematoxylin_od, sep.dab_od).sum())
    got = count_tissue_pixels(tissue, table=tissue_table())
    assert 0.2 * tissue.size / 3 < expected and abs(got - expected) <= 5  # float32 rounding
    assert count_tissue_pixels(np.full((9, 9, 3), 250, np.uint8), table=tissue_table()) == 0


@pytest.mark.parametrize(("side", "layout"), [(20000, {"rowsperstrip": 64}),
                                              (10000, {"tile": (512, 512)})])
def test_a_white_20000_tiff_is_refused_fast_and_small(tmp_path, side, layout, no_scoring):
    path = tmp_path / "white.tif"
    _white_tiff(path, side, **layout)
    assert path.stat().st_size < 2_000_000
    tracemalloc.start()
    start = time.perf_counter()
    with pytest.raises(ImageInputError, match=r"blank tile: 0\.00% tissue .*every pixel seen"):
        score_ihc(path, mpp=0.5, estimate_stains=False)
    elapsed = time.perf_counter() - start
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    assert peak < 100 * 2 ** 20, peak  # one strip or tile at a time, never the 1.2 GB image
    assert elapsed < 5, elapsed  # ~0.3-0.6 s; before: 30-50 s


def test_a_white_jpeg_is_refused_from_its_preview(tmp_path, no_scoring, monkeypatch):
    import her2kit.io.images as images

    monkeypatch.setattr(images, "read_image", lambda *a, **k: pytest.fail("decoded whole"))
    path = tmp_path / "white.jpg"
    Image.new("RGB", (4000, 3000), (252, 253, 251)).save(path, quality=90)
    with pytest.raises(ImageInputError, match=r"blank tile.*1/8-scale JPEG preview"):
        score_ihc(path, mpp=0.5, estimate_stains=False)


def test_a_white_png_is_refused_before_stain_separation(tmp_path, no_scoring):
    path = tmp_path / "white.png"
    Image.new("RGB", (3000, 2000), (255, 255, 255)).save(path)
    with pytest.raises(ImageInputError, match=r"blank tile.*before stain separation"):
        score_ihc(path, mpp=0.5, estimate_stains=False)


def test_a_white_planar_tiff_is_refused_from_its_planes(tmp_path, no_scoring):
    path = tmp_path / "planar.tif"
    tifffile.imwrite(path, np.broadcast_to(np.uint8(255), (3, 3000, 3000)),
                     compression="zlib", photometric="rgb", planarconfig="separate")
    with pytest.raises(ImageInputError, match=r"blank tile.*every pixel seen"):
        score_ihc(path, mpp=0.5, estimate_stains=False)


def _white_with_patch(tissue, side, patch):
    image = np.full((side, side, 3), 255, np.uint8)
    image[-patch:, -patch:] = tissue[:patch, :patch]
    return image


def test_a_small_patch_of_tissue_anywhere_is_seen(tmp_path, tissue):
    # 0.6 % of the image is tissue, all in the last strip rows: every pixel is looked at,
    # so the look does not refuse it and the scorer runs.
    image = _white_with_patch(tissue, 2000, 200)
    path = tmp_path / "patch.tif"
    tifffile.imwrite(path, image, photometric="rgb", rowsperstrip=64, compression="zlib")
    job = score_ihc(path, mpp=0.5, estimate_stains=False)
    assert job.result.n_cells_detected > 10
    planar = tmp_path / "patch-planar.tif"  # planes seen apart: tissue cannot be excluded
    tifffile.imwrite(planar, np.moveaxis(image, -1, 0), photometric="rgb",
                     planarconfig="separate")
    assert score_ihc(planar, mpp=0.5, estimate_stains=False).result.n_cells_detected == (
        job.result.n_cells_detected)


def test_between_the_two_limits_the_scorer_decides(tmp_path, tissue, monkeypatch):
    # ~0.1 % tissue: above the look's 0.05 %, below the scorer's 0.2 %: refused by the
    # scorer, with its own message (no "seen"/"measured" clause).
    image = _white_with_patch(tissue, 4000, 150)
    path = tmp_path / "sparse.tif"
    tifffile.imwrite(path, image, photometric="rgb", rowsperstrip=64, compression="zlib")
    with pytest.raises(ImageInputError) as err:
        score_ihc(path, mpp=0.5, estimate_stains=False)
    assert "blank tile" in str(err.value) and "seen" not in str(err.value)
