"""The ``her2kit`` command line: parse, call the pipelines and reports, render. Nothing else.

One module per command (``classify``, ``report``, ``trials``, ``score_ihc``, ``synth_ihc``,
``count_ish``, ``synth_ish``, ``calibrate``; ``serve`` with the lab service's ``users add``
and ``audit verify``); what they share (options, exit codes, parsing,
output) is in :mod:`her2kit.cli.options`. Every :class:`~her2kit.errors.Her2kitError` is caught in
:func:`main` and printed as one line, ``her2kit: error: <message>``, on standard error,
with exit status 2 (3 when an outside service cannot be reached); nothing is printed on
standard output then.
"""

from __future__ import annotations

import contextlib
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
    serve,
    synth_ihc,
    synth_ish,
    trials,
)
from her2kit.cli.options import EXIT_BAD_INPUT, EXIT_OFFLINE, exit_status, one_line, print_error
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
app.command("serve")(serve.serve)
app.add_typer(serve.users_app, name="users")
app.add_typer(serve.audit_app, name="audit")


class _Stopped(BaseException):
    """SIGINT or SIGTERM, raised from the handler so that every ``finally`` (the atomic
    writer's temporary files) runs; a BaseException, so no ``except Exception`` eats it,
    and not KeyboardInterrupt, which the CLI library answers with a blank line."""

    def __init__(self, signum: int) -> None:
        super().__init__(signum)
        self.signum = signum


def _raise_stopped(signum, frame) -> None:
    raise _Stopped(signum)


def _one_line(text: str) -> str:
    return " ".join(text.split())


def _run(argv: list[str] | None) -> int:
    """Run the app; usage errors (unknown option, bad value) become one line too."""
    try:
        rc = app(args=argv, prog_name="her2kit", standalone_mode=False)
    except typer.Abort:  # end of input at a prompt
        print("her2kit: error: interrupted", file=sys.stderr)
        return 130
    except typer.TyperException as exc:  # the CLI library's usage errors (public base)
        if type(exc).__name__ == "NoArgsIsHelpError":  # bare `her2kit`: the help, as always
            exc.show()
            return exc.exit_code
        ctx = getattr(exc, "ctx", None)
        where = f"{ctx.info_name}: " if ctx is not None and ctx.parent is not None else ""
        print(f"her2kit: error: {where}{one_line(_one_line(exc.format_message()))}",
              file=sys.stderr)
        return getattr(exc, "exit_code", EXIT_BAD_INPUT)
    if sys.stdout is not None:
        sys.stdout.flush()
    return rc if isinstance(rc, int) else 0


def main(argv: list[str] | None = None) -> None:
    """Console entry point: one line per error on stderr, exit status 2 on bad input.

    Usage errors (unknown option, a flag's value of the wrong type) are one line too,
    with status 2; Ctrl-C (SIGINT) and SIGTERM remove this run's temporary files and end
    with one line and status 130 or 143: outputs all written or all as they were.
    """
    import errno
    import logging
    import signal

    # Libraries (tifffile, PIL) log decoder complaints; the CLI's contract is one line per
    # error, which the error itself carries. A handler on the root logger keeps Python's
    # last-resort handler from printing them.
    logging.getLogger().addHandler(logging.NullHandler())
    if sys.stdout is None:  # started with standard output closed (`>&-`): results would vanish
        print("her2kit: error: standard output is closed; nothing would be printed",
              file=sys.stderr)
        sys.exit(EXIT_BAD_INPUT)
    previous = {}
    with contextlib.suppress(ValueError):  # signals can be caught on the main thread only
        for sig in (signal.SIGINT, signal.SIGTERM):
            previous[sig] = signal.signal(sig, _raise_stopped)
    try:
        rc = _run(argv)
    except Her2kitError as exc:
        print_error(exc)
        rc = exit_status(exc)
    except _Stopped as stop:
        name = signal.Signals(stop.signum).name
        print(f"her2kit: error: stopped by {name}; outputs are all written or all as they were",
              file=sys.stderr)
        rc = 128 + stop.signum
    except OSError as exc:
        if exc.errno not in (errno.EPIPE, errno.EBADF):
            raise
        # The reader of standard output went away: the result was not delivered.
        with contextlib.suppress(OSError):
            print(f"her2kit: error: cannot write standard output ({exc.strerror})",
                  file=sys.stderr)
        rc = EXIT_BAD_INPUT
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
    if rc:
        sys.exit(rc)
