"""The ``her2kit`` command line: parse, call the pipelines and reports, render. Nothing else.

One module per command (``classify``, ``report``, ``trials``, ``score_ihc``, ``synth_ihc``,
``count_ish``, ``synth_ish``, ``calibrate``); what they share (options, exit codes, parsing,
output) is in :mod:`her2kit.cli.options`. Every :class:`~her2kit.errors.Her2kitError` is caught in
:func:`main` and printed as one line, ``her2kit: error: <message>``, on standard error,
with exit status 2 (3 when an outside service cannot be reached); nothing is printed on
standard output then.
"""

from __future__ import annotations

import sys
from typing import Annotated

import typer

from her2kit import __version__
from her2kit.cli import (
    calibrate,
    classify,
    count_ish,
    report,
    score_ihc,
    synth_ihc,
    synth_ish,
    trials,
)
from her2kit.cli.options import EXIT_BAD_INPUT, EXIT_OFFLINE, exit_status, print_error
from her2kit.errors import Her2kitError

__all__ = ["EXIT_BAD_INPUT", "EXIT_OFFLINE", "app", "main"]

app = typer.Typer(
    name="her2kit",
    help="Guideline-faithful HER2 testing: decision support; a pathologist signs out.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
    rich_markup_mode=None,
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


# The order here is the order of `her2kit --help`.
for _name, _command in (("classify", classify.classify), ("report", report.report),
                        ("trials", trials.trials), ("score-ihc", score_ihc.score_ihc),
                        ("synth-ihc", synth_ihc.synth_ihc), ("count-ish", count_ish.count_ish),
                        ("synth-ish", synth_ish.synth_ish), ("calibrate", calibrate.calibrate)):
    app.command(_name)(_command)


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
        print_error(exc)
        sys.exit(exit_status(exc))
