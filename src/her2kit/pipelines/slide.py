"""The ``score-slide`` job: a whole slide scored tile by tile, in parallel, resumably.

1. **Plan** (:func:`plan_slide`): open the slide, refuse a fluorescence or an H&E slide
   from its thumbnail, find the tissue on the thumbnail, lay a tile grid over it at the
   analysis resolution (:func:`her2kit.imaging.tiling.tile_grid`; 0.5 µm/px read from the
   nearest pyramid level), and fix every per-image estimate of the scorer once from the
   thumbnail and a sample of tissue tiles (:func:`her2kit.imaging.ihc.tiles.fix_slide_options`).
2. **Tiles** (:func:`score_slide_tile`, :func:`iter_tile_results`): each tile runs in a
   worker (local processes or a Dask cluster, :func:`her2kit.pipelines.runner.open_executor`),
   which opens the slide itself (a small per-process cache) and returns the cells its core
   owns; the parent writes each tile's cells as a Parquet part as soon as it is done.
3. **Merge** (:mod:`her2kit.pipelines.slide_merge`): the parts, read back in tile order,
   are the per-cell table; the slide totals go through the same IHC document as
   ``score-ihc`` (:func:`her2kit.pipelines.ihc.ihc_document`), plus the tiles, timing,
   parameters, heterogeneity, GeoJSON and heatmap.

A run killed at any point leaves whole parts; ``resume=True`` checks that the run's
manifest matches, scores only the tiles without a part, and ends with the same files as
an uninterrupted run (the ``timing`` block aside).
"""

from __future__ import annotations

import concurrent.futures as cf
import contextlib
import math
import time
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from types import MappingProxyType
from typing import Any

import numpy as np

from her2kit.errors import Her2kitInputError, ImageInputError
from her2kit.imaging.tiling import Tile

__all__ = [
    "MAX_FAILED_TILE_PCT",
    "SlideProgress",
    "TileResult",
    "iter_tile_results",
    "score_slide_tile",
]

#: A run fails when more than this share of its tissue tiles cannot be decoded (%): a
#: slide missing a twentieth of its tissue is no longer the slide that was sent.
MAX_FAILED_TILE_PCT = 5.0

# Per worker process: the slides it has open, so that each tile does not reopen the file
# (an SVS header parse costs ~10 ms, a DICOM folder much more). Two entries: a worker
# serves one run at a time, the second covers the switch between runs.
_OPEN_SLIDES: dict[tuple[str, float | None], Any] = {}
_OPEN_SLIDES_MAX = 2


@dataclass(frozen=True, eq=False)
class TileResult:
    """What one tile gave.

    Attributes
    ----------
    index : int
        The tile's index in the grid.
    status : {"scored", "empty", "failed"}
        "empty": no tissue to score (blank glass); "failed": the region could not be read
        or decoded (``reason`` says why).
    reason : str or None
    columns : dict of str to ndarray
        The cells the tile owns (:data:`her2kit.imaging.ihc.tiles.CELL_COLUMNS`), with
        ``x_px``, ``y_px`` in level-0 px (a plain dict: it travels back from the worker
        by pickle, which a read-only mapping proxy does not survive).
    read_s, score_s : float
        Seconds reading and decoding, and scoring.
    erythrocytes_excluded : int
        Cells of the tile taken for red blood cells and not scored.
    """

    index: int
    status: str
    reason: str | None
    columns: dict[str, np.ndarray] = field(repr=False)
    read_s: float = 0.0
    score_s: float = 0.0
    erythrocytes_excluded: int = 0

    @property
    def n_cells(self) -> int:
        return int(self.columns["x_px"].size)


@dataclass(frozen=True)
class SlideProgress:
    """Progress of a run, after each tile (for a progress bar).

    Attributes
    ----------
    done, total : int
        Tiles finished (including those found from an earlier run) and tiles to do.
    cells : int
        Cells found so far.
    score : str or None
        The IHC score of the cells so far (None before any).
    elapsed_s, remaining_s : float
        Seconds since the tiles started, and an estimate of those left (NaN at first).
    """

    done: int
    total: int
    cells: int
    score: str | None
    elapsed_s: float
    remaining_s: float


def _cached_slide(path: str, assume_mpp_um: float | None):
    from her2kit.io.slides import open_slide

    key = (str(path), assume_mpp_um)
    slide = _OPEN_SLIDES.get(key)
    if slide is None:
        while len(_OPEN_SLIDES) >= _OPEN_SLIDES_MAX:
            _OPEN_SLIDES.pop(next(iter(_OPEN_SLIDES))).close()
        slide = _OPEN_SLIDES[key] = open_slide(path, assume_mpp_um=assume_mpp_um)
    return slide


