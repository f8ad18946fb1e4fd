"""Large synthetic HER2 IHC whole slides with known per-region truth, in bounded memory.

A slide is tissue on glass: a tissue mask (a lobed blob with holes, covering about half
the slide) over bright glass, divided into regions (polygons) each with a true IHC
score, e.g. a 3+ island in a 1+ background (:data:`LAYOUTS`). The tissue of each region
is drawn from a bank of IHC regions rendered by :func:`her2kit.synthetic.ihc.
render_ihc_region` at the slide's pixel size (its cell model, stains and optics),
``bank_tiles`` of them per region, all with the region's class fractions
(:func:`~her2kit.synthetic.ihc.class_fractions_for_score`, drawn once per region). Each
``bank_px`` x ``bank_px`` block of the slide shows one bank region in one of its eight
orientations (rotations and flips), chosen from the seed and the block's position; the
slide is then streamed to :func:`her2kit.io.slide_writer.write_slide` tile by tile.
Memory is the bank, a few rows of tiles and low-resolution maps (at most 4096 cells a
side, :func:`grid_px`), whatever the size.

Truth is counted, not assumed: every bank cell whose nucleus centroid falls in tissue
(mask above one half) inside a region is counted for that region by class; its score is
the ASCO/CAP rule on those percentages (:func:`her2kit.guideline.ihc.ihc_from_percent`).
The truth sidecar (``<stem>-truth.geojson``) is a GeoJSON FeatureCollection (level-0 px,
x right and y down, as QuPath's) of the region polygons (the background with the islands
as holes) with their target and counted scores, cell counts and percentages.

Limits, as stated: bank regions are independent renders, so cells are cut along block
edges (every ``bank_px`` px) and along region borders; a block repeats a bank region
(``bank_tiles`` x 8 looks per region).
"""

from __future__ import annotations

import json
import math
import time
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from types import MappingProxyType

import numpy as np
from scipy import ndimage as ndi
from skimage.draw import polygon as draw_polygon

from her2kit.errors import Her2kitInputError
from her2kit.guideline.ihc import ihc_from_percent
from her2kit.guideline.models import IhcPercent
from her2kit.imaging.ihc.membrane import MEMBRANE_CLASSES
from her2kit.io.atomic import write_paths_atomically
from her2kit.io.slide_writer import FLAVOURS, WrittenSlide, write_slide
from her2kit.synthetic import optics
from her2kit.synthetic.ihc import IhcRegionOptions, class_fractions_for_score, render_ihc_region
from her2kit.synthetic.tissue import smooth_noise

__all__ = [
    "LAYOUTS", "SlideRegion", "SyntheticSlide", "grid_px", "slide_layout", "truth_path_for",
    "write_synthetic_slide",
]

#: Layouts: the background score, then islands as (score, centre x, centre y, radius x,
#: radius y) in fractions of the slide's width and height.
LAYOUTS: Mapping[str, tuple[str, tuple[tuple[str, float, float, float, float], ...]]] = (
    MappingProxyType({
        "3+in1+": ("1+", (("3+", 0.58, 0.45, 0.16, 0.14),)),
        "2+in0": ("0", (("2+", 0.42, 0.55, 0.15, 0.15),)),
        "3+2+in1+": ("1+", (("3+", 0.38, 0.38, 0.12, 0.11), ("2+", 0.64, 0.62, 0.12, 0.12))),
        "0": ("0", ()), "0+": ("0+", ()), "1+": ("1+", ()), "2+": ("2+", ()), "3+": ("3+", ()),
    }))
#: Side of one cell of the low-resolution region and tissue maps, level-0 px, at least:
#: doubled until the maps have at most :data:`MAX_MAP_SIDE` cells a side (8 µm at 0.25
#: µm/px up to 131k px a side), so the maps stay small whatever the slide's size.
MIN_GRID_PX = 32
MAX_MAP_SIDE = 4096
#: Glass: incident light (8-bit units) and camera noise (s.d.), as the IHC regions'.
GLASS_LEVEL, GLASS_NOISE_SD = 250.0, 2.0
_SUFFIX_FLAVOUR = {".svs": "svs", ".tif": "tiff", ".tiff": "tiff"}


