"""Optical density: the one conversion between 8-bit RGB and base-10 OD, for IHC and ISH.

Units
-----
Optical density (OD) is base 10: ``OD = -log10(max(I, I_min) / I0)`` per RGB channel,
with ``I`` the 8-bit pixel value, ``I0`` the background (glass) intensity of that channel
(255 unless given) and ``I_min`` the darkest intensity (``darkest_intensity``), the value a
black pixel is read as so that OD stays finite. Pixels brighter than ``I0`` give OD 0
(clipped, never negative). This differs from :func:`skimage.color.rgb2hed`, whose output
is ``OD10 / 6``; her2kit's thresholds are in plain base-10 OD, comparable with QuPath's
"DAB OD".

Every conversion reads a 256-entry float32 table per channel (:func:`od_lookup_table`),
so there is no per-pixel logarithm.

The two assays differ today
---------------------------
The H-DAB (IHC) and the ISH chromogen code were written apart and read a black pixel
differently; their calibrated thresholds were fitted on those readings, so both are kept,
as named constants, until the real-tissue work (issues #10 and #11) replaces both with a
white point measured per image:

- IHC: ``I_min`` = :data:`IHC_DARKEST_INTENSITY` (0.5; black reads log10(510) ≈ 2.71 OD),
  table computed in float64 and rounded once to float32 (``precision="float64"``).
- ISH: ``I_min`` = :data:`ISH_DARKEST_INTENSITY` (1.0; black reads log10(255) ≈ 2.41 OD),
  table computed in float32 throughout (``precision="float32"``), as the ISH code did per
  pixel; about half the entries differ from the float64 table in the last bit.
"""

from __future__ import annotations

import numpy as np

from her2kit.errors import Her2kitInputError
from her2kit.imaging._validate import check_choice, check_positive, check_rgb_image

__all__ = [
    "IHC_DARKEST_INTENSITY",
    "ISH_DARKEST_INTENSITY",
    "OD_PRECISIONS",
    "check_background_rgb",
    "od_lookup_table",
    "od_to_rgb",
    "rgb_to_od",
]

# Intensity a black pixel is read as (8-bit units). The IHC code has always floored at 0.5
# and the ISH code at 1.0; the IHC membrane and nucleus thresholds and the ISH spot
# thresholds were calibrated on those readings, so each keeps its own until issues #10/#11
# replace both with a per-image white point.
IHC_DARKEST_INTENSITY = 0.5
ISH_DARKEST_INTENSITY = 1.0

# "float64": the table is computed in double precision and rounded once (the IHC path);
# "float32": single precision throughout (the ISH path).
OD_PRECISIONS = ("float64", "float32")


def check_background_rgb(background_rgb) -> np.ndarray:
    """Return the background intensity ``I0`` as three float64 values, or raise.

    Parameters
    ----------
    background_rgb : float or sequence of 3 floats
        Background (glass) intensity of each channel, 1–255 (one value: all channels).

    Returns
    -------
    ndarray of float64, shape (3,)

    Raises
    ------
    Her2kitInputError
        Not one or three finite values in 1–255.
    """
    bg = np.asarray(background_rgb, dtype=np.float64).reshape(-1)
    if bg.size == 1:
        bg = np.repeat(bg, 3)
    if bg.size != 3 or not np.all(np.isfinite(bg)) or np.any(bg < 1) or np.any(bg > 255):
        raise Her2kitInputError(
            f"expected one or three intensities in 1–255, got {np.asarray(background_rgb)!r}",
            field="background_rgb",
        )
    return bg


def od_lookup_table(
    background_rgb=(255, 255, 255), *, darkest_intensity: float, precision: str = "float64"
) -> np.ndarray:
    """Return the OD of every 8-bit value, per channel.

    Parameters
    ----------
    background_rgb : float or sequence of 3 floats, optional
        Background (glass) intensity ``I0`` of each channel, 1–255.
    darkest_intensity : float
        ``I_min``: dimmer values are read as this (8-bit units), so that OD stays finite.
        :data:`IHC_DARKEST_INTENSITY` or :data:`ISH_DARKEST_INTENSITY`.
    precision : {"float64", "float32"}, optional
        Arithmetic of the table (the result is float32 either way); see the module notes.

    Returns
    -------
    ndarray of float32, shape (3, 256)
        ``lut[c, v] = max(0, -log10(max(v, I_min) / I0[c]))``, base-10 OD.

    Examples
    --------
    >>> lut = od_lookup_table(darkest_intensity=IHC_DARKEST_INTENSITY)
    >>> round(float(lut[0, 0]), 2), round(float(lut[0, 25]), 2), float(lut[0, 255])
    (2.71, 1.01, 0.0)
    """
    bg = check_background_rgb(background_rgb)
    check_positive(darkest_intensity, name="darkest_intensity", unit="8-bit intensity")
    check_choice(precision, OD_PRECISIONS, name="precision")
    if precision == "float64":
        v = np.maximum(np.arange(256, dtype=np.float64), darkest_intensity)
        lut = -np.log10(v[None, :] / bg[:, None])
        return np.maximum(lut, 0.0).astype(np.float32)
    i0 = bg.astype(np.float32)
    v32 = np.maximum(np.arange(256, dtype=np.float32), np.float32(darkest_intensity))
    lut32 = -np.log10(v32[None, :] / i0[:, None])
    return np.maximum(lut32, 0.0, out=lut32)


def rgb_to_od(
    rgb,
    *,
    background_rgb=(255, 255, 255),
    darkest_intensity: float,
    precision: str = "float64",
) -> np.ndarray:
    """Convert an 8-bit RGB image to base-10 optical density per channel.

    Parameters
    ----------
    rgb : ndarray of uint8, shape (rows, cols, 3)
        Brightfield image, channel last.
    background_rgb : float or sequence of 3 floats, optional
        Background intensity ``I0`` per channel, 1–255.
    darkest_intensity : float
        ``I_min`` (see :func:`od_lookup_table`).
    precision : {"float64", "float32"}, optional
        Arithmetic of the table (see :func:`od_lookup_table`).

    Returns
    -------
    ndarray of float32, shape (rows, cols, 3)
        OD (base 10, dimensionless), ≥ 0.

    Raises
    ------
    ImageInputError
        Not a uint8 (rows, cols, 3) image.
    Her2kitInputError
        A background outside 1–255.
    """
    rgb = check_rgb_image(rgb, name="rgb", min_side_px=1)
    lut = od_lookup_table(background_rgb, darkest_intensity=darkest_intensity, precision=precision)
    out = np.empty(rgb.shape, dtype=np.float32)
    for c in range(3):
        out[..., c] = lut[c][rgb[..., c]]
    return out


def od_to_rgb(od) -> np.ndarray:
    """Convert a base-10 OD image back to uint8 RGB on a white (255) background.

    Parameters
    ----------
    od : array_like of float, shape (rows, cols, 3)
        Optical density per channel.

    Returns
    -------
    ndarray of uint8, same shape
        ``round(255 · 10^-OD)``, clipped to 0–255.
    """
    return np.clip(np.rint(255.0 * np.power(10.0, -np.asarray(od, float))), 0, 255).astype(np.uint8)
