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
from her2kit.errors import Her2kitError, Her2kitInputError

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

    from her2kit._jsonio import validation_error_line
    from her2kit.casefile import CaseFile
    from her2kit.guideline import classify as classify_case
    from her2kit.guideline import get_guideline

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
    result = classify_case(case, guideline=g)
    if as_json:
        typer.echo(json.dumps(result.model_dump(mode="json"), ensure_ascii=False, indent=2))
    else:
        from her2kit.render import print_summary

        print_summary(result)


def _load_case_file(case_file: str):
    """Read and validate a CASE.json (or an image-analysis result) into a CaseFile."""
    from pydantic import ValidationError

    from her2kit._jsonio import read_json_object, validation_error_line
    from her2kit.casefile import CaseFile

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
    from her2kit._atomic import write_files_atomically
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
        from her2kit._jsonio import read_json_object

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
    from her2kit.guideline import classify as classify_case
    from her2kit.report.trials import build_trials_query, search_trials

    case = _load_case_file(case_file)
    query = build_trials_query(classify_case(case, guideline=guideline), case)
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


def main(argv: list[str] | None = None) -> None:
    """Console entry point: one line per error on stderr, exit status 2 on bad input.

    Usage errors (unknown option, a flag's value of the wrong type) are
    reported by the CLI library itself, also with status 2.
    """
    try:
        app(args=argv, prog_name="her2kit")
    except Her2kitError as exc:
        print(f"her2kit: error: {exc}", file=sys.stderr)
        # A network that cannot be reached is not bad input: a distinct status for scripts.
        offline = type(exc).__name__ == "TrialsUnavailableError"
        sys.exit(EXIT_OFFLINE if offline else EXIT_BAD_INPUT)
