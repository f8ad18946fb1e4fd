"""The end of a ``score-slide`` run: the slide JSON (the ``score-ihc`` IHC block and
``case_input``, plus the slide's tiles, cells, parameters, heterogeneity, timing), the
per-cell Parquet table, the cells' GeoJSON and the heatmap, written all-or-nothing."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

import numpy as np

__all__ = ["finish_slide", "heatmap_block_um"]


def heatmap_block_um(size_px, level0_um: float) -> float:
    """The heatmap's block side (µm): 0.5 mm on a slide 8 mm or more across, else 0.25 mm
    (a core or a small biopsy still gets a few blocks)."""
    longest_mm = max(size_px) * level0_um / 1000.0
    return 500.0 if longest_mm >= 8 else 250.0


def _table(cols: dict, counted: np.ndarray, level0_um: float) -> dict[str, np.ndarray]:
    """The per-cell table's columns, in their documented order."""
    return {
        "tile": cols["tile"], "x_px": cols["x_px"], "y_px": cols["y_px"],
        "x_um": cols["x_px"] * level0_um, "y_um": cols["y_px"] * level0_um,
        "area_um2": cols["area_um2"], "nucleus_area_um2": cols["nucleus_area_um2"],
        "membrane_dab_od_mean": cols["membrane_dab_od_mean"],
        "membrane_dab_od_stained": cols["membrane_dab_od_stained"],
        "ring_dab_od_mean": cols["ring_dab_od_mean"],
        "completeness_pct": cols["completeness_pct"], "class_name": cols["class_name"],
        "counted": counted,
    }


def _tiles_block(plan, metas: list, failed: list) -> dict[str, Any]:
    from her2kit.pipelines.slide import MAX_FAILED_TILE_PCT

    n = len(plan.grid.tiles)
    status = [m.get("status", "scored") for m in metas]
    area = (plan.grid.core_px * plan.grid.pixel_size_um / 1000.0) ** 2
    return {"grid": plan.grid.as_dict(), "tissue_tiles": n,
            "scored": status.count("scored"), "empty": status.count("empty"),
            "failed": len(failed), "failed_tiles": failed,
            "skipped_pct": round(100.0 * len(failed) / max(n, 1), 2),
            "skipped_area_mm2": round(len(failed) * area, 3),
            "max_failed_pct": MAX_FAILED_TILE_PCT,
            "note": ("cells belong to the tile whose core holds their nucleus centroid; tiles "
                     "overlap by the margin, so no cell is cut or counted twice")}


def _assumptions(plan) -> list[str]:
    s = plan.slide
    out = [f"analysis at {s['analysis_pixel_size_um']:g} µm/px (pyramid level "
           f"{s['analysis_level']}, area-averaged)",
           "stain vectors, glass level and nucleus threshold fixed once for the slide "
           "(see slide_parameters), not per tile",
           "cells in the GeoJSON are drawn as 12-gons of their area around the nucleus "
           "centroid, not traced outlines",
           "evidence.quality (blur, saturation, counterstain) is measured on the parameter "
           "sample, not on every tile"]
    if s["pixel_size_assumed"]:
        out.insert(0, f"pixel size ASSUMED: {s['pixel_size_um']:g} µm/px (--assume-mpp); "
                      "the slide records none")
    return out


def _document(plan, totals, heter: dict, tiles: dict, run: dict, *, guideline: str,
              min_intense_pct: float) -> dict[str, Any]:
    from her2kit.pipelines.ihc import ihc_document

    s = plan.slide
    doc = ihc_document(totals, image=plan.slide_path, pixel_size_um=s["pixel_size_um"],
                       pixel_size_source=s["pixel_size_source"], guideline=guideline,
                       overlay="heatmap.png", min_intense_pct=min_intense_pct)
    doc["kind"] = "score-slide"
    if plan.calibration is not None:
        doc["evidence"]["calibration"] = plan.calibration
    doc["evidence"]["heterogeneity"] = heter["statement"]
    doc["pixel_size_assumed"] = s["pixel_size_assumed"]
    doc["slide"] = dict(s)
    doc["assumptions"] = _assumptions(plan)
    doc["slide_parameters"] = dict(plan.slide_options.evidence)
    doc["tiles"] = tiles
    doc["cells"] = {"detected": totals.n_cells_detected, "counted": totals.n_cells_counted,
                    "table": "cells.parquet", "geojson": "cells.geojson.gz"}
    doc["roi"] = plan.roi is not None
    check = plan.stain_check
    doc["stain_check"] = None if check is None else {
        "eosin_hue_pct": round(100 * check.eosin_fraction, 1),
        "dab_hue_pct": round(100 * check.dab_fraction, 1),
        "white_point_source": check.white_point_source}
    doc["heterogeneity"] = heter
    doc["executor"] = run["executor"]
    return doc


