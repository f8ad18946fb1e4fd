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
    "LoadedImage", "ome_pixel_size_um", "ome_significant_bits", "read_image", "write_image",
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
    p = Path(path)
    require_file(p, field="image")
    suffix = p.suffix.lower()
    if suffix in TIFF_SUFFIXES:
        try:
            with open_raster(p, field="image") as raster:
                raster.check_not_truncated(field="image")
                n = raster.first_page_plane_pixels()
                if n > max_pixels:
                    raise _too_large(n, max_pixels)
                size, source = raster.first_page_pixel_size_um()
                data = raster.read_first_page()
        except ImageInputError:
            raise
        except Exception as exc:  # tifffile raises many types for broken files
            raise ImageInputError(f"cannot read TIFF {p.name}: {exc}", field="image") from None
        if data.ndim == 3 and data.shape[0] in (3, 4) and data.shape[-1] not in (3, 4):
            data = np.moveaxis(data, 0, -1)  # planar (samples, rows, cols) -> channel last
        return LoadedImage(np.ascontiguousarray(data), size, source, p)
    if suffix in (".png", ".jpg", ".jpeg"):
        try:
            with open_raster(p, field="image") as raster:
                if raster.pil_stored_bits() == 16:
                    raise ImageInputError(
                        f"{p.name} is a 16-bit RGB PNG, which would be read as 8 bits; "
                        "her2kit never rescales intensities implicitly, convert to 8-bit RGB "
                        "yourself", field="image")
                if raster.pil.mode == "CMYK":
                    raise ImageInputError(f"{p.name} is a CMYK (print) image; export it as "
                                          "RGB", field="image")
                width, height = raster.size_px
                if width * height > max_pixels:
                    raise _too_large(width * height, max_pixels)
                data = raster.read_pil(palette_to_rgb=True)
        except ImageInputError:
            raise
        except Exception as exc:  # Pillow: OSError for truncated, UnidentifiedImageError...
            raise ImageInputError(f"cannot read {p.name}: {exc}", field="image") from None
        return LoadedImage(np.array(data), None, "none", p)
    raise ImageInputError(
        f"unsupported file type {suffix!r} ({p.name}); expected .png, .jpg, .jpeg, .tif, .tiff",
        field="image",
    )


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