@dataclass(frozen=True)
class SlideRegion:
    """One region of a synthetic slide and its counted truth.

    Attributes
    ----------
    name : str
        ``background`` or ``island-1``, ``island-2``, ...
    target_score : str
        The score the region was drawn for.
    score : str
        The ASCO/CAP score of the counted percentages (2018 rules), None without cells.
    polygon_xy : tuple of (float, float)
        Outer ring, level-0 px (x, y); the background is the slide's rectangle.
    holes_xy : tuple of tuple of (float, float)
        Rings removed from it (the islands, for the background).
    class_fractions : Mapping of str to float
        The fractions the region's bank was rendered with.
    cell_counts : Mapping of str to int
        Tumour cells counted per membrane class (nucleus centroid in tissue, in region).
    percent : Mapping of str to float
        The same as percentages of the region's cells.
    tissue_area_mm2 : float
        Tissue area inside the region.
    """

    name: str
    target_score: str
    score: str | None
    polygon_xy: tuple[tuple[float, float], ...]
    holes_xy: tuple[tuple[tuple[float, float], ...], ...]
    class_fractions: Mapping[str, float]
    cell_counts: Mapping[str, int]
    percent: Mapping[str, float]
    tissue_area_mm2: float


@dataclass(frozen=True)
class SyntheticSlide:
    """A written synthetic slide and its truth (see :func:`write_synthetic_slide`).

    Attributes
    ----------
    path, truth_path : pathlib.Path
        The slide and its GeoJSON truth sidecar.
    size_wh : (int, int)
        Level 0, px.
    pixel_size_um : float
    layout : str
    seed : int
    flavour : str
    regions : tuple of SlideRegion
        The background first.
    tissue_fraction : float
        Share of the slide's area that is tissue (0-1).
    n_cells : int
        Tumour cells counted over all regions.
    written : WrittenSlide
        Levels, tile size, file size.
    elapsed_s : float
        Wall time to render and write, s.
    """

    path: Path
    truth_path: Path
    size_wh: tuple[int, int]
    pixel_size_um: float
    layout: str
    seed: int
    flavour: str
    regions: tuple[SlideRegion, ...]
    tissue_fraction: float
    n_cells: int
    written: WrittenSlide
    elapsed_s: float


# --------------------------------------------------------------------------- layout
def _ellipse(cx: float, cy: float, rx: float, ry: float, n: int = 96):
    t = np.linspace(0, 2 * math.pi, n, endpoint=False)
    return tuple((round(float(cx + rx * math.cos(a)), 1), round(float(cy + ry * math.sin(a)), 1))
                 for a in t)


def slide_layout(layout: str, size_wh: tuple[int, int]) -> list[tuple[str, str, tuple]]:
    """The regions of ``layout`` on a slide of ``size_wh`` px: (name, target score,
    outer ring in level-0 px (x, y)), the background (the whole slide) first.

    Raises
    ------
    Her2kitInputError
        An unknown layout.

    Examples
    --------
    >>> [(name, score) for name, score, _ in slide_layout("3+2+in1+", (50000, 50000))]
    [('background', '1+'), ('island-1', '3+'), ('island-2', '2+')]
    """
    if layout not in LAYOUTS:
        raise Her2kitInputError(f"unknown layout {layout!r}; use one of {', '.join(LAYOUTS)}",
                                field="layout")
    w, h = size_wh
    background, islands = LAYOUTS[layout]
    regions = [("background", background, ((0.0, 0.0), (w, 0.0), (w, h), (0.0, h)))]
    for i, (score, fx, fy, frx, fry) in enumerate(islands, start=1):
        regions.append((f"island-{i}", score, _ellipse(fx * w, fy * h, frx * w, fry * h)))
    return regions


def grid_px(size_wh: tuple[int, int]) -> int:
    """The map cell side (px) for a slide of ``size_wh`` (see :data:`MIN_GRID_PX`)."""
    grid = MIN_GRID_PX
    while max(size_wh) > grid * MAX_MAP_SIDE:
        grid *= 2
    return grid


