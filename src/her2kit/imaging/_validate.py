"""Boundary checks shared by the imaging functions.

Each check raises :class:`her2kit.errors.ImageInputError` (a ``Her2kitInputError``)
with one line naming the argument, what was expected and what was received.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from her2kit.errors import Her2kitInputError, ImageInputError

# Pixel sizes outside this range are not brightfield microscopy: 0.05 µm/px is below
# the optical resolution of any objective, 20 µm/px is a thumbnail on which no
# nucleus is more than a pixel wide.
MIN_PIXEL_SIZE_UM = 0.05
MAX_PIXEL_SIZE_UM = 20.0

# The smallest image the cell pipeline accepts, per side (pixels).
MIN_SIDE_PX = 16


@dataclass(frozen=True)
class RgbWording:
    """Message templates of the RGB image checks.

    The IHC and ISH entry points were written apart and word every refusal differently;
    the messages are in tests and in the CLI's golden stderr, so both wordings are kept and
    chosen here instead of in two copies of the checks. Fields are :meth:`str.format`
    templates; the names they may use are given per field.

    Attributes
    ----------
    grayscale : str or None
        ``{shape}``. None: a grayscale image gets the ``shape`` message.
    rgba : str or None
        ``{shape}``. None: the alpha channel of an RGBA image is dropped silently.
    shape : str
        ``{shape}``.
    dtype : str
        ``{dtype}``, ``{bits}`` ("16-bit " for integer dtypes, "" otherwise).
    too_small : str
        ``{rows}``, ``{cols}``, ``{size}`` (the (rows, cols) tuple), ``{min_side}``.
    too_dark : str
        ``{level}`` (median brightness, 0–255), ``{fraction}`` (the same over 255).
    """

    grayscale: str | None
    rgba: str | None
    shape: str
    dtype: str
    too_small: str
    too_dark: str


#: The wording of the H-DAB (IHC) functions.
IHC_RGB_WORDING = RgbWording(
    grayscale="expected an RGB brightfield image (rows, cols, 3), got grayscale shape {shape}",
    rgba="expected RGB (3 channels), got RGBA shape {shape}; drop the alpha channel first",
    shape="expected shape (rows, cols, 3) with the channel last, got {shape}",
    dtype="expected 8-bit (uint8) RGB, got {bits}{dtype}; her2kit never rescales "
    "intensities implicitly, convert to uint8 yourself",
    too_small="image too small: {rows}x{cols} px, need at least {min_side}x{min_side}",
    too_dark="median brightness {level:.0f}/255 is too dark for brightfield; "
    "is this a fluorescence image?",
)
#: The wording of the brightfield ISH functions (RGBA is accepted, its alpha dropped).
ISH_RGB_WORDING = RgbWording(
    grayscale=None,
    rgba=None,
    shape="expected an RGB image (rows, cols, 3), got shape {shape}",
    dtype="expected 8-bit (uint8) RGB, got {dtype}; convert it yourself",
    too_small="image too small: {size} px",
    too_dark="image looks like fluorescence, not brightfield (median brightness "
    "{fraction:.0%}); use assay fish",
)

# A brightfield field is mostly bright glass, a fluorescence field mostly dark background.
# Median brightness (mean of the channels) below these is refused as not brightfield:
# the IHC scorer on every 4th pixel and row, at 60/255 (an H-DAB tile has a median near
# 200); the brightfield ISH counter on every pixel, at 35 % of full scale.
IHC_DARK_BACKGROUND_LEVEL = 60
IHC_DARK_BACKGROUND_STRIDE = 4
ISH_BRIGHTFIELD_MIN_MEDIAN = 0.35
# Above this median (fraction of full scale) an image handed in as fluorescence is
# refused as brightfield.
FLUORESCENCE_MAX_MEDIAN = 0.5


def check_rgb_image(
    image,
    *,
    name: str = "image",
    min_side_px: int = MIN_SIDE_PX,
    wording: RgbWording = IHC_RGB_WORDING,
) -> np.ndarray:
    """Return ``image`` as a uint8 (rows, cols, 3) array, or raise.

    Parameters
    ----------
    image : array_like
        Candidate RGB brightfield image, uint8, channel last.
    name : str, optional
        Argument name used in the message.
    min_side_px : int, optional
        Smallest accepted number of rows and of columns (pixels).
    wording : RgbWording, optional
        Messages (:data:`IHC_RGB_WORDING` or :data:`ISH_RGB_WORDING`); with
        ``wording.rgba`` None an RGBA image is accepted and its alpha channel dropped.

    Returns
    -------
    ndarray of uint8, shape (rows, cols, 3)
        The same data (not copied when already a uint8 ndarray; a view without the alpha
        channel when that is dropped).

    Raises
    ------
    ImageInputError
        Grayscale, RGBA (unless dropped), a non-uint8 dtype (16-bit, float), or a tiny
        image.
    """
    arr = np.asarray(image)
    is_rgba = arr.ndim == 3 and arr.shape[-1] == 4
    if is_rgba and wording.rgba is None:
        arr = arr[..., :3]
    if wording.grayscale is not None and (arr.ndim == 2 or (arr.ndim == 3 and arr.shape[-1] == 1)):
        raise ImageInputError(wording.grayscale.format(shape=arr.shape), field=name)
    if is_rgba and wording.rgba is not None:
        raise ImageInputError(wording.rgba.format(shape=arr.shape), field=name)
    if arr.ndim != 3 or arr.shape[-1] != 3:
        raise ImageInputError(wording.shape.format(shape=arr.shape), field=name)
    if arr.dtype != np.uint8:
        bits = f"{arr.dtype.itemsize * 8}-bit " if arr.dtype.kind in "ui" else ""
        raise ImageInputError(wording.dtype.format(bits=bits, dtype=arr.dtype), field=name)
    if min(arr.shape[:2]) < min_side_px:
        raise ImageInputError(
            wording.too_small.format(
                rows=arr.shape[0], cols=arr.shape[1], size=arr.shape[:2], min_side=min_side_px
            ),
            field=name,
        )
    return arr


def median_brightness(rgb: np.ndarray, *, stride: int = 1) -> float:
    """Median over pixels (every ``stride``-th row and column) of the mean of the channels.

    In the image's own units (0–255 for uint8).
    """
    a = rgb if stride == 1 else rgb[::stride, ::stride]
    return float(np.median(a.mean(axis=-1)))


def check_brightfield_background(
    rgb: np.ndarray,
    *,
    name: str,
    min_median_fraction: float | None = None,
    min_median_level: float | None = None,
    stride: int = 1,
    wording: RgbWording,
) -> None:
    """Raise when a uint8 RGB image has a dark background (fluorescence or dark field).

    Optical density is meaningless without bright glass behind the tissue.

    Parameters
    ----------
    rgb : ndarray of uint8, shape (rows, cols, 3)
        Checked by :func:`check_rgb_image` first.
    name : str
        Argument name used in the message.
    min_median_fraction, min_median_level : float, optional
        The floor on :func:`median_brightness`, as a fraction of 255 or in 0–255 (give
        one; the ISH counter states a fraction, the IHC scorer a level).
    stride : int, optional
        Use every ``stride``-th row and column.
    wording : RgbWording
        ``wording.too_dark`` is the message.

    Raises
    ------
    ImageInputError
        The median brightness is below the floor.
    """
    level = median_brightness(rgb, stride=stride)
    fraction = level / 255.0
    dark = (
        fraction < min_median_fraction if min_median_level is None else (level < min_median_level)
    )
    if dark:
        raise ImageInputError(wording.too_dark.format(level=level, fraction=fraction), field=name)


def check_brightfield_rgb(rgb: np.ndarray, *, name: str = "image") -> np.ndarray:
    """Return ``rgb`` if it is a usable (rows, cols, 3) uint8 brightfield image, else raise.

    The brightfield ISH entry check (:data:`ISH_RGB_WORDING`): an alpha channel is
    dropped; the median brightness must reach :data:`ISH_BRIGHTFIELD_MIN_MEDIAN`.

    Raises
    ------
    ImageInputError
        Wrong shape or dtype, too small, or a dark background (a fluorescence image
        passed as brightfield).
    """
    a = check_rgb_image(rgb, name=name, wording=ISH_RGB_WORDING)
    check_brightfield_background(
        a, name=name, min_median_fraction=ISH_BRIGHTFIELD_MIN_MEDIAN, wording=ISH_RGB_WORDING
    )
    return a


def _dtype_full_scale(arr: np.ndarray) -> float:
    if arr.dtype == np.uint8:
        return 255.0
    if arr.dtype.kind in "ui":
        return float(np.iinfo(arr.dtype).max) if arr.max(initial=0) > 4095 else 4095.0
    return float(np.max(arr)) if arr.size and np.max(arr) > 0 else 1.0


def check_not_brightfield(rgb: np.ndarray) -> None:
    """Raise when an RGB image has a bright background (brightfield passed as FISH).

    The median brightness (mean of the channels) must stay at or below
    :data:`FLUORESCENCE_MAX_MEDIAN` of the full scale (255 for uint8; 4095 or the dtype's
    maximum for other integers; the image maximum for floats).
    """
    a = np.asarray(rgb)
    med = median_brightness(a) / _dtype_full_scale(a)
    if med > FLUORESCENCE_MAX_MEDIAN:
        raise ImageInputError(
            f"image looks like brightfield, not fluorescence (median brightness {med:.0%} of "
            "full scale); use assay dual-ish or cish",
            field="image",
        )


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
