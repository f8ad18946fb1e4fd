"""The ``her2kit`` command line: parse, call the library, render. Nothing else.

Every :class:`~her2kit.errors.Her2kitError` is caught in :func:`main` and
printed as one line, ``her2kit: error: <message>``, on standard error, with
exit status 2; nothing is printed on standard output then.
"""

from __future__ import annotations

import json
import sys
from typing import Annotated, Any

import typer

from her2kit import __version__
from her2kit.errors import Her2kitError, Her2kitInputError, ServiceUnavailableError

app = typer.Typer(
    name="her2kit",
    help="Guideline-faithful HER2 testing: decision support; a pathologist signs out.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
    rich_markup_mode=None,
)

EXIT_BAD_INPUT = 2
EXIT_OFFLINE = 3


def _require_extra(extra: str, *modules: str) -> None:
    """Fail with an install hint when an optional dependency group is missing."""
    import importlib.util

    missing = [m for m in modules if importlib.util.find_spec(m) is None]
    if missing:
        raise Her2kitError(
            f"this command needs the '{extra}' extra (missing: {', '.join(missing)}): "
            f"pip install 'her2kit[{extra}]'"
        )


def _version(value: bool) -> None:
    if value:
        typer.echo(f"her2kit {__version__}")
        raise typer.Exit()


@app.callback()
def _root(
    version: Annotated[
        bool, typer.Option("--version", callback=_version, is_eager=True, help="Show the version.")
    ] = False,
) -> None:
    """her2kit: open, guideline-faithful HER2 testing for breast cancer."""


def _case_from_flags(
    *, ihc: str | None, probe: str, her2_mean: float | None, cep17_mean: float | None,
    cells: int | None, ratio: float | None, er: float | None, er_intensity: str | None,
    pr: float | None, pr_intensity: str | None,
) -> dict[str, Any]:
    case: dict[str, Any] = {}
    if ihc is not None:
        case["ihc"] = {"score": ihc}
    if her2_mean is not None or cep17_mean is not None or cells is not None or ratio is not None:
        ish: dict[str, Any] = {"probe": probe, "her2_mean": her2_mean, "cells_counted": cells}
        if cep17_mean is not None:
            ish["cep17_mean"] = cep17_mean
        if ratio is not None:
            ish["ratio"] = ratio
        case["ish"] = {k: v for k, v in ish.items() if v is not None}
        for key, flag in (("her2_mean", "--her2-mean"), ("cells_counted", "--cells")):
            if key not in case["ish"]:
                raise Her2kitInputError(f"ISH shortcut flags need {flag}", field="ish")
    for name, pct, intensity in (("er", er, er_intensity), ("pr", pr, pr_intensity)):
        if pct is not None:
            case[name] = {"percent": pct} | ({"intensity": intensity} if intensity else {})
        elif intensity is not None:
            raise Her2kitInputError(f"--{name}-intensity needs --{name}", field=name)
    return case


