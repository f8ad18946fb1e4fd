"""Whole-slide images: one reader over OpenSlide and tifffile, in bounded memory.

:func:`open_slide` returns a :class:`Slide`: its pyramid :attr:`Slide.levels`, its pixel
size (from the file, or assumed and recorded as such), and reads of any region
(:meth:`Slide.read_region` at a level, :meth:`Slide.read_at` at a pixel size, resampled
from the nearest finer level by area averaging). No read decodes more than the region
asked for (plus the tiles it touches); a level is never decoded whole.

Backends: OME-TIFF files (a SubIFD pyramid, which OpenSlide would see as one flat level)
are read with tifffile, tile by tile; everything else (Aperio SVS with JPEG or JPEG 2000
tiles, Hamamatsu NDPI, MIRAX, Leica SCN, Philips TIFF, generic tiled TIFF, DICOM WSI by
any one of its ``.dcm`` files or their folder) with openslide-python and the openslide-bin
wheel, imported on first use (the ``slide`` extra).

Coordinates follow OpenSlide: ``location_xy`` is (x, y) in level-0 pixels, ``size_wh`` is
(width, height) in pixels of the level (or of the output pixel size) read; arrays are
(rows, cols, 3) uint8 RGB. Areas outside the slide or transparent are white (255), as
bare glass is. ICC profiles are not applied (the pixels are as the scanner stored them).
"""

from __future__ import annotations

import logging
import math
import threading
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from types import MappingProxyType

import numpy as np

from her2kit.errors import ImageInputError
from her2kit.imaging._validate import (
    IHC_DARK_BACKGROUND_LEVEL,
    IHC_RGB_WORDING,
    check_brightfield_background,
)
from her2kit.io.raster import ome_pixel_size_um, tiff_resolution_pixel_size_um
from her2kit.settings import value

__all__ = [
    "MAX_REGION_PX", "Slide", "SlideLevel", "check_brightfield_slide", "open_slide",
]

#: Most pixels one read may return (a 20k x 20k region, ~1.2 GB of RGB): a whole level 0
#: of a 40x slide is refused, a tile or an ROI is not. The same limit as ``score-ihc``.
MAX_REGION_PX: int = value("score_ihc_max_pixels")
#: How far a level's pixel size may fall short of the one asked for in
#: :meth:`Slide.level_for` (a fraction): never upsample by more than 1 %.
LEVEL_TOLERANCE = 0.01
#: Two pixel sizes (the file's and an assumed one) that differ by more than this
#: fraction contradict each other.
MPP_AGREEMENT = 0.01
#: Most a reduced level's mean colour may differ from level 0's over the same area
#: (0-255 per channel): JPEG and averaging move it by 1-2; a level decoded in the wrong
#: colour space by 20 or more.
LEVEL_COLOUR_AGREEMENT = 10.0
#: The largest side (px) of one level read inside :meth:`Slide.thumbnail`, so a slide
#: with no coarse level is still reduced in bounded memory (~50 MB per read).
_THUMBNAIL_READ_SIDE_PX = 4096


@dataclass(frozen=True)
class SlideLevel:
    """One level of a slide pyramid.

    Attributes
    ----------
    index : int
        0 for the full resolution.
    width, height : int
        Size of the level, px.
    downsample : float
        Level-0 px per px of this level.
    pixel_size_um : float
        µm per px at this level (level 0's times ``downsample``).
    """

    index: int
    width: int
    height: int
    downsample: float
    pixel_size_um: float


