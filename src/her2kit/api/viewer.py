"""Deep-zoom tiles and the analysis overlay of one stored image, for the web page's viewer.

The page's viewer (OpenSeadragon) asks for three kinds of things, each small:

- ``GET /viewer/{image_id}`` — the image's size, pixel size, tile grid and overlay summary;
- ``GET /viewer/{image_id}/tiles/{level}/{col}_{row}.jpeg`` — one Deep Zoom tile, made by
  OpenSlide's :class:`~openslide.deepzoom.DeepZoomGenerator` for slides and plain field
  images alike (a field is wrapped in :class:`openslide.ImageSlide`);
- ``GET /viewer/{image_id}/cells/{col}_{row}`` — the cells (or ISH nuclei) of one overlay
  tile, a fixed square of level-0 pixels, and ``GET /viewer/{image_id}/density`` — the
  per-class cell counts on a coarse grid for the heatmap shown when zoomed out.

The overlay is never sent whole: a slide of 300k cells is bucketed once by overlay tile
(:class:`CellLayer`), and the page asks only for the tiles in view, or for the density grid
when so many would be in view that cells could not be told apart anyway.

The viewer knows nothing of the store: :func:`install_viewer` is given a
:class:`ViewerSource` which says, for a request and an image id, what to show (or raises
the service's own 401/403/404). Opened images and built overlays are cached per app in
bounded LRU caches keyed by the image's content key.
"""

from __future__ import annotations

import io
import math
import threading
from collections import OrderedDict
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal, Protocol

import numpy as np
from fastapi import APIRouter, Depends, FastAPI, HTTPException, Request, Response

from her2kit.report.legend import IHC_LEGEND
from her2kit.viz.colors import CLASS_COLORS

__all__ = [
    "DEFAULT_OVERLAY_TILE_PX",
    "CellLayer",
    "SlideForDeepZoom",
    "ViewerImage",
    "ViewerSource",
    "build_cell_layer",
    "cell_records_from_geojson",
    "install_viewer",
    "router",
    "signal_records",
]

#: Side of one overlay tile, level-0 pixels (about 128-256 µm at 0.25-0.5 µm/px).
DEFAULT_OVERLAY_TILE_PX = 512
#: Deep Zoom tile side and overlap (pixels): 254 + 2 x 1 = 256, as OpenSlide advises.
DZ_TILE_PX = 254
DZ_OVERLAP_PX = 1
#: The density grid has at most this many bins on its long side, and bins of at least
#: MIN_DENSITY_BIN_PX level-0 pixels (a field's grid would otherwise be finer than a cell).
MAX_DENSITY_BINS = 128
MIN_DENSITY_BIN_PX = 32
#: Images and overlays kept open per app (a pathologist flips between a few images).
CACHE_SIZE = 8
JPEG_QUALITY = 85

#: IHC overlay classes in reading order (strongest first) with their words, and the colours
#: of her2kit.viz.colors (Okabe-Ito, told apart by common colour-vision deficiencies).
IHC_CLASSES: tuple[str, ...] = tuple(key for key, _, _ in IHC_LEGEND if key in CLASS_COLORS)
#: ISH nuclei: counted nuclei, and those left out (with their reason in the table).
ISH_CLASSES: tuple[str, ...] = ("counted", "not_counted")
_ISH_COLORS = {"counted": (0, 158, 115), "not_counted": (153, 153, 153)}  # bluish green, grey
_ISH_WORDS = {"counted": "nucleus counted", "not_counted": "nucleus not counted"}
_IHC_WORDS = {key: words for key, words, _ in IHC_LEGEND}
#: A shape per class, so the legend and the dots do not rely on colour alone.
_SHAPES = ("circle", "square", "triangle", "diamond", "cross")
#: ISH signal colours as the report's ISH legend draws them (brightfield / FISH).
SIGNAL_COLORS = {"her2": (213, 94, 0), "cep17": (0, 114, 178)}

