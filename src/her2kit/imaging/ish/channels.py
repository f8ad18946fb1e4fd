"""ISH inputs as arrays: FISH channel stacks, separate planes, RGB composites, brightfield RGB.

Files are read by :mod:`her2kit.io.fish`; this module only checks and arranges arrays.

Every FISH input ends as a :class:`FishImage`: three 2-D float32 planes named
``dapi``, ``her2`` and ``cep17``. Channels are never guessed: a multi-channel
array needs an explicit name-to-index mapping and an RGB composite an explicit
name-to-colour mapping (``{"her2": "R", "cep17": "G", "dapi": "B"}``).

Z-stacks
--------
A z-stack is reduced by a **maximum-intensity projection** per channel. Why:
ISH sections are 3-5 µm thick and a signal is in focus in one or two planes;
the maximum keeps each signal at its in-focus peak height while the defocused
copies in other planes are dimmer and broader, so one signal stays one spot.
Per-plane detection would need a 3-D de-duplication radius that depends on the
z-step, which files rarely state reliably. The cost: two signals at the same
(row, col) in different planes merge; in a 4 µm section this is rare and a
technologist looking through the eyepiece merges them too.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from types import MappingProxyType

import numpy as np

from her2kit.errors import Her2kitInputError, ImageInputError

# The brightfield / fluorescence checks live with the other image checks; they are
# re-exported here, where the ISH inputs are arranged.
from her2kit.imaging._validate import check_brightfield_rgb, check_not_brightfield

__all__ = [
    "FISH_CHANNELS",
    "FishImage",
    "check_brightfield_rgb",
    "check_not_brightfield",
    "fish_from_arrays",
    "fish_from_rgb",
    "fish_from_stack",
]

#: The three channel names a FISH input must provide, exactly once each.
FISH_CHANNELS = ("dapi", "her2", "cep17")

_RGB_LETTERS = MappingProxyType({"r": 0, "red": 0, "g": 1, "green": 1, "b": 2, "blue": 2})
_MIN_SIDE_PX = 16


@dataclass(frozen=True, eq=False)
class FishImage:
    """A FISH field as three named 2-D planes.

    Attributes
    ----------
    dapi, her2, cep17 : (rows, cols) ndarray of float32
        Channel intensities in the file's own units (no rescaling).
    pixel_size_um : float or None
        µm per pixel when the file states it (OME ``PhysicalSizeX``) or the caller
        gave it; None when unknown.
    z_planes : int
        Planes in the source (1 for a 2-D image).
    projection : str
        ``"none"`` or ``"max"`` (maximum-intensity projection over z).
    source : str
        Where it came from (a path, or ``"arrays"``).
    """

    dapi: np.ndarray
    her2: np.ndarray
    cep17: np.ndarray
    pixel_size_um: float | None = None
    z_planes: int = 1
    projection: str = "none"
    source: str = "arrays"

    @property
    def shape(self) -> tuple[int, int]:
        """(rows, cols) in px."""
        return self.dapi.shape


def _check_plane(arr, name: str, *, bit_depth: int | None) -> np.ndarray:
    a = np.asarray(arr)
    if a.dtype.kind not in "uif" or a.dtype == np.float16:
        raise ImageInputError(
            f"expected integer or float intensities, got dtype {a.dtype}", field=name
        )
    if a.ndim not in (2, 3):
        raise ImageInputError(
            f"expected (rows, cols) or (planes, rows, cols), got {a.shape}", field=name
        )
    if min(a.shape[-2:]) < _MIN_SIDE_PX:
        raise ImageInputError(f"image too small: {a.shape[-2:]} px", field=name)
    if a.dtype.kind == "f" and not np.all(np.isfinite(a)):
        raise ImageInputError("contains NaN or infinite values", field=name)
    if np.any(a < 0):
        raise ImageInputError("contains negative intensities", field=name)
    if bit_depth is not None:
        if isinstance(bit_depth, bool) or int(bit_depth) != bit_depth or not 1 <= bit_depth <= 32:
            raise Her2kitInputError(f"bit depth must be 1-32 bits, got {bit_depth!r}",
                                    field="bit_depth")
        top = 2 ** int(bit_depth) - 1
        if a.max(initial=0) > top:
            raise ImageInputError(
                f"values up to {a.max()} exceed the stated {bit_depth}-bit depth (max {top})",
                field=name,
            )
    return a


def _project(a: np.ndarray) -> np.ndarray:
    return (a.max(axis=0) if a.ndim == 3 else a).astype(np.float32)


def fish_from_arrays(
    *,
    dapi: np.ndarray,
    her2: np.ndarray,
    cep17: np.ndarray,
    pixel_size_um: float | None = None,
    bit_depth: int | None = None,
    source: str = "arrays",
) -> FishImage:
    """Build a :class:`FishImage` from one array per channel.

    Parameters
    ----------
    dapi, her2, cep17 : ndarray
        (rows, cols) planes or (planes, rows, cols) z-stacks, all the same shape.
        A z-stack is maximum-projected (see the module notes).
    pixel_size_um : float, optional
        µm per pixel, if known.
    bit_depth : int, optional
        The camera's stated bit depth (e.g. 12); values above ``2**bit_depth - 1``
        raise, catching a wrong bit-depth claim.
    source : str, optional
        Recorded in the result.

    Returns
    -------
    FishImage

    Raises
    ------
    ImageInputError
        A channel with a bad dtype, shape, NaN or negative values; mismatched
        shapes between channels; an empty (constant) channel.
    """
    planes = {}
    for name, arr in (("dapi", dapi), ("her2", her2), ("cep17", cep17)):
        if arr is None:
            raise ImageInputError("channel missing", field=name)
        planes[name] = _check_plane(arr, name, bit_depth=bit_depth)
    shapes = {k: v.shape for k, v in planes.items()}
    if len(set(shapes.values())) != 1:
        raise ImageInputError(f"channel images differ in size: {shapes}")
    z = planes["dapi"].shape[0] if planes["dapi"].ndim == 3 else 1
    out = {k: _project(v) for k, v in planes.items()}
    for k, v in out.items():
        if float(v.max()) == float(v.min()):
            raise ImageInputError(f"channel is empty (constant value {float(v.min())})", field=k)
    return FishImage(
        **out,
        pixel_size_um=None if pixel_size_um is None else float(pixel_size_um),
        z_planes=z,
        projection="max" if z > 1 else "none",
        source=source,
    )


def _check_mapping(channels: Mapping[str, object]) -> None:
    if not isinstance(channels, Mapping):
        raise ImageInputError(
            f"expected a mapping like {{'dapi': 0, 'her2': 1, 'cep17': 2}}, got {channels!r}",
            field="channels",
        )
    unknown = sorted(set(channels) - set(FISH_CHANNELS))
    if unknown:
        raise ImageInputError(
            f"unknown channel name(s) {unknown}; expected {list(FISH_CHANNELS)}", field="channels"
        )
    missing = [c for c in FISH_CHANNELS if c not in channels]
    if missing:
        raise ImageInputError(
            f"missing channel(s) {missing}; give all of {list(FISH_CHANNELS)}", field="channels"
        )
    values = list(channels.values())
    dup = sorted({str(v) for v in values if values.count(v) > 1})
    if dup:
        raise ImageInputError(f"channel(s) {dup} mapped to more than one probe", field="channels")


def fish_from_stack(
    image: np.ndarray,
    *,
    channels: Mapping[str, int],
    channel_axis: int = -1,
    z_axis: int | None = None,
    pixel_size_um: float | None = None,
    bit_depth: int | None = None,
    source: str = "arrays",
) -> FishImage:
    """Build a :class:`FishImage` from a multi-channel array with an explicit channel map.

    Parameters
    ----------
    image : ndarray
        (rows, cols, channels) or, with ``z_axis``, a 4-D stack.
    channels : mapping of str to int
        ``{"dapi": i, "her2": j, "cep17": k}``, distinct indices along ``channel_axis``.
    channel_axis : int, optional
        Axis holding the channels.
    z_axis : int, optional
        Axis holding the focal planes of a 4-D stack (maximum-projected).
    pixel_size_um, bit_depth, source
        As in :func:`fish_from_arrays`.

    Raises
    ------
    ImageInputError
        Missing, unknown or duplicated channels; an index out of range; a wrong
        number of dimensions; an RGB brightfield image.
    """
    _check_mapping(channels)
    a = np.asarray(image)
    want_ndim = 3 if z_axis is None else 4
    if a.ndim != want_ndim:
        layout = "rows, cols, channels" if z_axis is None else "z, rows, cols, channels"
        raise ImageInputError(
            f"expected a {want_ndim}-D array ({layout}), got shape {a.shape}", field="image"
        )
    try:
        if z_axis is None:
            a = np.moveaxis(a, channel_axis, -1)
        else:
            a = np.moveaxis(a, [z_axis, channel_axis], [0, -1])
    except (np.exceptions.AxisError, ValueError):
        raise ImageInputError(
            f"channel_axis={channel_axis} / z_axis={z_axis} invalid for shape {a.shape}",
            field="image",
        ) from None
    n = a.shape[-1]
    for name, idx in channels.items():
        if not isinstance(idx, int | np.integer) or not -n <= int(idx) < n:
            raise ImageInputError(
                f"channel index {idx!r} for {name!r} out of range for {n} channels",
                field="channels",
            )
    if n == 3 and a.ndim == 3 and a.dtype == np.uint8:
        check_not_brightfield(a)
    return fish_from_arrays(
        **{name: a[..., int(idx)] for name, idx in channels.items()},
        pixel_size_um=pixel_size_um,
        bit_depth=bit_depth,
        source=source,
    )


def fish_from_rgb(
    rgb: np.ndarray,
    *,
    channels: Mapping[str, str],
    pixel_size_um: float | None = None,
    source: str = "arrays",
) -> FishImage:
    """Build a :class:`FishImage` from an RGB composite as microscopes export them.

    Parameters
    ----------
    rgb : (rows, cols, 3) ndarray
        The composite, channel last.
    channels : mapping of str to str
        Probe to colour: ``{"her2": "R", "cep17": "G", "dapi": "B"}``; colours are
        ``R``/``G``/``B`` or ``red``/``green``/``blue``. Required: never guessed.
    pixel_size_um : float, optional

    Raises
    ------
    ImageInputError
        Not (rows, cols, 3); bad mapping; a brightfield image (bright background).
    """
    _check_mapping(channels)
    a = np.asarray(rgb)
    if a.ndim != 3 or a.shape[-1] not in (3, 4):
        raise ImageInputError(
            f"expected an RGB composite (rows, cols, 3), got shape {a.shape}", field="image"
        )
    a = a[..., :3]
    idx = {}
    for name, colour in channels.items():
        key = str(colour).strip().lower()
        if key not in _RGB_LETTERS:
            raise ImageInputError(
                f"colour {colour!r} for {name!r} is not one of R, G, B", field="channels"
            )
        idx[name] = _RGB_LETTERS[key]
    if len(set(idx.values())) != 3:
        raise ImageInputError(
            f"colours {dict(channels)} map two probes to one colour", field="channels"
        )
    check_not_brightfield(a)
    return fish_from_arrays(
        **{name: a[..., i] for name, i in idx.items()}, pixel_size_um=pixel_size_um, source=source
    )
