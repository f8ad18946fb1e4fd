"""Boundary checks shared by the imaging functions.

Each check raises :class:`her2kit.errors.ImageInputError` (a ``Her2kitInputError``)
with one line naming the argument, what was expected and what was received.
"""

from __future__ import annotations

import math

import numpy as np

from her2kit.errors import Her2kitInputError, ImageInputError

# Pixel sizes outside this range are not brightfield microscopy: 0.05 µm/px is below
# the optical resolution of any objective, 20 µm/px is a thumbnail on which no
# nucleus is more than a pixel wide.
MIN_PIXEL_SIZE_UM = 0.05
MAX_PIXEL_SIZE_UM = 20.0

# The smallest image the cell pipeline accepts, per side (pixels).
MIN_SIDE_PX = 16


def check_rgb_image(image, *, name: str = "image") -> np.ndarray:
    """Return ``image`` as a uint8 (rows, cols, 3) array, or raise.

    Parameters
    ----------
    image : array_like
        Candidate RGB brightfield image, uint8, channel last.
    name : str, optional
        Argument name used in the message.

    Returns
    -------
    ndarray of uint8, shape (rows, cols, 3)
        The same data (not copied when already a uint8 ndarray).

    Raises
    ------
    ImageInputError
        Grayscale, RGBA, a non-uint8 dtype (16-bit, float), or a tiny image.
    """
    arr = np.asarray(image)
    if arr.ndim == 2 or (arr.ndim == 3 and arr.shape[-1] == 1):
        raise ImageInputError(
            f"expected an RGB brightfield image (rows, cols, 3), got grayscale shape {arr.shape}",
            field=name,
        )
    if arr.ndim == 3 and arr.shape[-1] == 4:
        raise ImageInputError(
            f"expected RGB (3 channels), got RGBA shape {arr.shape}; drop the alpha channel first",
            field=name,
        )
    if arr.ndim != 3 or arr.shape[-1] != 3:
        raise ImageInputError(
            f"expected shape (rows, cols, 3) with the channel last, got {arr.shape}", field=name
        )
    if arr.dtype != np.uint8:
        bits = f"{arr.dtype.itemsize * 8}-bit " if arr.dtype.kind in "ui" else ""
        raise ImageInputError(
            f"expected 8-bit (uint8) RGB, got {bits}{arr.dtype}; her2kit never rescales "
            "intensities implicitly, convert to uint8 yourself",
            field=name,
        )
    if min(arr.shape[:2]) < MIN_SIDE_PX:
        raise ImageInputError(
            f"image too small: {arr.shape[0]}x{arr.shape[1]} px, need at least "
            f"{MIN_SIDE_PX}x{MIN_SIDE_PX}",
            field=name,
        )
    return arr


def check_pixel_size(pixel_size_um, *, name: str = "pixel_size_um") -> float:
    """Return the pixel size as a float in µm/px, or raise.

    Raises
    ------
    Her2kitInputError
        Missing, not a number, not finite, or outside [0.05, 20] µm/px.
    """
    if pixel_size_um is None:
        raise Her2kitInputError(
            "pixel size unknown: give it in µm/px (e.g. 0.5 for a 20x scan)", field=name
        )
    try:
        value = float(pixel_size_um)
    except (TypeError, ValueError):
        raise Her2kitInputError(
            f"expected a number in µm/px, got {pixel_size_um!r}", field=name
        ) from None
    if not math.isfinite(value) or not MIN_PIXEL_SIZE_UM <= value <= MAX_PIXEL_SIZE_UM:
        raise Her2kitInputError(
            f"absurd pixel size {value!r} µm/px; expected {MIN_PIXEL_SIZE_UM}–"
            f"{MAX_PIXEL_SIZE_UM} µm/px (0.25 at 40x, 0.5 at 20x)",
            field=name,
        )
    return value


def check_positive(value, *, name: str, unit: str) -> float:
    """Return ``value`` as a positive finite float, or raise naming ``name`` and ``unit``."""
    try:
        out = float(value)
    except (TypeError, ValueError):
        raise Her2kitInputError(f"expected a number in {unit}, got {value!r}", field=name) from None
    if not math.isfinite(out) or out <= 0:
        raise Her2kitInputError(f"expected a positive number in {unit}, got {out!r}", field=name)
    return out


def check_choice(value, choices, *, name: str):
    """Return ``value`` when it is one of ``choices``, or raise naming ``name``."""
    if value not in choices:
        raise Her2kitInputError(f"expected one of {choices}, got {value!r}", field=name)
    return value


def check_mask(mask, shape: tuple[int, int], *, name: str) -> np.ndarray:
    """Return ``mask`` as a boolean array of ``shape``, or raise."""
    arr = np.asarray(mask)
    if arr.shape != tuple(shape):
        raise ImageInputError(
            f"expected a boolean mask of shape {tuple(shape)}, got {arr.shape}", field=name
        )
    if arr.dtype != bool:
        if arr.dtype.kind not in "uib":
            raise ImageInputError(f"expected a boolean mask, got dtype {arr.dtype}", field=name)
        arr = arr != 0
    return arr
