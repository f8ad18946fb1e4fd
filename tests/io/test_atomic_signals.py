"""All-or-nothing writes under failure and signals (issue 13, item 6).

A driver process runs ``her2kit synth-ihc`` (two outputs: the image and its truth table)
with the atomic writer slowed at a chosen step, and is signalled there.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from her2kit.errors import OutputError
from her2kit.io.atomic import write_files_atomically, write_paths_atomically

DRIVER = r"""
import sys, time, os
from pathlib import Path
import her2kit.io.atomic as atomic
ready, step = Path(sys.argv[1]), sys.argv[2]
if step == "write":
    real = atomic._write_temp
    def slow(tmp, content, _n=[0]):
        real(tmp, content)
        _n[0] += 1
        if _n[0] == 1:
            ready.touch()
            time.sleep(60)
    atomic._write_temp = slow
else:
    real = os.replace
    def slow(a, b, _n=[0]):
        real(a, b)
        _n[0] += 1
        if _n[0] == 1:
            ready.touch()
            time.sleep(3)
    atomic.os.replace = slow
from her2kit.cli import main
main(sys.argv[3:])
"""


def _drive(tmp_path: Path, step: str, sig: int) -> subprocess.CompletedProcess:
    ready = tmp_path / "ready"
    out = tmp_path / "out"
    proc = subprocess.Popen(
        [sys.executable, "-c", DRIVER, str(ready), step, "synth-ihc", str(out / "r.png"),
         "--size", "64", "--score", "1+"], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
        text=True)
    deadline = time.monotonic() + 120
    while not ready.exists():
        assert proc.poll() is None, proc.communicate()
        assert time.monotonic() < deadline
        time.sleep(0.05)
    proc.send_signal(sig)
    stdout, stderr = proc.communicate(timeout=60)
    return subprocess.CompletedProcess(proc.args, proc.returncode, stdout, stderr)


def _old_outputs(tmp_path: Path) -> dict[str, bytes]:
    out = tmp_path / "out"
    out.mkdir()
    (out / "r.png").write_bytes(b"old image")
    (out / "r-truth.csv").write_bytes(b"old table")
    return {p.name: p.read_bytes() for p in out.iterdir()}


@pytest.mark.parametrize(("sig", "status"), [(signal.SIGTERM, 143), (signal.SIGINT, 130)])
def test_a_signal_while_writing_leaves_the_old_outputs_and_no_temporary_file(
        tmp_path, sig, status):
    before = _old_outputs(tmp_path)
    proc = _drive(tmp_path, "write", sig)
    assert proc.returncode == status
    assert proc.stdout == ""
    assert len(proc.stderr.splitlines()) == 1 and "stopped by" in proc.stderr, proc.stderr
    out = tmp_path / "out"
    assert {p.name: p.read_bytes() for p in out.iterdir()} == before


def test_a_signal_during_the_renames_is_held_until_all_are_done(tmp_path):
    _old_outputs(tmp_path)
    proc = _drive(tmp_path, "commit", signal.SIGINT)
    assert proc.returncode == 130
    assert len(proc.stderr.splitlines()) == 1, proc.stderr
    out = tmp_path / "out"
    assert sorted(p.name for p in out.iterdir()) == ["r-truth.csv", "r.png"]
    assert (out / "r.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert (out / "r-truth.csv").read_bytes() != b"old table"


def test_a_later_destination_that_is_a_folder_is_refused_before_any_write(tmp_path):
    first = tmp_path / "a.txt"
    first.write_bytes(b"old")
    (tmp_path / "b.txt").mkdir()
    with pytest.raises(OutputError, match=r"b\.txt: cannot write \(is a directory\)"):
        write_paths_atomically({first: b"new", tmp_path / "b.txt": b"new"})
    assert first.read_bytes() == b"old"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a.txt", "b.txt"]


def test_a_failed_rename_puts_back_the_outputs_already_renamed(tmp_path, monkeypatch):
    import her2kit.io.atomic as atomic

    (tmp_path / "a.txt").write_bytes(b"old a")
    real, calls = os.replace, []

    def failing(src, dst):
        calls.append(dst)
        if len(calls) == 2:
            raise OSError(28, "No space left on device")
        real(src, dst)

    monkeypatch.setattr(atomic.os, "replace", failing)
    with pytest.raises(OutputError, match=r"b\.txt: cannot write \(No space left on device\)"):
        write_files_atomically(tmp_path, {"a.txt": b"new a", "b.txt": b"new b"})
    monkeypatch.undo()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a.txt"]
    assert (tmp_path / "a.txt").read_bytes() == b"old a"


def test_a_temporary_file_left_by_a_killed_run_is_removed_by_the_next(tmp_path):
    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"],
                          capture_output=True, text=True).stdout.strip()
    stale = tmp_path / f".a.txt.her2kit-{dead}-{'0' * 32}.tmp"
    stale.write_bytes(b"half")
    write_paths_atomically({tmp_path / "a.txt": b"1"})
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a.txt"]


def test_error_names_the_users_path_not_the_temporary_file(tmp_path, monkeypatch):
    import her2kit.io.atomic as atomic

    def full(tmp, content):
        raise OSError(28, "No space left on device", str(tmp))

    monkeypatch.setattr(atomic, "_write_temp", full)
    with pytest.raises(OutputError) as info:
        write_paths_atomically({tmp_path / "a.png": b"1"})
    assert str(info.value) == f"{tmp_path / 'a.png'}: cannot write (No space left on device)"


def test_two_outputs_naming_one_file_are_refused(tmp_path):
    (tmp_path / "sub").mkdir()
    with pytest.raises(OutputError, match="named twice"):
        write_paths_atomically({tmp_path / "a.txt": b"1", tmp_path / "sub" / ".." / "a.txt": b"2"})
    assert [p.name for p in tmp_path.iterdir()] == ["sub"]
