"""All-or-nothing output writing."""

from __future__ import annotations

import pytest

from her2kit.errors import OutputError
from her2kit.io.atomic import write_files_atomically, write_paths_atomically


def test_paths_in_several_folders_are_written(tmp_path):
    a, b = tmp_path / "x" / "a.txt", tmp_path / "y" / "b.txt"
    assert write_paths_atomically({a: b"1", b: b"2"}) == [a, b]
    assert (a.read_bytes(), b.read_bytes()) == (b"1", b"2")
    assert sorted(p.name for p in (tmp_path / "x").iterdir()) == ["a.txt"]


def test_a_failure_leaves_nothing_behind(tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("not a folder")
    good = tmp_path / "ok" / "a.txt"
    with pytest.raises(OutputError, match="cannot write"):
        write_paths_atomically({good: b"1", blocker / "b.txt": b"2"})
    assert not good.exists()
    # Destinations are checked before anything is written: not even the folder is made.
    assert not (tmp_path / "ok").exists()


def test_folder_writer_refuses_a_file_as_folder(tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("x")
    with pytest.raises(OutputError, match="cannot write the output folder"):
        write_files_atomically(blocker, {"a.txt": b"1"})


def test_outputs_follow_the_umask_not_private(tmp_path):
    import os
    import stat

    old = os.umask(0o022)
    try:
        (path,) = write_paths_atomically({tmp_path / "a.txt": b"1"})
    finally:
        os.umask(old)
    assert stat.S_IMODE(path.stat().st_mode) == 0o644