# QuPath class names written by her2kit.io.export.cells_geojson, back to her2kit's keys.
_QUPATH_TO_KEY = {
    "HER2 complete intense": "complete_intense",
    "HER2 complete weak-moderate": "complete_weak_moderate",
    "HER2 incomplete moderate-intense": "incomplete_moderate_intense",
    "HER2 incomplete faint": "incomplete_faint",
    "HER2 no membrane staining": "none",
}


@dataclass(frozen=True, eq=False)
class CellLayer:
    """The cells (IHC) or nuclei (ISH) of one image, bucketed by overlay tile.

    Every array is read-only and has one entry per cell, in level-0 pixel coordinates of
    the image (x to the right, y down). Build with :func:`build_cell_layer`.

    Attributes
    ----------
    assay : {"ihc", "ish"}
    classes : tuple of str
        Class names; ``class_index`` indexes them.
    size_px : (int, int)
        Image width and height, level-0 pixels.
    tile_px : int
        Side of one overlay tile, level-0 pixels.
    x_px, y_px, radius_px : ndarray of float32
        Centroid and equivalent-circle radius (pixels).
    class_index : ndarray of int8
    counted : ndarray of bool
        Inside the tumour outline and counted (IHC), or included in the count (ISH).
    outline_xy, outline_start : ndarray or None
        All outlines' (x, y) vertices stacked, float32 (n_vertices, 2), and the start of
        cell i's ring (int64, length n + 1); None when the source had no outlines.
    her2, cep17 : ndarray of int16 or None
        Signals per nucleus (ISH only).
    signals_xy, signals_probe : ndarray or None
        ISH signal positions (float32 (m, 2)) and probe (0 HER2, 1 CEP17), when known.
    """

    assay: Literal["ihc", "ish"]
    classes: tuple[str, ...]
    size_px: tuple[int, int]
    tile_px: int
    x_px: np.ndarray
    y_px: np.ndarray
    radius_px: np.ndarray
    class_index: np.ndarray
    counted: np.ndarray
    outline_xy: np.ndarray | None = None
    outline_start: np.ndarray | None = None
    her2: np.ndarray | None = None
    cep17: np.ndarray | None = None
    signals_xy: np.ndarray | None = None
    signals_probe: np.ndarray | None = None
    _order: np.ndarray = field(default=None, repr=False)
    _starts: np.ndarray = field(default=None, repr=False)
    _signal_order: np.ndarray | None = field(default=None, repr=False)
    _signal_starts: np.ndarray | None = field(default=None, repr=False)

    def __len__(self) -> int:
        return int(self.x_px.shape[0])

    @property
    def grid(self) -> tuple[int, int]:
        """Overlay tiles across and down."""
        w, h = self.size_px
        return max(1, math.ceil(w / self.tile_px)), max(1, math.ceil(h / self.tile_px))

    def tile_members(self, col: int, row: int) -> np.ndarray:
        """Indices of the cells whose centroid lies in overlay tile (col, row)."""
        cols, rows = self.grid
        if not (0 <= col < cols and 0 <= row < rows):
            raise IndexError(f"overlay tile {col}_{row} is outside the {cols} x {rows} grid")
        b = row * cols + col
        return self._order[self._starts[b]:self._starts[b + 1]]

    def tile_signals(self, col: int, row: int) -> np.ndarray:
        """Indices of the ISH signals in overlay tile (col, row) (empty when none known)."""
        if self._signal_order is None:
            return np.zeros(0, dtype=np.int64)
        b = row * self.grid[0] + col
        return self._signal_order[self._signal_starts[b]:self._signal_starts[b + 1]]


def _frozen(a: np.ndarray | None, dtype) -> np.ndarray | None:
    if a is None:
        return None
    out = np.ascontiguousarray(a, dtype=dtype)
    out.setflags(write=False)
    return out