# --------------------------------------------------------------------------- backends
class _OpenSlideBackend:
    """Reads through openslide-python; reopens its handle after a read error (an
    OpenSlide handle that failed once refuses every later read)."""

    def __init__(self, path: Path, shown: str) -> None:
        import openslide

        self._openslide, self._path, self._shown = openslide, path, shown
        self._lock = threading.Lock()
        try:
            self._handle = openslide.OpenSlide(str(path))
        except (openslide.OpenSlideError, OSError) as exc:
            raise ImageInputError(f"not a readable slide ({_first_line(exc)})",
                                  field=shown) from None
        props = self._handle.properties
        self.vendor = props.get("openslide.vendor", "unknown")
        self.properties = MappingProxyType(dict(props))
        self.level_dimensions = tuple(self._handle.level_dimensions)
        self.level_downsamples = tuple(float(d) for d in self._handle.level_downsamples)

    def pixel_size_um(self) -> tuple[float | None, str]:
        """µm/px and its source, from OpenSlide's ``openslide.mpp-x``; for a generic
        TIFF (whose resolution tags OpenSlide may not convert) from the tags themselves."""
        mpp = self.properties.get("openslide.mpp-x")
        if mpp:
            return float(mpp), f"file ({self.vendor} MPP)"
        if self.vendor == "generic-tiff":
            return _generic_tiff_mpp(self.properties), "file (TIFF resolution tags)"
        return None, "none"

    def read(self, location_xy: tuple[int, int], level: int,
             size_wh: tuple[int, int]) -> np.ndarray:
        with self._lock:
            handle = self._handle
        try:
            image = handle.read_region(location_xy, level, size_wh)
        except self._openslide.OpenSlideError as exc:
            self._reopen()
            raise ImageInputError(
                f"cannot decode the region at {tuple(location_xy)} (level {level}, "
                f"{size_wh[0]}x{size_wh[1]} px): {_first_line(exc)}", field=self._shown
            ) from None
        return _rgba_on_white(np.asarray(image))

    def _reopen(self) -> None:
        with self._lock:
            old = self._handle
            try:
                self._handle = self._openslide.OpenSlide(str(self._path))
            except (self._openslide.OpenSlideError, OSError):
                return  # keep the failed handle: its reads raise, one line each
        old.close()

    def close(self) -> None:
        self._handle.close()


def _generic_tiff_mpp(props: Mapping[str, str]) -> float | None:
    """µm/px from ``tiff.XResolution`` and ``tiff.ResolutionUnit`` (centimetre or inch,
    not a screen or print default in dpi), or None."""
    try:
        per_unit = float(props.get("tiff.XResolution", "nan"))
    except ValueError:
        return None
    unit = props.get("tiff.ResolutionUnit")
    if not math.isfinite(per_unit) or per_unit <= 0:
        return None
    if unit == "centimeter":
        return 1e4 / per_unit
    if unit == "inch" and per_unit not in (72, 96, 150, 300, 600):
        return 25400.0 / per_unit
    return None


