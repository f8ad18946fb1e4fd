"""Write RGB whole-slide pyramids as JPEG-tiled TIFF files, streamed, in bounded memory.

:func:`write_slide` takes level 0 as an array or as a function of (tile row, tile
column) and writes one of three flavours that :func:`her2kit.io.slides.open_slide` (and
QuPath, OpenSlide, Bio-Formats) read:

``tiff``
    Generic tiled TIFF: one IFD per level, ``NewSubfileType`` 1 (reduced) on the reduced
    levels, ``XResolution``/``YResolution`` in pixels per centimetre; OpenSlide's
    ``generic-tiff``.
``svs``
    Aperio-style SVS: the same IFDs with an ``ImageDescription`` of the form
    ``Aperio Image Library v12.0.0 ... |AppMag = 40|MPP = 0.25``; OpenSlide's ``aperio``.
``ome``
    OME-TIFF: level 0 with the reduced levels as SubIFDs, the pixel size in the OME-XML
    (``PhysicalSizeX``); read with tifffile.

Level 0 is pulled one row of tiles at a time and each tile is JPEG-encoded as it comes
(exactly as tifffile encodes: YCbCr, 2 x 2 chroma subsampling). Each reduced level is the
2 x 2 mean of the level above, built from its rows of tiles as they complete; their
encoded tiles wait in an unnamed temporary file until their IFD is written. Memory is a
few rows of tiles per level, whatever the slide size. The file appears under its name
only when complete (:func:`her2kit.io.atomic.replacing`).
"""

from __future__ import annotations

import math
import os
import tempfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from her2kit.errors import Her2kitInputError, ImageInputError
from her2kit.io.atomic import replacing

__all__ = ["FLAVOURS", "WrittenSlide", "level_sizes", "write_slide"]

#: The flavours :func:`write_slide` writes.
FLAVOURS = ("tiff", "svs", "ome")
#: Above this many bytes of raw level-0 pixels the file is a BigTIFF (a classic TIFF
#: cannot address more than 4 GiB, and JPEG tiles of noisy tissue compress ~5-15 x).
_BIGTIFF_RAW_BYTES = 2**31
#: The ImageDescription prefix OpenSlide recognises as Aperio.
_APERIO = "Aperio Image Library v12.0.0"

TileSource = Callable[[int, int], np.ndarray]


@dataclass(frozen=True)
class WrittenSlide:
    """What :func:`write_slide` wrote.

    Attributes
    ----------
    path : pathlib.Path
    flavour : str
        ``tiff``, ``svs`` or ``ome``.
    level_sizes_wh : tuple of (int, int)
        (width, height) of each level, px, level 0 first.
    pixel_size_um : float
        Level 0, µm/px.
    tile_px : int
        Tile side, px.
    jpeg_quality : int
    file_bytes : int
        Size of the file written.
    """

    path: Path
    flavour: str
    level_sizes_wh: tuple[tuple[int, int], ...]
    pixel_size_um: float
    tile_px: int
    jpeg_quality: int
    file_bytes: int


def level_sizes(size_wh: tuple[int, int], *, tile_px: int) -> tuple[tuple[int, int], ...]:
    """(width, height) of each pyramid level: halved (rounded up) until the longer side
    fits in one tile."""
    w, h = size_wh
    sizes = [(w, h)]
    while max(w, h) > tile_px:
        w, h = (w + 1) // 2, (h + 1) // 2
        sizes.append((w, h))
    return tuple(sizes)


def _encode(tile: np.ndarray, quality: int) -> bytes:
    """One JPEG tile as tifffile writes it for ``photometric='rgb'``."""
    import imagecodecs

    return imagecodecs.jpeg_encode(tile, level=quality, colorspace="RGB",
                                   outcolorspace="YCBCR", subsampling=(2, 2))


def _halve(strip: np.ndarray) -> np.ndarray:
    """2 x 2 means (rounded) of a uint8 (rows, cols, 3) strip with even sides."""
    acc = strip[0::2, 0::2].astype(np.uint16)
    acc += strip[1::2, 0::2]
    acc += strip[0::2, 1::2]
    acc += strip[1::2, 1::2]
    return ((acc + 2) >> 2).astype(np.uint8)


