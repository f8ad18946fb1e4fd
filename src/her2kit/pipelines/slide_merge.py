"""Step 3 of ``score-slide``: the per-tile parts merged into the slide's cells, totals,
IHC document, heterogeneity statement, heatmap and GeoJSON.

Everything here is a function of the parts (read back from disk in tile order) and the
plan, never of the order the tiles finished in or of which run scored them, so a resumed
run writes the same files as an uninterrupted one.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from types import MappingProxyType
from typing import Any

import numpy as np

from her2kit.imaging.ihc.membrane import CLASS_H_SCORE_WEIGHT, MEMBRANE_CLASSES
from her2kit.viz.slide import SCORE_COLORS

__all__ = [
    "HEATMAP_MIN_CELLS",
    "HETEROGENEITY_BLOCK_UM",
    "HETEROGENEITY_MIN_CELLS",
    "SlideTotals",
    "block_scores",
    "counted_cells",
    "heatmap_png",
    "heterogeneity",
    "merge_parts",
    "score_of_counts",
    "slide_totals",
]

#: Side of the regions the heterogeneity statement compares with the slide (µm): 1 mm²,
#: the "per mm²" of the CAP template's heterogeneity comment.
HETEROGENEITY_BLOCK_UM = 1000.0
#: Regions with fewer counted cells get no local score (as a region under ``FEW_CELLS``
#: gets a quality flag in ``score-ihc``).
HETEROGENEITY_MIN_CELLS = 100
#: The heatmap's blocks need fewer (they are smaller: 0.25–0.5 mm).
HEATMAP_MIN_CELLS = 50


@dataclass(frozen=True, eq=False)
class SlideTotals:
    """The slide's totals in the shape :func:`her2kit.pipelines.ihc.ihc_document` reads
    (the attributes of an :class:`~her2kit.imaging.ihc.score.IhcImageResult` it uses)."""

    counts: Mapping[str, int]
    percent_all: Mapping[str, float]
    n_cells_detected: int
    n_cells_counted: int
    roi_used: bool
    h_score: float
    stain_matrix: np.ndarray
    stain_estimated: bool
    stain_fallback_reason: str | None
    thresholds: Any
    nucleus_threshold_od: float
    quality: Any
    parameters: Mapping[str, object] = field(default_factory=dict)


def merge_parts(out_dir: Path, indices: Sequence[int]
                ) -> tuple[dict[str, np.ndarray], list[dict[str, str]]]:
    """The parts of ``indices`` (tile order) as one table, with a ``tile`` column, and
    each part's metadata."""
    from her2kit.imaging.ihc.tiles import stack_tiles
    from her2kit.io.slide_parts import read_part

    parts, metas = [], []
    for i in indices:
        cols, meta = read_part(out_dir, i)
        cols["tile"] = np.full(cols["x_px"].size, i, np.int32)
        parts.append(cols)
        metas.append(meta)
    if not parts:
        cols = stack_tiles([])
        cols["tile"] = np.zeros(0, np.int32)
        return cols, metas
    return stack_tiles(parts), metas


def counted_cells(columns: Mapping[str, np.ndarray], roi) -> np.ndarray:
    """Cells whose nucleus centroid lies in the ROI (every cell without one)."""
    n = columns["x_px"].size
    if roi is None:
        return np.ones(n, bool)
    from skimage.measure import points_in_poly

    pts = np.stack([columns["x_px"], columns["y_px"]], axis=1)
    inside = np.zeros(n, bool)
    for rings in roi:
        keep = points_in_poly(pts, rings[0])
        for hole in rings[1:]:
            keep &= ~points_in_poly(pts, hole)
        inside |= keep
    return inside


def _class_index(names: np.ndarray) -> np.ndarray:
    lookup = {k: i for i, k in enumerate(MEMBRANE_CLASSES)}
    uniq, inv = np.unique(np.asarray(names, dtype=str), return_inverse=True)
    return np.array([lookup[str(u)] for u in uniq], np.int64)[inv] if uniq.size else \
        np.zeros(0, np.int64)


def _percent(counts: Mapping[str, int]) -> dict[str, float]:
    total = sum(counts.values())
    return {k: (100.0 * counts.get(k, 0) / total if total else 0.0) for k in MEMBRANE_CLASSES}


def score_of_counts(counts: Mapping[str, int], *, guideline: str = "asco-cap-2018",
                    min_intense_pct: float = 1.0) -> str | None:
    """The IHC score the guideline gives cells of these class counts (None for none),
    through the same hand-off as ``score-ihc`` (:func:`guideline_percent`)."""
    from her2kit.guideline import Case, classify
    from her2kit.pipelines.ihc import guideline_percent

    if not sum(counts.values()):
        return None
    handed, _ = guideline_percent(_percent(counts), min_intense_pct=min_intense_pct)
    case = Case.model_validate({"ihc": {"percent": {k: round(v, 2) for k, v in handed.items()}}})
    return classify(case, guideline=guideline).ihc.score


