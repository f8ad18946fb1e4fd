"""The slide writer: real HER2 IHC cores written as generic TIFF, SVS and OME-TIFF and read
back through open_slide; streaming, bounded memory, atomic writes.

The cores are decoded independently (Pillow) and compared with what OpenSlide / tifffile
decode from the written pyramid; level sizes are halvings of the sizes in LABELS.csv.
"""

from __future__ import annotations

import tracemalloc

import numpy as np
import pytest
from PIL import Image

from her2kit.errors import Her2kitInputError, ImageInputError, OutputError
from her2kit.io import slide_writer
from her2kit.io.slide_writer import level_sizes, write_slide
from her2kit.io.slides import open_slide

pytest.importorskip("openslide")

CORE_3 = "3_a1f1510c-b91e-4995-ba59-596ca7ebb019.jpg"  # 5468 x 5468 (LABELS.csv)
CORE_ODD = "2_a5593c5e-5c9c-4499-bfab-3aebe3ef4b7f.jpg"  # 5467 x 5467
SIZES_5468 = [(5468, 5468), (2734, 2734), (1367, 1367), (684, 684), (342, 342), (171, 171)]


@pytest.fixture
def core3(real_data):
    with Image.open(real_data("her2_ihc_gea_tma_bozeklab") / CORE_3) as im:
        return np.asarray(im.convert("RGB"))


