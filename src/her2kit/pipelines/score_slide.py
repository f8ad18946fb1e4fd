"""The ``score-slide`` job: plan, tiles through :func:`~her2kit.pipelines.runner.open_executor`
with each tile's part written as it finishes, then the merged outputs (see
:mod:`her2kit.pipelines.slide`).

Files in the run folder (``out``): ``manifest.json``, ``parts/``, then ``slide.json``,
``cells.parquet``, ``cells.geojson.gz`` and ``heatmap.png``, written all-or-nothing at the
end. The caller (the CLI) prints; nothing here prints or exits.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from her2kit.errors import Her2kitInputError, ImageInputError

__all__ = ["OUTPUT_NAMES", "ScoreSlideJob", "run_manifest", "score_slide"]

#: The final files of a run, in the order they are listed.
OUTPUT_NAMES = ("slide.json", "cells.parquet", "cells.geojson.gz", "heatmap.png")


@dataclass(frozen=True, eq=False)
class ScoreSlideJob:
    """What :func:`score_slide` produced.

    Attributes
    ----------
    document : dict
        The slide JSON (also written as ``slide.json``).
    written : tuple of Path
        The final files written.
    out_dir : Path
    """

    document: dict[str, Any]
    written: tuple[Path, ...]
    out_dir: Path


def _plain(value):
    return json.loads(json.dumps(value, default=lambda v: np.asarray(v).tolist()))


def _options_record(o) -> dict[str, Any]:
    from dataclasses import asdict, fields

    rec = {f.name: getattr(o, f.name) for f in fields(o) if f.name != "thresholds"}
    rec["thresholds"] = asdict(o.thresholds)
    return _plain(rec)


def run_manifest(plan, *, guideline: str, min_intense_pct: float) -> dict[str, Any]:
    """The parameters a run's parts depend on; a resumed run must have the same."""
    import hashlib

    from her2kit import __version__

    p = Path(plan.slide_path)
    size = p.stat().st_size if p.is_file() else sum(
        f.stat().st_size for f in p.iterdir() if f.is_file())
    roi = None if plan.roi is None else hashlib.sha256(
        json.dumps(_plain(plan.roi)).encode()).hexdigest()
    return _plain({
        "kind": "score-slide-run", "her2kit_version": __version__,
        "slide": {"path": str(p.resolve()), "size_bytes": size, **dict(plan.slide)},
        "assume_mpp_um": plan.assume_mpp_um, "grid": plan.grid.as_dict(),
        "tiles": [t.index for t in plan.grid.tiles], "roi_sha256": roi,
        "options": _options_record(plan.slide_options.options),
        "slide_parameters": dict(plan.slide_options.evidence),
        "calibration": plan.calibration, "guideline": guideline,
        "min_intense_pct": min_intense_pct,
    })


def _prepare_out(out: Path, manifest: dict, *, resume: bool) -> set[int]:
    """Check or write the manifest; the tiles already done (their parts)."""
    from her2kit.io.slide_parts import existing_parts, read_manifest, write_manifest
    from her2kit.pipelines.slide import check_run_parameters

    if out.exists() and not out.is_dir():
        raise Her2kitInputError(f"{out} is not a folder", field="--out")
    found = read_manifest(out)
    if found is None and out.is_dir() and any(
            (out / n).exists() for n in (*OUTPUT_NAMES, "parts")):
        raise Her2kitInputError(f"{out} holds score-slide outputs without a manifest; give "
                                "another --out", field="--out")
    check_run_parameters(found, manifest, out_dir=out, resume=resume)
    if found is None:
        write_manifest(out, manifest)
    return existing_parts(out) & set(manifest["tiles"])


def _run_tiles(plan, out: Path, done: set[int], *, workers, scheduler, on_progress,
               score_of) -> dict[str, Any]:
    """Score the tiles without a part, writing each part as it finishes."""
    from her2kit.io.slide_parts import write_part
    from her2kit.pipelines.runner import open_executor
    from her2kit.pipelines.slide import iter_tile_results, progress_reporter
    from her2kit.pipelines.slide_merge import merge_parts

    todo = [t for t in plan.grid.tiles if t.index not in done]
    cols, _ = merge_parts(out, sorted(done))  # the running totals include earlier parts
    counts = dict(zip(*np.unique(cols["class_name"], return_counts=True), strict=True))
    counts = {str(k): int(v) for k, v in counts.items()}
    report = progress_reporter(len(plan.grid.tiles), len(done), on_progress, score_of)
    n_cells, n_done, failed, write_s = int(cols["x_px"].size), len(done), [], 0.0
    report(n_done, n_cells, counts)
    t0 = time.perf_counter()
    with open_executor(workers=workers, scheduler=scheduler) as ex:
        info = ex.info
        for res in iter_tile_results(plan.slide_path, todo, executor=ex,
                                     assume_mpp_um=plan.assume_mpp_um,
                                     pixel_size_um=plan.grid.pixel_size_um,
                                     options=plan.slide_options.options,
                                     max_in_flight=max(4, 2 * max(info.workers, 1))):
            n_done += 1
            if res.status == "failed":
                failed.append({"tile": res.index, "reason": res.reason})
            else:
                tw = time.perf_counter()
                write_part(out, res.index, res.columns, metadata={
                    "status": res.status, "reason": res.reason or "",
                    "read_s": f"{res.read_s:.4f}", "score_s": f"{res.score_s:.4f}",
                    "erythrocytes_excluded": str(res.erythrocytes_excluded)})
                write_s += time.perf_counter() - tw
                n_cells += res.n_cells
                for k, v in zip(*np.unique(res.columns["class_name"], return_counts=True),
                                strict=True):
                    counts[str(k)] = counts.get(str(k), 0) + int(v)
            report(n_done, n_cells, counts)
    return {"failed": sorted(failed, key=lambda f: f["tile"]), "tiles_scored_now": len(todo),
            "tiles_resumed": len(done), "tiles_s": time.perf_counter() - t0,
            "write_parts_s": write_s,
            "executor": {"kind": info.kind, "workers": info.workers,
                         "scheduler": info.scheduler}}


