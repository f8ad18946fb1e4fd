"""Reading and writing whole brightfield images (``score-ihc``).

Files are opened by :mod:`her2kit.io.raster` (Pillow for PNG and JPEG, tifffile for TIFF and
OME-TIFF). The pixel size is read from OME-XML (``PhysicalSizeX`` / ``PhysicalSizeXUnit``)
or from the TIFF ``XResolution`` / ``ResolutionUnit`` tags (centimetre or inch) when
present; PNG and JPEG carry no trustworthy pixel size, so it is ``None`` for them and the
caller must supply it.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from her2kit.errors import ImageInputError, OutputError
from her2kit.io.raster import (
    TIFF_SUFFIXES,
    ome_pixel_size_um,
    ome_significant_bits,
    open_raster,
    require_file,
)
from her2kit.settings import value

__all__ = [
    "ImageHeader", "LoadedImage", "iter_image_look", "ome_pixel_size_um",
    "ome_significant_bits", "read_image", "read_image_header", "write_image",
]

# Refuse images above this many pixels by default (a 20k x 20k region); whole slides go
# through the slide reader instead.
DEFAULT_MAX_PIXELS: int = value("score_ihc_max_pixels")


@dataclass(frozen=True, eq=False)
class LoadedImage:
    """An image read from a file.

    Attributes
    ----------
    image : ndarray, shape (rows, cols[, channels])
        Pixel data as stored (not rescaled; palette images are expanded to RGB).
    pixel_size_um : float or None
        µm per pixel from the file's metadata, or None when the file has none.
    pixel_size_source : str
        Where the pixel size came from: "ome", "tiff-resolution" or "none".
    path : pathlib.Path
        The file read.
    """

    image: np.ndarray
    pixel_size_um: float | None
    pixel_size_source: str
    path: Path


def _too_large(n: int, max_pixels: int) -> ImageInputError:
    return ImageInputError(f"image has {n} pixels, more than the limit {max_pixels}",
                           field="image")


@dataclass(frozen=True)
class ImageHeader:
    """What an image file says about itself, read without decoding its pixels.

    Attributes
    ----------
    rows, cols : int
        Image size (px).
    samples : int
        Samples per pixel as :func:`read_image` returns them (3 for RGB and palette
        images, 4 for RGBA, 1 for grey).
    bits : int
        Bits per sample as stored.
    pixel_size_um : float or None
        µm per pixel from the metadata.
    pixel_size_source : str
        ``ome``, ``tiff-resolution`` or ``none``.
    look : str or None
        How :func:`iter_image_look` can see the whole image without decoding it at once:
        ``"tiff"`` (strip by strip or tile by tile, every pixel), ``"jpeg"`` (the 1/8-scale
        DCT preview) or None (PNG, and anything that is not 8-bit RGB).
    """

    rows: int
    cols: int
    samples: int
    bits: int
    pixel_size_um: float | None
    pixel_size_source: str
    look: str | None


def _tiff_header(raster, max_pixels: int) -> ImageHeader:
    raster.check_not_truncated(field="image")
    page = raster.tiff.pages[0]
    n = raster.first_page_plane_pixels()
    if n > max_pixels:
        raise _too_large(n, max_pixels)
    samples, bits = int(page.samplesperpixel), int(page.bitspersample)
    # Decoded bytes, every layout: strips or tiles, chunky or planar, 3-D (imagedepth).
    decoded = n * samples * max(bits // 8, 1)
    if decoded > 4 * max_pixels:
        raise ImageInputError(
            f"image would decode to {decoded} bytes ({n} pixels x {samples} samples x "
            f"{bits} bits), more than the limit {4 * max_pixels} (an 8-bit RGBA image of "
            f"{max_pixels} pixels)", field="image")
    size, source = raster.first_page_pixel_size_um()
    rgb8 = (bits == 8 and samples in (3, 4) and page.dtype == np.uint8
            and int(page.imagedepth) <= 1 and int(page.photometric) == 2)
    return ImageHeader(int(page.imagelength), int(page.imagewidth), samples, bits, size,
                       source, "tiff" if rgb8 else None)


def _pil_header(raster, path: Path, max_pixels: int) -> ImageHeader:
    if raster.pil_stored_bits() == 16:
        raise ImageInputError(
            f"{path.name} is a 16-bit RGB PNG, which would be read as 8 bits; "
            "her2kit never rescales intensities implicitly, convert to 8-bit RGB "
            "yourself", field="image")
    if raster.pil.mode == "CMYK":
        raise ImageInputError(f"{path.name} is a CMYK (print) image; export it as "
                              "RGB", field="image")
    width, height = raster.size_px
    if width * height > max_pixels:
        raise _too_large(width * height, max_pixels)
    mode = raster.pil.mode
    samples = {"RGB": 3, "RGBA": 4, "P": 4 if "transparency" in raster.pil.info else 3,
               "LA": 2}.get(mode, 1)
    bits = 16 if mode.startswith("I;16") else 32 if mode in ("I", "F") else 8
    look = "jpeg" if raster.pil.format == "JPEG" and mode == "RGB" else None
    return ImageHeader(height, width, samples, bits, None, "none", look)


def read_image_header(path, *, max_pixels: int = DEFAULT_MAX_PIXELS) -> ImageHeader:
    """Read an image file's size, layout and pixel size without decoding its pixels.

    Applies every refusal :func:`read_image` makes before decoding (missing, truncated,
    unsupported, too many pixels or decoded bytes, 16-bit PNG, CMYK), with the same
    messages.

    Returns
    -------
    ImageHeader
    """
    p = _supported(path)
    try:
        with open_raster(p, field="image") as raster:
            if raster.is_tiff:
                return _tiff_header(raster, max_pixels)
            return _pil_header(raster, p, max_pixels)
    except ImageInputError:
        raise
    except Exception as exc:  # tifffile and Pillow raise many types for broken files
        kind = "TIFF " if p.suffix.lower() in TIFF_SUFFIXES else ""
        raise ImageInputError(f"cannot read {kind}{p.name}: {exc}", field="image") from None


def _supported(path) -> Path:
    p = Path(path)
    require_file(p, field="image")
    suffix = p.suffix.lower()
    if suffix not in (*TIFF_SUFFIXES, ".png", ".jpg", ".jpeg"):
        raise ImageInputError(
            f"unsupported file type {suffix!r} ({p.name}); expected .png, .jpg, .jpeg, .tif, "
            ".tiff", field="image")
    return p


def iter_image_look(path, header: ImageHeader) -> Iterator[tuple[np.ndarray, tuple[int, ...]]]:
    """The pixels of a whole image, a block at a time, without holding it decoded.

    For ``header.look == "tiff"``: every strip or tile of the first page, decoded one at
    a time and cropped to the image, as ``(block, channels)``: a chunky block is (rows,
    cols, samples) with ``channels`` (0, 1, 2[, 3]); a planar one is one sample's (rows,
    cols, 1) with ``channels`` (s,). For ``"jpeg"``: one block, the 1/8-scale DCT
    preview (each pixel ~ the mean of 8 x 8). Nothing for other files.

    Closing the iterator early (``break``) closes the file.
    """
    if header.look is None:
        return
    p = Path(path)
    with open_raster(p, field="image") as raster:
        if header.look == "jpeg":
            im = raster.pil
            im.draft("RGB", (max(1, im.width // 8), max(1, im.height // 8)))
            yield np.asarray(im.convert("RGB")), (0, 1, 2)
            return
        page = raster.tiff.pages[0]
        planar = int(page.planarconfig) == 2
        for segment, (s, _, row, col, _), shape in page.segments(maxworkers=1):
            if segment is None:  # an empty segment reads as zeros (tifffile's fill value)
                segment = np.zeros(shape, page.dtype)
            block = segment[0, :header.rows - row, :header.cols - col]
            yield block, (s,) if planar else tuple(range(block.shape[-1]))


def read_image(path, *, max_pixels: int = DEFAULT_MAX_PIXELS) -> LoadedImage:
    """Read a PNG, JPEG or (OME-)TIFF image and its pixel size.

    Parameters
    ----------
    path : str or os.PathLike
        Image file.
    max_pixels : int, optional
        Refuse images with more pixels than this (checked before decoding).

    Returns
    -------
    LoadedImage
        Data as stored (no rescaling, no channel dropping), pixel size or None.

    Raises
    ------
    ImageInputError
        Missing, unreadable, truncated, unsupported or too large files.
    """
    p = _supported(path)
    read_image_header(p, max_pixels=max_pixels)  # every refusal before decoding
    try:
        with open_raster(p, field="image") as raster:
            if raster.is_tiff:
                size, source = raster.first_page_pixel_size_um()
                data = raster.read_first_page()
            else:
                size, source = None, "none"
                data = np.array(raster.read_pil(palette_to_rgb=True))
    except ImageInputError:
        raise
    except Exception as exc:  # tifffile raises many types, Pillow OSError for truncated
        kind = "TIFF " if p.suffix.lower() in TIFF_SUFFIXES else ""
        raise ImageInputError(f"cannot read {kind}{p.name}: {exc}", field="image") from None
    if data.ndim == 3 and data.shape[0] in (3, 4) and data.shape[-1] not in (3, 4):
        data = np.moveaxis(data, 0, -1)  # planar (samples, rows, cols) -> channel last
    return LoadedImage(np.ascontiguousarray(data), size, source, p)


def write_image(path, image, *, pixel_size_um: float | None = None) -> Path:
    """Write an 8-bit RGB or grayscale image atomically (temporary name, then rename).

    Parameters
    ----------
    path : str or os.PathLike
        Destination ``.png``, ``.jpg`` or ``.tif``; an existing file is replaced only when
        the write succeeded.
    image : ndarray of uint8, shape (rows, cols[, 3])
        Pixel data.
    pixel_size_um : float, optional
        Stored in TIFF resolution tags (centimetre units) for ``.tif`` output.

    Returns
    -------
    pathlib.Path
        The path written.

    Raises
    ------
    OutputError
        The file could not be written; nothing is left behind.
    """
    p = Path(path)
    arr = np.asarray(image)
    if arr.dtype != np.uint8 or arr.ndim not in (2, 3):
        raise ImageInputError(
            f"expected uint8 (rows, cols[, 3]), got {arr.dtype} {arr.shape}", field="image"
        )
    suffix = p.suffix.lower()
    if suffix not in (".png", ".jpg", ".jpeg", ".tif", ".tiff"):
        raise OutputError(f"unsupported output type {suffix!r}; use .png, .jpg or .tif")
    fd, tmp = tempfile.mkstemp(prefix=f".{p.name}.", suffix=suffix, dir=p.parent or ".")
    os.close(fd)
    try:
        if suffix in (".tif", ".tiff"):
            import tifffile

            kw = {}
            if pixel_size_um:
                kw = {
                    "resolution": (1e4 / pixel_size_um, 1e4 / pixel_size_um),
                    "resolutionunit": "CENTIMETER",
                }
            tifffile.imwrite(tmp, arr, photometric="rgb" if arr.ndim == 3 else None, **kw)
        else:
            from PIL import Image

            Image.fromarray(arr).save(tmp, format="PNG" if suffix == ".png" else "JPEG")
        os.replace(tmp, p)
    except Exception as exc:
        Path(tmp).unlink(missing_ok=True)
        raise OutputError(f"cannot write {p}: {exc}") from None
    return p
