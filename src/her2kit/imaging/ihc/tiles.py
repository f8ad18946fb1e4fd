"""IHC scoring of a whole slide tile by tile: slide-level options fixed once, and the cells
one tile owns.

:func:`score_ihc_image` estimates some things per image when asked to (stain vectors,
the glass level, the nucleus threshold). On a slide that would give every tile its own
values, and a cell's class would depend on which tile it fell in. :func:`fix_slide_options`
estimates them once, from the slide's thumbnail (glass level) and a sample of its tissue
tiles (stain vectors, nucleus threshold), and returns options with all of them fixed;
:func:`score_tile` then scores one tile with those options and keeps the cells whose
nucleus centroid lies in the tile's core (:func:`her2kit.imaging.tiling.owned_by_core`).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from types import MappingProxyType

import numpy as np

from her2kit.errors import Her2kitInputError, ImageInputError
from her2kit.imaging.ihc.robust import estimate_white_point
from her2kit.imaging.ihc.score import IhcOptions, score_ihc_image
from her2kit.imaging.tiling import Tile, owned_by_core

__all__ = ["CELL_COLUMNS", "SlideOptions", "TileCells", "fix_slide_options", "score_tile",
           "stack_tiles"]

#: The per-cell columns :func:`score_tile` returns (analysis-grid px, µm², OD, %).
CELL_COLUMNS = ("x_px", "y_px", "area_um2", "nucleus_area_um2", "membrane_dab_od_mean",
                "membrane_dab_od_stained", "ring_dab_od_mean", "completeness_pct",
                "class_name")


@dataclass(frozen=True, eq=False)
class SlideOptions:
    """Options with every per-image estimate fixed for the slide, and where they came from.

    Attributes
    ----------
    options : IhcOptions
        ``estimate_stains`` False, ``white_point`` "fixed", ``tile_invariant`` True,
        ``stain_matrix``, ``background_rgb`` and ``nucleus_threshold_od`` set.
    evidence : Mapping
        Stain vectors (OD, rows H, DAB), glass level (RGB), nucleus threshold (OD) and
        how each was found.
    sample : IhcImageResult
        The sample's own result (its quality flags and parameters are the slide's
        evidence of those).
    """

    options: IhcOptions
    evidence: Mapping[str, object]
    sample: object = None


@dataclass(frozen=True, eq=False)
class TileCells:
    """The cells one tile owns, as columns (one row per cell, read-only arrays).

    Attributes
    ----------
    columns : dict of str to ndarray
        :data:`CELL_COLUMNS` (read-only arrays; a dict, so that it pickles); ``x_px``,
        ``y_px`` are the nucleus centroid on the analysis grid of the whole slide (px).
    status : {"scored", "empty"}
        "empty": the scorer found no tissue to score (a blank tile), ``reason`` says why.
    reason : str or None
    n_erythrocytes_excluded : int
        Cells of the tile's core taken for red blood cells and left out
        (``options.erythrocyte_exclusion``); not in ``columns``.
    """

    columns: dict[str, np.ndarray]
    status: str
    reason: str | None = None
    n_erythrocytes_excluded: int = 0

    def __len__(self) -> int:
        return int(self.columns["x_px"].size)


def _mosaic(tiles: Sequence[np.ndarray]) -> np.ndarray:
    """Side-by-side mosaic (one row) of equally tall RGB tiles."""
    h = min(t.shape[0] for t in tiles)
    return np.concatenate([np.asarray(t)[:h] for t in tiles], axis=1)


def fix_slide_options(sample_tiles: Sequence[np.ndarray], thumbnail_rgb, *,
                      pixel_size_um: float, options: IhcOptions) -> SlideOptions:
    """Fix the per-image estimates of ``options`` once for a whole slide.

    Parameters
    ----------
    sample_tiles : sequence of ndarray of uint8, shape (rows, cols, 3)
        Tissue regions of the slide at the analysis resolution (e.g. the centres of a few
        tissue tiles spread over the slide).
    thumbnail_rgb : ndarray of uint8, shape (rows, cols, 3)
        The whole slide at low resolution, glass included (the glass level).
    pixel_size_um : float
        µm per pixel of ``sample_tiles``.
    options : IhcOptions
        The scorer's options (classical, or from a calibration).

    Returns
    -------
    SlideOptions

    Raises
    ------
    Her2kitInputError
        ``intensity_reference="counterstain"`` (a per-image scale that is not fixed here),
        or no sample.
    ImageInputError
        The sample is refused by the scorer (no tissue, dark background).
    """
    if options.intensity_reference != "none":
        raise Her2kitInputError("a whole slide cannot use intensity_reference='counterstain' "
                                "yet (its scale is per image)", field="options")
    if not sample_tiles:
        raise Her2kitInputError("no tissue sample to fix the slide's parameters", field="sample")
    glass = "given"
    white = options.background_rgb
    if options.white_point == "auto":
        wp = estimate_white_point(thumbnail_rgb, stride=1, block=4)
        white, glass = tuple(round(float(v), 2) for v in wp.rgb), f"thumbnail ({wp.source})"
    first = replace(options, white_point="fixed", background_rgb=white,
                    tile_invariant=True)
    res = score_ihc_image(_mosaic(sample_tiles), pixel_size_um=pixel_size_um, options=first)
    matrix = np.asarray(res.stain_matrix, dtype=np.float64)
    fixed = replace(first, stain_matrix=matrix, estimate_stains=False,
                    nucleus_threshold_od=float(res.nucleus_threshold_od))
    evidence = {
        "stain_vectors_od": {"hematoxylin": matrix[0].round(4).tolist(),
                             "dab": matrix[1].round(4).tolist()},
        "stain_source": ("estimated on the sample" if res.stain_estimated else
                         "standard H-DAB" + (f" ({res.stain_fallback_reason})"
                                             if res.stain_fallback_reason else "")),
        "background_rgb": [float(v) for v in np.broadcast_to(np.asarray(white, float), 3)],
        "background_source": glass,
        "nucleus_threshold_od": round(float(res.nucleus_threshold_od), 4),
        "nucleus_threshold_source": f"{res.parameters['nucleus_threshold_source']} on the sample",
        "sample_tiles": len(sample_tiles),
        "sample_cells": res.n_cells_detected,
    }
    return SlideOptions(fixed, MappingProxyType(evidence), res)


def _empty_columns() -> dict[str, np.ndarray]:
    cols = {k: np.zeros(0, np.float32) for k in CELL_COLUMNS}
    cols["x_px"] = np.zeros(0, np.float64)
    cols["y_px"] = np.zeros(0, np.float64)
    cols["class_name"] = np.zeros(0, dtype="<U27")
    return cols


def _frozen(cols: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    for a in cols.values():
        a.setflags(write=False)
    return cols


def score_tile(rgb, tile: Tile, *, pixel_size_um: float, options: IhcOptions) -> TileCells:
    """Score one tile's read box and keep the cells its core owns.

    Parameters
    ----------
    rgb : ndarray of uint8, shape (rows, cols, 3)
        The tile's read box (``tile.read_wh``) at the analysis resolution.
    tile : Tile
    pixel_size_um : float
        µm per pixel.
    options : IhcOptions
        Slide-level options (:func:`fix_slide_options`).

    Returns
    -------
    TileCells
        Centroids on the slide's analysis grid; "empty" when the scorer refuses the
        tile as blank or dark.
    """
    img = np.asarray(rgb)
    if img.shape[:2] != (tile.read_wh[1], tile.read_wh[0]):
        raise ImageInputError(f"expected a {tile.read_wh[0]} x {tile.read_wh[1]} tile, got "
                              f"{img.shape[1]} x {img.shape[0]}", field="rgb")
    try:
        res = score_ihc_image(img, pixel_size_um=pixel_size_um, options=options)
    except ImageInputError as exc:  # blank glass or a dark smear: no cells here
        return TileCells(_frozen(_empty_columns()), "empty", str(exc))
    cells = res.cells
    # A tile is scored without an ROI, so the only cells it leaves uncounted are red cells
    # (``options.erythrocyte_exclusion``): a slide does not score them either.
    owned = owned_by_core(cells.centroid_rc, tile)
    keep = owned & np.asarray(cells.counted, bool)
    c = cells.centroid_rc[keep]
    cols = {
        "x_px": c[:, 1] + tile.read_xy[0],
        "y_px": c[:, 0] + tile.read_xy[1],
        "area_um2": cells.area_um2[keep],
        "nucleus_area_um2": cells.nucleus_area_um2[keep],
        "membrane_dab_od_mean": cells.membrane_dab_od_mean[keep],
        "membrane_dab_od_stained": cells.membrane_dab_od_stained[keep],
        "ring_dab_od_mean": np.asarray(cells.ring_dab_od_mean, np.float32)[keep],
        "completeness_pct": cells.completeness_pct[keep],
        "class_name": np.asarray(cells.class_name)[keep].astype("<U27"),
    }
    return TileCells(_frozen({k: np.ascontiguousarray(v) for k, v in cols.items()}), "scored",
                     n_erythrocytes_excluded=int((owned & ~keep).sum()))


def stack_tiles(parts: Sequence[Mapping[str, np.ndarray]]) -> dict[str, np.ndarray]:
    """Concatenate per-tile columns (in the order given) into one table of columns."""
    if not parts:
        return _empty_columns()
    return {k: np.concatenate([np.asarray(p[k]) for p in parts]) for k in parts[0]}
