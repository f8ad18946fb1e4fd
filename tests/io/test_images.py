"""Image files: reading, pixel size from metadata, broken files, atomic writes."""

from __future__ import annotations

import numpy as np
import pytest
import tifffile
from PIL import Image

from her2kit.errors import ImageInputError
from her2kit.io.images import read_image, write_image

RGB = (np.arange(48 * 64 * 3) % 251).astype(np.uint8).reshape(48, 64, 3)


@pytest.mark.parametrize("suffix", [".png", ".tif"])
def test_round_trip(tmp_path, suffix):
    path = write_image(tmp_path / f"a{suffix}", RGB, pixel_size_um=0.5)
    got = read_image(path)
    assert np.array_equal(got.image, RGB)
    if suffix == ".tif":
        assert got.pixel_size_um == pytest.approx(0.5)
        assert got.pixel_size_source == "tiff-resolution"
    else:
        assert got.pixel_size_um is None
    assert [p.name for p in tmp_path.iterdir()] == [f"a{suffix}"]  # no temp files left


def test_ome_tiff_pixel_size(tmp_path):
    path = tmp_path / "a.ome.tif"
    tifffile.imwrite(
        path, RGB, photometric="rgb", metadata={"PhysicalSizeX": 250, "PhysicalSizeXUnit": "nm"}
    )
    got = read_image(path)
    assert got.pixel_size_um == pytest.approx(0.25)
    assert got.pixel_size_source == "ome"


def test_truncated_jpeg(tmp_path):
    path = tmp_path / "a.jpg"
    Image.fromarray(RGB).save(path, quality=90)
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])
    with pytest.raises(ImageInputError, match=r"cannot read a\.jpg"):
        read_image(path)


def test_missing_unsupported_and_too_large(tmp_path):
    with pytest.raises(ImageInputError, match="no such file"):
        read_image(tmp_path / "nope.png")
    (tmp_path / "a.bmp").write_bytes(b"BM")
    with pytest.raises(ImageInputError, match="unsupported file type"):
        read_image(tmp_path / "a.bmp")
    write_image(tmp_path / "b.png", RGB)
    with pytest.raises(ImageInputError, match="more than the limit"):
        read_image(tmp_path / "b.png", max_pixels=100)


def test_sixteen_bit_and_rgba_are_returned_as_stored(tmp_path):
    # read_image does not convert; score_ihc_image then refuses them with a clear line.
    tifffile.imwrite(tmp_path / "c.tif", (RGB.astype(np.uint16) * 257), photometric="rgb")
    assert read_image(tmp_path / "c.tif").image.dtype == np.uint16
    Image.fromarray(np.dstack([RGB, RGB[..., :1]])).save(tmp_path / "d.png")
    assert read_image(tmp_path / "d.png").image.shape == (48, 64, 4)
