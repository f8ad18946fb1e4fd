"""``her2kit count-ish``: check the options, run :func:`her2kit.pipelines.count_ish.count_ish`,
write its outputs all-or-nothing, print the JSON or the summary."""

from __future__ import annotations

from typing import Annotated, Any

import typer

from her2kit.cli.options import (
    FileMppOption,
    GuidelineOption,
    JsonOption,
    OutJsonOption,
    OverlayOption,
    RoiOption,
    channel_map,
    check_suffixes,
    finish_image_command,
    progress,
    require_table_extra,
)
from her2kit.errors import Her2kitInputError

__all__ = ["count_ish"]


def _field_options(images: list[str], *, assay: str, channels: str | None, stains: str | None,
                   dapi: str | None, her2: str | None, cep17: str | None, roi: str | None,
                   bit_depth: int | None) -> dict[str, Any]:
    """Check how the fields are given, in the order the messages have always come, and
    return the pipeline's field options (channel map or channel files, or stain map)."""
    separate = [dapi, her2, cep17]
    if len(images) > 1 and roi is not None:
        raise Her2kitInputError("--roi outlines one image; count several fields without it",
                                field="--roi")
    if len(set(images)) != len(images):
        raise Her2kitInputError("the same IMAGE is given twice", field="IMAGE")
    if assay == "fish":
        if any(separate):
            if images or not all(separate):
                raise Her2kitInputError("give either IMAGE with --channels, or all three of "
                                        "--dapi, --her2 and --cep17", field="IMAGE")
            return {"channel_files": {"dapi": dapi, "her2": her2, "cep17": cep17}}
        mapping = channel_map(channels)
        if not images or mapping is None:
            raise Her2kitInputError(
                "FISH needs IMAGE and --channels (e.g. her2=R,cep17=G,dapi=B): her2kit never "
                "guesses which colour is which probe", field="--channels")
        return {"channels": mapping}
    if not images or any(separate) or channels is not None or bit_depth is not None:
        raise Her2kitInputError(f"{assay} takes RGB brightfield IMAGEs (no channel "
                                "or bit-depth options)", field="IMAGE")
    from her2kit.pipelines.count_ish import stain_map

    return {"stains": stain_map(stains, assay)}


def count_ish(
    images: Annotated[
        list[str] | None,
        typer.Argument(metavar="IMAGE", help="FISH TIFF/RGB composite or brightfield; "
                       "several fields of one slide are counted as one population; or one "
                       "brightfield whole slide (SVS, NDPI, DICOM, pyramidal TIFF) with "
                       "--roi regions, read at full resolution."),
    ] = None,
    assay: Annotated[str, typer.Option(help="fish, dual-ish or cish.")] = "fish",
    channels: Annotated[
        str | None, typer.Option(help="FISH channel map: her2=R,cep17=G,dapi=B or dapi=0,...")
    ] = None,
    stains: Annotated[
        str | None,
        typer.Option(help="Brightfield probe colours, e.g. her2=silver,cep17=fast_red (the "
                     "Ventana default for dual-ish; cish: her2=dab)."),
    ] = None,
    dapi: Annotated[str | None, typer.Option(help="FISH: DAPI channel file.")] = None,
    her2: Annotated[str | None, typer.Option(help="FISH: HER2 channel file.")] = None,
    cep17: Annotated[str | None, typer.Option(help="FISH: CEP17 channel file.")] = None,
    roi: RoiOption = None,
    mpp: FileMppOption = None,
    bit_depth: Annotated[
        int | None,
        typer.Option(help="FISH: the camera's bit depth, checked against the data (default: "
                     "the OME SignificantBits, if stated)."),
    ] = None,
    as_json: JsonOption = False,
    overlay: OverlayOption = None,
    nuclei: Annotated[
        str | None, typer.Option(help="Write the per-nucleus table (.csv or .parquet).")
    ] = None,
    out_json: OutJsonOption = None,
    guideline: GuidelineOption = "asco-cap-2018",
) -> None:
    """Count HER2 and CEP17 signals per nucleus and give the guideline's ISH call.

    Several IMAGEs (fields of one slide) are counted as one population of nuclei, as are
    the --roi polygons of one whole slide.
    """
    from her2kit.cli.render import print_ish_image_summary
    from her2kit.guideline import get_guideline
    from her2kit.pipelines.count_ish import check_assay
    from her2kit.pipelines.count_ish import count_ish as run_count_ish

    get_guideline(guideline)
    check_assay(assay)
    check_suffixes((overlay, (".png",), "--overlay"), (nuclei, (".csv", ".parquet"), "--nuclei"),
                   (out_json, (".json",), "--out"))
    images = list(images or [])
    fields = _field_options(images, assay=assay, channels=channels, stains=stains, dapi=dapi,
                            her2=her2, cep17=cep17, roi=roi, bit_depth=bit_depth)
    require_table_extra(nuclei)
    from her2kit.io.paths import refuse_output_clashes
    from her2kit.pipelines.count_ish import field_paths

    n_fields = len(images) or 1
    refuse_output_clashes(
        [("IMAGE", im) for im in images] + [("--dapi", dapi), ("--her2", her2),
                                             ("--cep17", cep17), ("--roi", roi)],
        [("--overlay", p) for p in field_paths(overlay, n_fields)]
        + [("--nuclei", nuclei), ("--out", out_json)])
    job = run_count_ish(images, assay=assay, **fields, roi=roi, mpp=mpp, bit_depth=bit_depth,
                        guideline=guideline, overlay=overlay, nuclei=nuclei,
                        progress=lambda items: progress(items, "counting fields"))
    finish_image_command(job.document, dict(job.outputs), out_json=out_json, as_json=as_json,
                         printer=print_ish_image_summary)