def _reduced(image: np.ndarray, k: int) -> np.ndarray:
    h, w = (image.shape[0] // k) * k, (image.shape[1] // k) * k
    return image[:h, :w].reshape(h // k, k, w // k, k, 3).mean(axis=(1, 3))


@pytest.mark.parametrize(("flavour", "suffix", "vendor", "source"), [
    ("tiff", ".tif", "generic-tiff", "file (generic-tiff MPP)"),
    ("svs", ".svs", "aperio", "file (aperio MPP)"),
    ("ome", ".ome.tif", "ome-tiff", "file (OME PhysicalSizeX)"),
])
def test_real_core_round_trip(core3, tmp_path, flavour, suffix, vendor, source):
    path = tmp_path / f"core{suffix}"
    written = write_slide(path, core3, pixel_size_um=0.25, flavour=flavour)
    assert written.level_sizes_wh == tuple(SIZES_5468)
    assert written.file_bytes == path.stat().st_size
    with open_slide(path) as slide:
        assert slide.vendor == vendor
        assert slide.pixel_size_um == pytest.approx(0.25)
        assert slide.pixel_size_source == source
        assert [(lv.width, lv.height) for lv in slide.levels] == SIZES_5468
        # OpenSlide's downsample: the ratio of the level sizes (5468 / 684 for level 3)
        assert [lv.downsample for lv in slide.levels] == pytest.approx(
            [1, 2, 4, 5468 / 684, 5468 / 342, 5468 / 171])
        assert slide.level_warnings == ()
        got = slide.read_region((1000, 2000), (1024, 1024)).astype(int)
        want = core3[2000:3024, 1000:2024].astype(int)
        err = np.abs(got - want)
        assert err.mean() < 2.0 and np.percentile(err, 99) < 12  # JPEG q90 of a JPEG
        level2 = slide.read_region((1000, 2000), (256, 256), level=2).astype(float)
        # 4 x 4 means of level 0, within JPEG q90 (measured 4.2; shifted by one level-2 px
        # the difference is ~20)
        assert np.abs(level2 - _reduced(core3[2000:3024, 1000:2024], 4)).mean() < 6.0
        # read_at 1 µm/px is level 2 as stored
        assert np.array_equal(slide.read_at(1.0, (1000, 2000), (256, 256)),
                              level2.astype(np.uint8))


def test_svs_description_is_aperio_with_mpp_and_magnification(core3, tmp_path):
    path = tmp_path / "c.svs"
    write_slide(path, core3[:1000, :1500], pixel_size_um=0.25, flavour="svs")
    with open_slide(path) as slide:
        assert slide.properties["aperio.MPP"] == "0.25"
        assert slide.properties["aperio.AppMag"] == "40"
        assert slide.properties["openslide.objective-power"] == "40"
        assert slide.dimensions == (1500, 1000)


def test_odd_sized_core_levels_round_up(real_data, tmp_path):
    with Image.open(real_data("her2_ihc_gea_tma_bozeklab") / CORE_ODD) as im:
        rgb = np.asarray(im.convert("RGB"))
    assert rgb.shape == (5467, 5467, 3)
    path = tmp_path / "odd.tif"
    write_slide(path, rgb, pixel_size_um=0.25, tile_px=512)
    with open_slide(path) as slide:
        assert [lv.width for lv in slide.levels] == [5467, 2734, 1367, 684, 342]
        corner = slide.read_region((5460, 5460), (16, 16))  # beyond the edge: white
        assert (corner[7:, :] == 255).all() and (corner[:, 7:] == 255).all()


def test_ihc_core_slide_fixture(ihc_core_slide):
    path = ihc_core_slide("3+", flavour="svs", crop_px=2048)
    assert ihc_core_slide("3+", flavour="svs", crop_px=2048) == path  # written once
    with open_slide(path) as slide:
        assert slide.vendor == "aperio" and slide.dimensions == (2048, 2048)
        assert [lv.width for lv in slide.levels] == [2048, 1024, 512, 256]


def test_level_sizes():
    assert level_sizes((5468, 5468), tile_px=256) == tuple(SIZES_5468)
    assert level_sizes((100, 40), tile_px=256) == ((100, 40),)
    assert level_sizes((50000, 50000), tile_px=512)[-1] == (391, 391)


def _gradient_tile(t: int, calls: list):
    def tile(row: int, col: int) -> np.ndarray:
        calls.append((row, col))
        value = (row * 37 + col * 11) % 200 + 20
        return np.full((t, t, 3), value, np.uint8)
    return tile


def test_streamed_source_is_called_once_per_tile_row_by_row(tmp_path):
    calls: list = []
    path = tmp_path / "s.tif"
    write_slide(path, _gradient_tile(256, calls), size_wh=(1000, 700), pixel_size_um=0.5)
    assert calls == [(r, c) for r in range(3) for c in range(4)]
    with open_slide(path) as slide:
        assert slide.dimensions == (1000, 700)
        # tile (2, 3) is flat (2*37 + 3*11) % 200 + 20 = 127
        assert np.abs(slide.read_region((800, 600), (100, 50)).astype(int) - 127).max() <= 2
        # level 1 pixel (row 100, col 100) averages tile (0, 0) (value 20): flat too
        assert abs(int(slide.read_region((0, 0), (160, 160), level=1)[100, 100, 0]) - 20) <= 2


def _peak_bytes(path, size_wh) -> int:
    tracemalloc.start()
    try:
        write_slide(path, _gradient_tile(512, []), size_wh=size_wh, pixel_size_um=0.25,
                    tile_px=512)
        return tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


def test_memory_does_not_grow_with_the_slide_height(tmp_path):
    short = _peak_bytes(tmp_path / "a.tif", (4096, 4096))
    tall = _peak_bytes(tmp_path / "b.tif", (4096, 16384))  # 4 x the pixels
    assert tall < 1.2 * short, (short, tall)
    assert tall < 4096 * 16384 * 3 / 8  # a few rows of tiles, not the image (201 MB)


def test_failing_source_leaves_no_file(tmp_path):
    path = tmp_path / "f.svs"
    path.write_bytes(b"old")

    def bad(row, col):
        if (row, col) == (1, 1):
            raise RuntimeError("generator failed")
        return np.zeros((256, 256, 3), np.uint8)

    with pytest.raises(RuntimeError):
        write_slide(path, bad, size_wh=(600, 600), pixel_size_um=0.25, flavour="svs")
    assert path.read_bytes() == b"old"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["f.svs"]


def test_bad_tiles_and_options_are_refused(tmp_path):
    with pytest.raises(ImageInputError, match=r"tile \(0, 0\): expected at least 256x256 px"):
        write_slide(tmp_path / "a.tif", lambda r, c: np.zeros((10, 10, 3), np.uint8),
                    size_wh=(600, 600), pixel_size_um=0.25)
    with pytest.raises(ImageInputError, match=r"tile \(0, 0\): expected uint8"):
        write_slide(tmp_path / "a.tif", lambda r, c: np.zeros((256, 256, 3)),
                    size_wh=(600, 600), pixel_size_um=0.25)
    with pytest.raises(Her2kitInputError, match="flavour"):
        write_slide(tmp_path / "a.tif", np.zeros((64, 64, 3), np.uint8), pixel_size_um=0.25,
                    flavour="mrxs")
    with pytest.raises(Her2kitInputError, match="pixel_size_um"):
        write_slide(tmp_path / "a.tif", np.zeros((64, 64, 3), np.uint8), pixel_size_um=0)
    with pytest.raises(Her2kitInputError, match="tile_px"):
        write_slide(tmp_path / "a.tif", np.zeros((64, 64, 3), np.uint8), pixel_size_um=0.25,
                    tile_px=100)
    with pytest.raises(OutputError, match="is a directory"):
        write_slide(tmp_path, np.zeros((64, 64, 3), np.uint8), pixel_size_um=0.25)
    assert not list(tmp_path.iterdir())


def test_bigtiff_is_read_back(core3, tmp_path, monkeypatch):
    monkeypatch.setattr(slide_writer, "_BIGTIFF_RAW_BYTES", 0)
    for flavour, suffix, vendor in (("tiff", ".tif", "generic-tiff"), ("svs", ".svs", "aperio")):
        path = tmp_path / f"b{suffix}"
        write_slide(path, core3[:600, :800], pixel_size_um=0.5, flavour=flavour)
        assert path.read_bytes()[2:4] == b"\x2b\x00"  # BigTIFF version 43
        with open_slide(path) as slide:
            assert slide.vendor == vendor and slide.pixel_size_um == pytest.approx(0.5)
