"""Write a set of output files all-or-nothing.

Every destination is checked before anything is written (a folder where a file should
go, two outputs naming one file); each file is then written to a hidden temporary name
beside its destination, and only when all are written are they renamed into place, with
SIGINT and SIGTERM deferred while they are (the CLI turns both into an exception, so
the temporary files are removed on the way out). Should a rename still fail, the
destinations renamed so far get their previous content back. A temporary file left by a
run killed outright (SIGKILL, power loss) is hidden, never read, and removed by the next
run that writes beside it.
"""

from __future__ import annotations

import contextlib
import os
import re
import signal
import uuid
from collections.abc import Iterator
from pathlib import Path

from her2kit.errors import OutputError

__all__ = ["replacing", "temp_name", "write_files_atomically", "write_paths_atomically"]

#: ``.<name>.her2kit-<pid>-<hex>.tmp`` (or ``.bak``): the pid tells a later run whether the
#: writer is still alive.
_TEMP = re.compile(r"^\..+\.her2kit-(\d+)-[0-9a-f]{32}\.(tmp|bak)$")


def temp_name(path: Path, kind: str = "tmp") -> Path:
    """The hidden temporary name beside ``path`` that this process writes first."""
    return path.parent / f".{path.name}.her2kit-{os.getpid()}-{uuid.uuid4().hex}.{kind}"


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except OSError:  # exists, owned by someone else
        return True
    return True


def _remove_stale_temps(folder: Path) -> None:
    """Remove temporary files of writers that no longer run (killed with SIGKILL)."""
    with contextlib.suppress(OSError):
        for entry in os.scandir(folder):
            m = _TEMP.match(entry.name)
            if m and int(m.group(1)) != os.getpid() and not _alive(int(m.group(1))):
                with contextlib.suppress(OSError):
                    os.unlink(entry.path)


def _check_destinations(files: dict[Path, bytes]) -> None:
    """Refuse, before any write, a destination that cannot be replaced by a file."""
    seen: dict[Path, Path] = {}
    for path in files:
        real = Path(os.path.abspath(path)).resolve()
        if real in seen:
            raise OutputError(f"{path}: named twice among the outputs (also {seen[real]})")
        seen[real] = path
        if real.is_dir():
            raise OutputError(f"{path}: cannot write (is a directory)")
        if real.exists() and not real.is_file():
            raise OutputError(f"{path}: cannot write (not a regular file)")
        for parent in real.parents:
            if parent.exists():
                if not parent.is_dir():
                    raise OutputError(f"{path}: cannot write ({parent} is not a folder)")
                break


@contextlib.contextmanager
def _signals_deferred() -> Iterator[None]:
    """Defer SIGINT and SIGTERM while the files are renamed: each is recorded, and raised
    again once all are in place. (Blocking with pthread_sigmask is not enough: the
    signal then goes to another thread, a BLAS worker, and Python still runs its handler.)"""
    caught: list[int] = []
    previous = {}
    try:
        for sig in (signal.SIGINT, signal.SIGTERM):
            previous[sig] = signal.signal(sig, lambda signum, frame: caught.append(signum))
    except ValueError:  # not the main thread: signals are not ours to handle
        pass
    try:
        yield
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
        if caught:
            signal.raise_signal(caught[0])


def _write_temp(tmp: Path, content: bytes) -> None:
    # Not mkstemp: its files are private (0600); outputs get the user's umask, as any
    # file they write.
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666)
    with os.fdopen(fd, "wb") as handle:
        handle.write(content)


def _commit(temps: list[tuple[Path, Path]]) -> None:
    """Rename every temporary file into place; on a failure, put back what was there."""
    done: list[tuple[Path, Path | None, bool]] = []
    backups: list[Path] = []
    try:
        for tmp, path in temps:
            backup, existed = None, path.is_file()
            if existed:
                backup = temp_name(path, "bak")
                try:
                    os.link(path, backup)
                    backups.append(backup)
                except OSError:
                    backup = None
            try:
                os.replace(tmp, path)
            except OSError as exc:
                raise OutputError(f"{path}: cannot write ({exc.strerror})") from None
            done.append((path, backup, existed))
    except BaseException:
        for path, backup, existed in reversed(done):
            with contextlib.suppress(OSError):
                if backup is not None:
                    os.replace(backup, path)
                elif not existed:  # (an old file that could not be linked stays replaced)
                    os.unlink(path)
        raise
    finally:
        for backup in backups:
            with contextlib.suppress(OSError):
                os.unlink(backup)


def write_paths_atomically(files: dict[Path, bytes]) -> list[Path]:
    """Write ``{path: content}`` (paths in any folders) all-or-nothing.

    Every destination is checked first; every file is then written to a temporary name
    beside its destination, and only when all are written are they renamed into place.

    Raises
    ------
    OutputError
        A destination that is a folder or named twice, a folder that cannot be created, a
        file that cannot be written, naming the user's path; no temporary file and no
        destination file of this call is left behind (destinations keep their old content).
    """
    files = {Path(p): c for p, c in files.items()}
    _check_destinations(files)
    temps: list[tuple[Path, Path]] = []
    try:
        for path, content in files.items():
            try:
                path.parent.mkdir(parents=True, exist_ok=True)
            except OSError as exc:
                raise OutputError(f"{path}: cannot write the folder ({exc.strerror})") from None
            _remove_stale_temps(path.parent)
            tmp = temp_name(path)
            temps.append((tmp, path))  # before writing: a signal mid-write still removes it
            try:
                _write_temp(tmp, content)
            except OSError as exc:
                raise OutputError(f"{path}: cannot write ({exc.strerror})") from None
        with _signals_deferred():
            _commit(temps)
        return [path for _, path in temps]
    finally:
        for tmp, _ in temps:
            with contextlib.suppress(OSError):
                tmp.unlink(missing_ok=True)


def write_files_atomically(out_dir: str | Path, files: dict[str, bytes]) -> list[Path]:
    """Write ``{name: content}`` into `out_dir` all-or-nothing; returns the final paths.

    Raises
    ------
    OutputError
        When the folder cannot be created or a file written; nothing is left behind.
    """
    out = Path(out_dir)
    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise OutputError(f"{out}: cannot write the output folder ({exc.strerror})") from None
    if not out.is_dir():
        raise OutputError(f"{out}: cannot write the output folder (not a folder)")
    return write_paths_atomically({out / name: content for name, content in files.items()})


@contextlib.contextmanager
def replacing(path) -> Iterator[Path]:
    """Stream one large output: yield a hidden temporary path beside ``path`` to write to;
    when the block ends without an error it is renamed onto ``path`` (SIGINT and SIGTERM
    deferred while it is), else removed. For files too large to hold as bytes (a slide).

    Raises
    ------
    OutputError
        ``path`` is a folder or not a regular file, or its folder cannot be created, or
        the rename fails; nothing is left behind.
    """
    path = Path(path)
    _check_destinations({path: b""})
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise OutputError(f"{path}: cannot write the folder ({exc.strerror})") from None
    _remove_stale_temps(path.parent)
    tmp = temp_name(path)
    try:
        yield tmp
        with _signals_deferred():
            try:
                os.replace(tmp, path)
            except OSError as exc:
                raise OutputError(f"{path}: cannot write ({exc.strerror})") from None
    finally:
        with contextlib.suppress(OSError):
            tmp.unlink(missing_ok=True)
