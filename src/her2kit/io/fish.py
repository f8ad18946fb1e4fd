"""Reading ISH fields from files: FISH OME-TIFF stacks, separate channel files, RGB composites,
brightfield RGB. Arrays are checked and arranged by :mod:`her2kit.imaging.ish.channels`."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from types import MappingProxyType

import numpy as np

from her2kit.errors import ImageInputError
from her2kit.imaging.ish.channels import (
    FishImage,
    _check_plane,
    check_brightfield_rgb,
    fish_from_arrays,
    fish_from_rgb,
    fish_from_stack,
)
from her2kit.io.raster import (
    ome_channel_names,
    ome_declared_planes,
    ome_pixel_size_um,
    ome_significant_bits,
    open_raster,
)
from her2kit.settings import value

__all__ = ["MAX_FIELD_PIXELS", "read_brightfield_ish", "read_fish_files", "read_fish_image",
           "read_jpeg_source", "tiff_jpeg_source"]


# --------------------------------------------------------------------------- files
#: Largest field plane (rows x cols) the ISH readers decode: counting holds a few
#: float32 copies of each channel at full resolution (~40 bytes per pixel for a
#: three-channel FISH field, measured), so 100 Mpx needs ~4 GB. Microscope camera
#: fields are a few Mpx; a whole slide must be cut into fields or ROIs first.
MAX_FIELD_PIXELS: int = value("ish_max_field_pixels")
#: A z-stack or multi-channel file may hold this many samples per allowed plane pixel.
MAX_SAMPLES_PER_PIXEL_LIMIT: int = value("ish_max_samples_per_pixel")


def _check_size(path: Path, plane_px: int, samples: int, max_pixels: int) -> None:
    """Refuse a field before decoding it when a plane (rows x cols) has more than
    ``max_pixels`` pixels or the whole array (planes x channels) more than
    ``MAX_SAMPLES_PER_PIXEL_LIMIT x max_pixels`` samples."""
    if plane_px > max_pixels:
        raise ImageInputError(
            f"{path.name} has {plane_px} pixels per plane, more than the limit {max_pixels} "
            "(count a region exported at field size)",
            field="path",
        )
    if samples > MAX_SAMPLES_PER_PIXEL_LIMIT * max_pixels:
        raise ImageInputError(
            f"{path.name} holds {samples} samples (planes x channels x pixels), more than "
            f"the limit {MAX_SAMPLES_PER_PIXEL_LIMIT * max_pixels}",
            field="path",
        )


def _check_complete(path: Path, ome: str | None, axes: str, shape: tuple[int, ...]) -> None:
    """Refuse an OME-TIFF holding fewer planes than its metadata declares (a truncated
    copy), which tifffile would otherwise read as a plain one-plane image."""
    declared = ome_declared_planes(ome)
    held = int(np.prod([n for a, n in zip(axes.upper(), shape, strict=True)
                        if a not in "YXS"], dtype=np.int64))
    if declared is not None and held < declared:
        raise ImageInputError(
            f"{path.name} is truncated or incomplete: its OME metadata declares {declared} "
            f"planes, the file holds {held}", field="path")


def _check_not_cmyk(path: Path, mode: str) -> None:
    if mode == "CMYK":
        raise ImageInputError(f"{path.name} is a CMYK (print) image; export it as RGB",
                              field="path")


def _read_field_raster(path: Path, max_pixels: int = MAX_FIELD_PIXELS, names: list | None = None):
    """Return (array, axes, pixel_size_um or None, stated bit depth or None) for a
    TIFF/OME-TIFF (OME ``PhysicalSizeX`` and ``SignificantBits``), PNG or JPEG; the OME
    channel names are appended to ``names`` when given."""
    try:
        with open_raster(path, field="path") as raster:
            if raster.is_tiff:
                raster.check_not_truncated(field="path")
                axes, shape_ = raster.series_axes_shape()
                shape = dict(zip(axes.upper(), shape_, strict=True))
                _check_size(path, int(shape.get("Y", 1)) * int(shape.get("X", 1)),
                            int(np.prod(shape_, dtype=np.int64)), max_pixels)
                ome = raster.ome_metadata()
                _check_complete(path, ome, axes, shape_)
                arr = raster.read_series()
                if names is not None:
                    names.extend(ome_channel_names(ome))
                return arr, axes, ome_pixel_size_um(ome), ome_significant_bits(ome)
            _check_not_cmyk(path, raster.pil.mode)
            if raster.pil_stored_bits() == 16:
                raise ImageInputError(
                    f"{path.name} is a 16-bit RGB PNG, which would be read as 8 bits; save "
                    "the composite as a 16-bit TIFF", field="path")
            width, height = raster.size_px
            _check_size(path, width * height, width * height * len(raster.pil.getbands()),
                        max_pixels)
            arr = raster.read_pil()
        return arr, ("YXS" if arr.ndim == 3 else "YX"), None, None
    except ImageInputError:
        raise
    except Exception as exc:  # every decoder failure becomes one line
        raise ImageInputError(
            f"cannot read {path.name}: {type(exc).__name__}: {exc}", field="path"
        ) from None


#: Words that identify a probe in an OME channel name (lower case, no spaces or dashes).
_PROBE_WORDS = MappingProxyType({"dapi": ("dapi", "hoechst"), "her2": ("her2", "erbb2"),
                                 "cep17": ("cep17", "chr17", "cen17")})


def _probe_named(name: str | None) -> str | None:
    """The probe an OME channel name identifies, or None."""
    key = "".join(ch for ch in (name or "").lower() if ch.isalnum())
    found = [p for p, words in _PROBE_WORDS.items() if any(w in key for w in words)]
    return found[0] if len(found) == 1 else None


def _check_composite_depth(rgb: np.ndarray, bit_depth: int, file_name: str) -> None:
    """A stated camera depth must fit the composite's samples and its values."""
    stored = rgb.dtype.itemsize * 8
    if rgb.dtype.kind == "u" and isinstance(bit_depth, int) and bit_depth > stored:
        raise ImageInputError(
            f"{file_name} holds {stored}-bit RGB samples: they cannot hold the stated "
            f"{bit_depth}-bit depth (a rescaled export; count the camera's own files)",
            field="bit_depth")
    for i in range(min(rgb.shape[-1], 3)):
        _check_plane(rgb[..., i], "image", bit_depth=bit_depth)