def _check_failures(plan, failed: list) -> None:
    from her2kit.pipelines.slide import MAX_FAILED_TILE_PCT

    n = len(plan.grid.tiles)
    pct = 100.0 * len(failed) / max(n, 1)
    if pct > MAX_FAILED_TILE_PCT:
        raise ImageInputError(
            f"{plan.slide_path}: {len(failed)} of {n} tissue tiles ({pct:.1f} %) could not be "
            f"decoded, above the {MAX_FAILED_TILE_PCT:g} % limit (first: {failed[0]['reason']})")


def score_slide(slide, *, out, roi=None, workers: int | None = None,
                scheduler: str | None = None, resume: bool = False,
                assume_mpp_um: float | None = None, calibration=None,
                tissue: str = "breast", guideline: str = "asco-cap-2018",
                min_intense_pct: float = 1.0, core_um: float | None = None,
                on_progress: Callable | None = None) -> ScoreSlideJob:
    """Score a whole slide tile by tile and write its outputs into ``out``.

    Parameters
    ----------
    slide : str or Path
        A whole-slide image (:func:`her2kit.io.slides.open_slide`).
    out : str or Path
        The run folder (created; must not hold another run unless ``resume``).
    roi : str or Path, optional
        GeoJSON of invasive tumour polygons (level-0 px): only tiles meeting it are read,
        only cells inside it are counted.
    workers, scheduler : optional
        Local worker processes (default: the CPUs available), or a Dask scheduler
        address (:func:`her2kit.pipelines.runner.open_executor`).
    resume : bool, optional
        Finish the run in ``out`` (same parameters), scoring only tiles without a part.
    assume_mpp_um : float, optional
        Level-0 µm/px for a slide that records none (recorded in every output).
    calibration : str or Path, optional
        A ``her2kit calibrate`` file or ``"default"`` (as ``score-ihc``).
    tissue, guideline, min_intense_pct : optional
        As ``score-ihc``.
    core_um : float, optional
        Tile core side (µm; default :data:`her2kit.imaging.tiling.DEFAULT_CORE_UM`).
    on_progress : callable, optional
        Called with a :class:`~her2kit.pipelines.slide.SlideProgress` after each tile.

    Returns
    -------
    ScoreSlideJob

    Raises
    ------
    ImageInputError
        Unreadable slide, no pixel size, fluorescence or H&E, no tissue, too many tiles
        that do not decode.
    Her2kitInputError
        Bad ROI, calibration, guideline or ``out``; a resumed run with other parameters.
    ServiceUnavailableError
        The scheduler cannot be reached.
    OutputError
        A file cannot be written (a full disk): the parts written so far stay, whole, for
        ``resume``.
    """
    from her2kit.guideline import get_guideline
    from her2kit.pipelines.slide import plan_slide
    from her2kit.pipelines.slide_merge import score_of_counts
    from her2kit.pipelines.slide_output import finish_slide

    t0 = time.perf_counter()
    get_guideline(guideline)
    if not 0 <= min_intense_pct <= 10:
        raise Her2kitInputError(f"expected 0–10, got {min_intense_pct:g}",
                                field="--min-intense-pct")
    plan = plan_slide(slide, roi=roi, assume_mpp_um=assume_mpp_um, calibration=calibration,
                      tissue=tissue, core_um=core_um)
    t_plan = time.perf_counter() - t0
    out_dir = Path(out)
    done = _prepare_out(out_dir, run_manifest(plan, guideline=guideline,
                                              min_intense_pct=min_intense_pct), resume=resume)
    run = _run_tiles(plan, out_dir, done, workers=workers, scheduler=scheduler,
                     on_progress=on_progress,
                     score_of=lambda c: score_of_counts(c, guideline=guideline,
                                                        min_intense_pct=min_intense_pct))
    _check_failures(plan, run["failed"])
    run["plan_s"] = t_plan
    doc, written = finish_slide(plan, out_dir, run, guideline=guideline,
                                min_intense_pct=min_intense_pct, t0=t0)
    return ScoreSlideJob(doc, tuple(written), out_dir)
