"""Reading and writing image files: the only module in her2kit.imaging that touches files.

PNG and JPEG are decoded with Pillow, TIFF and OME-TIFF with tifffile. The pixel size is
read from OME-XML (``PhysicalSizeX`` / ``PhysicalSizeXUnit``) or from the TIFF
``XResolution`` / ``ResolutionUnit`` tags (centimetre or inch) when present; PNG and JPEG
carry no trustworthy pixel size (their DPI fields describe screens and printers), so it is
``None`` for them and the caller must supply it.
"""

from __future__ import annotations

import os
import tempfile
import xml.etree.ElementTree as ET
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from her2kit.errors import ImageInputError, OutputError

__all__ = ["LoadedImage", "ome_pixel_size_um", "read_image", "write_image"]

# Refuse images above this many pixels by default (a 20k x 20k region); whole slides go
# through the slide reader instead.
DEFAULT_MAX_PIXELS = 400_000_000

_UNIT_TO_UM = {"m": 1e6, "cm": 1e4, "mm": 1e3, "µm": 1.0, "um": 1.0, "nm": 1e-3, "Å": 1e-4}


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


def _ome_pixels_attribute(description: str | None, name: str) -> tuple[str, dict] | None:
    """The value of attribute ``name`` of the first OME-XML ``Pixels`` element that has
    it, with all that element's attributes; None when not OME-XML or absent."""
    if not description or "<OME" not in description[:2000]:
        return None
    try:
        root = ET.fromstring(description)
    except ET.ParseError:
        return None
    for el in root.iter():
        if el.tag.endswith("Pixels") and name in el.attrib:
            return el.attrib[name], dict(el.attrib)
    return None


def ome_pixel_size_um(description: str | None) -> float | None:
    """µm per pixel from OME-XML ``PhysicalSizeX`` (with its unit), or None."""
    found = _ome_pixels_attribute(description, "PhysicalSizeX")
    if found is None:
        return None
    size = float(found[0])
    factor = _UNIT_TO_UM.get(found[1].get("PhysicalSizeXUnit", "µm"))
    if factor is None or not size > 0:
        return None
    return size * factor


def ome_significant_bits(description: str | None) -> int | None:
    """The camera bit depth an OME-XML ``Pixels`` element states (``SignificantBits``), or None."""
    found = _ome_pixels_attribute(description, "SignificantBits")
    try:
        bits = int(found[0]) if found is not None else None
    except ValueError:
        return None
    return bits if bits is not None and 1 <= bits <= 64 else None


def _tiff_resolution_pixel_size(page) -> float | None:
    tags = page.tags
    if "XResolution" not in tags or "ResolutionUnit" not in tags:
        return None
    num, den = tags["XResolution"].value
    unit = int(tags["ResolutionUnit"].value)
    if not num or not den:
        return None
    pixels_per_unit = num / den
    # ResolutionUnit 2 = inch, 3 = centimetre; 1 = none (no absolute unit).
    if unit == 3:
        return 1e4 / pixels_per_unit
    if unit == 2:
        size = 25400.0 / pixels_per_unit
        # 72/96/300 dpi are screen or print defaults written by ordinary software.
        return None if pixels_per_unit in (72, 96, 150, 300, 600) else size
    return None


def read_image(path, *, max_pixels: int = DEFAULT_MAX_PIXELS) -> LoadedImage:
    """Read a PNG, JPEG or (OME-)TIFF image and its pixel size.

    Parameters
    ----------
    path : str or os.PathLike
        Image file.
    max_pixels : int, optional
        Refuse images with more pixels than this.

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
    if not p.is_file():
        raise ImageInputError(f"no such file: {p}", field="image")
    suffix = p.suffix.lower()
    if suffix in (".tif", ".tiff"):
        import tifffile

        try:
            with tifffile.TiffFile(p) as tf:
                page = tf.pages[0]
                n = int(np.prod(page.shape[:2]))
                if n > max_pixels:
                    raise ImageInputError(
                        f"image has {n} pixels, more than the limit {max_pixels}", field="image"
                    )
                size = ome_pixel_size_um(tf.pages[0].description if tf.is_ome else None)
                source = "ome" if size is not None else "none"
                if size is None:
                    size = _tiff_resolution_pixel_size(page)
                    source = "tiff-resolution" if size is not None else "none"
                data = page.asarray()
        except ImageInputError:
            raise
        except Exception as exc:  # tifffile raises many types for broken files
            raise ImageInputError(f"cannot read TIFF {p.name}: {exc}", field="image") from None
        if data.ndim == 3 and data.shape[0] in (3, 4) and data.shape[-1] not in (3, 4):
            data = np.moveaxis(data, 0, -1)  # planar (samples, rows, cols) -> channel last
        return LoadedImage(np.ascontiguousarray(data), size, source, p)
    if suffix in (".png", ".jpg", ".jpeg"):
        from PIL import Image

        try:
            with Image.open(p) as im:
                if im.width * im.height > max_pixels:
                    raise ImageInputError(
                        f"image has {im.width * im.height} pixels, more than the limit "
                        f"{max_pixels}",
                        field="image",
                    )
                if im.mode == "P":
                    im = im.convert("RGBA" if "transparency" in im.info else "RGB")
                im.load()
                data = np.asarray(im)
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