def _stack_channels(channels: Mapping[str, int | str], names: list[str | None], n: int,
                    file_name: str) -> dict[str, int]:
    """Probe → channel index on a multi-channel stack, from indices or the OME channel
    names; refused: colour letters, unknown names, a map that contradicts the names."""
    lowered = [(nm or "").strip().lower() for nm in names] if len(names) == n else []
    out: dict[str, int] = {}
    for probe, given in channels.items():
        if isinstance(given, int):
            out[probe] = given
            continue
        if given.strip().lower() in lowered:
            out[probe] = lowered.index(given.strip().lower())
            continue
        if given.strip().lower() in ("r", "g", "b", "red", "green", "blue"):
            raise ImageInputError(
                f"colour letters ({probe}={given}) name an RGB composite's colours; "
                f"{file_name} is a {n}-channel stack: use channel indices or its channel "
                f"names ({_names_text(names)})", field="channels")
        raise ImageInputError(f"{file_name} has no channel named {given!r} (channels: "
                              f"{_names_text(names)})", field="channels")
    if len(names) == n:
        for probe, index in out.items():
            held = _probe_named(names[index]) if 0 <= index < n else None
            if held is not None and held != probe:
                raise ImageInputError(
                    f"{probe}={index} contradicts {file_name}, whose channel {index} is named "
                    f"{names[index]!r}", field="channels")
    return out


def _names_text(names: list[str | None]) -> str:
    return ", ".join(f"{i}={nm}" for i, nm in enumerate(names) if nm) or "unnamed"


