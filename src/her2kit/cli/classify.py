"""``her2kit classify``: a case file or shortcut flags → the guideline's classification."""

from __future__ import annotations

import json
from typing import Annotated, Any

import typer

from her2kit.cli.options import JsonOption, classify_case_file, load_case_file
from her2kit.errors import Her2kitInputError

__all__ = ["case_from_flags", "classify"]


def case_from_flags(
    *, ihc: str | None, probe: str, her2_mean: float | None, cep17_mean: float | None,
    cells: int | None, ratio: float | None, er: float | None, er_intensity: str | None,
    pr: float | None, pr_intensity: str | None,
) -> dict[str, Any]:
    """The case (as a CASE.json dict) the shortcut flags describe; empty when none given."""
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


def classify(
    case_file: Annotated[
        str | None, typer.Argument(metavar="CASE.json", help="Case file, or - for stdin.")
    ] = None,
    as_json: JsonOption = False,
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
    from her2kit.guideline import get_guideline
    from her2kit.io.jsonio import validation_error_line

    flags = case_from_flags(
        ihc=ihc, probe=probe, her2_mean=her2_mean, cep17_mean=cep17_mean, cells=cells,
        ratio=ratio, er=er, er_intensity=er_intensity, pr=pr, pr_intensity=pr_intensity,
    )
    if case_file is not None and flags:
        raise Her2kitInputError("give CASE.json or shortcut flags, not both")
    if case_file is None and not flags:
        raise Her2kitInputError("give CASE.json (or - for stdin) or shortcut flags such as --ihc")
    g = get_guideline(guideline)
    if case_file is not None:
        case = load_case_file(case_file)
    else:
        try:
            case = CaseFile.model_validate(flags)
        except ValidationError as exc:
            raise Her2kitInputError(validation_error_line(exc)) from None
    case, result = classify_case_file(case, case_file=case_file, guideline=g)
    if as_json:
        typer.echo(json.dumps(result.model_dump(mode="json"), ensure_ascii=False, indent=2))
    else:
        from her2kit.cli.render import print_summary

        print_summary(result)