def _failed(tile: Tile, reason: str, read_s: float) -> TileResult:
    from her2kit.imaging.ihc.tiles import stack_tiles

    return TileResult(tile.index, "failed", " ".join(reason.split())[:300],
                      stack_tiles([]), read_s, 0.0)


def score_slide_tile(slide_path: str, tile: Tile, *, assume_mpp_um: float | None,
                     pixel_size_um: float, options) -> TileResult:
    """Read one tile of a slide at the analysis resolution and score the cells it owns.

    A plain, picklable function of its arguments, run in a worker process or on a Dask
    worker: it opens the slide there (kept open for the next tile of the same slide).

    Parameters
    ----------
    slide_path : str
        The slide (a path the worker can open).
    tile : Tile
        From :func:`her2kit.imaging.tiling.tile_grid` (analysis-grid px).
    assume_mpp_um : float or None
        The level-0 pixel size given for a slide that records none (µm/px).
    pixel_size_um : float
        The analysis resolution (µm/px).
    options : IhcOptions
        Slide-level options (:func:`her2kit.imaging.ihc.tiles.fix_slide_options`).

    Returns
    -------
    TileResult
        "failed" (not raised) when the region cannot be read or decoded.
    """
    from her2kit.imaging.ihc.tiles import score_tile

    t0 = time.perf_counter()
    try:
        slide = _cached_slide(slide_path, assume_mpp_um)
        ratio = pixel_size_um / slide.pixel_size_um  # level-0 px per analysis px
        rgb = slide.read_at(pixel_size_um, (tile.read_xy[0] * ratio, tile.read_xy[1] * ratio),
                            tile.read_wh)
    except ImageInputError as exc:  # a tile that does not decode: recorded, the run goes on
        return _failed(tile, str(exc), time.perf_counter() - t0)
    t1 = time.perf_counter()
    cells = score_tile(rgb, tile, pixel_size_um=pixel_size_um, options=options)
    cols = dict(cells.columns)
    # Analysis pixel i covers level-0 px [i·ratio, (i+1)·ratio); centres to centres.
    cols["x_px"] = (cols["x_px"] + 0.5) * ratio - 0.5
    cols["y_px"] = (cols["y_px"] + 0.5) * ratio - 0.5
    status = "scored" if cells.status == "scored" else "empty"
    return TileResult(tile.index, status, cells.reason, cols, t1 - t0,
                      time.perf_counter() - t1, cells.n_erythrocytes_excluded)


def iter_tile_results(slide_path: str, tiles: Iterable[Tile], *, executor: cf.Executor,
                      assume_mpp_um: float | None, pixel_size_um: float, options,
                      max_in_flight: int = 8) -> Iterator[TileResult]:
    """Score tiles on ``executor`` and yield their results as they finish (any order).

    At most ``max_in_flight`` tiles are submitted at a time, so the results waiting in
    memory stay bounded whatever the slide's size.
    """
    pending: set[cf.Future] = set()
    todo = iter(tiles)
    kwargs = {"assume_mpp_um": assume_mpp_um, "pixel_size_um": pixel_size_um,
              "options": options}
    try:
        while True:
            while len(pending) < max_in_flight:
                tile = next(todo, None)
                if tile is None:
                    break
                pending.add(executor.submit(score_slide_tile, str(slide_path), tile, **kwargs))
            if not pending:
                return
            done, pending = cf.wait(pending, return_when=cf.FIRST_COMPLETED)
            for future in done:
                yield future.result()
    finally:
        for future in pending:
            future.cancel()


def check_run_parameters(found: Mapping[str, Any] | None, wanted: Mapping[str, Any], *,
                         out_dir: Path, resume: bool) -> None:
    """Refuse to mix runs: a folder holding another run without ``resume``, or a resumed
    run whose parameters differ (naming the first that differs)."""
    if found is None:
        return
    if not resume:
        raise Her2kitInputError(f"{out_dir} already holds a score-slide run; give --resume to "
                                "finish it, or another --out", field="--out")
    for key in sorted(set(found) | set(wanted)):
        if found.get(key) != wanted.get(key):
            raise Her2kitInputError(
                f"--resume: the run in {out_dir} was made with a different {key!r}; give "
                "another --out for these parameters", field="--resume")


def progress_reporter(total: int, done0: int, on_progress: Callable | None,
                      score_of: Callable[[Mapping[str, int]], str | None]):
    """A function ``report(done, cells, counts)`` that builds :class:`SlideProgress`
    (with the time-left estimate from the tiles done in this run) and passes it on."""
    t0 = time.perf_counter()

    def report(done: int, cells: int, counts: Mapping[str, int]) -> None:
        if on_progress is None:
            return
        elapsed = time.perf_counter() - t0
        new = done - done0
        left = (total - done) * elapsed / new if new > 0 else float("nan")
        on_progress(SlideProgress(done, total, cells, score_of(counts) if cells else None,
                                  elapsed, left))

    return report