def _maps(regions, size_wh, grid: int, rng: np.random.Generator
          ) -> tuple[np.ndarray, np.ndarray]:
    """Low-resolution (one cell per ``grid`` px) region labels (uint8, index into
    ``regions``) and tissue opacity (uint8, 255 = tissue): a lobed blob with holes."""
    gw, gh = math.ceil(size_wh[0] / grid), math.ceil(size_wh[1] / grid)
    labels = np.zeros((gh, gw), np.uint8)
    for k, (_, _, ring) in enumerate(regions[1:], start=1):
        xs = np.array([p[0] for p in ring]) / grid
        ys = np.array([p[1] for p in ring]) / grid
        rr, cc = draw_polygon(ys, xs, shape=labels.shape)
        labels[rr, cc] = k
    yy, xx = (a.astype(np.float32) for a in np.ogrid[0:gh, 0:gw])
    radius = np.hypot((xx + 0.5) / gw - 0.5, (yy + 0.5) / gh - 0.5) / 0.42
    lobes = smooth_noise((gh, gw), max(gh, gw) / 12, rng)
    holes = smooth_noise((gh, gw), max(gh, gw) / 60, rng)
    tissue = (radius + 0.18 * lobes < 1.0) & (holes < 1.8)
    soft = ndi.gaussian_filter(tissue.astype(np.float32), 0.7)
    return labels, np.clip(np.rint(soft * 255), 0, 255).astype(np.uint8)


# --------------------------------------------------------------------------- bank
@dataclass(frozen=True)
class _Bank:
    """The rendered IHC regions of one slide region (or glass: no cells)."""

    images: tuple[np.ndarray, ...]  # (bank_px, bank_px, 3) uint8
    centroids: tuple[np.ndarray, ...]  # (n, 2) nucleus centroids (row, col), px
    classes: tuple[np.ndarray, ...]  # (n,) index into MEMBRANE_CLASSES
    fractions: Mapping[str, float]


def _render_bank(score: str, *, bank_px: int, pixel_size_um: float, n: int,
                 seeds: np.random.SeedSequence) -> _Bank:
    """``n`` IHC regions of ``bank_px`` px for ``score``, sharing one draw of class
    fractions (so the region's truth is one mixture)."""
    fraction_seed, *tile_seeds = seeds.spawn(n + 1)
    fractions = class_fractions_for_score(score, rng=np.random.default_rng(fraction_seed))
    images, centroids, classes = [], [], []
    for s in tile_seeds:
        region = render_ihc_region(IhcRegionOptions(
            shape_px=(bank_px, bank_px), pixel_size_um=pixel_size_um,
            class_fractions=fractions, seed=int(s.generate_state(1)[0])))
        images.append(region.image)
        centroids.append(np.asarray(region.cells["centroid_rc"], np.float64).reshape(-1, 2))
        names = list(region.cells["class_name"])
        classes.append(np.array([MEMBRANE_CLASSES.index(c) for c in names], np.intp))
    return _Bank(tuple(images), tuple(centroids), tuple(classes), MappingProxyType(fractions))


def _glass(bank_px: int, n: int, seeds: np.random.SeedSequence) -> tuple[np.ndarray, ...]:
    """``n`` tiles of bare glass: flat light through no stain, camera noise, 8 bits."""
    out = []
    for s in seeds.spawn(n):
        rng = np.random.default_rng(s)
        light = optics.transmitted_intensity(np.zeros((bank_px, bank_px, 3), np.float32),
                                             incident=GLASS_LEVEL)
        light += optics.camera_noise(light.shape, GLASS_NOISE_SD, rng, dtype=np.float32)
        out.append(optics.to_uint8(light))
    return tuple(out)


def _oriented(image: np.ndarray, k: int) -> np.ndarray:
    """One of the eight orientations of a square image: ``k % 4`` quarter turns
    (``numpy.rot90``), then mirrored left-right when ``k >= 4``."""
    out = np.rot90(image, k % 4)
    return out[:, ::-1] if k >= 4 else out