def read_fish_image(
    path: str | Path,
    *,
    channels: Mapping[str, int | str],
    pixel_size_um: float | None = None,
    bit_depth: int | None = None,
    max_pixels: int = MAX_FIELD_PIXELS,
) -> FishImage:
    """Read a multi-channel FISH TIFF/OME-TIFF (2-D or z-stack) or an RGB composite.

    Parameters
    ----------
    path : str or Path
        ``.tif``/``.tiff`` (axes from the file, e.g. ``CYX``, ``ZCYX``, ``YXS``) or an
        RGB ``.png``/``.jpg`` composite.
    channels : mapping
        Probe name to channel index (``{"dapi": 0, "her2": 1, "cep17": 2}``) or to an
        OME channel name for multi-channel TIFFs, or to a colour letter
        (``{"her2": "R", ...}``) for RGB composites only. A map that contradicts the
        OME channel names (``her2`` on the channel named ``DAPI``) is refused.
    pixel_size_um : float, optional
        Overrides the OME ``PhysicalSizeX`` when given.
    bit_depth : int, optional
        Stated camera bit depth, checked against the data; when None, the OME
        ``SignificantBits`` of the file, if any, is checked instead.
    max_pixels : int, optional
        Largest plane (rows x cols) decoded, pixels; a file holding more than
        ``MAX_SAMPLES_PER_PIXEL_LIMIT`` times as many samples is refused too.

    Returns
    -------
    FishImage
        Z-stacks are maximum-projected; ``pixel_size_um`` from the caller, else the
        OME metadata, else None.

    Raises
    ------
    ImageInputError
        Unreadable file, unsupported axes, bad channel mapping (colour letters on a
        stack, a map contradicting the channel names), brightfield image.
    """
    p = Path(path)
    names: list[str | None] = []
    arr, axes, px_file, bits_file = _read_field_raster(p, max_pixels, names)
    pixel_size_um = pixel_size_um if pixel_size_um is not None else px_file
    if bit_depth is None:
        bit_depth = bits_file
    axes = axes.upper()
    if set(axes) - set("TZCYXS") or "Y" not in axes or "X" not in axes:
        raise ImageInputError(f"unsupported TIFF axes {axes!r} in {p.name}", field="path")
    if "T" in axes:
        if arr.shape[axes.index("T")] != 1:
            raise ImageInputError(
                f"time series are not supported ({p.name} axes {axes})", field="path"
            )
        arr = arr.take(0, axis=axes.index("T"))
        axes = axes.replace("T", "")
    ch_axis = "C" if "C" in axes else ("S" if "S" in axes else None)
    if ch_axis is None:
        raise ImageInputError(
            f"{p.name} has one channel (axes {axes}); give one file per channel", field="path"
        )
    letters = all(isinstance(v, str) for v in channels.values())
    if ch_axis == "C":
        # A stack's channels are numbered, not coloured: colour letters would silently
        # pick channels 0/1/2, whatever the file says they hold.
        channels = _stack_channels(channels, names, arr.shape[axes.index("C")], p.name)
    elif letters:
        if "Z" in axes or arr.shape[axes.index(ch_axis)] not in (3, 4):
            raise ImageInputError(
                "colour letters need an RGB image; use channel indices", field="channels"
            )
        rgb = np.moveaxis(arr, axes.index(ch_axis), -1)
        if bit_depth is not None:
            _check_composite_depth(rgb, bit_depth, p.name)
        return fish_from_rgb(rgb, channels=channels, pixel_size_um=pixel_size_um, source=str(p))
    order = [a for a in "ZYX" if a in axes] + [ch_axis]
    arr = np.transpose(arr, [axes.index(a) for a in order])
    return fish_from_stack(
        arr,
        channels=channels,
        channel_axis=-1,
        z_axis=0 if "Z" in axes else None,
        pixel_size_um=pixel_size_um,
        bit_depth=bit_depth,
        source=str(p),
    )


