"""The brightfield checks keep each entry point's exact wording (the CLI prints it)."""

from __future__ import annotations

import numpy as np
import pytest

from her2kit.errors import ImageInputError
from her2kit.imaging._validate import check_not_brightfield, check_rgb_image
from her2kit.imaging.ihc.score import score_ihc_image
from her2kit.imaging.ish.channels import check_brightfield_rgb


def _message(fn, *args, **kw) -> str:
    with pytest.raises(ImageInputError) as err:
        fn(*args, **kw)
    return str(err.value)


@pytest.mark.parametrize(
    ("image", "ihc", "ish"),
    [
        (
            np.zeros((32, 32), np.uint8),
            "expected an RGB brightfield image (rows, cols, 3), got grayscale shape (32, 32)",
            "expected an RGB image (rows, cols, 3), got shape (32, 32)",
        ),
        (
            np.zeros((32, 32, 3), np.uint16),
            "expected 8-bit (uint8) RGB, got 16-bit uint16; her2kit never rescales "
            "intensities implicitly, convert to uint8 yourself",
            "expected 8-bit (uint8) RGB, got uint16; convert it yourself",
        ),
        (
            np.zeros((8, 40, 3), np.uint8),
            "image too small: 8x40 px, need at least 16x16",
            "image too small: (8, 40) px",
        ),
    ],
)
def test_ihc_and_ish_wordings(image, ihc, ish):
    assert ihc in _message(check_rgb_image, image, name="rgb")
    assert ish in _message(check_brightfield_rgb, image)


def test_rgba_is_refused_by_ihc_and_dropped_by_ish():
    rgba = np.full((32, 32, 4), 220, np.uint8)
    assert "got RGBA shape (32, 32, 4); drop the alpha channel first" in _message(
        check_rgb_image, rgba
    )
    assert check_brightfield_rgb(rgba).shape == (32, 32, 3)


def test_dark_background_refusals():
    dark = np.full((64, 64, 3), 40, np.uint8)
    assert "median brightness 40/255 is too dark for brightfield; is this a fluorescence " \
        "image?" in _message(score_ihc_image, dark, pixel_size_um=0.5)
    assert "image looks like fluorescence, not brightfield (median brightness 16%); use " \
        "assay fish" in _message(check_brightfield_rgb, dark)
    # ISH refuses below 35 % (89/255), IHC below 60/255: 80 is refused by ISH only.
    grey = np.full((64, 64, 3), 80, np.uint8)
    assert "fluorescence" in _message(check_brightfield_rgb, grey)
    with pytest.raises(ImageInputError, match="blank tile"):
        score_ihc_image(np.full((64, 64, 3), 250, np.uint8), pixel_size_um=0.5)


def test_brightfield_passed_as_fluorescence():
    assert "image looks like brightfield, not fluorescence (median brightness 86% of full " \
        "scale)" in _message(check_not_brightfield, np.full((32, 32, 3), 220, np.uint8))
    check_not_brightfield(np.full((32, 32, 3), 100, np.uint8))
