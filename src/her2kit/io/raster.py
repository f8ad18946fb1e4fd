"""The one low-level opener of raster files: TIFF/OME-TIFF with tifffile, the rest with Pillow.

:func:`open_raster` opens a file without decoding its pixels, so each reader can check
its own size limit first (``io.images`` for ``score-ihc``, ``io.fish`` for ``count-ish``);
the readers keep their own limits and messages. OME-XML and TIFF resolution tags are
parsed here. PNG and JPEG carry no trustworthy pixel size (their DPI fields describe
screens and printers).
"""

from __future__ import annotations

import logging
import threading
import xml.etree.ElementTree as ET
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from types import MappingProxyType

import numpy as np

from her2kit.errors import ImageInputError

__all__ = [
    "RasterFile", "ome_channel_names", "ome_declared_planes", "ome_pixel_size_um",
    "ome_significant_bits", "open_raster", "require_file",
    "tiff_resolution_pixel_size_um",
]

TIFF_SUFFIXES = (".tif", ".tiff")
# Pillow refuses, at open, images over twice its MAX_IMAGE_PIXELS (179 Mpx) as
# "decompression bombs"; every reader here checks its own pixel limit before decoding
# (score-ihc's is 400 Mpx), so the limit is lifted while a file is opened, under a lock
# because it is Pillow's module setting.
_PIL_OPEN_LOCK = threading.Lock()

_UNIT_TO_UM = MappingProxyType(
    {"m": 1e6, "cm": 1e4, "mm": 1e3, "µm": 1.0, "um": 1.0, "nm": 1e-3, "Å": 1e-4})


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


def ome_channel_names(description: str | None) -> tuple[str | None, ...]:
    """The ``Name`` of each ``Channel`` of the first OME-XML ``Pixels`` element, in order
    (None for an unnamed channel); empty when not OME-XML."""
    if not description or "<OME" not in description[:2000]:
        return ()
    try:
        root = ET.fromstring(description)
    except ET.ParseError:
        return ()
    for el in root.iter():
        if el.tag.endswith("Pixels"):
            return tuple(ch.attrib.get("Name") for ch in el if ch.tag.endswith("Channel"))
    return ()


def ome_declared_planes(description: str | None) -> int | None:
    """Planes (``SizeC x SizeZ x SizeT``) the first OME-XML ``Pixels`` element declares,
    or None when not OME-XML or not stated."""
    found = _ome_pixels_attribute(description, "SizeC")
    if found is None:
        return None
    try:
        return int(np.prod([int(found[1].get(k, 1)) for k in ("SizeC", "SizeZ", "SizeT")]))
    except ValueError:
        return None


def ome_significant_bits(description: str | None) -> int | None:
    """The camera bit depth an OME-XML ``Pixels`` element states (``SignificantBits``), or None."""
    found = _ome_pixels_attribute(description, "SignificantBits")
    try:
        bits = int(found[0]) if found is not None else None
    except ValueError:
        return None
    return bits if bits is not None and 1 <= bits <= 64 else None


def tiff_resolution_pixel_size_um(page) -> float | None:
    """µm per pixel from a TIFF page's ``XResolution`` / ``ResolutionUnit``, or None."""
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