def _oriented_points(rc: np.ndarray, k: int, side: int) -> np.ndarray:
    """(row, col) points of a ``side`` px square image moved as :func:`_oriented` moves
    its pixels."""
    r, c = rc[:, 0], rc[:, 1]
    for _ in range(k % 4):  # rot90: out[i, j] = in[j, side - 1 - i]
        r, c = side - 1 - c, r
    if k >= 4:
        c = side - 1 - c
    return np.stack([r, c], axis=1)


# --------------------------------------------------------------------------- tiles
class _Composer:
    """The slide's level-0 tiles, ``composer(row, col)``, and the cells they show.

    Each block of ``bank_px`` px shows bank region ``idx`` in orientation ``k`` (both
    drawn from the seed and the block's position), the region map choosing the bank per
    pixel and the tissue map blending it over glass. Each tile must be asked for once
    (as the slide writer does): its cells are counted then.
    """

    def __init__(self, banks, glass, labels, alpha, *, size_wh, tile_px, bank_px, grid, seed):
        self.banks, self.glass, self.labels, self.alpha = banks, glass, labels, alpha
        self.grid = grid
        self.size_wh, self.t, self.b, self.seed = size_wh, tile_px, bank_px, seed
        self.counts = np.zeros((len(banks), len(MEMBRANE_CLASSES)), np.int64)
        self._points: dict[tuple[int, int, int], np.ndarray] = {}

    def _choice(self, block_row: int, block_col: int, n: int) -> tuple[int, int]:
        rng = np.random.default_rng([self.seed, 7, block_row, block_col])
        return int(rng.integers(n)), int(rng.integers(8))

    def _maps_at(self, row: int, col: int) -> tuple[np.ndarray, np.ndarray]:
        g = self.grid
        n, (g0r, g0c) = self.t // g, (row * self.t // g, col * self.t // g)
        lab = self.labels[g0r:g0r + n, g0c:g0c + n]
        al = self.alpha[g0r:g0r + n, g0c:g0c + n]
        pad = ((0, n - lab.shape[0]), (0, n - lab.shape[1]))
        return np.pad(lab, pad, mode="edge"), np.pad(al, pad)

    def __call__(self, row: int, col: int) -> np.ndarray:
        t, b = self.t, self.b
        y0, x0 = row * t, col * t
        (br, oy), (bc, ox) = divmod(y0, b), divmod(x0, b)
        idx, k = self._choice(br, bc, len(self.banks[0].images))
        lab, al = self._maps_at(row, col)
        glass = _oriented(self.glass[(br + bc) % len(self.glass)], k)[oy:oy + t, ox:ox + t]
        if al.max() == 0:
            return glass
        present = np.unique(lab)
        views = {int(r): _oriented(self.banks[r].images[idx], k)[oy:oy + t, ox:ox + t]
                 for r in present}
        if len(present) == 1:
            tissue = views[int(present[0])]
        else:
            lab_px = np.repeat(np.repeat(lab, self.grid, 0), self.grid, 1)[..., None]
            tissue = np.zeros((t, t, 3), np.uint8)
            for r, view in views.items():
                np.copyto(tissue, view, where=lab_px == r)
        for r in views:
            self._count(r, idx, k, (oy, ox), lab, al, (y0, x0))
        if al.min() == 255:
            return np.ascontiguousarray(tissue)
        a = ndi.zoom(al.astype(np.float32) / 255, self.grid, order=1, grid_mode=True,
                     mode="nearest")[..., None]
        return np.rint(a * tissue + (1 - a) * glass).astype(np.uint8)

    def _count(self, region: int, idx: int, k: int, offset, lab, al, origin) -> None:
        """Count the cells of bank region (``region``, ``idx``) in orientation ``k`` whose
        nucleus centroid lies in this tile, in tissue, inside ``region``, on the slide."""
        key = (region, idx, k)
        if key not in self._points:
            self._points[key] = _oriented_points(self.banks[region].centroids[idx], k, self.b)
        pts = self._points[key]
        local = pts - np.array(offset, np.float64)
        inside = ((local >= 0) & (local < self.t)).all(axis=1)
        rr = np.rint(local[inside, 0]).astype(np.intp).clip(0, self.t - 1)
        cc = np.rint(local[inside, 1]).astype(np.intp).clip(0, self.t - 1)
        gr, gc = rr // self.grid, cc // self.grid
        keep = ((lab[gr, gc] == region) & (al[gr, gc] > 127)
                & (origin[0] + rr < self.size_wh[1]) & (origin[1] + cc < self.size_wh[0]))
        classes = self.banks[region].classes[idx][inside][keep]
        self.counts[region] += np.bincount(classes, minlength=len(MEMBRANE_CLASSES))


