"""Write a set of output files all-or-nothing.

Files are written into a temporary folder beside the destination and renamed
into place only when every one of them has been produced, so an error never
leaves a half-written report behind.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from pathlib import Path

from her2kit.errors import OutputError

__all__ = ["write_files_atomically"]


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