def _bucket(x: np.ndarray, y: np.ndarray, size_px, tile_px: int) -> tuple[np.ndarray, ...]:
    """(order, starts): points sorted by overlay tile, and each tile's slice start."""
    cols = max(1, math.ceil(size_px[0] / tile_px))
    rows = max(1, math.ceil(size_px[1] / tile_px))
    c = np.clip((x // tile_px).astype(np.int64), 0, cols - 1)
    r = np.clip((y // tile_px).astype(np.int64), 0, rows - 1)
    key = r * cols + c
    order = np.argsort(key, kind="stable")
    starts = np.searchsorted(key[order], np.arange(cols * rows + 1))
    return _frozen(order, np.int64), _frozen(starts, np.int64)


def _outline_arrays(outlines: Sequence[Sequence[Sequence[float]] | None] | None, n: int):
    if outlines is None or not any(o is not None and len(o) for o in outlines):
        return None, None
    if len(outlines) != n:
        raise ValueError(f"{len(outlines)} outlines for {n} cells")
    lengths = np.array([0 if o is None else len(o) for o in outlines], dtype=np.int64)
    start = np.concatenate([[0], np.cumsum(lengths)])
    xy = np.zeros((int(start[-1]), 2), dtype=np.float32)
    for i, ring in enumerate(outlines):
        if ring is not None and len(ring):
            xy[start[i]:start[i + 1]] = np.asarray(ring, dtype=np.float32)[:, :2]
    return _frozen(xy, np.float32), _frozen(start, np.int64)


def build_cell_layer(records: Sequence[Mapping[str, Any]], *, assay: Literal["ihc", "ish"],
                     size_px: tuple[int, int], pixel_size_um: float | None,
                     outlines: Sequence[Sequence[Sequence[float]] | None] | None = None,
                     signals: Sequence[Mapping[str, Any]] | None = None,
                     tile_px: int = DEFAULT_OVERLAY_TILE_PX) -> CellLayer:
    """Bucket the per-cell (IHC) or per-nucleus (ISH) table of one image by overlay tile.

    Parameters
    ----------
    records : sequence of mapping
        Rows of ``score-ihc --cells`` / ``score-slide``'s cell table (``centroid_row_px``,
        ``centroid_col_px``, ``class_name``, ``area_um2``, ``counted``) or of
        ``count-ish --nuclei`` (``her2``, ``cep17``, ``included`` instead of the class).
    assay : {"ihc", "ish"}
    size_px : (int, int)
        Image width and height, level-0 pixels.
    pixel_size_um : float or None
        µm per pixel, to turn ``area_um2`` into a radius in pixels (5 µm when None).
    outlines : sequence of (x, y) rings or None, optional
        One ring per record (level-0 pixels), e.g. from :func:`cell_records_from_geojson`.
    signals : sequence of mapping, optional
        ISH signals: ``x_px``, ``y_px``, ``probe`` ("her2" or "cep17").
    tile_px : int, optional
        Overlay tile side, level-0 pixels.

    Returns
    -------
    CellLayer

    Raises
    ------
    ValueError
        Unknown assay or class, a missing column, or a size that is not positive.
    """
    if assay not in ("ihc", "ish"):
        raise ValueError(f"assay must be 'ihc' or 'ish', not {assay!r}")
    w, h = (int(v) for v in size_px)
    if w < 1 or h < 1 or tile_px < 16:
        raise ValueError(f"bad image size {size_px} or overlay tile {tile_px} px")
    classes = IHC_CLASSES if assay == "ihc" else ISH_CLASSES
    n = len(records)
    try:
        x = np.array([float(r["centroid_col_px"]) for r in records], dtype=np.float64)
        y = np.array([float(r["centroid_row_px"]) for r in records], dtype=np.float64)
        area = np.array([float(r.get("area_um2") or 0.0) for r in records])
        if assay == "ihc":
            index = {c: i for i, c in enumerate(classes)}
            cls = np.array([index[str(r["class_name"])] for r in records], dtype=np.int8)
            counted = np.array([bool(r.get("counted", True)) for r in records], dtype=bool)
        else:
            counted = np.array([bool(r.get("included", True)) for r in records], dtype=bool)
            cls = np.where(counted, 0, 1).astype(np.int8)
    except KeyError as exc:
        raise ValueError(f"cell table: missing column or unknown class {exc}") from None
    mpp = pixel_size_um if pixel_size_um and pixel_size_um > 0 else 0.5
    radius = np.where(area > 0, np.sqrt(area / np.pi) / mpp, 5.0 / mpp)
    outline_xy, outline_start = _outline_arrays(outlines, n)
    order, starts = _bucket(x, y, (w, h), tile_px)
    ish = {}
    if assay == "ish":
        ish["her2"] = _frozen([int(r.get("her2") or 0) for r in records], np.int16)
        ish["cep17"] = _frozen([int(r.get("cep17") or 0) for r in records], np.int16)
        if signals:
            sxy = np.array([[float(s["x_px"]), float(s["y_px"])] for s in signals])
            probe = np.array([0 if s["probe"] == "her2" else 1 for s in signals], np.int8)
            s_order, s_starts = _bucket(sxy[:, 0], sxy[:, 1], (w, h), tile_px)
            ish.update(signals_xy=_frozen(sxy, np.float32), signals_probe=_frozen(probe, np.int8),
                       _signal_order=s_order, _signal_starts=s_starts)
    return CellLayer(
        assay=assay, classes=classes, size_px=(w, h), tile_px=int(tile_px),
        x_px=_frozen(x, np.float32), y_px=_frozen(y, np.float32),
        radius_px=_frozen(radius, np.float32), class_index=_frozen(cls, np.int8),
        counted=_frozen(counted, bool), outline_xy=outline_xy, outline_start=outline_start,
        _order=order, _starts=starts, **ish)


def cell_records_from_geojson(collection: Mapping[str, Any]) -> tuple[list[dict], list[list]]:
    """Cell rows and outlines from a QuPath FeatureCollection written by her2kit.

    Parameters
    ----------
    collection : mapping
        The GeoJSON of ``score-ihc --geojson`` (:func:`her2kit.io.export.cells_geojson`).

    Returns
    -------
    records, outlines : list of dict, list of rings
        Rows :func:`build_cell_layer` takes (centroid = the outline's vertex mean) and one
        (x, y) ring per row, level-0 pixels.

    Raises
    ------
    ValueError
        Not a FeatureCollection of her2kit cells.
    """
    if not isinstance(collection, Mapping) or collection.get("type") != "FeatureCollection":
        raise ValueError("not a GeoJSON FeatureCollection")
    records, outlines = [], []
    for feature in collection.get("features") or ():
        try:
            ring = feature["geometry"]["coordinates"][0]
            props = feature["properties"]
            key = _QUPATH_TO_KEY[props["classification"]["name"]]
        except (KeyError, IndexError, TypeError):
            raise ValueError("a feature is not a her2kit cell (geometry, classification)") \
                from None
        xy = np.asarray(ring, dtype=np.float64)[:-1]
        measures = props.get("measurements") or {}
        records.append({
            "centroid_col_px": float(xy[:, 0].mean()), "centroid_row_px": float(xy[:, 1].mean()),
            "class_name": key, "area_um2": float(measures.get("Cell: Area µm^2", 0.0)),
            "counted": bool(measures.get("Counted (in ROI)", 1.0)),
        })
        outlines.append(ring)
    return records, outlines


def signal_records(result) -> list[dict[str, Any]]:
    """The ISH signals of one counted field, as :func:`build_cell_layer` takes them.

    Parameters
    ----------
    result : her2kit.imaging.ish.results.IshImageResult
        A field counted by ``count-ish`` (the job's result; the CLI writes no signal table).

    Returns
    -------
    list of dict
        ``x_px``, ``y_px`` (level-0 pixels) and ``probe`` ("her2" or "cep17") per detected
        signal, inside nuclei or not.
    """
    out = []
    for probe in ("her2", "cep17"):
        signals = getattr(result, probe, None)
        if signals is None:
            continue
        for row, col in np.asarray(signals.detection.coords_px, dtype=np.float64):
            out.append({"x_px": float(col), "y_px": float(row), "probe": probe})
    return out


def _round(a: np.ndarray, digits: int = 1) -> list:
    return np.round(a.astype(np.float64), digits).tolist()


def tile_cells(layer: CellLayer, col: int, row: int) -> dict[str, Any]:
    """JSON document of one overlay tile: the cells (and ISH signals) it holds, columnar."""
    idx = layer.tile_members(col, row)
    doc: dict[str, Any] = {
        "col": col, "row": row, "n": int(idx.size), "id": idx.tolist(),
        "x": _round(layer.x_px[idx]), "y": _round(layer.y_px[idx]),
        "r": _round(layer.radius_px[idx]), "c": layer.class_index[idx].tolist(),
        "counted": layer.counted[idx].astype(int).tolist(),
    }
    if layer.outline_xy is not None:
        s = layer.outline_start
        doc["outline"] = [_round(layer.outline_xy[s[i]:s[i + 1]].ravel()) for i in idx]
    if layer.assay == "ish":
        doc["her2"] = layer.her2[idx].tolist()
        doc["cep17"] = layer.cep17[idx].tolist()
        sig = layer.tile_signals(col, row)
        if layer.signals_xy is not None:
            doc["signals"] = {"x": _round(layer.signals_xy[sig, 0]),
                              "y": _round(layer.signals_xy[sig, 1]),
                              "probe": layer.signals_probe[sig].tolist()}
    return doc


def density_grid(layer: CellLayer) -> dict[str, Any]:
    """Cells per class on a coarse grid of level-0 bins, row-major, for the heatmap."""
    w, h = layer.size_px
    bin_px = max(MIN_DENSITY_BIN_PX, math.ceil(max(w, h) / MAX_DENSITY_BINS))
    cols, rows = math.ceil(w / bin_px), math.ceil(h / bin_px)
    c = np.clip((layer.x_px // bin_px).astype(np.int64), 0, cols - 1)
    r = np.clip((layer.y_px // bin_px).astype(np.int64), 0, rows - 1)
    counts = {}
    for k, name in enumerate(layer.classes):
        sel = layer.class_index == k
        grid = np.bincount(r[sel] * cols + c[sel], minlength=cols * rows)
        counts[name] = grid.astype(int).tolist()
    return {"bin_px": bin_px, "cols": cols, "rows": rows, "counts": counts}


def _hex(rgb) -> str:
    return "#" + "".join(f"{int(v):02x}" for v in rgb)


def class_table(layer: CellLayer | None, assay: str) -> list[dict[str, Any]]:
    """The legend: one row per class with its words, colour, shape and cell count."""
    classes = IHC_CLASSES if assay == "ihc" else ISH_CLASSES
    colors = CLASS_COLORS if assay == "ihc" else _ISH_COLORS
    words = _IHC_WORDS if assay == "ihc" else _ISH_WORDS
    totals = (np.bincount(layer.class_index, minlength=len(classes)) if layer is not None
              else np.zeros(len(classes), dtype=int))
    return [{"key": key, "label": words[key], "color": _hex(colors[key]),
             "shape": _SHAPES[i], "cells": int(totals[i])} for i, key in enumerate(classes)]


class SlideForDeepZoom:
    """A her2kit slide (:func:`her2kit.io.slides.open_slide`) seen as OpenSlide sees one.

    :class:`~openslide.deepzoom.DeepZoomGenerator` asks an OpenSlide-like object for its
    levels and regions; this gives it those of a :class:`her2kit.io.slides.Slide`, so OME-TIFF
    pyramids (read by tifffile) get the same tiles as OpenSlide's formats, and a level whose
    colours disagree with level 0 (``Slide.level_for`` skips it) is never shown.
    """

    def __init__(self, slide) -> None:
        self._slide = slide
        self.level_count = len(slide.levels)
        self.level_dimensions = tuple((lvl.width, lvl.height) for lvl in slide.levels)
        self.level_downsamples = tuple(lvl.downsample for lvl in slide.levels)
        self.dimensions = self.level_dimensions[0]
        self.properties = dict(slide.properties)
        self.pixel_size_um = slide.pixel_size_um

    def get_best_level_for_downsample(self, downsample: float) -> int:
        return int(self._slide.level_for(self._slide.pixel_size_um * float(downsample)))

    def read_region(self, location, level, size):
        from PIL import Image

        rgb = self._slide.read_region(location, size, level=level)
        return Image.fromarray(rgb).convert("RGBA")

    def close(self) -> None:
        self._slide.close()


@dataclass(frozen=True)
class ViewerImage:
    """What the viewer is to show for one image id (given by the :class:`ViewerSource`).

    Attributes
    ----------
    key : str
        ``PIXELS|OVERLAY``: a key of the pixels (the upload's SHA-256) and of the overlay (the
        result id); the tile cache is keyed by the first part, the overlay's by the whole.
    open_slide : callable
        Returns an OpenSlide-like object (:class:`openslide.AbstractSlide`: a slide, or an
        :class:`openslide.ImageSlide` of a field) — called once per cache miss.
    pixel_size_um : float or None
        µm per level-0 pixel, for the scale bar.
    assay : {"ihc", "ish"} or None
        The kind of overlay; None when the image has no analysis result yet.
    load_overlay : callable or None
        Returns the :class:`CellLayer` (called once per cache miss).
    name : str
        What the page calls the image (its file name).
    """

    key: str
    open_slide: Callable[[], Any]
    pixel_size_um: float | None = None
    assay: Literal["ihc", "ish"] | None = None
    load_overlay: Callable[[], CellLayer] | None = None
    name: str = ""


class ViewerSource(Protocol):
    """Where the viewer's images come from (the service's store, or a test's table)."""

    def __call__(self, request: Request, image_id: str) -> ViewerImage:
        """The image with this id, as the request's user may see it; raise HTTPException
        (401, 403, 404) otherwise."""


class _LruCache:
    """A small thread-safe LRU of built objects (Deep Zoom generators, cell layers)."""

    def __init__(self, size: int) -> None:
        self._size = size
        self._items: OrderedDict[str, Any] = OrderedDict()
        self._building: dict[str, threading.Lock] = {}
        self._lock = threading.Lock()

    def get(self, key: str, build: Callable[[], Any]) -> Any:
        with self._lock:
            if key in self._items:
                self._items.move_to_end(key)
                return self._items[key]
            building = self._building.setdefault(key, threading.Lock())
        # One build per key (the page asks for many tiles at once); others wait for it.
        with building:
            with self._lock:
                if key in self._items:
                    return self._items[key]
            value = build()
            with self._lock:
                self._items[key] = value
                self._building.pop(key, None)
                while len(self._items) > self._size:
                    self._items.popitem(last=False)
        return value


@dataclass
class _Viewer:
    source: ViewerSource
    zooms: _LruCache
    layers: _LruCache
    #: An async check run before every route (the service's login), or None when the
    #: source checks by itself.
    authenticate: Callable[[Request], Any] | None = None


def _viewer(request: Request) -> _Viewer:
    """The app's viewer: the one :func:`install_viewer` set, else one over the service's
    store (the router listed in create_app's routers), made at the first request."""
    state = request.app.state
    viewer = getattr(state, "her2kit_viewer", None)
    if viewer is None:
        from her2kit.api.viewer_store import authenticate, store_source

        with _INSTALL_LOCK:
            viewer = getattr(state, "her2kit_viewer", None)
            if viewer is None:
                viewer = _Viewer(store_source, _LruCache(CACHE_SIZE), _LruCache(CACHE_SIZE),
                                 authenticate=authenticate)
                state.her2kit_viewer = viewer
    return viewer


async def _authenticate(request: Request) -> None:
    """Every viewer route: the viewer's login check first (401 before any work)."""
    check = _viewer(request).authenticate
    if check is not None:
        await check(request)


def _zoom(viewer: _Viewer, image: ViewerImage):
    from openslide.deepzoom import DeepZoomGenerator

    def build():
        osr = image.open_slide()
        return DeepZoomGenerator(osr, tile_size=DZ_TILE_PX, overlap=DZ_OVERLAP_PX,
                                 limit_bounds=False), getattr(osr, "pixel_size_um", None)
    return viewer.zooms.get(image.key.split("|")[0], build)


def _layer(viewer: _Viewer, image: ViewerImage) -> CellLayer | None:
    if image.load_overlay is None:
        return None
    return viewer.layers.get(image.key, image.load_overlay)


router = APIRouter(prefix="/api/viewer", tags=["viewer"],
                   dependencies=[Depends(_authenticate)])
_INSTALL_LOCK = threading.Lock()
# A tile's pixels never change for an upload id (uploads are content-addressed); its cells
# do when the image is analysed again, so the browser must ask each time it needs them.
_PRIVATE_CACHE = {"Cache-Control": "private, max-age=3600"}
_NO_CACHE = {"Cache-Control": "private, no-cache"}


@router.get("/{image_id}")
def viewer_info(image_id: str, request: Request) -> dict[str, Any]:
    """Size, pixel size, tile grid and overlay summary of one image."""
    viewer = _viewer(request)
    image = viewer.source(request, image_id)
    zoom, file_mpp = _zoom(viewer, image)
    width, height = zoom.level_dimensions[-1]
    layer = _layer(viewer, image)
    overlay = None
    if image.assay is not None:
        overlay = {
            "assay": image.assay, "cells": 0 if layer is None else len(layer),
            "tile_px": DEFAULT_OVERLAY_TILE_PX if layer is None else layer.tile_px,
            "outlines": bool(layer is not None and layer.outline_xy is not None),
            "signals": bool(layer is not None and layer.signals_xy is not None),
            "classes": class_table(layer, image.assay),
            "signal_colors": {k: _hex(v) for k, v in SIGNAL_COLORS.items()},
        }
    return {"id": image_id, "name": image.name, "width": width, "height": height,
            "pixel_size_um": image.pixel_size_um or file_mpp, "tile_size": DZ_TILE_PX,
            "overlap": DZ_OVERLAP_PX, "levels": zoom.level_count, "format": "jpeg",
            "overlay": overlay}


@router.get("/{image_id}/tiles/{level}/{col}_{row}.jpeg")
def viewer_tile(image_id: str, level: int, col: int, row: int, request: Request) -> Response:
    """One Deep Zoom tile (JPEG)."""
    viewer = _viewer(request)
    image = viewer.source(request, image_id)
    zoom, _ = _zoom(viewer, image)
    if not 0 <= level < zoom.level_count:
        raise HTTPException(404, f"no Deep Zoom level {level}")
    cols, rows = zoom.level_tiles[level]
    if not (0 <= col < cols and 0 <= row < rows):
        raise HTTPException(404, f"no tile {col}_{row} at level {level}")
    tile = zoom.get_tile(level, (col, row))
    buf = io.BytesIO()
    tile.convert("RGB").save(buf, "JPEG", quality=JPEG_QUALITY)
    return Response(buf.getvalue(), media_type="image/jpeg", headers=_PRIVATE_CACHE)


def _require_layer(request: Request, image_id: str) -> CellLayer:
    viewer = _viewer(request)
    layer = _layer(viewer, viewer.source(request, image_id))
    if layer is None:
        raise HTTPException(404, "this image has no analysis overlay yet")
    return layer


@router.get("/{image_id}/cells/{col}_{row}")
def viewer_cells(image_id: str, col: int, row: int, request: Request) -> Response:
    """The cells or nuclei of one overlay tile (columnar JSON)."""
    import json

    layer = _require_layer(request, image_id)
    try:
        doc = tile_cells(layer, col, row)
    except IndexError as exc:
        raise HTTPException(404, str(exc)) from None
    return Response(json.dumps(doc, separators=(",", ":")), media_type="application/json",
                    headers=_NO_CACHE)


@router.get("/{image_id}/density")
def viewer_density(image_id: str, request: Request, response: Response) -> dict[str, Any]:
    """Cells per class on a coarse grid (the low-zoom heatmap)."""
    response.headers.update(_NO_CACHE)
    return density_grid(_require_layer(request, image_id))


def install_viewer(app: FastAPI, source: ViewerSource, *,
                   cache_size: int = CACHE_SIZE) -> None:
    """Add the viewer's routes (``/api/viewer/...``) to ``app``, reading images from
    ``source`` instead of the service's store (tests, other hosts)."""
    app.state.her2kit_viewer = _Viewer(source, _LruCache(cache_size), _LruCache(cache_size))
    app.include_router(router)
