"""Whole-slide tiling: tissue at low resolution, a tile grid at the analysis resolution,
and the rule that gives every cell to exactly one tile.

Geometry only (arrays and numbers; nothing here opens a file). Coordinates are in pixels
of the *analysis grid* (``pixel_size_um`` of :class:`TileGrid`), with ``_xy`` / ``_wh``
names in OpenSlide's (x, y) / (width, height) order and ``_rc`` for (row, col).

A tile is a *core* (the cells it owns) and a margin of ``overlap_px`` on every side that
is read and analysed with it but owned by its neighbours. The cores partition the slide
plane (half-open boxes), and a cell belongs to the tile whose core holds its nucleus
centroid (:func:`owned_by_core`), so no cell is cut at a seam or counted twice. With a
margin at least the largest cell diameter plus the scorer's context (membrane smoothing,
the 20 µm baseline blocks), a cell is measured on the same pixels whatever the tiling.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from scipy import ndimage as ndi

from her2kit.errors import Her2kitInputError, ImageInputError

__all__ = [
    "ANALYSIS_PIXEL_SIZE_UM",
    "DEFAULT_CORE_UM",
    "DEFAULT_OVERLAP_UM",
    "TILE_ALIGN_UM",
    "TISSUE_MIN_OD",
    "Tile",
    "TileGrid",
    "analysis_pixel_size",
    "detect_tissue",
    "owned_by_core",
    "tile_grid",
]

#: The IHC scorer's resolution (µm/px): its nuclei and cells are found on a 1 µm grid and
#: its membranes read on this one (``benchmarks/README.md``: no per-cell accuracy lost
#: against 0.25 µm/px, 4× fewer pixels to decode and filter).
ANALYSIS_PIXEL_SIZE_UM = 0.5
#: Tile origins are multiples of this (µm): the membrane baseline's 20 µm blocks
#: (:func:`her2kit.imaging.ihc.membrane.measure_membranes`) then fall on the same slide
#: grid in every tile, and so does the 1 µm geometry grid.
TILE_ALIGN_UM = 20.0
#: Tile core side (µm): 1 mm, 2000 px at 0.5 µm/px (about 20 MB of RGB per tile).
DEFAULT_CORE_UM = 1000.0
#: Margin on each side (µm): the largest tumour cell (a 15 µm nucleus + 2 × 4 µm
#: expansion = 23 µm) plus the baseline block (20 µm) rounded up to whole blocks.
DEFAULT_OVERLAP_UM = 40.0
#: A thumbnail pixel is tissue when a channel's OD over the glass exceeds this (base-10
#: OD; 0.08 = 17 % darker than glass, below the pale blue of haematoxylin-only stroma).
TISSUE_MIN_OD = 0.08


@dataclass(frozen=True)
class Tile:
    """One tile of a :class:`TileGrid` (analysis-grid pixels).

    Attributes
    ----------
    index : int
        Position in row-major order over the whole grid (stable across runs).
    row, col : int
        Grid row and column.
    core_xy, core_wh : tuple of int
        The owned box: ``x0 <= x < x0 + w`` and likewise for y.
    read_xy, read_wh : tuple of int
        The box read and analysed: the core grown by the overlap on every side (it may
        extend past the slide edge, which reads as white glass).
    """

    index: int
    row: int
    col: int
    core_xy: tuple[int, int]
    core_wh: tuple[int, int]
    read_xy: tuple[int, int]
    read_wh: tuple[int, int]


@dataclass(frozen=True)
class TileGrid:
    """The tiles of a slide that hold tissue.

    Attributes
    ----------
    pixel_size_um : float
        µm per pixel of the analysis grid.
    size_wh : tuple of int
        Slide size on the analysis grid (px).
    core_px, overlap_px : int
        Core side and margin (px).
    n_rows, n_cols : int
        The full grid (tiles without tissue included).
    tiles : tuple of Tile
        The tiles kept (some tissue in the core), in index order.
    """

    pixel_size_um: float
    size_wh: tuple[int, int]
    core_px: int
    overlap_px: int
    n_rows: int
    n_cols: int
    tiles: tuple[Tile, ...]

    def as_dict(self) -> dict[str, object]:
        """The grid's geometry (not the tile list), for a manifest or a document."""
        return {"pixel_size_um": self.pixel_size_um, "size_wh": list(self.size_wh),
                "core_px": self.core_px, "overlap_px": self.overlap_px,
                "n_rows": self.n_rows, "n_cols": self.n_cols, "n_tiles": len(self.tiles)}


def analysis_pixel_size(level0_pixel_size_um: float) -> float:
    """The analysis resolution for a slide scanned at ``level0_pixel_size_um`` (µm/px).

    :data:`ANALYSIS_PIXEL_SIZE_UM`, or the scan's own pixel size when it is coarser by
    more than 1 % (a 10× scan is not upsampled).

    >>> analysis_pixel_size(0.2527), analysis_pixel_size(0.504), analysis_pixel_size(1.0)
    (0.5, 0.5, 1.0)
    """
    p = float(level0_pixel_size_um)
    if not (math.isfinite(p) and p > 0):
        raise Her2kitInputError(f"expected a positive pixel size (µm), got {p}",
                                field="pixel_size_um")
    return ANALYSIS_PIXEL_SIZE_UM if p <= ANALYSIS_PIXEL_SIZE_UM * 1.01 else p


