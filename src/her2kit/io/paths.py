"""Which paths name the same file: inputs given twice, outputs that would overwrite inputs.

A file named twice under different spellings (``f.tif``, ``./f.tif``, ``../x/f.tif``), by
a symbolic or hard link, or copied, must not be counted twice; an output must never
replace an input or another output of the same run. Paths are compared after resolving
links; existing inputs also by device and inode, and by a hash of their content.
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Iterable, Sequence
from pathlib import Path

from her2kit.errors import Her2kitInputError

__all__ = ["png_beside", "refuse_output_clashes", "refuse_same_inputs"]

_CHUNK = 1 << 20


def _resolved(path: str | Path) -> Path:
    return Path(os.path.abspath(Path(path).expanduser())).resolve()


def _inode(path: Path) -> tuple[int, int] | None:
    try:
        st = path.stat()
    except OSError:
        return None
    return st.st_dev, st.st_ino


def _content_hash(path: Path) -> str | None:
    """SHA-256 of a regular file's bytes, or None when it cannot be read (the reader
    then names the cause)."""
    try:
        if not path.is_file():
            return None
        digest = hashlib.sha256()
        with path.open("rb") as handle:
            while chunk := handle.read(_CHUNK):
                digest.update(chunk)
    except OSError:
        return None
    return digest.hexdigest()


def refuse_same_inputs(named: Sequence[tuple[str, str | Path]], *, what: str) -> None:
    """Refuse two inputs that are one file, or two files with the same content.

    Parameters
    ----------
    named : sequence of (flag or argument name, path)
        The inputs, in the order given (``("IMAGE", "f.tif")``, ``("--her2", ...)``).
    what : str
        What the inputs are, for the message ("field", "FISH channel").

    Raises
    ------
    Her2kitInputError
        Naming both inputs; "the same file" or "identical content".
    """
    seen: dict[object, tuple[str, str | Path]] = {}
    for flag, path in named:
        p = _resolved(path)
        keys = [("path", p), ("inode", _inode(p))]
        for key in keys:
            if key[1] is not None and key in seen:
                first = seen[key]
                raise Her2kitInputError(
                    f"{path} and {first[1]} are the same file: each {what} must be given once",
                    field=flag)
        for key in keys:
            if key[1] is not None:
                seen[key] = (flag, path)
    hashes: dict[str, tuple[str, str | Path]] = {}
    for flag, path in named:
        digest = _content_hash(_resolved(path))
        if digest is None:
            continue
        if digest in hashes:
            raise Her2kitInputError(
                f"{path} has the same content as {hashes[digest][1]}: each {what} must be a "
                "different image", field=flag)
        hashes[digest] = (flag, path)


def refuse_output_clashes(inputs: Iterable[tuple[str, str | Path | None]],
                          outputs: Iterable[tuple[str, str | Path | None]]) -> None:
    """Refuse an output that names an input, or the same file as another output.

    Parameters
    ----------
    inputs, outputs : iterable of (flag or argument name, path or None)
        None entries (options not given) and ``-`` (standard input) are skipped.

    Raises
    ------
    Her2kitInputError
        Naming the output's flag and both paths.
    """
    known: dict[object, tuple[str, str | Path, str]] = {}
    for flag, path in inputs:
        if path is None or str(path) == "-":
            continue
        p = _resolved(path)
        for key in (("path", p), ("inode", _inode(p))):
            if key[1] is not None:
                known.setdefault(key, (flag, path, "input"))
    for flag, path in outputs:
        if path is None:
            continue
        p = _resolved(path)
        keys = [k for k in (("path", p), ("inode", _inode(p))) if k[1] is not None]
        for key in keys:
            if key in known:
                other_flag, other, role = known[key]
                what = "would overwrite the input" if role == "input" else "is also"
                raise Her2kitInputError(f"{path} {what} {other_flag} {other}", field=flag)
        for key in keys:
            known[key] = (flag, path, "output")


_PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


def png_beside(name: str, result_path: Path) -> Path:
    """The path of an overlay a result file names, refused unless it is a PNG beside it.

    ``score-ihc`` and ``count-ish`` record only the overlay's file name, beside the JSON
    they write; anything else in that field (an absolute path, ``../``, a file that is not
    a PNG) would make the report embed a file her2kit did not write, so it is one line.
    """
    if Path(name).name != name or name in (".", "..") or not name.lower().endswith(".png"):
        raise Her2kitInputError(
            f"overlay {name!r} is not the file name of a PNG beside the result file",
            field=str(result_path))
    path = result_path.parent / name
    if path.exists():
        with open(path, "rb") as f:
            head = f.read(len(_PNG_SIGNATURE)) if path.is_file() else b""
        if head != _PNG_SIGNATURE:
            raise Her2kitInputError(f"overlay {name!r} is not a PNG file", field=str(result_path))
    return path