class _Pyramid:
    """Builds the reduced levels from level 0's rows of tiles and spools their tiles."""

    def __init__(self, sizes, tile_px: int, quality: int, spool) -> None:
        self.sizes, self.t, self.q, self.spool = sizes, tile_px, quality, spool
        self.across = [math.ceil(w / tile_px) for w, _ in sizes]
        self.down = [math.ceil(h / tile_px) for _, h in sizes]
        self.buffers = [self._blank(i) for i in range(len(sizes))]
        self.rows_in = [0] * len(sizes)  # rows of tiles received per level (>= 1)
        self.index: list[list[tuple[int, int]]] = [[] for _ in sizes]  # (offset, length)

    def _blank(self, level: int) -> np.ndarray:
        return np.full((self.t, self.across[level] * self.t, 3), 255, np.uint8)

    def add_row(self, level: int, strip: np.ndarray) -> None:
        """Row of tiles ``rows_in[level]`` of ``level`` (``level`` >= 1 spools it) is
        ``strip``; its half goes into the level below it."""
        if level > 0:
            self._spool_row(level, strip)
        row = self.rows_in[level]
        self.rows_in[level] += 1
        nxt = level + 1
        if nxt >= len(self.sizes):
            return
        half = _halve(strip)
        top = (row % 2) * (self.t // 2)
        self.buffers[nxt][top:top + half.shape[0], :half.shape[1]] = half
        if row % 2 == 1 or row == self.down[level] - 1:
            full, self.buffers[nxt] = self.buffers[nxt], self._blank(nxt)
            self.add_row(nxt, full)

    def finish_level0(self) -> None:
        """Pass on level 0's last row of tiles (still in its buffer)."""
        if self.rows_in[0] != self.down[0] - 1:
            raise AssertionError("level 0 was not written whole")
        self.add_row(0, self.buffers[0])

    def _spool_row(self, level: int, strip: np.ndarray) -> None:
        t = self.t
        for c in range(self.across[level]):
            data = _encode(strip[:, c * t:(c + 1) * t], self.q)
            self.index[level].append((self.spool.tell(), len(data)))
            self.spool.write(data)

    def tiles(self, level: int) -> Iterator[bytes]:
        """The encoded tiles of a reduced level, in order, from the spool."""
        for offset, length in self.index[level]:
            self.spool.seek(offset)
            yield self.spool.read(length)
        self.spool.seek(0, os.SEEK_END)


def _array_source(image: np.ndarray, tile_px: int) -> TileSource:
    def tile(row: int, col: int) -> np.ndarray:
        return image[row * tile_px:(row + 1) * tile_px, col * tile_px:(col + 1) * tile_px]
    return tile


def _checked_tile(tile, row: int, col: int, want_hw: tuple[int, int], t: int) -> np.ndarray:
    """The tile as a full t x t uint8 RGB block, white beyond the slide's edge."""
    arr = np.asarray(tile)
    if arr.dtype != np.uint8 or arr.ndim != 3 or arr.shape[2] != 3:
        raise ImageInputError(f"tile ({row}, {col}): expected uint8 (rows, cols, 3), got "
                              f"{arr.dtype} {arr.shape}", field="source")
    h, w = want_hw
    if arr.shape[0] < h or arr.shape[1] < w:
        raise ImageInputError(f"tile ({row}, {col}): expected at least {h}x{w} px, got "
                              f"{arr.shape[0]}x{arr.shape[1]}", field="source")
    if arr.shape[:2] == (t, t) and (h, w) == (t, t):
        return np.ascontiguousarray(arr)
    full = np.full((t, t, 3), 255, np.uint8)
    full[:h, :w] = arr[:h, :w]
    return full


def _level0_tiles(source: TileSource, pyramid: _Pyramid) -> Iterator[bytes]:
    """Encoded level-0 tiles, row by row; each finished row feeds the reduced levels when
    the next row starts (the last one: :meth:`_Pyramid.finish_level0`, as tifffile
    closes the iterator once it has its tiles)."""
    t = pyramid.t
    w0, h0 = pyramid.sizes[0]
    strip = pyramid.buffers[0]
    for r in range(pyramid.down[0]):
        if r > 0:
            pyramid.add_row(0, strip)
        for c in range(pyramid.across[0]):
            want = (min(t, h0 - r * t), min(t, w0 - c * t))
            tile = _checked_tile(source(r, c), r, c, want, t)
            strip[:, c * t:(c + 1) * t] = tile
            yield _encode(tile, pyramid.q)


def _ifd_kwargs(flavour: str, level: int, sizes, mpp_um: float, tile_px: int,
                quality: int, app_mag: float | None) -> dict:
    """tifffile ``write`` keywords of one level (besides the data)."""
    w, h = sizes[level]
    kw = {"shape": (h, w, 3), "dtype": np.uint8, "tile": (tile_px, tile_px),
          "photometric": "rgb", "compression": "jpeg", "compressionargs": {"level": quality},
          "metadata": None}
    level_mpp = mpp_um * sizes[0][0] / w
    if flavour == "ome":
        kw.pop("metadata")
        if level == 0:
            kw["subifds"] = len(sizes) - 1
            kw["metadata"] = {"axes": "YXS", "PhysicalSizeX": mpp_um, "PhysicalSizeY": mpp_um,
                              "PhysicalSizeXUnit": "µm", "PhysicalSizeYUnit": "µm"}
        else:
            kw["subfiletype"] = 1
        return kw
    kw["resolution"] = (1e4 / level_mpp, 1e4 / level_mpp)
    kw["resolutionunit"] = "CENTIMETER"
    if flavour == "tiff":
        kw["subfiletype"] = 0 if level == 0 else 1
        return kw
    mag = app_mag if app_mag is not None else 10.0 / mpp_um
    w0, h0 = sizes[0]
    size = f"{w0}x{h0} ({tile_px}x{tile_px})" if level == 0 else f"{w0}x{h0} -> {w}x{h}"
    kw["description"] = (f"{_APERIO}\r\n{size} JPEG/RGB Q={quality}|AppMag = {mag:g}|"
                         f"MPP = {mpp_um:.6g}")
    return kw


def _check_args(source, size_wh, pixel_size_um, flavour, tile_px, jpeg_quality):
    if flavour not in FLAVOURS:
        raise Her2kitInputError(f"expected one of {FLAVOURS}, got {flavour!r}", field="flavour")
    if not (isinstance(tile_px, int) and tile_px >= 16 and tile_px % 16 == 0):
        raise Her2kitInputError(f"expected a multiple of 16 px, got {tile_px!r}",
                                field="tile_px")
    if not (isinstance(jpeg_quality, int) and 1 <= jpeg_quality <= 100):
        raise Her2kitInputError(f"expected 1-100, got {jpeg_quality!r}", field="jpeg_quality")
    mpp = float(pixel_size_um)
    if not (math.isfinite(mpp) and mpp > 0):
        raise Her2kitInputError(f"expected a positive µm per pixel, got {pixel_size_um!r}",
                                field="pixel_size_um")
    if isinstance(source, np.ndarray):
        if source.ndim != 3 or source.shape[2] != 3 or source.dtype != np.uint8:
            raise ImageInputError(f"expected uint8 (rows, cols, 3), got {source.dtype} "
                                  f"{source.shape}", field="source")
        size_wh = (source.shape[1], source.shape[0])
    elif not callable(source) or size_wh is None:
        raise Her2kitInputError("give an RGB array, or a function of (tile row, tile col) "
                                "and size_wh", field="source")
    w, h = (int(v) for v in size_wh)
    if w < 1 or h < 1:
        raise Her2kitInputError(f"expected a positive size, got {w}x{h} px", field="size_wh")
    return (w, h), mpp


def write_slide(path, source, *, pixel_size_um: float,
                size_wh: tuple[int, int] | None = None, flavour: str = "tiff",
                tile_px: int = 256, jpeg_quality: int = 90,
                app_mag: float | None = None) -> WrittenSlide:
    """Write an RGB slide pyramid as a JPEG-tiled TIFF, SVS or OME-TIFF.

    Parameters
    ----------
    path : str or os.PathLike
        File to write (replaced atomically; its folder is created).
    source : ndarray of uint8, shape (rows, cols, 3), or callable
        Level 0: an RGB array, or ``source(tile_row, tile_col)`` returning the tile at
        rows ``tile_row * tile_px ...`` and columns ``tile_col * tile_px ...`` (uint8
        RGB, at least as large as the part inside the slide; any excess is cut). Called
        once per tile, row by row.
    pixel_size_um : float
        Level 0, µm/px.
    size_wh : (int, int), optional
        (width, height) of level 0, px; required with a callable ``source``.
    flavour : {"tiff", "svs", "ome"}, optional
        Generic tiled TIFF, Aperio-style SVS, or OME-TIFF with SubIFDs.
    tile_px : int, optional
        Tile side, px (a multiple of 16).
    jpeg_quality : int, optional
        1-100.
    app_mag : float, optional
        SVS ``AppMag`` (objective magnification); default 10 / ``pixel_size_um``
        (40 at 0.25 µm/px).

    Returns
    -------
    WrittenSlide

    Raises
    ------
    Her2kitInputError
        A bad option; ImageInputError for a tile of the wrong type or size.
    OutputError
        The file cannot be written (nothing is left behind).
    """
    import tifffile

    size_wh, mpp = _check_args(source, size_wh, pixel_size_um, flavour, tile_px, jpeg_quality)
    if isinstance(source, np.ndarray):
        source = _array_source(source, tile_px)
    sizes = level_sizes(size_wh, tile_px=tile_px)
    path = Path(path)
    bigtiff = size_wh[0] * size_wh[1] * 3 > _BIGTIFF_RAW_BYTES
    with replacing(path) as tmp, tempfile.TemporaryFile(dir=path.parent) as spool:
        pyramid = _Pyramid(sizes, tile_px, jpeg_quality, spool)
        with tifffile.TiffWriter(tmp, bigtiff=bigtiff, ome=flavour == "ome") as tw:
            tw.write(_level0_tiles(source, pyramid), **_ifd_kwargs(
                flavour, 0, sizes, mpp, tile_px, jpeg_quality, app_mag))
            pyramid.finish_level0()
            for level in range(1, len(sizes)):
                tw.write(pyramid.tiles(level), **_ifd_kwargs(
                    flavour, level, sizes, mpp, tile_px, jpeg_quality, app_mag))
        size = tmp.stat().st_size
    return WrittenSlide(path, flavour, sizes, mpp, tile_px, jpeg_quality, size)
