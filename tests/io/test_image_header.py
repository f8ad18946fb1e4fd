"""Pixel counts from the header, before any pixel is decoded (issue 13, item 17)."""

from __future__ import annotations

import numpy as np
import pytest
import tifffile
from PIL import Image

from her2kit.errors import ImageInputError
from her2kit.io.images import iter_image_look, read_image, read_image_header


@pytest.fixture
def no_decoding(monkeypatch):
    """Make every pixel decoder fail: what passes only read the header."""
    def boom(*args, **kwargs):
        raise AssertionError("pixels were decoded")
    monkeypatch.setattr(tifffile.TiffPage, "asarray", boom)
    monkeypatch.setattr(tifffile.TiffPage, "segments", boom)
    monkeypatch.setattr(Image.Image, "load", boom)


LAYOUTS = {
    "chunky-strips": (np.full((120, 100, 3), 200, np.uint8), {"rowsperstrip": 16}),
    "chunky-tiles": (np.full((120, 100, 3), 200, np.uint8), {"tile": (32, 32)}),
    "planar": (np.full((3, 120, 100), 200, np.uint8), {"planarconfig": "separate"}),
    "zlib-strips": (np.full((120, 100, 3), 200, np.uint8), {"compression": "zlib"}),
}


@pytest.mark.parametrize("name", sorted(LAYOUTS))
def test_every_layout_counts_rows_times_columns_before_decoding(tmp_path, name, no_decoding):
    data, kwargs = LAYOUTS[name]
    path = tmp_path / f"{name}.tif"
    tifffile.imwrite(path, data, photometric="rgb", **kwargs)
    header = read_image_header(path, max_pixels=12_000)
    assert (header.rows, header.cols, header.samples, header.bits) == (120, 100, 3, 8)
    assert header.look == "tiff"
    with pytest.raises(ImageInputError, match="image has 12000 pixels, more than the limit"):
        read_image_header(path, max_pixels=11_999)


def test_a_multi_page_tiff_is_judged_by_its_first_page(tmp_path, no_decoding):
    path = tmp_path / "pages.tif"
    with tifffile.TiffWriter(path) as tw:
        tw.write(np.full((40, 50, 3), 200, np.uint8), photometric="rgb")
        tw.write(np.full((400, 500, 3), 200, np.uint8), photometric="rgb")
    assert read_image_header(path, max_pixels=2000).rows == 40  # 2000 px < 200,000


def test_decoded_bytes_are_limited_too(tmp_path, no_decoding):
    # 100 x 100 pixels are within a 10,000-pixel limit, but 16-bit RGB decodes to 60,000
    # bytes, and 12 samples per pixel to 120,000: over the 40,000 of 8-bit RGBA.
    for name, data, kwargs in (
            ("rgb16", np.zeros((100, 100, 3), np.uint16), {"photometric": "rgb"}),
            ("many", np.zeros((100, 100, 12), np.uint8), {"photometric": "minisblack",
                                                          "planarconfig": "contig"})):
        path = tmp_path / f"{name}.tif"
        tifffile.imwrite(path, data, **kwargs)
        with pytest.raises(ImageInputError, match=r"would decode to \d+ bytes"):
            read_image_header(path, max_pixels=10_000)


def test_pillow_images_over_its_own_limit_are_opened_by_her2kit_limit(tmp_path):
    # 14,000² = 196 Mpx: over Pillow's 179 Mpx "decompression bomb" refusal at open, within
    # score-ihc's 400 Mpx; before, a confusing bomb message named Pillow's limit.
    path = tmp_path / "large.png"
    Image.new("1", (14000, 14000)).save(path)
    header = read_image_header(path)
    assert (header.rows, header.cols, header.look) == (14000, 14000, None)
    with pytest.raises(ImageInputError, match="image has 196000000 pixels, more than the lim"):
        read_image_header(path, max_pixels=100_000_000)


def test_the_look_yields_every_pixel_cropped(tmp_path):
    rng = np.random.default_rng(0)
    data = rng.integers(0, 256, (70, 90, 3), dtype=np.uint8)
    for name, kwargs in (("strips", {"rowsperstrip": 16}), ("tiles", {"tile": (32, 32)})):
        path = tmp_path / f"{name}.tif"
        tifffile.imwrite(path, data, photometric="rgb", **kwargs)
        header = read_image_header(path)
        seen = sum(int(b.astype(np.int64).sum()) for b, ch in iter_image_look(path, header))
        assert seen == int(data.astype(np.int64).sum())
        np.testing.assert_array_equal(read_image(path).image, data)
    path = tmp_path / "planar.tif"
    tifffile.imwrite(path, np.moveaxis(data, -1, 0), photometric="rgb",
                     planarconfig="separate")
    blocks = list(iter_image_look(path, read_image_header(path)))
    assert {ch for _, ch in blocks} == {(0,), (1,), (2,)}
    assert sum(b.size for b, _ in blocks) == data.size


def test_an_empty_tile_looks_like_what_the_decoder_reads(tmp_path):
    # A tile with no data (byte count 0) decodes as zeros: the look sees the same zeros,
    # so a missing tile never makes an image look blank.
    tiles = [np.full((16, 16, 3), 255, np.uint8) if i != 2 else None for i in range(4)]
    path = tmp_path / "sparse.tif"
    tifffile.imwrite(path, iter(tiles), shape=(32, 32, 3), dtype=np.uint8, tile=(16, 16),
                     photometric="rgb")
    blocks = list(iter_image_look(path, read_image_header(path)))
    assert sorted(int(b.min()) for b, _ in blocks) == [0, 255, 255, 255]
    assert int(read_image(path).image.min()) == 0
