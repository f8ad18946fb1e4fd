"""``her2kit synth-ihc``: a synthetic HER2 IHC region with its per-cell truth table."""

from __future__ import annotations

from typing import Annotated

import typer

from her2kit.cli.options import check_range
from her2kit.errors import Her2kitInputError

__all__ = ["synth_ihc"]


def synth_ihc(
    out: Annotated[str, typer.Argument(metavar="OUT.png", help="Image to write (.png or .tif).")],
    score: Annotated[str, typer.Option(help="True IHC score to render: 0, 0+, 1+, 2+, 3+.")]
    = "2+",
    size: Annotated[int, typer.Option(help="Width and height in pixels.")] = 1024,
    mpp: Annotated[float, typer.Option(help="µm per pixel.")] = 0.5,
    seed: Annotated[int, typer.Option(help="Random seed (same seed, same image).")] = 0,
    jpeg_quality: Annotated[
        int | None, typer.Option(help="Pass the image through JPEG at this quality.")
    ] = None,
) -> None:
    """Render a synthetic HER2 IHC region with known per-cell truth (for demos and tests).

    Writes OUT and OUT's name with ``-truth.csv`` (one row per cell with its true class).
    """
    from pathlib import Path

    from her2kit.io.atomic import write_files_atomically
    from her2kit.io.export import csv_bytes, png_bytes, tiff_bytes
    from her2kit.synthetic.ihc import SCORES, generate_ihc_region

    check_range(seed, 0, None, "--seed")
    check_range(jpeg_quality, 1, 100, "--jpeg-quality")
    if score not in SCORES:
        raise Her2kitInputError(f"unknown score {score!r}; use one of {', '.join(SCORES)}",
                                field="--score")
    path = Path(out)
    if path.suffix.lower() not in (".png", ".tif", ".tiff"):
        raise Her2kitInputError(f"{out}: use a .png or .tif file", field="OUT")
    region = generate_ihc_region(shape_px=(size, size), pixel_size_um=mpp, target_score=score,
                                 seed=seed, jpeg_quality=jpeg_quality)
    image = (png_bytes(region.image) if path.suffix.lower() == ".png"
             else tiff_bytes(region.image, pixel_size_um=mpp))
    columns: dict[str, list] = {}
    for name, col in region.cells.items():
        if name == "centroid_rc":  # one (row, col) pair per cell → two columns in pixels
            columns["centroid_row_px"] = [round(float(r), 2) for r, _ in col]
            columns["centroid_col_px"] = [round(float(c), 2) for _, c in col]
        else:
            columns[name] = [v.item() if hasattr(v, "item") else v for v in col]
    table = csv_bytes(list(columns), zip(*columns.values(), strict=True))
    truth = path.with_name(path.stem + "-truth.csv")
    write_files_atomically(path.parent, {path.name: image, truth.name: table})
    typer.echo(f"wrote {path} ({size}×{size} px, {mpp:g} µm/px, true score {score}) and {truth}")
    pct = ", ".join(f"{k} {v:.1f}%" for k, v in region.percent.items())
    typer.echo(f"true percentages: {pct}")