class _TiffBackend:
    """Reads an OME-TIFF pyramid (SubIFDs) tile by tile with tifffile."""

    vendor = "ome-tiff"

    def __init__(self, path: Path, shown: str) -> None:
        import tifffile

        self._shown, self._lock = shown, threading.Lock()
        try:
            self._tiff = tifffile.TiffFile(path)
            series = self._tiff.series[0]
            self._pages = [lvl.pages[0] for lvl in series.levels]
        except Exception as exc:  # tifffile raises many types on a corrupt file
            raise ImageInputError(f"not a readable OME-TIFF ({_first_line(exc)})",
                                  field=shown) from None
        for page in self._pages:
            contiguous = page.planarconfig == 1 or page.samplesperpixel == 1
            if not contiguous or page.dtype != np.uint8 or page.samplesperpixel not in (1, 3, 4):
                self._tiff.close()
                raise ImageInputError("not an 8-bit RGB (or grey) OME-TIFF pyramid; "
                                      "fluorescence channel stacks are not slides here",
                                      field=shown)
        self._description = self._pages[0].description
        self.properties = MappingProxyType(
            {"tifffile.ImageDescription": self._description or "",
             "tifffile.levels": str(len(self._pages))})
        self.level_dimensions = tuple((int(p.imagewidth), int(p.imagelength))
                                      for p in self._pages)
        w0, h0 = self.level_dimensions[0]
        # As OpenSlide computes it: the mean of the two axes' ratios.
        self.level_downsamples = tuple((w0 / w + h0 / h) / 2 for w, h in self.level_dimensions)

    def pixel_size_um(self) -> tuple[float | None, str]:
        size = ome_pixel_size_um(self._description)
        if size is not None:
            return size, "file (OME PhysicalSizeX)"
        size = tiff_resolution_pixel_size_um(self._pages[0])
        return size, ("file (TIFF resolution tags)" if size is not None else "none")

    def read(self, location_xy: tuple[int, int], level: int,
             size_wh: tuple[int, int]) -> np.ndarray:
        ds = self.level_downsamples[level]
        x0, y0 = round(location_xy[0] / ds), round(location_xy[1] / ds)
        out = np.full((size_wh[1], size_wh[0], 3), 255, np.uint8)
        _paint_tiles(self, self._pages[level], out, x0, y0, level)
        return out

    def decode(self, page, index: int) -> np.ndarray | None:
        """The decoded segment ``index`` of ``page``, (rows, cols, samples) uint8, or None
        for a tile never written."""
        offset, count = page.dataoffsets[index], page.databytecounts[index]
        if not offset or not count:  # a sparse (never written) tile: glass
            return None
        with self._lock:
            fh = self._tiff.filehandle
            fh.seek(offset)
            data = fh.read(count)
        if len(data) < count:
            raise ImageInputError(f"tile {index} of level {self._pages.index(page)} is "
                                  "truncated", field=self._shown)
        try:
            segment = page.decode(data, index, jpegtables=page.jpegtables)[0]
        except Exception as exc:  # imagecodecs raises its own types per codec
            raise ImageInputError(f"cannot decode tile {index} of level "
                                  f"{self._pages.index(page)}: {_first_line(exc)}",
                                  field=self._shown) from None
        return segment[0]

    def close(self) -> None:
        self._tiff.close()


