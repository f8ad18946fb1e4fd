"""``her2kit report``: a case → lab report (HTML/PDF), FHIR bundle and patient summary."""

from __future__ import annotations

from typing import Annotated

import typer

from her2kit.cli.options import CaseArgument, GuidelineOption, load_case_file, require_extra
from her2kit.errors import Her2kitInputError
from her2kit.settings import value

__all__ = ["report"]

AUDIENCES = ("lab", "patient", "both")


def _check_options(*, fmt: str, formats: set[str], audience: str, lang: str) -> None:
    if fmt != "all" and fmt not in formats:
        raise Her2kitInputError(f"unknown format {fmt!r}; use json, html, pdf, fhir or all",
                                field="--format")
    if audience not in AUDIENCES:
        raise Her2kitInputError(f"unknown audience {audience!r}; use lab, patient or both",
                                field="--audience")
    if lang != "en":
        raise Her2kitInputError(f"language {lang!r} is not available; reports exist in: en",
                                field="--lang")


def _read_trials(trials_file: str | None) -> list | None:
    """The ``studies`` saved by ``her2kit trials --json``, or None without a file."""
    if trials_file is None:
        return None
    from her2kit.io.jsonio import read_json_object
    from her2kit.report.trials import saved_studies

    return saved_studies(read_json_object(trials_file).get("studies"), source=trials_file)


def report(
    case_file: CaseArgument,
    fmt: Annotated[str, typer.Option("--format", help="json, html, pdf, fhir or all.")] = "all",
    audience: Annotated[str, typer.Option(help="lab, patient or both.")] = "both",
    out: Annotated[str, typer.Option(help="Output folder.")] = value("report_out_dir"),
    lang: Annotated[str, typer.Option(help="Language of the reports (en).")] = "en",
    guideline: GuidelineOption = "asco-cap-2018",
    trials_file: Annotated[
        str | None,
        typer.Option("--trials", help="Include studies saved by `her2kit trials --json`."),
    ] = None,
) -> None:
    """Write the lab report (HTML/PDF), FHIR bundle and patient summary of a case."""
    from pathlib import Path

    require_extra("report", "jinja2", "fpdf", "fhir", "textstat", "matplotlib")
    from her2kit.io.atomic import write_files_atomically
    from her2kit.report.render import render_report

    formats = {"json", "html", "pdf", "fhir"}
    _check_options(fmt=fmt, formats=formats, audience=audience, lang=lang)
    case = load_case_file(case_file)
    trials = _read_trials(trials_file)
    base_dir = Path(case_file).resolve().parent if case_file != "-" else Path.cwd()
    files = render_report(case, formats=formats if fmt == "all" else {fmt},
                          audience=audience, guideline=guideline, base_dir=base_dir,
                          trials=trials)
    from her2kit.io.paths import refuse_output_clashes

    # An output named like the case or the trials file (`--out` beside them) must not
    # replace it.
    refuse_output_clashes([("CASE.json", case_file), ("--trials", trials_file)],
                          [("--out", Path(out) / name) for name in files])
    for path in write_files_atomically(out, files):
        typer.echo(str(path))