# --------------------------------------------------------------------------- truth
def _region_truth(regions, banks, counts, labels, alpha, pixel_size_um, grid) -> tuple:
    """A :class:`SlideRegion` per region from the counted cells and the maps."""
    cell_area_mm2 = (grid * pixel_size_um) ** 2 / 1e6
    islands = tuple(ring for _, _, ring in regions[1:])
    out = []
    for k, (name, target, ring) in enumerate(regions):
        n = int(counts[k].sum())
        cell_counts = {c: int(v) for c, v in zip(MEMBRANE_CLASSES, counts[k], strict=True)}
        percent = {c: (100.0 * v / n if n else 0.0) for c, v in cell_counts.items()}
        score = None
        if n:
            score = ihc_from_percent(IhcPercent(**{c: percent[c] for c in MEMBRANE_CLASSES
                                                   if c != "none"}))[0]
        area = float(alpha[labels == k].sum()) / 255 * cell_area_mm2
        out.append(SlideRegion(
            name, target, score, tuple(ring), islands if k == 0 else (),
            banks[k].fractions, MappingProxyType(cell_counts), MappingProxyType(percent),
            round(area, 4)))
    return tuple(out)


def _truth_geojson(slide: SyntheticSlide) -> bytes:
    """The truth sidecar: a GeoJSON FeatureCollection of the regions, level-0 px."""
    def ring(points) -> list:
        pts = [[float(x), float(y)] for x, y in points]
        return [*pts, pts[0]]

    features = [{
        "type": "Feature",
        "geometry": {"type": "Polygon",
                     "coordinates": [ring(r.polygon_xy)] + [ring(h) for h in r.holes_xy]},
        "properties": {
            "name": r.name, "target_score": r.target_score, "score": r.score,
            "classification": {"name": f"HER2 {r.target_score}"},
            "class_fractions": dict(r.class_fractions), "cell_counts": dict(r.cell_counts),
            "percent": {k: round(v, 3) for k, v in r.percent.items()},
            "tissue_area_mm2": r.tissue_area_mm2},
    } for r in slide.regions]
    meta = {
        "generator": "her2kit.synthetic.slide", "slide": slide.path.name,
        "size_wh": list(slide.size_wh), "pixel_size_um": slide.pixel_size_um,
        "layout": slide.layout, "seed": slide.seed, "flavour": slide.flavour,
        "levels_wh": [list(s) for s in slide.written.level_sizes_wh],
        "tissue_fraction": round(slide.tissue_fraction, 4), "n_cells": slide.n_cells,
        "coordinates": "level-0 px, x right, y down; a cell counts where its nucleus "
                       "centroid lies (in tissue)"}
    doc = {"type": "FeatureCollection", "her2kit_synthetic_slide": meta, "features": features}
    return (json.dumps(doc, indent=1, ensure_ascii=False) + "\n").encode()


def truth_path_for(path) -> Path:
    """``<stem>-truth.geojson`` beside the slide (``a.ome.tif`` -> ``a-truth.geojson``)."""
    path = Path(path)
    stem = path.name[: -len(".ome.tif")] if path.name.lower().endswith(".ome.tif") else path.stem
    return path.with_name(f"{stem}-truth.geojson")


