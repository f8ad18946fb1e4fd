"""``her2kit score-slide``: score a whole slide tile by tile (local workers or a Dask
cluster), with a progress bar on a terminal, and print the summary or the JSON."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Annotated

import typer

from her2kit.cli.options import GuidelineOption, JsonOption, RoiOption

__all__ = ["progress_bar", "score_slide"]


def _default_out(slide: str) -> str:
    return f"{Path(slide).name}.score-slide"


def progress_bar(enabled: bool, console=None):
    """A rich progress bar on standard error (tiles done of total, cells, running score,
    time left) and its update function; ``(None, None)`` when not ``enabled``."""
    if not enabled:
        return None, None
    from rich.console import Console
    from rich.progress import (
        BarColumn,
        MofNCompleteColumn,
        Progress,
        TextColumn,
        TimeRemainingColumn,
    )

    bar = Progress(TextColumn("tiles"), BarColumn(), MofNCompleteColumn(),
                   TextColumn("{task.fields[cells]} cells, running score {task.fields[score]}"),
                   TimeRemainingColumn(), transient=False,
                   console=console or Console(stderr=True))
    task = bar.add_task("tiles", total=None, cells=0, score="-")

    def update(p) -> None:
        bar.update(task, total=p.total, completed=p.done, cells=p.cells, score=p.score or "-")

    return bar, update


def _print_summary(doc: dict, written) -> None:
    from rich.console import Console
    from rich.markup import escape

    out = Console(highlight=False, soft_wrap=True)
    ihc, ev, tiles = doc["ihc"], doc["evidence"], doc["tiles"]
    s = doc["slide"]
    out.print(f"[bold]{escape(doc['image'])}[/bold] ({s['pixel_size_um']:g} µm/px from "
              f"{escape(s['pixel_size_source'])}; analysed at {s['analysis_pixel_size_um']:g}"
              " µm/px)")
    out.print(f"IHC score: [bold]{ihc['score']}[/bold] — {escape(ihc['label'])}")
    out.print(f"  cells counted {ev['cells_counted']} of {ev['cells_detected']} detected"
              + ("" if ev["roi_used"] else " (no ROI: every detected cell counted)"))
    for name, pct in ev["percent_all"].items():
        out.print(f"  {name.replace('_', ' '):<30} {pct:6.2f}%  ({ev['counts'][name]} cells)")
    out.print(f"  H-score {ev['h_score']:g}")
    out.print(f"  tiles: {tiles['scored']} scored, {tiles['empty']} empty, {tiles['failed']} "
              f"could not be decoded ({tiles['skipped_pct']:g} % skipped)")
    out.print(f"  {escape(doc['heterogeneity']['statement'])}")
    for a in doc["assumptions"]:
        out.print(f"  assumption: {escape(a)}")
    out.print(f"  {doc['timing']['wall_s']:g} s on {doc['executor']['kind']} "
              f"({doc['executor']['workers']} workers)")
    for p in written:
        out.print(f"wrote {escape(str(p))}")


def score_slide(
    slide: Annotated[str, typer.Argument(metavar="SLIDE", help="Whole-slide image (SVS, NDPI, "
                                         "TIFF, OME-TIFF, DICOM folder, ...).")],
    roi: RoiOption = None,
    out: Annotated[str | None, typer.Option(help="Run folder (default SLIDE-NAME.score-slide "
                                            "here).")] = None,
    workers: Annotated[int | None, typer.Option(help="Local worker processes (default: the "
                                                "CPUs available).")] = None,
    scheduler: Annotated[str | None, typer.Option(help="A running Dask scheduler, "
                                                  "tcp://HOST:PORT.")] = None,
    resume: Annotated[bool, typer.Option(help="Finish the run in --out, redoing only the "
                                         "tiles it lacks.")] = False,
    assume_mpp: Annotated[float | None, typer.Option(help="µm per pixel at level 0, for a slide "
                                                     "that records none (recorded).")] = None,
    calibration: Annotated[str | None, typer.Option(help="A `her2kit calibrate` file, or "
                                                    "'default'.")] = None,
    tissue: Annotated[str, typer.Option(help="breast or gastric (the calibration's rule "
                                        "set).")] = "breast",
    min_intense_pct: Annotated[float, typer.Option(help="Evidence floor (%) for the 'intense "
                                                   "complete in ≤10%' 2+ pattern.")] = 1.0,
    tile_um: Annotated[float | None, typer.Option(help="Tile core side in µm (default 1000; "
                                                  "rounded to 20 µm).")] = None,
    guideline: GuidelineOption = "asco-cap-2018",
    as_json: JsonOption = False,
) -> None:
    """Score a whole HER2 IHC slide tile by tile; resumable, local or on a Dask cluster."""
    from her2kit.pipelines.score_ihc import check_mpp
    from her2kit.pipelines.score_slide import score_slide as run

    check_mpp(assume_mpp)
    if tile_um is not None and not 100 <= tile_um <= 4000:
        from her2kit.errors import Her2kitInputError

        raise Her2kitInputError(f"expected 100–4000 µm, got {tile_um:g}", field="--tile-um")
    bar, update = progress_bar(sys.stderr.isatty() and not as_json)
    try:
        if bar is not None:
            bar.start()
        job = run(slide, out=out or _default_out(slide), roi=roi, workers=workers,
                  scheduler=scheduler, resume=resume, assume_mpp_um=assume_mpp,
                  calibration=calibration, tissue=tissue, guideline=guideline,
                  min_intense_pct=min_intense_pct, core_um=tile_um, on_progress=update)
    finally:
        if bar is not None:
            bar.stop()
    if as_json:
        typer.echo(json.dumps(job.document, indent=2, ensure_ascii=False))
    else:
        _print_summary(job.document, job.written)
