"""``her2kit score-ihc``: parse options, run :func:`her2kit.pipelines.score_ihc.score_ihc`,
write its outputs all-or-nothing, print the JSON or the summary."""

from __future__ import annotations

from typing import Annotated

import typer

from her2kit.cli.options import (
    GuidelineOption,
    JsonOption,
    OutJsonOption,
    OverlayOption,
    RoiOption,
    check_suffixes,
    finish_image_command,
    require_table_extra,
)

__all__ = ["score_ihc"]


def score_ihc(
    image: Annotated[str, typer.Argument(metavar="IMAGE", help="RGB brightfield PNG/JPEG/TIFF.")],
    roi: RoiOption = None,
    mpp: Annotated[
        str | None, typer.Option(help="µm per pixel, when the file does not say; 'auto': "
                                 "estimated from nucleus sizes (recorded as an assumption; "
                                 "refused when too uncertain).")
    ] = None,
    as_json: JsonOption = False,
    overlay: OverlayOption = None,
    cells: Annotated[
        str | None, typer.Option(help="Write per-cell measurements (.csv or .parquet).")
    ] = None,
    geojson: Annotated[
        str | None, typer.Option(help="Write QuPath-importable cells (.geojson).")
    ] = None,
    out_json: OutJsonOption = None,
    estimate_stains: Annotated[
        bool, typer.Option(help="Estimate stain vectors per image (default: standard H-DAB).")
    ] = False,
    min_intense_pct: Annotated[
        float, typer.Option(help="Evidence floor (%) for the 'intense complete in ≤10%' 2+ "
                            "pattern; 0 = literal guideline.")
    ] = 1.0,
    guideline: GuidelineOption = "asco-cap-2018",
    calibration: Annotated[
        str | None, typer.Option(help="A `her2kit calibrate` file, or 'default' (fitted on "
                                 "the shared real images); default: classical thresholds.")
    ] = None,
    tissue: Annotated[
        str, typer.Option(help="breast or gastric: the calibration's rule set.")
    ] = "breast",
) -> None:
    """Score HER2 IHC membranes cell by cell and give the guideline's IHC score."""
    from her2kit.cli.render import print_ihc_image_summary
    from her2kit.guideline import get_guideline
    from her2kit.pipelines.score_ihc import score_ihc as run_score_ihc

    get_guideline(guideline)
    mpp_value = _parse_mpp(mpp)
    check_suffixes((overlay, (".png",), "--overlay"), (cells, (".csv", ".parquet"), "--cells"),
                   (geojson, (".geojson", ".json"), "--geojson"), (out_json, (".json",), "--out"))
    require_table_extra(cells)
    from her2kit.io.paths import refuse_output_clashes

    refuse_output_clashes([("IMAGE", image), ("--roi", roi)],
                          [("--overlay", overlay), ("--cells", cells), ("--geojson", geojson),
                           ("--out", out_json)])
    job = run_score_ihc(image, mpp=mpp_value, roi=roi, estimate_stains=estimate_stains,
                        min_intense_pct=min_intense_pct, guideline=guideline,
                        overlay=overlay, cells=cells, geojson=geojson,
                        calibration=calibration, tissue=tissue)
    finish_image_command(job.document, dict(job.outputs), out_json=out_json, as_json=as_json,
                         printer=print_ihc_image_summary)


def _parse_mpp(text: str | None) -> float | str | None:
    """``--mpp``: a number of µm per pixel, or ``auto``."""
    from her2kit.errors import Her2kitInputError

    if text is None or text == "auto":
        return text
    try:
        return float(text)
    except ValueError:
        raise Her2kitInputError(f"expected a number of µm per pixel or 'auto', got {text!r}",
                                field="--mpp") from None
