"""``her2kit synth-ish``: a synthetic ISH field with its per-nucleus truth table."""

from __future__ import annotations

from typing import Annotated

import typer

from her2kit.cli.options import check_range
from her2kit.errors import Her2kitInputError

__all__ = ["synth_ish"]


def synth_ish(
    out: Annotated[str, typer.Argument(metavar="OUT", help="FISH: .ome.tif; brightfield: .png.")],
    assay: Annotated[str, typer.Option(help="fish, dual-ish or cish.")] = "fish",
    scenario: Annotated[
        str, typer.Option(help="normal, polysomy, amplified, or group1 … group5.")
    ] = "group1",
    nuclei: Annotated[int, typer.Option(help="Number of nuclei.")] = 30,
    size: Annotated[int, typer.Option(help="Width and height in pixels.")] = 1024,
    mpp: Annotated[float, typer.Option(help="µm per pixel.")] = 0.2,
    seed: Annotated[int, typer.Option(help="Random seed (same seed, same field).")] = 0,
) -> None:
    """Render a synthetic ISH field with known signals per nucleus (for demos and tests).

    FISH is written as an OME-TIFF with channels dapi, her2, cep17 (in that order) and its
    pixel size; brightfield Dual ISH / CISH as PNG. A ``-truth.csv`` lists every nucleus
    with its true HER2 and CEP17 counts.
    """
    from pathlib import Path

    from her2kit.io.atomic import write_files_atomically
    from her2kit.io.export import csv_bytes, fish_ome_tiff_bytes, png_bytes
    from her2kit.synthetic.ish import (
        SCENARIOS,
        generate_brightfield_ish_field,
        generate_fish_field,
    )

    check_range(seed, 0, None, "--seed")
    # As synth-ihc: 8000² px is 64 Mpx; 100000² would allocate tens of GB first.
    check_range(size, 32, 8000, "--size", unit=" px per side")
    if scenario not in SCENARIOS:
        raise Her2kitInputError(f"unknown scenario {scenario!r}; use one of "
                                f"{', '.join(SCENARIOS)}", field="--scenario")
    path = Path(out)
    if assay == "fish":
        if not path.name.lower().endswith((".ome.tif", ".ome.tiff")):
            raise Her2kitInputError(f"{out}: FISH fields are written as .ome.tif", field="OUT")
        field_ = generate_fish_field(shape_px=(size, size), pixel_size_um=mpp, n_nuclei=nuclei,
                                     scenario=scenario, seed=seed)
        image = fish_ome_tiff_bytes(field_.image, pixel_size_um=mpp,
                                    channel_names=field_.channel_names)
        pairs = ", ".join(f"{n}={i}" for i, n in enumerate(field_.channel_names))
        channel_note = f"channels {pairs}"
    elif assay in ("dual-ish", "cish"):
        if path.suffix.lower() != ".png":
            raise Her2kitInputError(f"{out}: brightfield fields are written as .png", field="OUT")
        field_ = generate_brightfield_ish_field(shape_px=(size, size), pixel_size_um=mpp,
                                                n_nuclei=nuclei, scenario=scenario, seed=seed,
                                                assay=assay)
        image = png_bytes(field_.image)
        channel_note = "RGB brightfield"
    else:
        raise Her2kitInputError(f"unknown assay {assay!r}; use fish, dual-ish or cish",
                                field="--assay")
    table = csv_bytes(list(field_.nuclei.dtype.names),
                      ([v.item() if hasattr(v, "item") else v for v in row]
                       for row in field_.nuclei))
    base = path.name.split(".")[0]
    truth = path.with_name(base + "-truth.csv")
    write_files_atomically(path.parent, {path.name: image, truth.name: table})
    typer.echo(f"wrote {path} ({assay}, {scenario}, {size}×{size} px, {mpp:g} µm/px, "
               f"{channel_note}) and {truth}")