#: Longest side of the thumbnail the tissue is found on (px): 12 µm/px for a 25 mm slide;
#: a smaller slide gets THUMBNAIL_UM per px (and at least THUMBNAIL_MIN_PX px).
THUMBNAIL_MAX_PX = 2048
THUMBNAIL_UM = 4.0
THUMBNAIL_MIN_PX = 256
#: Tissue tiles whose centres (up to this many, spread over the slide) fix the slide's
#: stain vectors and nucleus threshold, and their side (analysis px).
SAMPLE_TILES = 6
SAMPLE_SIDE_PX = 1024


@dataclass(frozen=True, eq=False)
class SlidePlan:
    """What is decided before the tiles run (:func:`plan_slide`).

    Attributes
    ----------
    slide_path : str
    assume_mpp_um : float or None
    slide : Mapping
        Vendor, level-0 size (px) and pixel size (µm/px) with its source, levels.
    grid : TileGrid
    slide_options : SlideOptions
        The scorer's options, fixed for the slide, and their evidence.
    calibration : Mapping or None
        The calibration's record (as ``score-ihc --calibration`` gives it).
    thumbnail : ndarray of uint8
    thumbnail_um : float
        µm per thumbnail px.
    tissue_mask : ndarray of bool
        Tissue (and ROI) on the thumbnail.
    roi : list or None
        The ROI's polygons (level-0 px), each a list of rings.
    stain_check : HdabStainCheck or None
        The H-DAB stain check of the thumbnail
        (:func:`her2kit.imaging.ihc.quality.assess_hdab_stain`, the rule ``score-ihc``
        applies to an image).
    """

    slide_path: str
    assume_mpp_um: float | None
    slide: Mapping[str, Any]
    grid: Any
    slide_options: Any
    calibration: Mapping[str, Any] | None
    thumbnail: np.ndarray = field(repr=False)
    thumbnail_um: float = 0.0
    tissue_mask: np.ndarray = field(repr=False, default=None)
    roi: list | None = field(repr=False, default=None)
    stain_check: Any = None

    @property
    def level0_um(self) -> float:
        return float(self.slide["pixel_size_um"])

    @property
    def ratio(self) -> float:
        """Level-0 px per analysis px."""
        return self.grid.pixel_size_um / self.level0_um


def _slide_record(slide) -> dict[str, Any]:
    return {"vendor": slide.vendor, "dimensions_px": list(slide.dimensions),
            "pixel_size_um": float(slide.pixel_size_um),
            "pixel_size_source": slide.pixel_size_source,
            "pixel_size_assumed": bool(slide.pixel_size_assumed),
            "levels": [{"index": lv.index, "size_px": [lv.width, lv.height],
                        "pixel_size_um": round(lv.pixel_size_um, 5)} for lv in slide.levels]}


def _roi_mask(roi, shape: tuple[int, int], scale: float) -> np.ndarray:
    """The ROI polygons (level-0 px) on a grid of ``scale`` level-0 px per px."""
    from skimage.draw import polygon as draw_polygon

    mask = np.zeros(shape, bool)
    for rings in roi:
        for i, ring in enumerate(rings):
            rr, cc = draw_polygon(ring[:, 1] / scale, ring[:, 0] / scale, shape=shape)
            mask[rr, cc] = i == 0
    return mask


def _tissue(slide, thumb, thumb_um: float, roi, name: str) -> tuple[np.ndarray, float, list]:
    """(tissue mask on the thumbnail, stain check, ROI polygons) with the refusals."""
    from her2kit.imaging.ihc.quality import assess_hdab_stain
    from her2kit.imaging.ihc.robust import estimate_white_point
    from her2kit.imaging.tiling import detect_tissue

    white = estimate_white_point(thumb, stride=1, block=4).rgb
    # The same rule as score-ihc's, on the thumbnail: an H&E slide is refused, not scored.
    stain = assess_hdab_stain(thumb)
    if not stain.is_hdab:
        raise ImageInputError(
            f"{name}: no H-DAB stain found: {100 * stain.eosin_fraction:.0f}% of the "
            "thumbnail's tissue pixels have eosin's pink hue (an H&E slide?); score-slide "
            "needs hematoxylin + DAB")
    mask = detect_tissue(thumb, white_rgb=white)
    polygons = None
    if roi is not None:
        from scipy import ndimage as ndi

        from her2kit.io.roi import read_roi_polygons

        polygons = [rings for _, rings in read_roi_polygons(str(roi))]
        inside = _roi_mask(polygons, mask.shape, thumb_um / float(slide.pixel_size_um))
        if not inside.any():
            w, h = slide.dimensions
            raise Her2kitInputError(f"the ROI lies outside the slide ({w}×{h} px; coordinates "
                                    "must be level-0 pixels)", field="--roi")
        mask &= ndi.binary_dilation(inside, iterations=1)
    if not mask.any():
        raise ImageInputError(f"{name}: no tissue found" + (" inside the ROI" if roi else ""))
    return mask, stain, polygons


