"""The one raster opener shared by the IHC image reader and the ISH field readers."""

from __future__ import annotations

import warnings

import numpy as np
import pytest
from PIL import Image

from her2kit.errors import ImageInputError
from her2kit.io.fish import read_brightfield_ish, read_fish_image
from her2kit.io.images import read_image
from her2kit.io.raster import open_raster

RGB = np.full((48, 64, 3), 230, np.uint8)


def test_each_reader_names_its_own_field_for_a_missing_file(tmp_path):
    missing = tmp_path / "none.png"
    with pytest.raises(ImageInputError, match=r"^image: no such file: "):
        read_image(missing)
    with pytest.raises(ImageInputError, match=r"^path: no such file: "):
        read_fish_image(missing, channels={"her2": "R", "cep17": "G", "dapi": "B"})


def test_pillow_bomb_warning_is_silenced_our_limit_applies(tmp_path, monkeypatch):
    path = tmp_path / "a.png"
    Image.fromarray(RGB).save(path)
    # 3072 px is over this limit but under twice it: Pillow would warn, not refuse.
    monkeypatch.setattr(Image, "MAX_IMAGE_PIXELS", 2000)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert read_image(path).image.shape == (48, 64, 3)
        assert read_brightfield_ish(path).shape == (48, 64, 3)


def test_open_raster_gives_size_then_pixels(tmp_path):
    path = tmp_path / "a.png"
    Image.fromarray(RGB).save(path)
    with open_raster(path, field="image") as raster:
        assert not raster.is_tiff and raster.size_px == (64, 48)
        assert np.array_equal(raster.read_pil(), RGB)
