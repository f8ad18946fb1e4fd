"""``her2kit calibrate``: fit the IHC thresholds on a lab's labelled control images."""

from __future__ import annotations

import json
from typing import Annotated

import typer

from her2kit.cli.options import JsonOption, check_suffixes

__all__ = ["calibrate"]


def calibrate(
    controls_csv: Annotated[str, typer.Argument(
        metavar="CONTROLS_CSV", help="CSV of file, score, tissue (and optionally mpp).")],
    out: Annotated[str, typer.Option("--out", help="Write the calibration JSON here.")],
    quick: Annotated[bool, typer.Option(
        help="Score every 4th tissue tile of each image (a quick look, not for use).")] = False,
    as_json: JsonOption = False,
) -> None:
    """Fit the IHC membrane thresholds on labelled controls; print leave-one-out agreement."""
    from pathlib import Path

    from her2kit.io.atomic import write_paths_atomically
    from her2kit.pipelines.calibrate import calibrate_controls

    check_suffixes((out, (".json",), "--out"))
    cal = calibrate_controls(controls_csv, keep_every=4 if quick else 1,
                             progress=lambda name: typer.echo(f"measuring {name}", err=True))
    doc = cal.as_dict()
    text = json.dumps(doc, indent=2, ensure_ascii=False)
    write_paths_atomically({Path(out): text.encode()})
    if as_json:
        typer.echo(text)
        return
    for tissue, ev in doc["evidence"].items():
        n = ev["n_controls"]
        typer.echo(f"{tissue}: {n} controls; exact in-sample {ev['in_sample_exact']}/{n}, "
                   f"leave-one-out {ev['leave_one_out_exact']}/{n}; gross errors "
                   f"{ev['in_sample_gross_errors']} / {ev['leave_one_out_gross_errors']}")
        for c in ev["controls"]:
            typer.echo(f"  {c['score']:>3} -> {c['in_sample']:>3} (leave-one-out "
                       f"{c['leave_one_out']:>3})  {c['cells']:6d} cells  {c['file']}")
        t = doc["thresholds"][tissue]
        typer.echo("  thresholds: " + ", ".join(f"{k} {v:g}" for k, v in t.items()))
    typer.echo(f"wrote {out}")