def _sample(slide, grid, mask, thumb_um: float, ratio: float) -> list[np.ndarray]:
    """Up to :data:`SAMPLE_TILES` tissue-rich regions spread over the slide, at the
    analysis resolution. The regions come from a grid of their own (not the run's tiles),
    so the slide's parameters do not depend on the tile size."""
    from her2kit.imaging.tiling import tile_grid

    side = SAMPLE_SIDE_PX
    regions = tile_grid(grid.size_wh, pixel_size_um=grid.pixel_size_um, tissue_mask=mask,
                        mask_pixel_size_um=thumb_um, core_um=side * grid.pixel_size_um).tiles
    scale = grid.pixel_size_um / thumb_um  # thumbnail px per analysis px

    def tissue(t: Tile) -> float:
        (x, y), (w, h) = t.core_xy, t.core_wh
        sl = mask[int(y * scale):int((y + h) * scale) + 1, int(x * scale):int((x + w) * scale) + 1]
        return float(sl.mean()) if sl.size else 0.0

    rich = sorted(regions, key=lambda t: (-tissue(t), t.index))[:3 * SAMPLE_TILES]
    rich.sort(key=lambda t: t.index)
    picked = rich[::max(1, len(rich) // SAMPLE_TILES)][:SAMPLE_TILES]
    out: list[np.ndarray] = []
    # A region that does not decode gives way to the next tissue-rich one (its tile will
    # be recorded as failed by the run).
    for t in picked + [t for t in rich if t not in picked]:
        if len(out) == SAMPLE_TILES:
            break
        with contextlib.suppress(ImageInputError):
            out.append(slide.read_at(grid.pixel_size_um,
                                     (t.core_xy[0] * ratio, t.core_xy[1] * ratio), t.core_wh))
    return out


def plan_slide(slide_path, *, roi=None, assume_mpp_um: float | None = None,
               calibration=None, tissue: str = "breast", estimate_stains: bool = False,
               core_um: float | None = None) -> SlidePlan:
    """Open a slide, refuse what cannot be scored, find its tissue, lay the tiles and fix
    the slide-level options (steps 1 of the module docstring).

    Raises
    ------
    ImageInputError
        Not a readable slide, no pixel size (and no ``assume_mpp_um``), a fluorescence or
        an H&E slide, no tissue.
    Her2kitInputError
        A bad ROI (none, malformed, outside the slide), a bad calibration.
    """
    from her2kit.imaging.ihc.score import IhcOptions
    from her2kit.imaging.ihc.tiles import fix_slide_options
    from her2kit.imaging.tiling import DEFAULT_CORE_UM, analysis_pixel_size, tile_grid
    from her2kit.io.slides import check_brightfield_slide, open_slide
    from her2kit.pipelines.score_ihc import _calibrated_options

    options, cal_note = _calibrated_options(calibration, tissue)
    if options is None:
        options = IhcOptions(estimate_stains=estimate_stains)
    name = str(slide_path)
    with open_slide(slide_path, assume_mpp_um=assume_mpp_um) as slide:
        check_brightfield_slide(slide)
        longest_um = max(slide.dimensions) * slide.pixel_size_um
        thumb, thumb_um = slide.thumbnail(min(THUMBNAIL_MAX_PX, max(
            THUMBNAIL_MIN_PX, math.ceil(longest_um / THUMBNAIL_UM))))
        mask, stain, polygons = _tissue(slide, thumb, thumb_um, roi, name)
        a_um = analysis_pixel_size(slide.pixel_size_um)
        ratio = a_um / slide.pixel_size_um
        w0, h0 = slide.dimensions
        grid = tile_grid((math.ceil(w0 / ratio), math.ceil(h0 / ratio)), pixel_size_um=a_um,
                         tissue_mask=mask, mask_pixel_size_um=thumb_um,
                         core_um=DEFAULT_CORE_UM if core_um is None else core_um)
        sample = _sample(slide, grid, mask, thumb_um, ratio)
        fixed = fix_slide_options(sample, thumb, pixel_size_um=a_um, options=options)
        record = _slide_record(slide)
        record["analysis_pixel_size_um"] = a_um
        record["analysis_level"] = slide.level_for(a_um)
    return SlidePlan(name, assume_mpp_um, MappingProxyType(record), grid, fixed, cal_note,
                     thumb, float(thumb_um), mask, polygons, stain)