def slide_totals(columns: Mapping[str, np.ndarray], counted: np.ndarray, *, plan,
                 roi_used: bool) -> SlideTotals:
    """Counts, percentages and H-score over the counted cells, with the slide options'
    evidence (stain vectors, thresholds, nucleus threshold, the sample's quality)."""
    idx = _class_index(columns["class_name"])[counted]
    n_per = np.bincount(idx, minlength=len(MEMBRANE_CLASSES))
    counts = {k: int(n_per[i]) for i, k in enumerate(MEMBRANE_CLASSES)}
    pct = _percent(counts)
    h = float(sum(CLASS_H_SCORE_WEIGHT[k] * pct[k] for k in MEMBRANE_CLASSES))
    so = plan.slide_options
    o, sample = so.options, so.sample
    params = dict(sample.parameters)
    params["nucleus_threshold_source"] = "given (fixed once for the slide on a sample)"
    return SlideTotals(
        MappingProxyType(counts), MappingProxyType(pct), int(columns["x_px"].size),
        int(counted.sum()), roi_used, h, np.asarray(o.stain_matrix), bool(sample.stain_estimated),
        sample.stain_fallback_reason, o.thresholds, float(o.nucleus_threshold_od),
        sample.quality, MappingProxyType(params))


def block_scores(columns: Mapping[str, np.ndarray], counted: np.ndarray, *,
                 level0_um: float, size_px: Sequence[int], block_um: float, min_cells: int,
                 guideline: str, min_intense_pct: float) -> dict[str, np.ndarray]:
    """Per block of ``block_um`` (level-0 origin): counted cells per class, and the local
    IHC score's index in :data:`her2kit.viz.slide.SCORE_COLORS` (-1 under ``min_cells``)."""
    nbx = max(1, int(np.ceil(size_px[0] * level0_um / block_um)))
    nby = max(1, int(np.ceil(size_px[1] * level0_um / block_um)))
    bx = np.clip((columns["x_px"][counted] * level0_um // block_um).astype(np.int64), 0, nbx - 1)
    by = np.clip((columns["y_px"][counted] * level0_um // block_um).astype(np.int64), 0, nby - 1)
    cls = _class_index(columns["class_name"])[counted]
    k = len(MEMBRANE_CLASSES)
    per = np.bincount((by * nbx + bx) * k + cls, minlength=nbx * nby * k).reshape(nby, nbx, k)
    total = per.sum(axis=2)
    order = tuple(SCORE_COLORS)
    score_idx = np.full((nby, nbx), -1, np.int64)
    for r, c in zip(*np.nonzero(total >= min_cells), strict=True):
        s = score_of_counts(dict(zip(MEMBRANE_CLASSES, per[r, c].tolist(), strict=True)),
                            guideline=guideline, min_intense_pct=min_intense_pct)
        score_idx[r, c] = order.index(s) if s in order else -1
    return {"per_class": per, "total": total, "score_idx": score_idx}


def heterogeneity(blocks: Mapping[str, np.ndarray], *, slide_score: str, block_um: float,
                  n_counted: int, min_cells: int) -> dict[str, Any]:
    """The regions whose local score differs from the slide's, and a one-line statement."""
    order = tuple(SCORE_COLORS)
    idx, total = blocks["score_idx"], blocks["total"]
    scored = idx >= 0
    differ = []
    own = order.index(slide_score) if slide_score in order else -2
    for r, c in zip(*np.nonzero(scored & (idx != own)), strict=True):
        differ.append({"x_mm": round(c * block_um / 1000, 3), "y_mm": round(r * block_um / 1000, 3),
                       "score": order[idx[r, c]], "cells": int(total[r, c]),
                       "share_pct": round(100.0 * total[r, c] / max(n_counted, 1), 2)})
    differ.sort(key=lambda d: (-d["cells"], d["y_mm"], d["x_mm"]))
    by_score = {}
    for s in order:
        sel = [d for d in differ if d["score"] == s]
        if sel:
            share = 100.0 * sum(d["cells"] for d in sel) / max(n_counted, 1)
            by_score[s] = {"regions": len(sel), "share_pct": round(share, 2)}
    area = f"{block_um / 1000:g} mm × {block_um / 1000:g} mm"
    n = int(scored.sum())
    if by_score:
        parts = [f"{v['regions']} region(s) ({v['share_pct']:.1f} % of the counted cells) score "
                 f"IHC {s}" for s, v in by_score.items()]
        text = (f"Heterogeneous: of {n} regions of {area} with ≥ {min_cells} cells, "
                + "; ".join(parts) + f"; the slide as a whole is IHC {slide_score}.")
    else:
        text = (f"Homogeneous: all {n} regions of {area} with ≥ {min_cells} cells score as the "
                f"slide (IHC {slide_score}).")
    return {"block_um": block_um, "min_cells": min_cells, "regions_scored": n,
            "slide_score": slide_score, "differing_by_score": by_score,
            "differing_regions": differ[:100], "statement": text}


def heatmap_png(plan, blocks: Mapping[str, np.ndarray], *, block_um: float, score: str) -> bytes:
    """The heatmap of local scores over the thumbnail, as PNG bytes."""
    from her2kit.io.export import png_bytes
    from her2kit.viz.slide import render_slide_heatmap

    density = blocks["total"] / (block_um / 1000.0) ** 2  # cells per mm²
    thumb = plan.thumbnail
    # A small slide's thumbnail is enlarged (whole pixels) so the legend stays readable.
    k = max(1, -(-512 // max(thumb.shape[:2])))
    if k > 1:
        thumb = np.repeat(np.repeat(thumb, k, axis=0), k, axis=1)
    img = render_slide_heatmap(
        thumb, blocks["score_idx"], density, block_px=k * block_um / plan.thumbnail_um,
        title=f"slide: IHC {score}",
        block_label=f"block {block_um / 1000:g} mm, >= {HEATMAP_MIN_CELLS} cells",
        density_label="opacity: cell density")
    return png_bytes(img)


def quality_record(quality) -> dict[str, Any]:
    """The sample's quality flags as plain data."""
    return {k: (list(v) if isinstance(v, tuple) else v) for k, v in asdict(quality).items()}