class RasterFile:
    """An opened raster file whose pixels are decoded only on request.

    Attributes
    ----------
    path : pathlib.Path
    is_tiff : bool
        Opened with tifffile (``tiff``), else with Pillow (``pil``).
    tiff, pil
        The open ``tifffile.TiffFile`` or ``PIL.Image.Image`` (the other is None).
    """

    def __init__(self, path: Path, *, tiff=None, pil=None, log=None) -> None:
        self.path, self.tiff, self.pil = path, tiff, pil
        self.is_tiff = tiff is not None
        self._log = log if log is not None else []

    def check_not_truncated(self, *, field: str) -> None:
        """Refuse a TIFF whose structure points past its end (a truncated copy): tifffile
        then only logs, and reads the pages it found as if they were the whole file."""
        if self.is_tiff:
            len(self.tiff.pages)  # walks the chain of pages, logging broken offsets
        broken = [m for m in self._log if "offset" in m]
        if broken:
            raise ImageInputError(
                f"cannot read {self.path.name}: truncated or corrupt ({broken[0]})", field=field)

    # -- TIFF: first page (a plain image) or first series (stacks, OME axes)
    def first_page_plane_pixels(self) -> int:
        """Rows x columns of the first page, from its tags: its shape would be (samples,
        rows, cols) for a planar TIFF, and rows x cols would then count samples x rows."""
        page = self.tiff.pages[0]
        return int(page.imagelength) * int(page.imagewidth) * max(int(page.imagedepth), 1)

    def first_page_pixel_size_um(self) -> tuple[float | None, str]:
        """µm per pixel and its source (``ome``, ``tiff-resolution`` or ``none``)."""
        tf = self.tiff
        size = ome_pixel_size_um(tf.pages[0].description if tf.is_ome else None)
        if size is not None:
            return size, "ome"
        size = tiff_resolution_pixel_size_um(tf.pages[0])
        return size, "tiff-resolution" if size is not None else "none"

    def read_first_page(self) -> np.ndarray:
        return self.tiff.pages[0].asarray()

    def series_axes_shape(self) -> tuple[str, tuple[int, ...]]:
        series = self.tiff.series[0]
        return series.axes, tuple(series.shape)

    def read_series(self) -> np.ndarray:
        return self.tiff.series[0].asarray()

    def ome_metadata(self) -> str | None:
        return self.tiff.ome_metadata if self.tiff.is_ome else None

    # -- Pillow
    def pil_stored_bits(self) -> int:
        """Bits per sample as stored: 16 for a 16-bit PNG, which Pillow opens as 8-bit
        ``RGB`` (it drops the low byte of each sample), else 8."""
        rawmodes = [str(t.args if hasattr(t, "args") else t[3]) for t in self.pil.tile or []]
        return 16 if any(";16" in m for m in rawmodes) and self.pil.mode == "RGB" else 8

    @property
    def size_px(self) -> tuple[int, int]:
        """(width, height) of a Pillow image."""
        return self.pil.width, self.pil.height

    def read_pil(self, *, palette_to_rgb: bool = False) -> np.ndarray:
        """Decode a Pillow image as stored (palette images expanded when asked)."""
        im = self.pil
        if palette_to_rgb and im.mode == "P":
            im = im.convert("RGBA" if "transparency" in im.info else "RGB")
        im.load()
        return np.asarray(im)


class _ListHandler(logging.Handler):
    """Collects the messages tifffile logs (it logs, rather than raises, on broken offsets)."""

    def __init__(self) -> None:
        super().__init__(logging.WARNING)
        self.messages: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.messages.append(record.getMessage())


@contextmanager
def open_raster(path: Path, *, field: str) -> Iterator[RasterFile]:
    """Open ``path`` (TIFF by suffix, else Pillow) without decoding its pixels.

    Raises
    ------
    ImageInputError
        ``no such file`` (with ``field``) when the path is not a file. Decoder errors
        propagate unchanged: each reader words them its own way.
    """
    require_file(path, field=field)
    if path.suffix.lower() in TIFF_SUFFIXES:
        import tifffile

        handler = _ListHandler()
        logger = logging.getLogger("tifffile")
        logger.addHandler(handler)
        try:
            with tifffile.TiffFile(path) as tf:
                yield RasterFile(path, tiff=tf, log=handler.messages)
        finally:
            logger.removeHandler(handler)
        return
    import warnings

    from PIL import Image

    with warnings.catch_warnings():
        # The readers' own limits apply; Pillow's bomb warning would be a second line. It
        # can come at decoding (frames of an animated PNG or GIF) too, so it is silenced
        # while the file is open, not only while it is opened.
        warnings.simplefilter("ignore", Image.DecompressionBombWarning)
        with _PIL_OPEN_LOCK:
            limit, Image.MAX_IMAGE_PIXELS = Image.MAX_IMAGE_PIXELS, None
            try:
                im = Image.open(path)
            finally:
                Image.MAX_IMAGE_PIXELS = limit
        with im:
            yield RasterFile(path, pil=im)


def require_file(path: Path, *, field: str) -> None:
    """Raise ImageInputError (with ``field``) naming the cause unless ``path`` is a regular
    file: ``no such file``, a directory, or a device, FIFO or socket (which could block
    or never end)."""
    import stat

    try:
        mode = path.stat().st_mode
    except FileNotFoundError:
        raise ImageInputError(f"no such file: {path}", field=field) from None
    except OSError as exc:
        raise ImageInputError(f"cannot read {path}: {exc.strerror}", field=field) from None
    if stat.S_ISDIR(mode):
        raise ImageInputError(f"{path} is a directory, not an image file", field=field)
    if not stat.S_ISREG(mode):
        raise ImageInputError(f"{path} is not a regular file (a device, FIFO or socket)",
                              field=field)
