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

    from her2kit._jsonio import read_json_object, validation_error_line
    from her2kit.casefile import CaseFile
    from her2kit.guideline import get_guideline
    from her2kit.guideline import classify as classify_case

    flags = _case_from_flags(
        ihc=ihc, probe=probe, her2_mean=her2_mean, cep17_mean=cep17_mean, cells=cells,
        ratio=ratio, er=er, er_intensity=er_intensity, pr=pr, pr_intensity=pr_intensity,
    )
    if case_file is not None and flags:
        raise Her2kitInputError("give CASE.json or shortcut flags, not both")
    if case_file is None and not flags:
        raise Her2kitInputError("give CASE.json (or - for stdin) or shortcut flags such as --ihc")
    g = get_guideline(guideline)
    raw = read_json_object(case_file) if case_file is not None else flags
    try:
        case = CaseFile.model_validate(raw)
    except ValidationError as exc:
        raise Her2kitInputError(validation_error_line(exc)) from None
    result = classify_case(case, guideline=g)
    if as_json:
        typer.echo(json.dumps(result.model_dump(mode="json"), ensure_ascii=False, indent=2))
    else:
        from her2kit.render import print_summary

        print_summary(result)


def main(argv: list[str] | None = None) -> None:
    """Console entry point: one line per error on stderr, exit status 2 on bad input.

    Usage errors (unknown option, a flag's value of the wrong type) are
    reported by the CLI library itself, also with status 2.
    """
    try:
        app(args=argv, prog_name="her2kit")
    except Her2kitError as exc:
        print(f"her2kit: error: {exc}", file=sys.stderr)
        sys.exit(EXIT_BAD_INPUT)
