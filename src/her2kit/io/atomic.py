"""Write a set of output files all-or-nothing.

Files are written into a temporary folder beside the destination and renamed
into place only when every one of them has been produced, so an error never
leaves a half-written report behind.
"""

from __future__ import annotations

import os
import shutil
import tempfile
import uuid
from pathlib import Path

from her2kit.errors import OutputError

__all__ = ["write_files_atomically", "write_paths_atomically"]


def write_files_atomically(out_dir: str | Path, files: dict[str, bytes]) -> list[Path]:
    """Write ``{name: content}`` into `out_dir`; returns the final paths.

    Raises
    ------
    OutputError
        When the folder cannot be created or written; nothing is left behind.
    """
    out = Path(out_dir)
    try:
        out.mkdir(parents=True, exist_ok=True)
        tmp = Path(tempfile.mkdtemp(prefix=".her2kit-", dir=out))
    except OSError as exc:
        raise OutputError(f"{out}: cannot write the output folder ({exc.strerror})") from None
    try:
        for name, content in files.items():
            (tmp / name).write_bytes(content)
        final = []
        for name in files:
            os.replace(tmp / name, out / name)
            final.append(out / name)
        return final
    except OSError as exc:
        raise OutputError(f"{out}: cannot write the output files ({exc.strerror})") from None
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def write_paths_atomically(files: dict[Path, bytes]) -> list[Path]:
    """Write ``{path: content}`` (paths in any folders) all-or-nothing.

    Every file is first written to a temporary name beside its destination; only
    when all are written are they renamed into place.

    Raises
    ------
    OutputError
        When a folder cannot be created or a file written; no temporary file and
        no destination file of this call is left behind.
    """
    temps: list[tuple[Path, Path]] = []
    try:
        for path, content in files.items():
            path.parent.mkdir(parents=True, exist_ok=True)
            # Not mkstemp: its files are private (0600); outputs get the user's umask, as
            # any file they write.
            tmp = path.parent / f".{path.name}.{uuid.uuid4().hex}.tmp"
            fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666)
            temps.append((tmp, path))
            with os.fdopen(fd, "wb") as handle:
                handle.write(content)
        for tmp, path in temps:
            os.replace(tmp, path)
        return [path for _, path in temps]
    except OSError as exc:
        for tmp, _ in temps:
            tmp.unlink(missing_ok=True)
        where = exc.filename or "the output"
        raise OutputError(f"{where}: cannot write ({exc.strerror})") from None
