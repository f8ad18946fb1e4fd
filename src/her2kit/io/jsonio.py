"""Reading case JSON and turning validation errors into one line.

Shared by the CLI and (later) the web service, so both refuse bad input with
the same message.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from her2kit.errors import Her2kitInputError

__all__ = [
    "load_json_object",
    "read_json_any",
    "read_json_object",
    "validation_error_line",
]


def _refuse_constant(name: str) -> Any:
    raise ValueError(f"{name} is not a number JSON allows")


def load_json_object(text: str, *, source: str) -> dict[str, Any]:
    """Parse `text` as one JSON object; `source` names it in errors.

    NaN and Infinity, which Python's parser accepts by default, are refused.
    """
    try:
        value = json.loads(text, parse_constant=_refuse_constant)
    except json.JSONDecodeError as exc:
        raise Her2kitInputError(
            f"malformed JSON: {exc.msg} at line {exc.lineno} column {exc.colno}", field=source
        ) from None
    except ValueError as exc:
        raise Her2kitInputError(f"malformed JSON: {exc}", field=source) from None
    if not isinstance(value, dict):
        raise Her2kitInputError(
            f"expected a JSON object, got {type(value).__name__}", field=source
        )
    return value


def _read_text(path: str) -> tuple[str, str]:
    import sys

    if path == "-":
        return sys.stdin.read(), "<stdin>"
    p = Path(path)
    try:
        return p.read_text(encoding="utf-8"), str(p)
    except FileNotFoundError:
        raise Her2kitInputError("file not found", field=str(p)) from None
    except (OSError, UnicodeDecodeError) as exc:
        raise Her2kitInputError(f"cannot read: {exc}", field=str(p)) from None


def read_json_object(path: str) -> dict[str, Any]:
    """Read a JSON object from a file path, or from standard input for ``-``."""
    text, source = _read_text(path)
    return load_json_object(text, source=source)


def read_json_any(path: str) -> Any:
    """Read any JSON value (object or list) from a file path or ``-``."""
    text, source = _read_text(path)
    try:
        return json.loads(text, parse_constant=_refuse_constant)
    except (json.JSONDecodeError, ValueError) as exc:
        raise Her2kitInputError(f"malformed JSON: {exc}", field=source) from None


def _loc(parts: tuple[Any, ...]) -> str:
    out = ""
    for part in parts:
        if isinstance(part, int):
            out += f"[{part}]"
        elif part in ("list[int]", "int", "constrained-int") or "[" in str(part):
            continue  # union-member tags pydantic adds; not a user-facing field
        else:
            out += f".{part}" if out else str(part)
    return out


def validation_error_line(exc: ValidationError, *, root: str = "case") -> str:
    """One line naming the first offending field, the problem and the value given."""
    err = exc.errors(include_url=False)[0]
    where = _loc(tuple(err["loc"])) or root
    msg = err["msg"].removeprefix("Value error, ")
    if err["type"] == "extra_forbidden":
        msg = "unknown key"
    elif not isinstance(err.get("input"), dict | list) and err["type"] != "missing":
        msg += f" (got {err['input']!r})"
    return f"{where}: {msg}"