def read_fish_files(
    *,
    dapi: str | Path,
    her2: str | Path,
    cep17: str | Path,
    pixel_size_um: float | None = None,
    bit_depth: int | None = None,
    max_pixels: int = MAX_FIELD_PIXELS,
) -> FishImage:
    """Read a FISH field stored as one grey-level file (2-D or z-stack) per channel.

    ``max_pixels`` limits each file as in :func:`read_fish_image`.

    Raises
    ------
    ImageInputError
        Unreadable file, a colour file where a grey one is expected, mismatched sizes,
        files stating different pixel sizes (more than 1 % apart).
    """
    arrays = {}
    px_found = None
    for name, path in (("dapi", dapi), ("her2", her2), ("cep17", cep17)):
        p = Path(path)
        arr, axes, px_file, bits_file = _read_field_raster(p, max_pixels)
        if "S" in axes.upper() or "C" in axes.upper():
            if arr.ndim == 3 and arr.shape[-1] in (3, 4) and "S" in axes.upper():
                # An RGB file whose three colours are equal is grey in disguise.
                grey = arr[..., 0]
                if np.array_equal(grey, arr[..., 1]) and np.array_equal(grey, arr[..., 2]):
                    arr = arr[..., 0]
                else:
                    raise ImageInputError(
                        f"{p.name} is a colour image; expected one grey channel", field=name
                    )
            else:
                raise ImageInputError(f"{p.name} has several channels; expected one", field=name)
        if bit_depth is None and bits_file is not None:
            # Each file's own stated depth is checked against its data.
            _check_plane(arr, name, bit_depth=bits_file)
        arrays[name] = arr
        if px_file is not None and px_found is not None and \
                abs(px_file - px_found[0]) > 0.01 * px_found[0]:
            # One field has one pixel size: files that disagree are not one field.
            raise ImageInputError(
                f"{p.name} states {px_file:g} µm per pixel, {px_found[1]} {px_found[0]:g}",
                field=name)
        px_found = px_found or ((px_file, p.name) if px_file is not None else None)
    return fish_from_arrays(
        **arrays,
        pixel_size_um=pixel_size_um if pixel_size_um is not None else (
            px_found[0] if px_found is not None else None),
        bit_depth=bit_depth,
        source=str(Path(dapi).parent),
    )


def read_brightfield_ish(path: str | Path, *, max_pixels: int = MAX_FIELD_PIXELS) -> np.ndarray:
    """Read a brightfield Dual ISH / CISH RGB image as (rows, cols, 3) uint8.

    ``max_pixels`` limits the file as in :func:`read_fish_image`.

    Raises
    ------
    ImageInputError
        Unreadable file, not 8-bit RGB, a fluorescence image (dark background), or
        more than ``max_pixels`` pixels.
    """
    p = Path(path)
    arr, _axes, _, _ = _read_field_raster(p, max_pixels)
    if arr.ndim == 3 and arr.shape[0] in (3, 4) and arr.shape[-1] not in (3, 4):
        arr = np.moveaxis(arr, 0, -1)  # planar-RGB TIFF
    return check_brightfield_rgb(arr, name="image")


#: libjpeg's standard luminance quantization table (ITU-T T.81 Annex K, Table K.1); a
#: quality-q file's table is this scaled (:func:`_jpeg_quality`).
_STD_LUMA_TABLE = (16, 11, 10, 16, 24, 40, 51, 61, 12, 12, 14, 19, 26, 58, 60, 55,
                   14, 13, 16, 24, 40, 57, 69, 56, 14, 17, 22, 29, 51, 87, 80, 62,
                   18, 22, 37, 56, 68, 109, 103, 77, 24, 35, 55, 64, 81, 104, 113, 92,
                   49, 64, 78, 87, 103, 121, 120, 101, 72, 92, 95, 98, 112, 100, 103, 99)


