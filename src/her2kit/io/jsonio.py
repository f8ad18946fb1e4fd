"""Reading case JSON and turning validation errors into one line.

Shared by the CLI and (later) the web service, so both refuse bad input with
the same message. Every JSON file her2kit reads (case, result, ROI, trials) comes
through here: only regular files (or standard input) up to ``MAX_JSON_BYTES``,
no duplicate keys, no NaN or Infinity, no nesting deep enough to exhaust the stack.
"""

from __future__ import annotations

import json
import os
import stat
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from her2kit.errors import Her2kitInputError
from her2kit.settings import value

__all__ = [
    "MAX_JSON_BYTES",
    "load_json_object",
    "parse_json",
    "read_json_any",
    "read_json_object",
    "read_limited_text",
    "validation_error_line",
]

#: Largest JSON file read, bytes (the ``json_max_bytes`` setting).
MAX_JSON_BYTES: int = value("json_max_bytes")
#: Deepest nesting of objects and arrays accepted; case files nest four levels.
MAX_JSON_DEPTH = 64


def _refuse_constant(name: str) -> Any:
    raise ValueError(f"{name} is not a number JSON allows")


def _refuse_duplicates(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    # The standard parser keeps the last of two equal keys: a case saying both
    # "score": "0" and "score": "3+" must be refused, not silently read as one of them.
    out: dict[str, Any] = {}
    for key, item in pairs:
        if key in out:
            raise ValueError(f"duplicate key {key!r}")
        out[key] = item
    return out


def _too_deep(value: Any, limit: int) -> bool:
    """Whether `value` nests objects and arrays deeper than `limit` (level by level: no
    recursion, and one list comprehension per level, so a million-position GeoJSON ring
    is walked in a fraction of a second)."""
    level = [value] if isinstance(value, dict | list) else []
    for _ in range(limit):
        level = [c for item in level for c in (item.values() if isinstance(item, dict)
                                               else item) if isinstance(c, dict | list)]
        if not level:
            return False
    return bool(level)


def parse_json(text: str, *, source: str) -> Any:
    """Parse any JSON value; every refusal is a Her2kitInputError naming `source`.

    Refused: malformed text, NaN/Infinity, duplicate keys, nesting deeper than
    ``MAX_JSON_DEPTH``.
    """
    too_deep = f"malformed JSON: nested more than {MAX_JSON_DEPTH} levels"
    try:
        parsed = json.loads(text, parse_constant=_refuse_constant,
                            object_pairs_hook=_refuse_duplicates)
    except RecursionError:
        raise Her2kitInputError(too_deep, field=source) from None
    except json.JSONDecodeError as exc:
        raise Her2kitInputError(
            f"malformed JSON: {exc.msg} at line {exc.lineno} column {exc.colno}", field=source
        ) from None
    except ValueError as exc:
        raise Her2kitInputError(f"malformed JSON: {exc}", field=source) from None
    if _too_deep(parsed, MAX_JSON_DEPTH):
        raise Her2kitInputError(too_deep, field=source)
    return parsed


def load_json_object(text: str, *, source: str) -> dict[str, Any]:
    """Parse `text` as one JSON object; `source` names it in errors.

    NaN and Infinity, which Python's parser accepts by default, are refused, and so
    are duplicate keys (which it resolves silently, last one wins).
    """
    value_ = parse_json(text, source=source)
    if not isinstance(value_, dict):
        raise Her2kitInputError(
            f"expected a JSON object, got {type(value_).__name__}", field=source
        )
    return value_


def read_limited_text(path: str, *, max_bytes: int = MAX_JSON_BYTES) -> tuple[str, str]:
    """(text, source name) of a regular file, or of standard input for ``-``.

    Raises
    ------
    Her2kitInputError
        Not found, a directory, FIFO or device, larger than ``max_bytes``, not UTF-8.
    """
    import sys

    if path == "-":
        text = sys.stdin.read(max_bytes + 1)
        if len(text.encode("utf-8", "surrogatepass")) > max_bytes:
            raise Her2kitInputError(f"more than {max_bytes} bytes of JSON", field="<stdin>")
        return text, "<stdin>"
    p = Path(path)
    try:
        mode = p.stat().st_mode
    except FileNotFoundError:
        raise Her2kitInputError("file not found", field=str(p)) from None
    except OSError as exc:
        raise Her2kitInputError(f"cannot read: {exc.strerror}", field=str(p)) from None
    if stat.S_ISDIR(mode):
        raise Her2kitInputError("is a directory, not a file", field=str(p))
    if not stat.S_ISREG(mode):
        raise Her2kitInputError("not a regular file (a device, FIFO or socket)", field=str(p))
    try:
        # O_NONBLOCK: a path swapped for a FIFO after the check cannot hang the open.
        fd = os.open(p, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0))
        with os.fdopen(fd, "rb") as handle:
            if not stat.S_ISREG(os.fstat(handle.fileno()).st_mode):
                raise Her2kitInputError("not a regular file", field=str(p))
            data = handle.read(max_bytes + 1)
    except OSError as exc:
        raise Her2kitInputError(f"cannot read: {exc.strerror}", field=str(p)) from None
    if len(data) > max_bytes:
        raise Her2kitInputError(f"larger than the limit of {max_bytes} bytes", field=str(p))
    try:
        return data.decode("utf-8"), str(p)
    except UnicodeDecodeError as exc:
        raise Her2kitInputError(f"cannot read: {exc}", field=str(p)) from None


def read_json_object(path: str) -> dict[str, Any]:
    """Read a JSON object from a file path, or from standard input for ``-``."""
    text, source = read_limited_text(path)
    return load_json_object(text, source=source)


def read_json_any(path: str) -> Any:
    """Read any JSON value (object or list) from a file path or ``-``."""
    text, source = read_limited_text(path)
    return parse_json(text, source=source)


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
