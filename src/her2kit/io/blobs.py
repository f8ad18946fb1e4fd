"""Uploaded files on disk, named by the SHA-256 of their content, never by a client's name.

``ROOT/ab/abcdef….png``: the first two hex digits are a folder. A file is first written
to a hidden temporary name in ``ROOT/.incoming`` (flushed and fsync'd), and renamed to its
content address only when complete and checked, so a reader never sees half a file and an
interrupted write leaves only a temporary file, which :func:`remove_temporaries` (run at
start-up) deletes. Storing the same content twice keeps one file.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import re
import uuid
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

from her2kit.errors import Her2kitInputError

__all__ = ["SUFFIXES", "BlobStore", "BlobTooLarge", "IncomingBlob"]

#: File suffix by media type: the pipelines' readers choose their decoder by suffix.
SUFFIXES = {"image/png": ".png", "image/jpeg": ".jpg", "image/tiff": ".tif"}
_ADDRESS = re.compile(r"^[0-9a-f]{64}\.(png|jpg|tif)$")


class BlobTooLarge(Her2kitInputError):
    """More bytes than the upload limit; nothing is kept."""


@dataclass
class IncomingBlob:
    """A file being received: write chunks, then :meth:`BlobStore.commit` or ``discard``."""

    path: Path
    max_bytes: int
    size_bytes: int = 0
    _sha: object = field(default_factory=hashlib.sha256)
    _fh: object = None

    def write(self, chunk: bytes) -> None:
        """Append ``chunk``; raises BlobTooLarge past ``max_bytes`` (OSError on a full disk)."""
        self.size_bytes += len(chunk)
        if self.size_bytes > self.max_bytes:
            raise BlobTooLarge(f"upload exceeds the limit of {self.max_bytes} bytes",
                               field="body")
        self._sha.update(chunk)
        self._fh.write(chunk)

    @property
    def sha256(self) -> str:
        return self._sha.hexdigest()

    def close(self) -> None:
        """Flush and fsync (a disk that fills at the end fails here, not later)."""
        if self._fh is not None and not self._fh.closed:
            try:
                self._fh.flush()
                os.fsync(self._fh.fileno())
            finally:
                self._fh.close()

    def discard(self) -> None:
        with contextlib.suppress(OSError):
            if self._fh is not None and not self._fh.closed:
                self._fh.close()
        with contextlib.suppress(FileNotFoundError):
            self.path.unlink()


@dataclass(frozen=True)
class BlobStore:
    """The content-addressed folder."""

    root: Path

    @property
    def incoming(self) -> Path:
        return self.root / ".incoming"

    def start(self, *, max_bytes: int) -> IncomingBlob:
        """A new temporary file in ``.incoming``."""
        self.incoming.mkdir(parents=True, exist_ok=True)
        path = self.incoming / f"{os.getpid()}-{uuid.uuid4().hex}.part"
        blob = IncomingBlob(path, max_bytes)
        blob._fh = open(path, "xb")  # noqa: SIM115 (closed by close/discard)
        return blob

    def path_of(self, sha256: str, media_type: str) -> Path:
        """Where content ``sha256`` of ``media_type`` lives."""
        if not re.fullmatch(r"[0-9a-f]{64}", sha256) or media_type not in SUFFIXES:
            raise Her2kitInputError(f"not a stored file: {sha256!r}", field="sha256")
        return self.root / sha256[:2] / f"{sha256}{SUFFIXES[media_type]}"

    def commit(self, blob: IncomingBlob, media_type: str) -> Path:
        """Move a complete, checked file to its content address (idempotent)."""
        blob.close()
        dest = self.path_of(blob.sha256, media_type)
        dest.parent.mkdir(parents=True, exist_ok=True)
        if dest.exists():  # the same bytes were stored before
            blob.discard()
        else:
            os.replace(blob.path, dest)
            _fsync_dir(dest.parent)
        return dest

    def stored(self) -> Iterable[Path]:
        """Every file at a content address."""
        if not self.root.is_dir():
            return
        for sub in sorted(self.root.iterdir()):
            if sub.is_dir() and re.fullmatch(r"[0-9a-f]{2}", sub.name):
                yield from (p for p in sorted(sub.iterdir()) if _ADDRESS.match(p.name))

    def remove_temporaries(self) -> int:
        """Delete every temporary file (start-up: no upload is in flight); returns the count."""
        n = 0
        if self.incoming.is_dir():
            for p in self.incoming.iterdir():
                with contextlib.suppress(FileNotFoundError):
                    p.unlink()
                    n += 1
        return n


def _fsync_dir(folder: Path) -> None:
    fd = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