def _check(size_wh, pixel_size_um, flavour, path, tile_px, bank_px, bank_tiles):
    try:
        w, h = (int(v) for v in size_wh)
    except (TypeError, ValueError):
        raise Her2kitInputError(f"expected (width, height) in px, got {size_wh!r}",
                                field="size_wh") from None
    if not (256 <= w <= 400_000 and 256 <= h <= 400_000):
        raise Her2kitInputError(f"expected 256-400000 px per side, got {w}x{h}",
                                field="size_wh")
    mpp = float(pixel_size_um)
    if not 0.1 <= mpp <= 2.0:
        raise Her2kitInputError(f"expected 0.1-2 µm/px for cells to be drawn, got {mpp:g}",
                                field="pixel_size_um")
    if flavour is None:
        name = Path(path).name.lower()
        flavour = "ome" if name.endswith(".ome.tif") else _SUFFIX_FLAVOUR.get(Path(name).suffix)
    if flavour not in FLAVOURS:
        raise Her2kitInputError(f"{path}: use a .svs, .tif or .ome.tif file (or give flavour "
                                f"{FLAVOURS})", field="path")
    grid = grid_px((w, h))
    if tile_px % grid or bank_px % tile_px or bank_tiles < 1:
        raise Her2kitInputError(f"tile_px ({tile_px}) must be a multiple of {grid} and "
                                f"divide bank_px ({bank_px}); bank_tiles >= 1",
                                field="tile_px")
    return (w, h), mpp, flavour, grid


def write_synthetic_slide(path, *, size_wh: tuple[int, int], pixel_size_um: float = 0.25,
                          layout: str = "3+in1+", seed: int = 0, flavour: str | None = None,
                          tile_px: int = 512, bank_px: int = 1024, bank_tiles: int = 6,
                          jpeg_quality: int = 90) -> SyntheticSlide:
    """Write a synthetic HER2 IHC whole slide and its truth sidecar.

    Parameters
    ----------
    path : str or os.PathLike
        ``.svs`` (Aperio-style), ``.tif`` (generic tiled TIFF) or ``.ome.tif``; the truth
        goes to :func:`truth_path_for` (``<stem>-truth.geojson``).
    size_wh : (int, int)
        Level 0 (width, height), px (256-400000 per side).
    pixel_size_um : float, optional
        Level 0, µm/px (0.1-2; 0.25 is 40x).
    layout : str, optional
        One of :data:`LAYOUTS`: ``3+in1+``, ``2+in0``, ``3+2+in1+`` or a pure score.
    seed : int, optional
        Same seed and arguments, same pixels and truth.
    flavour : {"svs", "tiff", "ome"}, optional
        Default from the suffix.
    tile_px, bank_px, bank_tiles : int, optional
        File tile side (px); side of one rendered IHC region (px, a multiple of
        ``tile_px``); rendered regions per slide region.
    jpeg_quality : int, optional

    Returns
    -------
    SyntheticSlide
        Paths, regions with their counted truth, timing.

    Raises
    ------
    Her2kitInputError
        A bad size, pixel size, layout, suffix or tiling.
    OutputError
        A file cannot be written (the slide is then not left behind either).
    """
    started = time.perf_counter()
    size_wh, mpp, flavour, grid = _check(size_wh, pixel_size_um, flavour, path, tile_px, bank_px,
                                   bank_tiles)
    regions = slide_layout(layout, size_wh)
    root = np.random.SeedSequence(int(seed))
    map_seed, glass_seed, *bank_seeds = root.spawn(2 + len(regions))
    labels, alpha = _maps(regions, size_wh, grid, np.random.default_rng(map_seed))
    banks = [_render_bank(score, bank_px=bank_px, pixel_size_um=mpp, n=bank_tiles, seeds=s)
             for (_, score, _), s in zip(regions, bank_seeds, strict=True)]
    composer = _Composer(banks, _glass(bank_px, 2, glass_seed), labels, alpha,
                         size_wh=size_wh, tile_px=tile_px, bank_px=bank_px, grid=grid,
                         seed=int(seed))
    written = write_slide(path, composer, size_wh=size_wh, pixel_size_um=mpp, flavour=flavour,
                          tile_px=tile_px, jpeg_quality=jpeg_quality)
    slide = SyntheticSlide(
        Path(path), truth_path_for(path), size_wh, mpp, layout, int(seed), flavour,
        _region_truth(regions, banks, composer.counts, labels, alpha, mpp, grid),
        float(alpha.mean()) / 255, int(composer.counts.sum()), written,
        round(time.perf_counter() - started, 3))
    try:
        write_paths_atomically({slide.truth_path: _truth_geojson(slide)})
    except BaseException:
        Path(path).unlink(missing_ok=True)
        raise
    return slide