@app.command()
def classify(
    case_file: Annotated[
        str | None, typer.Argument(metavar="CASE.json", help="Case file, or - for stdin.")
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print one JSON object.")] = False,
    guideline: Annotated[
        str, typer.Option(help="Rule set: asco-cap-2018 (default, affirmed 2023) or asco-cap-2013.")
    ] = "asco-cap-2018",
    ihc: Annotated[str | None, typer.Option(help="IHC score: 0, 0+, 1+, 2+ or 3+.")] = None,
    probe: Annotated[str, typer.Option(help="ISH probe for the shortcut flags: dual or single.")]
    = "dual",
    her2_mean: Annotated[float | None, typer.Option(help="Mean HER2 signals per cell.")] = None,
    cep17_mean: Annotated[float | None, typer.Option(help="Mean CEP17 signals per cell.")] = None,
    cells: Annotated[int | None, typer.Option(help="Number of nuclei counted.")] = None,
    ratio: Annotated[float | None, typer.Option(help="Reported HER2/CEP17 ratio (checked).")]
    = None,
    er: Annotated[float | None, typer.Option(help="ER: percent of tumour nuclei staining.")]
    = None,
    er_intensity: Annotated[str | None, typer.Option(help="ER intensity: weak/moderate/strong.")]
    = None,
    pr: Annotated[float | None, typer.Option(help="PgR: percent of tumour nuclei staining.")]
    = None,
    pr_intensity: Annotated[str | None, typer.Option(help="PgR intensity.")] = None,
) -> None:
    """Classify a case: IHC score, ISH group, HER2 status and category, ER and PgR."""
    from pydantic import ValidationError

    from her2kit.casefile import CaseFile
    from her2kit.guideline import classify as classify_case
    from her2kit.guideline import get_guideline
    from her2kit.io.jsonio import validation_error_line

    flags = _case_from_flags(
        ihc=ihc, probe=probe, her2_mean=her2_mean, cep17_mean=cep17_mean, cells=cells,
        ratio=ratio, er=er, er_intensity=er_intensity, pr=pr, pr_intensity=pr_intensity,
    )
    if case_file is not None and flags:
        raise Her2kitInputError("give CASE.json or shortcut flags, not both")
    if case_file is None and not flags:
        raise Her2kitInputError("give CASE.json (or - for stdin) or shortcut flags such as --ihc")
    g = get_guideline(guideline)
    if case_file is not None:
        case = _load_case_file(case_file)
    else:
        try:
            case = CaseFile.model_validate(flags)
        except ValidationError as exc:
            raise Her2kitInputError(validation_error_line(exc)) from None
    if case.image_analysis:  # the same integrated result as the report (issue 12)
        from her2kit.report.integrate import integrated_case

        case, result, _ = integrated_case(case, guideline=g, base_dir=_case_dir(case_file))
    else:
        result = classify_case(case, guideline=g)
    if as_json:
        typer.echo(json.dumps(result.model_dump(mode="json"), ensure_ascii=False, indent=2))
    else:
        from her2kit.cli.render import print_summary
        from her2kit.report.wording import ish_result_text

        print_summary(result)
        if result.ish is not None:
            typer.echo(f"ISH result (CAP template): {ish_result_text(result)}")


def _case_dir(case_file: str | None):
    """The folder that a case's relative image-analysis paths are taken from."""
    from pathlib import Path

    return Path(case_file).resolve().parent if case_file not in (None, "-") else Path.cwd()


def _load_case_file(case_file: str):
    """Read and validate a CASE.json (or an image-analysis result) into a CaseFile."""
    from pydantic import ValidationError

    from her2kit.casefile import CaseFile
    from her2kit.io.jsonio import read_json_object, validation_error_line

    raw = read_json_object(case_file)
    if "kind" in raw and "case_input" in raw:  # a score-ihc / count-ish result feeds classify
        raw = raw["case_input"]
    try:
        return CaseFile.model_validate(raw)
    except ValidationError as exc:
        raise Her2kitInputError(validation_error_line(exc)) from None


@app.command()
def report(
    case_file: Annotated[
        str, typer.Argument(metavar="CASE.json", help="Case file, or - for stdin.")
    ],
    fmt: Annotated[str, typer.Option("--format", help="json, html, pdf, fhir or all.")] = "all",
    audience: Annotated[str, typer.Option(help="lab, patient or both.")] = "both",
    out: Annotated[str, typer.Option(help="Output folder.")] = "out/report",
    lang: Annotated[str, typer.Option(help="Language of the reports (en).")] = "en",
    guideline: Annotated[str, typer.Option(help="Rule set name.")] = "asco-cap-2018",
    trials_file: Annotated[
        str | None,
        typer.Option("--trials", help="Include studies saved by `her2kit trials --json`."),
    ] = None,
) -> None:
    """Write the lab report (HTML/PDF), FHIR bundle and patient summary of a case."""
    from pathlib import Path

    _require_extra("report", "jinja2", "fpdf", "fhir", "textstat", "matplotlib")
    from her2kit.io.atomic import write_files_atomically
    from her2kit.report.render import render_report

    formats = {"json", "html", "pdf", "fhir"}
    if fmt != "all" and fmt not in formats:
        raise Her2kitInputError(f"unknown format {fmt!r}; use json, html, pdf, fhir or all",
                                field="--format")
    if audience not in ("lab", "patient", "both"):
        raise Her2kitInputError(f"unknown audience {audience!r}; use lab, patient or both",
                                field="--audience")
    if lang != "en":
        raise Her2kitInputError(f"language {lang!r} is not available; reports exist in: en",
                                field="--lang")
    case = _load_case_file(case_file)
    trials = None
    if trials_file is not None:
        from her2kit.io.jsonio import read_json_object

        trials = read_json_object(trials_file).get("studies")
        if not isinstance(trials, list):
            raise Her2kitInputError("no 'studies' list: not a `her2kit trials --json` file",
                                    field=trials_file)
    base_dir = Path(case_file).resolve().parent if case_file != "-" else Path.cwd()
    files = render_report(case, formats=formats if fmt == "all" else {fmt}, audience=audience,
                          guideline=guideline, base_dir=base_dir, trials=trials)
    for path in write_files_atomically(out, files):
        typer.echo(str(path))


@app.command()
def trials(
    case_file: Annotated[
        str, typer.Argument(metavar="CASE.json", help="Case file, or - for stdin.")
    ],
    as_json: Annotated[bool, typer.Option("--json", help="Print one JSON object.")] = False,
    dry_run: Annotated[bool, typer.Option(help="Show the query; do not use the network.")]
    = False,
    timeout_s: Annotated[float, typer.Option("--timeout", help="Seconds to wait.")] = 10.0,
    max_studies: Annotated[int, typer.Option("--max", help="Most studies to list.")] = 10,
    guideline: Annotated[str, typer.Option(help="Rule set name.")] = "asco-cap-2018",
) -> None:
    """Search ClinicalTrials.gov for recruiting studies matching the case's result.

    Needs the network (the only her2kit command that does); the list is
    information for a conversation with the care team, not an eligibility check.
    """
    _require_extra("report", "httpx")
    from her2kit.report.integrate import integrated_case
    from her2kit.report.trials import build_trials_query, search_trials

    case, result, _ = integrated_case(_load_case_file(case_file), guideline=guideline,
                                      base_dir=_case_dir(case_file))
    query = build_trials_query(result, case)
    if dry_run:
        typer.echo(json.dumps({"query": query.model_dump(mode="json"), "params": query.params},
                              indent=2) if as_json else f"query: {query.summary}")
        return
    result = search_trials(query, timeout_s=timeout_s, max_studies=max_studies)
    if as_json:
        typer.echo(json.dumps(result.model_dump(mode="json"), indent=2, ensure_ascii=False))
        return
    typer.echo(f"query: {query.summary} ({len(result.studies)} of "
               f"{result.total_count if result.total_count is not None else '?'} studies)")
    for study in result.studies:
        typer.echo(f"{study.nct_id}  {study.phase or '-':<16} {study.title}  {study.url}")
    typer.echo("Information for a conversation with the care team; not an eligibility check.")


def _read_roi(path: str | None, shape: tuple[int, int]):
    if path is None:
        return None
    from her2kit.io.jsonio import read_json_any
    from her2kit.io.roi import roi_mask_from_geojson

    return roi_mask_from_geojson(read_json_any(path), shape)


def _check_suffixes(*outputs: tuple[str | None, tuple[str, ...], str]) -> None:
    """Refuse an output path whose type the command cannot write, before any work."""
    from pathlib import Path

    for path, suffixes, flag in outputs:
        if path is not None and Path(path).suffix.lower() not in suffixes:
            raise Her2kitInputError(f"{path}: use a {' or '.join(suffixes)} file", field=flag)


def _table_bytes(rows: list[dict], path: str) -> bytes:
    """Per-cell or per-nucleus rows as CSV, or Parquet when the path says .parquet."""
    from pathlib import Path

    from her2kit.io.export import table_bytes

    fmt = "parquet" if Path(path).suffix.lower() == ".parquet" else "csv"
    if fmt == "parquet":
        _require_extra("parquet", "pyarrow")
    return table_bytes(rows, fmt=fmt)


def _png_bytes(image) -> bytes:
    import io as _io

    from PIL import Image

    buf = _io.BytesIO()
    Image.fromarray(image).save(buf, format="PNG")
    return buf.getvalue()


def _finish_image_command(doc: dict, files: dict, *, out_json: str | None, as_json: bool,
                          printer) -> None:
    """Write an image command's files all-or-nothing, then print its JSON or summary."""
    from pathlib import Path

    from her2kit.io.atomic import write_paths_atomically

    text = json.dumps(doc, indent=2, ensure_ascii=False)
    if out_json is not None:
        files[Path(out_json)] = text.encode()
    written = write_paths_atomically(files)
    if as_json:
        typer.echo(text)
    else:
        printer(doc, written=[str(p) for p in written])


@app.command("score-ihc")
def score_ihc(
    image: Annotated[str, typer.Argument(metavar="IMAGE", help="RGB brightfield PNG/JPEG/TIFF.")],
    roi: Annotated[str | None, typer.Option(help="Invasive tumour polygons (GeoJSON).")] = None,
    mpp: Annotated[
        float | None, typer.Option(help="µm per pixel, when the file does not say.")
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print one JSON object.")] = False,
    overlay: Annotated[str | None, typer.Option(help="Write the overlay PNG here.")] = None,
    cells: Annotated[
        str | None, typer.Option(help="Write per-cell measurements (.csv or .parquet).")
    ] = None,
    geojson: Annotated[
        str | None, typer.Option(help="Write QuPath-importable cells (.geojson).")
    ] = None,
    out_json: Annotated[
        str | None, typer.Option("--out", help="Also write the JSON document to this file.")
    ] = None,
    estimate_stains: Annotated[
        bool, typer.Option(help="Estimate stain vectors per image (default: standard H-DAB).")
    ] = False,
    min_intense_pct: Annotated[
        float, typer.Option(help="Evidence floor (%) for the 'intense complete in ≤10%' 2+ "
                            "pattern; 0 = literal guideline.")
    ] = 1.0,
    guideline: Annotated[str, typer.Option(help="Rule set name.")] = "asco-cap-2018",
) -> None:
    """Score HER2 IHC membranes cell by cell and give the guideline's IHC score."""
    from pathlib import Path

    from her2kit.guideline import get_guideline
    from her2kit.imaging.ihc.score import score_ihc_image
    from her2kit.io.images import read_image
    from her2kit.pipelines.ihc import ihc_document

    get_guideline(guideline)
    _check_suffixes((overlay, (".png",), "--overlay"), (cells, (".csv", ".parquet"), "--cells"),
                    (geojson, (".geojson", ".json"), "--geojson"), (out_json, (".json",), "--out"))
    loaded = read_image(image)
    if loaded.pixel_size_um is not None:
        pixel_size, source = loaded.pixel_size_um, f"file ({loaded.pixel_size_source})"
        if mpp is not None and abs(mpp - pixel_size) > 0.01 * pixel_size:
            raise Her2kitInputError(
                f"--mpp {mpp:g} contradicts the file's pixel size {pixel_size:g} µm", field="--mpp")
    elif mpp is not None:
        pixel_size, source = mpp, "--mpp"
    else:
        raise Her2kitInputError(
            f"{image}: the file does not record its pixel size; give --mpp (µm per pixel)",
            field="--mpp")
    mask = _read_roi(roi, loaded.image.shape[:2])
    result = score_ihc_image(loaded.image, pixel_size_um=pixel_size, roi_mask=mask,
                             estimate_stains=estimate_stains)
    if not 0 <= min_intense_pct <= 10:
        raise Her2kitInputError(f"expected 0–10, got {min_intense_pct:g}",
                                field="--min-intense-pct")
    doc = ihc_document(result, image=str(image), pixel_size_um=pixel_size,
                       pixel_size_source=source, guideline=guideline,
                       overlay=Path(overlay).name if overlay else None,
                       min_intense_pct=min_intense_pct)
    files: dict[Path, bytes] = {}
    if overlay is not None:
        from her2kit.viz.ihc import render_overlay

        files[Path(overlay)] = _png_bytes(render_overlay(loaded.image, result))
    if cells is not None:
        files[Path(cells)] = _table_bytes(result.cells.as_records(), cells)
    if geojson is not None:
        from her2kit.io.export import cells_geojson

        files[Path(geojson)] = json.dumps(cells_geojson(result)).encode()
    from her2kit.cli.render import print_ihc_image_summary

    _finish_image_command(doc, files, out_json=out_json, as_json=as_json,
                          printer=print_ihc_image_summary)


@app.command("synth-ihc")
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
    import csv
    import io as _io
    from pathlib import Path

    from her2kit.io.atomic import write_files_atomically
    from her2kit.synthetic.ihc import SCORES, generate_ihc_region

    if score not in SCORES:
        raise Her2kitInputError(f"unknown score {score!r}; use one of {', '.join(SCORES)}",
                                field="--score")
    path = Path(out)
    if path.suffix.lower() not in (".png", ".tif", ".tiff"):
        raise Her2kitInputError(f"{out}: use a .png or .tif file", field="OUT")
    region = generate_ihc_region(shape_px=(size, size), pixel_size_um=mpp, target_score=score,
                                 seed=seed, jpeg_quality=jpeg_quality)
    buf = _io.BytesIO()
    if path.suffix.lower() == ".png":
        from PIL import Image

        Image.fromarray(region.image).save(buf, format="PNG")
    else:
        import tifffile

        per_cm = 1e4 / mpp  # TIFF resolution in pixels per centimetre
        tifffile.imwrite(buf, region.image, resolution=(per_cm, per_cm),
                         resolutionunit="CENTIMETER")
    table = _io.StringIO()
    columns: dict[str, list] = {}
    for name, col in region.cells.items():
        if name == "centroid_rc":  # one (row, col) pair per cell → two columns in pixels
            columns["centroid_row_px"] = [round(float(r), 2) for r, _ in col]
            columns["centroid_col_px"] = [round(float(c), 2) for _, c in col]
        else:
            columns[name] = [v.item() if hasattr(v, "item") else v for v in col]
    writer = csv.writer(table, lineterminator="\n")
    writer.writerow(list(columns))
    writer.writerows(zip(*columns.values(), strict=True))
    truth = path.with_name(path.stem + "-truth.csv")
    write_files_atomically(path.parent, {path.name: buf.getvalue(),
                                         truth.name: table.getvalue().encode()})
    typer.echo(f"wrote {path} ({size}×{size} px, {mpp:g} µm/px, true score {score}) and {truth}")
    pct = ", ".join(f"{k} {v:.1f}%" for k, v in region.percent.items())
    typer.echo(f"true percentages: {pct}")


def _channel_map(text: str | None) -> dict[str, int | str] | None:
    """Parse ``her2=R,cep17=G,dapi=B`` (colour letters) or ``dapi=0,her2=1,cep17=2``."""
    if text is None:
        return None
    mapping: dict[str, int | str] = {}
    for part in text.split(","):
        name, sep, value = part.strip().partition("=")
        if not sep or name not in ("dapi", "her2", "cep17") or not value:
            raise Her2kitInputError(
                f"expected probe=channel pairs like her2=R,cep17=G,dapi=B, got {part!r}",
                field="--channels")
        if name in mapping:
            raise Her2kitInputError(f"{name} is mapped twice", field="--channels")
        mapping[name] = int(value) if value.isdigit() else value.upper()
    return mapping


def _stain_map(text: str | None, assay: str) -> dict[str, str]:
    """Brightfield role → stain name; the kit's convention is stated, never guessed."""
    from her2kit.imaging.color.ish import CISH_STAINS, DUAL_ISH_STAINS, STAIN_VECTORS

    mapping = dict(DUAL_ISH_STAINS if assay == "dual-ish" else CISH_STAINS)
    if text is None:
        return mapping
    roles = ("her2", "cep17") if assay == "dual-ish" else ("her2",)
    given: dict[str, str] = {}
    for part in text.split(","):
        role, sep, stain = part.strip().partition("=")
        if not sep or role not in roles or stain not in STAIN_VECTORS:
            raise Her2kitInputError(
                f"expected {'/'.join(roles)}=<stain> with a stain among "
                f"{', '.join(sorted(STAIN_VECTORS))}, got {part!r}", field="--stains")
        if role in given:
            raise Her2kitInputError(f"{role} is mapped twice", field="--stains")
        given[role] = stain
    mapping.update(given)
    if len({mapping[r] for r in roles}) < len(roles):
        raise Her2kitInputError("HER2 and CEP17 need different stains", field="--stains")
    return mapping


@app.command("count-ish")
def count_ish(
    images: Annotated[
        list[str] | None,
        typer.Argument(metavar="IMAGE", help="FISH TIFF/RGB composite or brightfield; "
                       "several fields of one slide are counted as one population."),
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
    roi: Annotated[str | None, typer.Option(help="Invasive tumour polygons (GeoJSON).")] = None,
    mpp: Annotated[float | None, typer.Option(help="µm per pixel, when the file does not say.")]
    = None,
    bit_depth: Annotated[
        int | None,
        typer.Option(help="FISH: the camera's bit depth, checked against the data (default: "
                     "the OME SignificantBits, if stated)."),
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print one JSON object.")] = False,
    overlay: Annotated[str | None, typer.Option(help="Write the overlay PNG here.")] = None,
    nuclei: Annotated[
        str | None, typer.Option(help="Write the per-nucleus table (.csv or .parquet).")
    ] = None,
    out_json: Annotated[
        str | None, typer.Option("--out", help="Also write the JSON document to this file.")
    ] = None,
    guideline: Annotated[str, typer.Option(help="Rule set name.")] = "asco-cap-2018",
) -> None:
    """Count HER2 and CEP17 signals per nucleus and give the guideline's ISH call.

    Several IMAGEs (fields of one slide) are counted as one population of nuclei.
    """
    from pathlib import Path

    from her2kit.guideline import get_guideline
    from her2kit.imaging.ish import count as ish_mod
    from her2kit.io import fish as ish_io
    from her2kit.pipelines.ish import ish_document

    get_guideline(guideline)
    if assay not in ("fish", "dual-ish", "cish"):
        raise Her2kitInputError(f"unknown assay {assay!r}; use fish, dual-ish or cish",
                                field="--assay")
    _check_suffixes((overlay, (".png",), "--overlay"), (nuclei, (".csv", ".parquet"), "--nuclei"),
                    (out_json, (".json",), "--out"))
    separate = [dapi, her2, cep17]
    images = list(images or [])
    if len(images) > 1 and roi is not None:
        raise Her2kitInputError("--roi outlines one image; count several fields without it",
                                field="--roi")
    if len(set(images)) != len(images):
        raise Her2kitInputError("the same IMAGE is given twice", field="IMAGE")
    fields = []  # (name, pixel size, pixel size source, result, display image)
    if assay == "fish":
        if any(separate):
            if images or not all(separate):
                raise Her2kitInputError("give either IMAGE with --channels, or all three of "
                                        "--dapi, --her2 and --cep17", field="IMAGE")
            sources = [(str(her2), lambda: ish_io.read_fish_files(
                dapi=dapi, her2=her2, cep17=cep17, pixel_size_um=mpp, bit_depth=bit_depth))]
        else:
            mapping = _channel_map(channels)
            if not images or mapping is None:
                raise Her2kitInputError(
                    "FISH needs IMAGE and --channels (e.g. her2=R,cep17=G,dapi=B): her2kit never "
                    "guesses which colour is which probe", field="--channels")
            sources = [(im, lambda im=im: ish_io.read_fish_image(
                im, channels=mapping, pixel_size_um=mpp, bit_depth=bit_depth)) for im in images]
        for name, read in _progress(sources, "counting fields"):
            field_image = read()
            pixel_size = field_image.pixel_size_um
            _need_pixel_size(pixel_size, name)
            mask = _read_roi(roi, field_image.dapi.shape[:2])
            result = ish_mod.count_fish(field_image, pixel_size_um=pixel_size, roi_mask=mask)
            fields.append((name, pixel_size, "--mpp" if mpp is not None else "file", result,
                           field_image))
    else:
        if not images or any(separate) or channels is not None or bit_depth is not None:
            raise Her2kitInputError(f"{assay} takes RGB brightfield IMAGEs (no channel "
                                    "or bit-depth options)", field="IMAGE")
        stain_map = _stain_map(stains, assay)
        for name in _progress(images, "counting fields"):
            rgb = ish_io.read_brightfield_ish(name)
            _need_pixel_size(mpp, name)
            mask = _read_roi(roi, rgb.shape[:2])
            result = ish_mod.count_brightfield_ish(rgb, assay=assay, pixel_size_um=mpp,
                                                   roi_mask=mask, stains=stain_map)
            fields.append((name, mpp, "--mpp", result, rgb))
    names = [f[0] for f in fields]
    overlay_paths = _field_paths(overlay, len(fields))
    if len(fields) == 1:
        result = fields[0][3]
    else:
        result = ish_mod.pool_fields([f[3] for f in fields], names)
    doc = ish_document(result, image=names if len(fields) > 1 else names[0], assay=assay,
                       pixel_size_um=fields[0][1], pixel_size_source=fields[0][2],
                       guideline=guideline,
                       overlay=None if overlay is None else (
                           [p.name for p in overlay_paths] if len(fields) > 1
                           else overlay_paths[0].name))
    files: dict[Path, bytes] = {}
    if overlay is not None:
        from her2kit.viz.ish import render_ish_overlay

        for path, (_, _, _, res, display) in zip(overlay_paths, fields, strict=True):
            files[path] = _png_bytes(render_ish_overlay(res, display))
    if nuclei is not None:
        files[Path(nuclei)] = _table_bytes(result.table(), nuclei)
    from her2kit.cli.render import print_ish_image_summary

    _finish_image_command(doc, files, out_json=out_json, as_json=as_json,
                          printer=print_ish_image_summary)


def _progress(items, description: str, *, console=None):
    """Yield ``items``, with a progress bar on stderr when there are several and stderr is
    a terminal (``console`` for tests). The bar is transient, so an error still ends
    the run with its one line."""
    items = list(items)
    if console is None:
        if len(items) < 2 or not sys.stderr.isatty():
            yield from items
            return
        from rich.console import Console

        console = Console(stderr=True)
    from rich.progress import Progress

    with Progress(console=console, transient=True) as bar:
        task = bar.add_task(description, total=len(items))
        for item in items:
            yield item
            bar.advance(task)


def _need_pixel_size(pixel_size: float | None, name: str) -> None:
    if pixel_size is None:
        raise Her2kitInputError(
            f"{name}: the file does not record its pixel size; give --mpp (µm per pixel)",
            field="--mpp")


def _field_paths(path: str | None, n: int) -> list:
    """``path`` for one field; ``<stem>-field1<suffix>`` … for several."""
    from pathlib import Path

    if path is None:
        return []
    p = Path(path)
    if n == 1:
        return [p]
    return [p.with_name(f"{p.stem}-field{i}{p.suffix}") for i in range(1, n + 1)]


@app.command("synth-ish")
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
    import csv
    import io as _io
    from pathlib import Path

    from her2kit.io.atomic import write_files_atomically
    from her2kit.synthetic.ish import (
        SCENARIOS,
        generate_brightfield_ish_field,
        generate_fish_field,
    )

    if scenario not in SCENARIOS:
        raise Her2kitInputError(f"unknown scenario {scenario!r}; use one of "
                                f"{', '.join(SCENARIOS)}", field="--scenario")
    path = Path(out)
    buf = _io.BytesIO()
    if assay == "fish":
        if not path.name.lower().endswith((".ome.tif", ".ome.tiff")):
            raise Her2kitInputError(f"{out}: FISH fields are written as .ome.tif", field="OUT")
        import numpy as np
        import tifffile

        field_ = generate_fish_field(shape_px=(size, size), pixel_size_um=mpp, n_nuclei=nuclei,
                                     scenario=scenario, seed=seed)
        tifffile.imwrite(buf, np.moveaxis(field_.image, -1, 0), ome=True, metadata={
            "axes": "CYX", "PhysicalSizeX": mpp, "PhysicalSizeY": mpp,
            "PhysicalSizeXUnit": "µm", "PhysicalSizeYUnit": "µm",
            "Channel": {"Name": list(field_.channel_names)}})
        pairs = ", ".join(f"{n}={i}" for i, n in enumerate(field_.channel_names))
        channel_note = f"channels {pairs}"
    elif assay in ("dual-ish", "cish"):
        if path.suffix.lower() != ".png":
            raise Her2kitInputError(f"{out}: brightfield fields are written as .png", field="OUT")
        from PIL import Image

        field_ = generate_brightfield_ish_field(shape_px=(size, size), pixel_size_um=mpp,
                                                n_nuclei=nuclei, scenario=scenario, seed=seed,
                                                assay=assay)
        Image.fromarray(field_.image).save(buf, format="PNG")
        channel_note = "RGB brightfield"
    else:
        raise Her2kitInputError(f"unknown assay {assay!r}; use fish, dual-ish or cish",
                                field="--assay")
    table = _io.StringIO()
    names = list(field_.nuclei.dtype.names)
    writer = csv.writer(table, lineterminator="\n")
    writer.writerow(names)
    for row in field_.nuclei:
        writer.writerow([v.item() if hasattr(v, "item") else v for v in row])
    base = path.name.split(".")[0]
    truth = path.with_name(base + "-truth.csv")
    write_files_atomically(path.parent, {path.name: buf.getvalue(),
                                         truth.name: table.getvalue().encode()})
    typer.echo(f"wrote {path} ({assay}, {scenario}, {size}×{size} px, {mpp:g} µm/px, "
               f"{channel_note}) and {truth}")


def main(argv: list[str] | None = None) -> None:
    """Console entry point: one line per error on stderr, exit status 2 on bad input.

    Usage errors (unknown option, a flag's value of the wrong type) are
    reported by the CLI library itself, also with status 2.
    """
    import logging

    # Libraries (tifffile, PIL) log decoder complaints; the CLI's contract is one line per
    # error, which the error itself carries. A handler on the root logger keeps Python's
    # last-resort handler from printing them.
    logging.getLogger().addHandler(logging.NullHandler())
    try:
        app(args=argv, prog_name="her2kit")
    except Her2kitError as exc:
        print(f"her2kit: error: {exc}", file=sys.stderr)
        # A service that cannot be reached is not bad input: a distinct status for scripts.
        sys.exit(EXIT_OFFLINE if isinstance(exc, ServiceUnavailableError) else EXIT_BAD_INPUT)
