"""``her2kit trials``: recruiting studies on ClinicalTrials.gov for the case's result."""

from __future__ import annotations

import json
from typing import Annotated

import typer

from her2kit.cli.options import (
    CaseArgument,
    GuidelineOption,
    JsonOption,
    classify_case_file,
    load_case_file,
    require_extra,
)
from her2kit.settings import value

__all__ = ["trials"]


def trials(
    case_file: CaseArgument,
    as_json: JsonOption = False,
    dry_run: Annotated[bool, typer.Option(help="Show the query; do not use the network.")]
    = False,
    timeout_s: Annotated[float, typer.Option("--timeout", help="Seconds to wait.")]
    = value("trials_timeout_s"),
    max_studies: Annotated[int, typer.Option("--max", help="Most studies to list.")]
    = value("trials_max_studies"),
    guideline: GuidelineOption = "asco-cap-2018",
) -> None:
    """Search ClinicalTrials.gov for recruiting studies matching the case's result.

    Needs the network (the only her2kit command that does); the list is
    information for a conversation with the care team, not an eligibility check.
    """
    require_extra("report", "httpx")
    from her2kit.report.trials import build_trials_query, search_trials

    case, result = classify_case_file(load_case_file(case_file), case_file=case_file,
                                      guideline=guideline)
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