def _jpeg_quality(table) -> int | None:
    """The libjpeg quality (1-100) whose scaled standard table is closest to ``table``
    (64 luminance entries, any order), or None when none is within 10 % (a custom table)."""
    std = np.asarray(_STD_LUMA_TABLE, np.int64)
    got = int(np.sum(table))
    best, err = None, None
    for q in range(1, 101):
        scale = 5000 // q if q < 50 else 200 - 2 * q
        s = int(np.clip((std * scale + 50) // 100, 1, 255).sum())
        if err is None or abs(s - got) < err:
            best, err = q, abs(s - got)
    return best if err is not None and err <= 0.1 * got else None


def read_jpeg_source(path):
    """The JPEG header of ``path`` (a path or a binary file object) as a
    :class:`~her2kit.imaging.ish.jpeg.JpegSource` (quality estimated from the luminance
    table, chroma subsampling), or None when the file is not a JPEG. Read from the
    header only (no pixels decoded).

    Raises
    ------
    ImageInputError
        The file cannot be opened as an image.
    """
    from PIL import Image, JpegImagePlugin, UnidentifiedImageError

    from her2kit.imaging.ish.jpeg import JpegSource

    try:
        with Image.open(path) as im:
            if im.format == "TIFF" and isinstance(path, str | Path):
                return tiff_jpeg_source(path)
            if im.format != "JPEG":
                return None
            tables = getattr(im, "quantization", None) or {}
            sampling = JpegImagePlugin.get_sampling(im)
    except (OSError, UnidentifiedImageError) as exc:
        name = Path(path).name if isinstance(path, str | Path) else "image"
        raise ImageInputError(f"{name}: cannot read as an image ({exc})",
                              field="image") from exc
    sub = {0: "4:4:4", 1: "4:2:2", 2: "4:2:0"}.get(sampling)
    return JpegSource(quality=_jpeg_quality(tables[0]) if 0 in tables else None,
                      subsampling=sub)


#: JPEG start-of-frame markers (baseline, extended, progressive): their frame header holds
#: each component's sampling factors.
_SOF_MARKERS = (b"\xff\xc0", b"\xff\xc1", b"\xff\xc2")


def _jpeg_frame_sampling(stream: bytes) -> str | None:
    """Chroma subsampling from a JPEG stream's frame header, or None when it has none."""
    for marker in _SOF_MARKERS:
        i = stream.find(marker)
        if i < 0 or len(stream) < i + 10:
            continue
        n = stream[i + 9]
        comps = stream[i + 10 : i + 10 + 3 * n]
        if n != 3 or len(comps) < 9:
            return None
        luma, cb, cr = (comps[k + 1] for k in (0, 3, 6))
        h, v = luma >> 4, luma & 15
        if cb != cr or cb != 0x11:
            return None
        return {(1, 1): "4:4:4", (2, 1): "4:2:2", (2, 2): "4:2:0"}.get((h, v))
    return None


def _jpeg_luma_table(tables: bytes | None) -> list[int] | None:
    """The first quantization table (64 entries) of a JPEG tables segment, or None."""
    if not tables:
        return None
    i = tables.find(b"\xff\xdb")
    if i < 0 or len(tables) < i + 5 + 64 or tables[i + 4] >> 4 != 0:  # 8-bit table only
        return None
    return list(tables[i + 5 : i + 5 + 64])


def tiff_jpeg_source(path):
    """The JPEG compression of a TIFF's largest page (a slide's level 0, a region exported
    as JPEG-in-TIFF) as a :class:`~her2kit.imaging.ish.jpeg.JpegSource`, or None when the
    page is not JPEG-compressed or the file is not a TIFF tifffile reads.

    The chroma subsampling is read from the first tile's JPEG frame header (what the data
    holds; the TIFF tags can disagree with it), the quality from the shared JPEG tables'
    luminance table (None when absent or not a scaled standard table). Only headers are
    read, no pixels decoded.
    """
    import tifffile

    from her2kit.imaging.ish.jpeg import JpegSource

    try:
        with tifffile.TiffFile(path) as tf:
            page = max(tf.pages, key=lambda p: int(np.prod(p.shape[:2])))
            if page.compression != tifffile.COMPRESSION.JPEG or not page.dataoffsets:
                return None
            tables = page.jpegtables
            fh = tf.filehandle
            fh.seek(page.dataoffsets[0])
            first = fh.read(min(int(page.databytecounts[0]), 1 << 16))
    except Exception:  # not a TIFF tifffile reads: no JPEG information
        return None
    sub = _jpeg_frame_sampling(first) or _jpeg_frame_sampling(tables or b"")
    if sub is None:
        return None
    table = _jpeg_luma_table(tables) or _jpeg_luma_table(first)
    return JpegSource(quality=None if table is None else _jpeg_quality(np.asarray(table)),
                      subsampling=sub)