def detect_tissue(thumbnail_rgb, *, white_rgb=(255, 255, 255), min_od: float = TISSUE_MIN_OD,
                  grow_px: int = 1) -> np.ndarray:
    """Tissue pixels of a low-resolution slide image.

    Parameters
    ----------
    thumbnail_rgb : ndarray of uint8, shape (rows, cols, 3)
        The slide at low resolution (e.g. 8–32 µm/px).
    white_rgb : sequence of 3 floats, optional
        The glass level per channel (1–255).
    min_od : float, optional
        A pixel is tissue when one channel's OD over the glass exceeds this (base-10 OD).
    grow_px : int, optional
        Dilation of the mask (px), so that the faint edge of the tissue is kept.

    Returns
    -------
    ndarray of bool, shape (rows, cols)
    """
    rgb = np.asarray(thumbnail_rgb)
    if rgb.ndim != 3 or rgb.shape[2] != 3 or rgb.dtype != np.uint8:
        raise ImageInputError(f"expected a uint8 RGB image, got {rgb.dtype} {rgb.shape}",
                              field="thumbnail_rgb")
    white = np.asarray(white_rgb, dtype=np.float32).reshape(3)
    od = np.log10((white + 1) / (rgb.astype(np.float32) + 1))
    mask = od.max(axis=2) > float(min_od)
    # Lone pixels are dust or noise, not tissue: keep pixels with a tissue neighbour.
    neighbours = ndi.uniform_filter(mask.astype(np.float32), size=3, mode="constant") * 9
    mask &= neighbours >= 2
    if grow_px > 0:
        mask = ndi.binary_dilation(mask, iterations=int(grow_px))
    return mask


def tile_grid(size_wh, *, pixel_size_um: float, tissue_mask, mask_pixel_size_um: float,
              core_um: float = DEFAULT_CORE_UM, overlap_um: float = DEFAULT_OVERLAP_UM
              ) -> TileGrid:
    """The tiles whose core holds tissue.

    Parameters
    ----------
    size_wh : tuple of int
        Slide size on the analysis grid (px).
    pixel_size_um : float
        µm per analysis pixel.
    tissue_mask : ndarray of bool, shape (rows, cols)
        Where tissue is (:func:`detect_tissue`, and the ROI if any), at
        ``mask_pixel_size_um``, origin at the slide's top-left corner.
    mask_pixel_size_um : float
        µm per mask pixel.
    core_um, overlap_um : float, optional
        Core side and margin (µm); both are rounded to whole :data:`TILE_ALIGN_UM`
        blocks (at least one).

    Returns
    -------
    TileGrid
    """
    w, h = (int(v) for v in size_wh)
    align = max(1, round(TILE_ALIGN_UM / pixel_size_um))
    core = align * max(1, round(core_um / (align * pixel_size_um)))
    overlap = align * max(1, math.ceil(overlap_um / (align * pixel_size_um) - 1e-9))
    n_rows, n_cols = -(-h // core), -(-w // core)
    mask = np.asarray(tissue_mask, dtype=bool)
    scale = pixel_size_um / float(mask_pixel_size_um)  # mask px per analysis px
    # Tissue per core: the mask pixels each core box covers (integral image, any scale).
    ii = np.pad(mask.cumsum(0).cumsum(1), ((1, 0), (1, 0)))
    rows = np.clip(np.floor(np.arange(n_rows + 1) * core * scale).astype(int), 0, mask.shape[0])
    cols = np.clip(np.floor(np.arange(n_cols + 1) * core * scale).astype(int), 0, mask.shape[1])
    # A core narrower than one mask pixel still looks at the pixel it lies in.
    rows[1:] = np.maximum(rows[1:], np.minimum(rows[:-1] + 1, mask.shape[0]))
    cols[1:] = np.maximum(cols[1:], np.minimum(cols[:-1] + 1, mask.shape[1]))
    counts = (ii[rows[1:]][:, cols[1:]] - ii[rows[:-1]][:, cols[1:]]
              - ii[rows[1:]][:, cols[:-1]] + ii[rows[:-1]][:, cols[:-1]])
    tiles = []
    for r, c in zip(*np.nonzero(counts > 0), strict=True):
        x0, y0 = int(c) * core, int(r) * core
        tiles.append(Tile(int(r) * n_cols + int(c), int(r), int(c), (x0, y0), (core, core),
                          (x0 - overlap, y0 - overlap), (core + 2 * overlap, core + 2 * overlap)))
    return TileGrid(float(pixel_size_um), (w, h), core, overlap, n_rows, n_cols, tuple(tiles))


def owned_by_core(centroid_rc, tile: Tile) -> np.ndarray:
    """Which cells a tile owns: nucleus centroid inside its core (half-open box).

    Parameters
    ----------
    centroid_rc : ndarray of float, shape (n, 2)
        Nucleus centroids (row, col) in pixels of the tile's read box.
    tile : Tile

    Returns
    -------
    ndarray of bool, shape (n,)
    """
    c = np.asarray(centroid_rc, dtype=float).reshape(-1, 2)
    y = c[:, 0] + tile.read_xy[1]
    x = c[:, 1] + tile.read_xy[0]
    (x0, y0), (cw, ch) = tile.core_xy, tile.core_wh
    return (x >= x0) & (x < x0 + cw) & (y >= y0) & (y < y0 + ch)
