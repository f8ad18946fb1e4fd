"""``her2kit synth-slide``: a large synthetic HER2 IHC whole slide with per-region truth."""

from __future__ import annotations

import re
from typing import Annotated

import typer

from her2kit.cli.options import check_range, require_extra
from her2kit.errors import Her2kitInputError

__all__ = ["parse_size", "synth_slide"]


def parse_size(text: str) -> tuple[int, int]:
    """``"50000x40000"`` -> (50000, 40000) (width, height in px); one number is square.

    >>> parse_size("50000x40000"), parse_size("4096")
    ((50000, 40000), (4096, 4096))
    """
    m = re.fullmatch(r"\s*(\d+)\s*(?:[x×X]\s*(\d+))?\s*", text)
    if not m:
        raise Her2kitInputError(f"expected WIDTHxHEIGHT in px (e.g. 50000x50000), got {text!r}",
                                field="--size")
    w = int(m.group(1))
    return w, int(m.group(2)) if m.group(2) else w


def synth_slide(
    out: Annotated[str, typer.Argument(
        metavar="OUT.svs", help="Slide to write: .svs (Aperio-style), .tif (generic tiled "
        "TIFF) or .ome.tif; the truth goes to OUT's stem + -truth.geojson.")],
    size: Annotated[str, typer.Option(help="Level-0 size WIDTHxHEIGHT, px.")] = "50000x50000",
    pixel_size_um: Annotated[float, typer.Option("--pixel-size-um", help="µm per pixel.")]
    = 0.25,
    layout: Annotated[str, typer.Option(
        help="Regions: 3+in1+, 2+in0, 3+2+in1+, or one score for the whole tissue "
        "(0, 0+, 1+, 2+, 3+).")] = "3+in1+",
    seed: Annotated[int, typer.Option(help="Random seed (same seed, same slide).")] = 0,
    bank_tiles: Annotated[int, typer.Option(
        help="Rendered 1024 px IHC regions per slide region (variety against speed).")] = 6,
    jpeg_quality: Annotated[int, typer.Option(help="JPEG quality of the tiles.")] = 90,
) -> None:
    """Write a pyramidal, tiled synthetic HER2 IHC slide: tissue on glass in regions of
    known IHC score, each cell's class known and counted per region (for demos, tests and
    benchmarks of score-slide)."""
    require_extra("slide", "tifffile", "imagecodecs")
    from her2kit.synthetic.slide import write_synthetic_slide

    check_range(seed, 0, None, "--seed")
    check_range(bank_tiles, 1, 64, "--bank-tiles")
    check_range(jpeg_quality, 1, 100, "--jpeg-quality")
    slide = write_synthetic_slide(out, size_wh=parse_size(size), pixel_size_um=pixel_size_um,
                                  layout=layout, seed=seed, bank_tiles=bank_tiles,
                                  jpeg_quality=jpeg_quality)
    w, h = slide.size_wh
    typer.echo(f"wrote {slide.path} ({w}x{h} px, {slide.pixel_size_um:g} µm/px, "
               f"{len(slide.written.level_sizes_wh)} levels, "
               f"{slide.written.file_bytes / 1e6:.1f} MB, {slide.elapsed_s:.1f} s) and "
               f"{slide.truth_path}")
    for r in slide.regions:
        pct = ", ".join(f"{k} {v:.1f}%" for k, v in r.percent.items())
        typer.echo(f"{r.name}: target {r.target_score}, counted {r.score or '-'} "
                   f"({sum(r.cell_counts.values())} cells, {r.tissue_area_mm2:.2f} mm² of "
                   f"tissue: {pct})")