def _paint_tiles(backend: _TiffBackend, page, out: np.ndarray, x0: int, y0: int,
                 level: int) -> None:
    """Decode only the segments of ``page`` that ``out`` (at level px ``x0, y0``) covers."""
    seg_h, seg_w = int(page.chunks[0]), int(page.chunks[1])
    across = int(page.chunked[1])
    height, width = int(page.imagelength), int(page.imagewidth)
    h, w = out.shape[:2]
    r0, r1 = max(y0, 0), min(y0 + h, height)
    c0, c1 = max(x0, 0), min(x0 + w, width)
    if r0 >= r1 or c0 >= c1:
        return
    for ty in range(r0 // seg_h, (r1 - 1) // seg_h + 1):
        for tx in range(c0 // seg_w, (c1 - 1) // seg_w + 1):
            segment = backend.decode(page, ty * across + tx)
            if segment is None:
                continue
            top, left = ty * seg_h, tx * seg_w
            ra, rb = max(r0, top), min(r1, top + seg_h, height)
            ca, cb = max(c0, left), min(c1, left + seg_w, width)
            block = segment[ra - top:rb - top, ca - left:cb - left]
            if block.shape[-1] == 1:
                block = np.repeat(block, 3, axis=-1)
            elif block.shape[-1] == 4:
                block = _rgba_on_white(block)
            out[ra - y0:rb - y0, ca - x0:cb - x0] = block


def _rgba_on_white(rgba: np.ndarray) -> np.ndarray:
    """(h, w, 4) un-premultiplied RGBA composited on white, as (h, w, 3) uint8 RGB."""
    rgb, alpha = rgba[..., :3], rgba[..., 3:]
    if alpha.min(initial=255) == 255:
        return np.ascontiguousarray(rgb)
    a = alpha.astype(np.uint16)
    return ((rgb * a + 255 * (255 - a) + 127) // 255).astype(np.uint8)


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip() or type(exc).__name__
    return text.splitlines()[0]


# --------------------------------------------------------------------------- resampling
def _area_weights(start: float, step: float, n_out: int, n_in: int):
    """Sparse (n_out, n_in) area-averaging weights: row ``i`` holds the overlap of output
    interval ``[start + i*step, start + (i+1)*step)`` with each input pixel (all in input
    px), normalised to sum 1 (intervals are clipped to the input)."""
    from scipy import sparse

    lo = start + step * np.arange(n_out)
    hi = lo + step
    taps = math.ceil(step) + 1
    j = np.floor(lo).astype(np.intp)[:, None] + np.arange(taps)[None, :]
    overlap = np.minimum(hi[:, None], j + 1) - np.maximum(lo[:, None], j)
    keep = (overlap > 1e-12) & (j >= 0) & (j < n_in)
    rows = np.broadcast_to(np.arange(n_out)[:, None], j.shape)[keep]
    weights = sparse.csr_matrix((overlap[keep].astype(np.float32), (rows, j[keep])),
                                shape=(n_out, n_in))
    totals = np.asarray(weights.sum(axis=1)).ravel()
    return sparse.diags((1.0 / np.maximum(totals, 1e-12)).astype(np.float32)) @ weights


def _block_means(block: np.ndarray, k: int) -> np.ndarray:
    """Means of k x k blocks of ``block`` (rows and cols multiples of k), rounded."""
    acc = np.zeros((block.shape[0] // k, block.shape[1] // k, 3), np.uint32)
    for dy in range(k):
        for dx in range(k):
            acc += block[dy::k, dx::k]
    return ((acc + (k * k) // 2) // (k * k)).astype(np.uint8)


def _area_resample(img: np.ndarray, start_xy: tuple[float, float], step: float,
                   size_wh: tuple[int, int]) -> np.ndarray:
    """Resample ``img`` (h, w, 3) uint8 to ``size_wh`` output px, each covering
    ``step`` x ``step`` input px from ``start_xy`` (input px), by area averaging.

    An exact integer grid is cropped (step 1) or block-averaged; any other grid goes
    through two sparse weight matrices (rows, then columns), fractions weighted.
    """
    w_out, h_out = size_wh
    k = round(step)
    sx, sy = start_xy
    if abs(step - k) < 1e-9 and abs(sx - round(sx)) < 1e-9 and abs(sy - round(sy)) < 1e-9:
        x, y = round(sx), round(sy)
        block = img[y:y + h_out * k, x:x + w_out * k]
        if block.shape[:2] == (h_out * k, w_out * k):
            return np.ascontiguousarray(block) if k == 1 else _block_means(block, k)
    h_in, w_in = img.shape[:2]
    rows = _area_weights(sy, step, h_out, h_in) @ img.reshape(h_in, w_in * 3).astype(np.float32)
    cols = rows.reshape(h_out, w_in, 3).transpose(1, 0, 2).reshape(w_in, h_out * 3)
    both = (_area_weights(sx, step, w_out, w_in) @ cols).reshape(w_out, h_out, 3)
    return np.clip(np.rint(both.transpose(1, 0, 2)), 0, 255).astype(np.uint8)


# --------------------------------------------------------------------------- Slide
class Slide:
    """An open whole-slide image (see :func:`open_slide`).

    A context manager (``with open_slide(p) as s:``); :meth:`close` releases the file.
    Pickles as its path and assumed pixel size, and reopens in the process that unpickles
    it (a worker). Reads may run in several threads at once.

    Attributes
    ----------
    path : pathlib.Path
        The file or DICOM folder as given.
    vendor : str
        OpenSlide's vendor (``aperio``, ``hamamatsu``, ``dicom``, ``generic-tiff``, ...)
        or ``ome-tiff`` (read with tifffile).
    levels : tuple of SlideLevel
        The pyramid, level 0 (full resolution) first.
    dimensions : tuple of int
        (width, height) of level 0, px.
    pixel_size_um : float
        Level 0, µm/px.
    pixel_size_source : str
        Where it came from: ``file (aperio MPP)``, ``file (OME PhysicalSizeX)``,
        ``file (TIFF resolution tags)`` or ``--assume-mpp``.
    pixel_size_assumed : bool
        True when the file has no pixel size and ``assume_mpp_um`` gave it.
    properties : Mapping of str to str
        The file's metadata (OpenSlide properties), read-only.
    level_warnings : tuple of str
        One line per reduced level whose colours disagree with level 0 (checked at open
        on the central 1024 x 1024 level-0 px); :meth:`level_for`, :meth:`read_at` and
        :meth:`thumbnail` do not use such a level (:meth:`read_region` reads any level).
    """

    def __init__(self, path: Path, *, assume_mpp_um: float | None = None) -> None:
        self._assume = assume_mpp_um
        self.path = Path(path)
        shown = str(path)
        target, kind = _resolve(self.path, shown)
        if kind == "ome":
            self._backend = _TiffBackend(target, shown)
        else:
            self._backend = _OpenSlideBackend(target, shown)
        try:
            self._set_metadata(shown, assume_mpp_um)
        except BaseException:
            self._backend.close()
            raise

    def _set_metadata(self, shown: str, assume_mpp_um: float | None) -> None:
        b = self._backend
        self.vendor, self.properties = b.vendor, b.properties
        self.dimensions = tuple(int(v) for v in b.level_dimensions[0])
        if min(self.dimensions) < 1:
            raise ImageInputError("the slide has an empty level 0", field=shown)
        mpp, source = _pixel_size(b.pixel_size_um(), assume_mpp_um, shown)
        self.pixel_size_um, self.pixel_size_source = mpp, source
        self.pixel_size_assumed = source == "--assume-mpp"
        self.levels = tuple(
            SlideLevel(i, int(w), int(h), float(ds), mpp * float(ds))
            for i, ((w, h), ds) in enumerate(zip(b.level_dimensions, b.level_downsamples,
                                                 strict=True)))
        self.level_warnings = _check_level_colours(self)
        self._usable = tuple(lvl.index for lvl in self.levels
                             if not any(w.startswith(f"level {lvl.index}:")
                                        for w in self.level_warnings))

    # -- lifecycle
    def close(self) -> None:
        """Release the file (reads afterwards fail)."""
        self._backend.close()

    def __enter__(self) -> Slide:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def __reduce__(self):
        return (_reopen, (str(self.path), self._assume))

    def __repr__(self) -> str:
        w, h = self.dimensions
        return (f"Slide({str(self.path)!r}, vendor={self.vendor!r}, {w}x{h} px, "
                f"{len(self.levels)} levels, {self.pixel_size_um:g} µm/px)")

    # -- reads
    def read_region(self, location_xy, size_wh, *, level: int = 0) -> np.ndarray:
        """Read a region of one level.

        Parameters
        ----------
        location_xy : (int, int)
            Top-left corner (x, y) in level-0 px (OpenSlide's convention).
        size_wh : (int, int)
            (width, height) in px of ``level``.
        level : int, optional
            Pyramid level (index into :attr:`levels`).

        Returns
        -------
        ndarray of uint8, shape (height, width, 3)
            RGB, C-contiguous; areas outside the slide or transparent are white (255).

        Raises
        ------
        ImageInputError
            A level that does not exist, a size that is not positive or above
            :data:`MAX_REGION_PX`, or tiles that cannot be decoded (one line naming the
            file; later reads still work).
        """
        if not isinstance(level, int | np.integer) or not 0 <= level < len(self.levels):
            raise ImageInputError(f"no level {level!r}: the slide has levels 0–"
                                  f"{len(self.levels) - 1}", field=str(self.path))
        x, y = (int(v) for v in location_xy)
        w, h = _check_size(size_wh, str(self.path))
        return self._backend.read((x, y), int(level), (w, h))

    def level_for(self, pixel_size_um: float) -> int:
        """The coarsest level whose pixel size is at most ``pixel_size_um`` µm/px
        (+1 %: never upsample by more), or 0 when none is."""
        limit = float(pixel_size_um) * (1 + LEVEL_TOLERANCE)
        fits = [i for i in self._usable if self.levels[i].pixel_size_um <= limit]
        return max(fits, key=lambda i: self.levels[i].downsample) if fits else 0

    def read_at(self, pixel_size_um: float, location_xy, size_wh) -> np.ndarray:
        """Read a region at a pixel size, from the nearest finer level.

        Parameters
        ----------
        pixel_size_um : float
            Output µm per px (positive).
        location_xy : (float, float)
            Top-left corner (x, y) in level-0 px.
        size_wh : (int, int)
            (width, height) of the output, px at ``pixel_size_um``.

        Returns
        -------
        ndarray of uint8, shape (height, width, 3)
            RGB; read from :meth:`level_for` and resampled by area averaging (each output
            pixel is the mean of the level pixels it covers, fractions weighted); a level
            that matches exactly is returned as read, an integer ratio by block means.

        Raises
        ------
        ImageInputError
            As :meth:`read_region`, or a pixel size that is not positive.
        """
        target = _check_mpp(pixel_size_um, str(self.path), "pixel size")
        w_out, h_out = _check_size(size_wh, str(self.path))
        lvl = self.levels[self.level_for(target)]
        return self._read_from(lvl, target / lvl.pixel_size_um, location_xy, (w_out, h_out))

    def _read_from(self, lvl: SlideLevel, step: float, location_xy, size_wh) -> np.ndarray:
        """``size_wh`` output px of ``step`` px of level ``lvl`` each, from level-0
        ``location_xy``: the level region they cover, area-averaged."""
        w_out, h_out = size_wh
        if abs(step - round(step)) < 1e-6:
            step = float(round(step))
        fx, fy = float(location_xy[0]) / lvl.downsample, float(location_xy[1]) / lvl.downsample
        ix, iy = math.floor(fx + 1e-9), math.floor(fy + 1e-9)
        w_in = math.ceil(fx + w_out * step - ix - 1e-9)
        h_in = math.ceil(fy + h_out * step - iy - 1e-9)
        region = self.read_region((round(ix * lvl.downsample), round(iy * lvl.downsample)),
                                  (max(w_in, 1), max(h_in, 1)), level=lvl.index)
        return _area_resample(region, (fx - ix, fy - iy), step, (w_out, h_out))

    def thumbnail(self, max_side_px: int = 1024) -> tuple[np.ndarray, float]:
        """The whole slide reduced so its longer side is ``max_side_px`` px (or less
        when the slide is smaller), read in bounded pieces.

        Returns
        -------
        image : ndarray of uint8, shape (rows, cols, 3)
            RGB, area-averaged.
        pixel_size_um : float
            µm per px of ``image``.
        """
        w0, h0 = self.dimensions
        scale = max(max(w0, h0) / max(int(max_side_px), 1), 1.0)  # level-0 px per px
        out_w, out_h = max(round(w0 / scale), 1), max(round(h0 / scale), 1)
        mpp = self.pixel_size_um * scale
        # A reduced level with tiles OpenSlide cannot decode (the edge tiles of some
        # DICOM converters) gives way to the next finer one; level 0 must read.
        for index in [i for i in self._usable if i <= self.level_for(mpp)][::-1]:
            try:
                return self._thumbnail_from(index, scale, (out_w, out_h)), mpp
            except ImageInputError:
                if index == 0:
                    raise
        raise AssertionError("unreachable")

    def _thumbnail_from(self, index: int, scale: float, size_wh: tuple[int, int]
                        ) -> np.ndarray:
        """The thumbnail (``scale`` level-0 px per px) from level ``index``, in blocks."""
        lvl = self.levels[index]
        out_w, out_h = size_wh
        step = scale / lvl.downsample  # level px per output px
        block = max(int(_THUMBNAIL_READ_SIDE_PX // max(step, 1.0)), 1)
        out = np.empty((out_h, out_w, 3), np.uint8)
        for r in range(0, out_h, block):
            for c in range(0, out_w, block):
                h, w = min(block, out_h - r), min(block, out_w - c)
                out[r:r + h, c:c + w] = self._read_from(
                    lvl, step, (c * scale, r * scale), (w, h))
        return out


def _check_level_colours(slide: Slide) -> tuple[str, ...]:
    """One line per reduced level whose colours disagree with level 0 (a DICOM converter
    that wrote YCbCr JPEG tiles into a series declared RGB): the mean colour of the
    central (up to) 1024 x 1024 level-0 px, read at each level, must agree within
    :data:`LEVEL_COLOUR_AGREEMENT` grey levels. A level that cannot be read is not judged."""
    if len(slide.levels) == 1:
        return ()
    w0, h0 = slide.dimensions
    side = min(1024, w0, h0)
    x, y = (w0 - side) // 2, (h0 - side) // 2
    try:
        ref = slide.read_region((x, y), (side, side)).reshape(-1, 3).mean(axis=0)
    except ImageInputError:
        return ()
    warnings = []
    for lvl in slide.levels[1:]:
        n = max(int(side / lvl.downsample), 1)
        try:
            got = slide.read_region((x, y), (n, n), level=lvl.index).reshape(-1, 3).mean(axis=0)
        except ImageInputError:
            continue
        diff = float(np.abs(got - ref).max())
        if diff > LEVEL_COLOUR_AGREEMENT:
            warnings.append(f"level {lvl.index}: its colours disagree with level 0 (mean "
                            f"differs by {diff:.0f}/255); reads at a pixel size use a finer "
                            "level")
    return tuple(warnings)


def _reopen(path: str, assume_mpp_um: float | None) -> Slide:
    return open_slide(path, assume_mpp_um=assume_mpp_um)


def _check_size(size_wh, shown: str) -> tuple[int, int]:
    w, h = (int(v) for v in size_wh)
    if w < 1 or h < 1:
        raise ImageInputError(f"region size must be positive, got {w}x{h} px", field=shown)
    if w * h > MAX_REGION_PX:
        raise ImageInputError(f"region {w}x{h} px is more than the {MAX_REGION_PX} px one "
                              "read may return; read it in tiles", field=shown)
    return w, h


def _check_mpp(mpp, shown: str, what: str) -> float:
    try:
        v = float(mpp)
    except (TypeError, ValueError):
        raise ImageInputError(f"{what} must be a number in µm per pixel, got {mpp!r}",
                              field=shown) from None
    if not math.isfinite(v) or v <= 0:
        raise ImageInputError(f"{what} must be a positive number in µm per pixel, got {v!r}",
                              field=shown)
    return v


def _pixel_size(found: tuple[float | None, str], assume_mpp_um, shown: str
                ) -> tuple[float, str]:
    """The level-0 pixel size and its source, from the file and an assumed one."""
    mpp, source = found
    if mpp is not None and not (math.isfinite(mpp) and mpp > 0):
        mpp, source = None, "none"
    if assume_mpp_um is None:
        if mpp is None:
            raise ImageInputError("the slide does not record its pixel size; give "
                                  "--assume-mpp (µm per pixel)", field=shown)
        return mpp, source
    assumed = _check_mpp(assume_mpp_um, shown, "--assume-mpp")
    if mpp is None:
        return assumed, "--assume-mpp"
    if abs(assumed - mpp) > MPP_AGREEMENT * mpp:
        raise ImageInputError(f"--assume-mpp {assumed:g} contradicts the pixel size the "
                              f"slide records ({mpp:g} µm per pixel)", field=shown)
    return mpp, source


# --------------------------------------------------------------------------- opening
def _resolve(path: Path, shown: str) -> tuple[Path, str]:
    """The file to open and how: ``ome`` (tifffile) or ``openslide``; a folder must hold
    a DICOM WSI series (opened through one of its files)."""
    if path.is_dir():
        import openslide

        for entry in sorted(path.iterdir()):
            if entry.is_file() and openslide.OpenSlide.detect_format(str(entry)) == "dicom":
                return entry, "openslide"
        raise ImageInputError("a folder that is not a DICOM WSI series (no DICOM slide "
                              "file in it)", field=shown)
    if not path.exists():
        raise ImageInputError("no such file", field=shown)
    if not path.is_file():
        raise ImageInputError("not a regular file", field=shown)
    if _is_ome_tiff(path):
        return path, "ome"
    _check_tiff_complete(path, shown)
    import openslide

    if openslide.OpenSlide.detect_format(str(path)) is None:
        raise ImageInputError("not a slide OpenSlide or tifffile can read (unknown "
                              "format, or corrupt)", field=shown)
    return path, "openslide"


def _is_ome_tiff(path: Path) -> bool:
    """True for a TIFF whose first page holds OME-XML (read without decoding pixels)."""
    with open(path, "rb") as fh:
        head = fh.read(4)
    if head[:2] not in (b"II", b"MM"):
        return False
    import tifffile

    try:
        with tifffile.TiffFile(path) as tf:
            return bool(tf.is_ome)
    except Exception:  # not a TIFF tifffile reads: OpenSlide decides
        return False


def _check_tiff_complete(path: Path, shown: str) -> None:
    """Refuse a TIFF-based slide whose tile data runs past the end of the file (a
    truncated copy, which OpenSlide may open and fail on only when a lost tile is read)."""
    size = path.stat().st_size
    with open(path, "rb") as fh:
        head = fh.read(16)
    if head[:2] not in (b"II", b"MM"):
        return
    order = "<" if head[:2] == b"II" else ">"
    version = int.from_bytes(head[2:4], "little" if order == "<" else "big")
    first = (int.from_bytes(head[4:8], "little" if order == "<" else "big") if version == 42
             else int.from_bytes(head[8:16], "little" if order == "<" else "big"))
    if first >= size:
        raise ImageInputError(f"truncated or corrupt (its first TIFF directory is at byte "
                              f"{first}, the file has {size})", field=shown)
    import tifffile

    logger = logging.getLogger("tifffile")
    previous = logger.level
    logger.setLevel(logging.CRITICAL)  # its warnings about broken offsets: judged here
    try:
        with tifffile.TiffFile(path) as tf:
            for page in tf.pages:
                ends = [o + n for o, n in zip(page.dataoffsets, page.databytecounts,
                                              strict=False) if o and n]
                if ends and max(ends) > size:
                    raise ImageInputError(
                        f"truncated or corrupt (tile data ends at byte {max(ends)}, the file "
                        f"has {size})", field=shown)
    except ImageInputError:
        raise
    except Exception:  # tifffile cannot walk it: OpenSlide judges the file
        pass
    finally:
        logger.setLevel(previous)


def open_slide(path, *, assume_mpp_um: float | None = None) -> Slide:
    """Open a whole-slide image.

    Parameters
    ----------
    path : str or os.PathLike
        A slide file (SVS, NDPI, MRXS, SCN, TIFF, OME-TIFF, a DICOM ``.dcm`` file of a
        series) or a folder holding a DICOM WSI series.
    assume_mpp_um : float, optional
        Level-0 pixel size (µm/px) to use when the file records none; recorded as
        ``pixel_size_source == "--assume-mpp"``. When the file records one, it must agree
        within 1 % (the file's value is used).

    Returns
    -------
    Slide

    Raises
    ------
    ImageInputError
        One line naming the file: not a slide, corrupt or truncated; a folder that is not
        a DICOM WSI series; no pixel size and no ``assume_mpp_um``; an ``assume_mpp_um``
        that is not a positive number or contradicts the file's by more than 1 %.
    """
    return Slide(Path(path), assume_mpp_um=assume_mpp_um)


def check_brightfield_slide(slide: Slide, *, max_side_px: int = 512) -> None:
    """Refuse a slide with a dark background (fluorescence), from its thumbnail.

    The same check, floor and wording as the IHC scorer's on an image (median brightness
    below 60/255; :func:`her2kit.imaging._validate.check_brightfield_background`), on a
    thumbnail whose longer side is ``max_side_px`` px, so glass counts as it does on the
    slide.

    Raises
    ------
    ImageInputError
        ``<file>: median brightness 7/255 is too dark for brightfield; is this a
        fluorescence image?``
    """
    thumb, _ = slide.thumbnail(max_side_px)
    check_brightfield_background(thumb, name=str(slide.path),
                                 min_median_level=IHC_DARK_BACKGROUND_LEVEL,
                                 wording=IHC_RGB_WORDING)
