"""What the commands share: exit codes, the one-line error rule, option parsing, output.

Kept light at import (typer and the standard library only): every heavy import is inside
a function, so ``her2kit --help`` loads no numpy.
"""

from __future__ import annotations

import json
import sys
from typing import Annotated, Any

import typer

from her2kit.errors import Her2kitError, Her2kitInputError, ServiceUnavailableError

__all__ = [
    "EXIT_BAD_INPUT",
    "EXIT_OFFLINE",
    "CaseArgument",
    "FileMppOption",
    "GuidelineOption",
    "JsonOption",
    "OutJsonOption",
    "OverlayOption",
    "RoiOption",
    "case_dir",
    "channel_map",
    "check_range",
    "check_suffixes",
    "classify_case_file",
    "exit_status",
    "finish_image_command",
    "load_case_file",
    "one_line",
    "print_error",
    "progress",
    "require_extra",
    "require_table_extra",
]

EXIT_BAD_INPUT = 2
EXIT_OFFLINE = 3

# Options several commands declare alike (their --help text must stay as it is).
#: ``--guideline`` of the report, trials and image commands.
GuidelineOption = Annotated[str, typer.Option(help="Rule set name.")]
JsonOption = Annotated[bool, typer.Option("--json", help="Print one JSON object.")]
CaseArgument = Annotated[
    str, typer.Argument(metavar="CASE.json", help="Case file, or - for stdin.")
]
RoiOption = Annotated[str | None, typer.Option(help="Invasive tumour polygons (GeoJSON).")]
FileMppOption = Annotated[
    float | None, typer.Option(help="µm per pixel, when the file does not say.")
]
OverlayOption = Annotated[str | None, typer.Option(help="Write the overlay PNG here.")]
OutJsonOption = Annotated[
    str | None, typer.Option("--out", help="Also write the JSON document to this file.")
]


def exit_status(exc: Her2kitError) -> int:
    """The exit status for an error: bad input 2, an unreachable service 3."""
    # A service that cannot be reached is not bad input: a distinct status for scripts.
    return EXIT_OFFLINE if isinstance(exc, ServiceUnavailableError) else EXIT_BAD_INPUT


def print_error(exc: Her2kitError) -> None:
    """The CLI's contract: one line, ``her2kit: error: <message>``, on standard error.

    Characters that would break the line or drive the terminal (a newline or an escape
    in a key or a file name) are shown escaped."""
    print(f"her2kit: error: {one_line(str(exc))}", file=sys.stderr)


def one_line(text: str) -> str:
    """``text`` with non-printable characters (newlines, escapes) written as escapes."""
    if text.isprintable():
        return text
    return "".join(c if c.isprintable() else repr(c)[1:-1] for c in text)


def require_extra(extra: str, *modules: str) -> None:
    """Fail with an install hint when an optional dependency group is missing."""
    import importlib.util

    missing = [m for m in modules if importlib.util.find_spec(m) is None]
    if missing:
        raise Her2kitError(
            f"this command needs the '{extra}' extra (missing: {', '.join(missing)}): "
            f"pip install 'her2kit[{extra}]'"
        )


def require_table_extra(path: str | None) -> None:
    """A ``.parquet`` table needs the ``parquet`` extra (checked before any work)."""
    from pathlib import Path

    if path is not None and Path(path).suffix.lower() == ".parquet":
        require_extra("parquet", "pyarrow")


def case_dir(case_file: str | None):
    """The folder that a case's relative image-analysis paths are taken from."""
    from pathlib import Path

    return Path(case_file).resolve().parent if case_file not in (None, "-") else Path.cwd()


def classify_case_file(case, *, case_file: str | None, guideline):
    """The case (with any image-analysis results merged in) and its classification: the
    same integrated result as the report's, so ``classify``, ``trials`` and ``report``
    never disagree on one case."""
    if case.image_analysis:
        from her2kit.report.integrate import integrated_case

        case, result, _ = integrated_case(case, guideline=guideline,
                                          base_dir=case_dir(case_file))
        return case, result
    from her2kit.guideline import classify as classify_case

    return case, classify_case(case, guideline=guideline)


def load_case_file(case_file: str):
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


def check_range(value: int | None, lo: int, hi: int | None, flag: str, *, unit: str = "") -> None:
    """Refuse an integer option outside ``lo``–``hi`` (no upper bound for None), before work."""
    if value is not None and (value < lo or (hi is not None and value > hi)):
        span = f"{lo}–{hi}" if hi is not None else f"{lo} or more"
        raise Her2kitInputError(f"expected {span}{unit}, got {value}", field=flag)


def check_suffixes(*outputs: tuple[str | None, tuple[str, ...], str]) -> None:
    """Refuse an output path whose type the command cannot write, before any work."""
    from pathlib import Path

    for path, suffixes, flag in outputs:
        if path is not None and Path(path).suffix.lower() not in suffixes:
            raise Her2kitInputError(f"{path}: use a {' or '.join(suffixes)} file", field=flag)


def channel_map(text: str | None) -> dict[str, int | str] | None:
    """Parse ``her2=R,cep17=G,dapi=B`` (colour letters of an RGB composite),
    ``dapi=0,her2=1,cep17=2`` (channel indices) or ``dapi=DAPI,...`` (OME channel names)."""
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
        # isdecimal and isascii: "²" is a digit to str.isdigit, not a number to int().
        mapping[name] = int(value) if value.isascii() and value.isdecimal() else value.upper()
    return mapping


def progress(items, description: str, *, console=None):
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


def finish_image_command(doc: dict[str, Any], files: dict, *, out_json: str | None,
                         as_json: bool, printer) -> None:
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