def _geojson(table: dict, level0_um: float) -> bytes:
    from her2kit.imaging.ihc.membrane import MEMBRANE_CLASSES
    from her2kit.io.export import _QUPATH_NAMES
    from her2kit.io.slide_parts import cells_geojson_gz
    from her2kit.viz.colors import CLASS_COLORS

    return cells_geojson_gz(table, level0_pixel_size_um=level0_um, class_names=MEMBRANE_CLASSES,
                            qupath_names=_QUPATH_NAMES, class_colors=CLASS_COLORS)


def finish_slide(plan, out_dir: Path, run: dict, *, guideline: str, min_intense_pct: float,
                 t0: float) -> tuple[dict[str, Any], list[Path]]:
    """Merge the parts and write the run's final files; returns the document and paths."""
    from her2kit.io.slide_parts import atomic_outputs, table_parquet_bytes
    from her2kit.pipelines.slide_merge import (
        HEATMAP_MIN_CELLS,
        HETEROGENEITY_BLOCK_UM,
        HETEROGENEITY_MIN_CELLS,
        block_scores,
        counted_cells,
        heatmap_png,
        heterogeneity,
        merge_parts,
        slide_totals,
    )
    from her2kit.viz.slide import SCORE_COLORS

    tm = time.perf_counter()
    indices = [t.index for t in plan.grid.tiles
               if t.index not in {f["tile"] for f in run["failed"]}]
    cols, metas = merge_parts(out_dir, indices)
    counted = counted_cells(cols, plan.roi)
    totals = slide_totals(cols, counted, plan=plan, roi_used=plan.roi is not None)
    size, l0 = plan.slide["dimensions_px"], plan.level0_um
    kw = {"level0_um": l0, "size_px": size, "guideline": guideline,
          "min_intense_pct": min_intense_pct}
    tiles = _tiles_block(plan, metas, run["failed"])
    # The IHC document refuses a slide without counted cells (no score is not "IHC 0").
    doc = _document(plan, totals, {"statement": ""}, tiles, run, guideline=guideline,
                    min_intense_pct=min_intense_pct)
    score = doc["ihc"]["score"]
    het_blocks = block_scores(cols, counted, block_um=HETEROGENEITY_BLOCK_UM,
                              min_cells=HETEROGENEITY_MIN_CELLS, **kw)
    heter = heterogeneity(het_blocks, slide_score=score, block_um=HETEROGENEITY_BLOCK_UM,
                          n_counted=totals.n_cells_counted, min_cells=HETEROGENEITY_MIN_CELLS)
    doc["heterogeneity"] = heter
    doc["evidence"]["heterogeneity"] = heter["statement"]
    if plan.slide_options.options.erythrocyte_exclusion:
        # Parts written before this count existed read as unknown, not as 0.
        reds = [m.get("erythrocytes_excluded") for m in metas]
        doc["evidence"]["erythrocyte_cells_excluded"] = (
            None if any(r is None for r in reds) else sum(int(r) for r in reds))
    hb_um = heatmap_block_um(size, l0)
    heat = block_scores(cols, counted, block_um=hb_um, min_cells=HEATMAP_MIN_CELLS, **kw)
    table = _table(cols, counted, l0)
    files = {"cells.parquet": table_parquet_bytes(table),
             "cells.geojson.gz": _geojson(table, l0),
             "heatmap.png": heatmap_png(plan, heat, block_um=hb_um, score=score)}
    names = [*SCORE_COLORS, None]  # index -1: too few cells
    doc["heatmap"] = {"file": "heatmap.png", "block_um": hb_um, "min_cells": HEATMAP_MIN_CELLS,
                      "score_grid": [[names[i] for i in row] for row in heat["score_idx"].tolist()],
                      "note": "score_grid[row][col]: the local IHC score of the block at "
                              "(col, row) × block_um from the slide's top-left corner"}
    read_s = sum(float(m.get("read_s", 0)) for m in metas)
    score_s = sum(float(m.get("score_s", 0)) for m in metas)
    doc["timing"] = {"wall_s": None, "plan_s": round(run["plan_s"], 3),
                     "tiles_s": round(run["tiles_s"], 3),
                     "tile_read_s_sum": round(read_s, 3), "tile_score_s_sum": round(score_s, 3),
                     "write_parts_s": round(run["write_parts_s"], 3),
                     "merge_s": round(time.perf_counter() - tm, 3),
                     "tiles_scored_now": run["tiles_scored_now"],
                     "tiles_resumed": run["tiles_resumed"]}
    doc["timing"]["wall_s"] = round(time.perf_counter() - t0, 3)
    text = json.dumps(doc, indent=2, ensure_ascii=False)
    written = atomic_outputs(out_dir, [("slide.json", text.encode()), *files.items()])
    return doc, written
