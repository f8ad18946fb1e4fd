"""`her2kit score-slide` on the command line: output, progress, a killed run resumed, and
every bad input as one line with its exit status."""

from __future__ import annotations

import errno
import io
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from her2kit.cli import main

REPO = Path(__file__).resolve().parents[2]


def run(*args: str, timeout: float = 300) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "her2kit", *args], capture_output=True,
                          text=True, timeout=timeout, cwd=REPO)


def _one_line_error(proc, rc: int, pattern: str) -> None:
    assert proc.returncode == rc, proc.stderr
    assert proc.stdout == ""
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1, proc.stderr
    assert lines[0].startswith("her2kit: error: ")
    assert pattern in lines[0], lines[0]


@pytest.fixture(scope="module")
def slide(synthetic_ihc_slide):
    return synthetic_ihc_slide(("2+",))


def test_json_and_files(slide, tmp_path):
    proc = run("score-slide", str(slide), "--out", str(tmp_path / "o"), "--workers", "1",
               "--json")
    assert proc.returncode == 0, proc.stderr
    assert proc.stderr == ""  # no progress bar when standard error is not a terminal
    doc = json.loads(proc.stdout)
    assert doc["kind"] == "score-slide" and doc["ihc"]["score"] == "2+"
    assert json.loads((tmp_path / "o" / "slide.json").read_text()) == doc


def test_summary_names_score_heterogeneity_and_files(slide, tmp_path):
    proc = run("score-slide", str(slide), "--out", str(tmp_path / "o"), "--workers", "1")
    assert proc.returncode == 0, proc.stderr
    assert "IHC score: 2+" in proc.stdout
    assert "Homogeneous" in proc.stdout or "Heterogeneous" in proc.stdout
    assert "heatmap.png" in proc.stdout and "cells.geojson.gz" in proc.stdout


def test_progress_bar_shows_tiles_cells_score_and_time_left():
    from rich.console import Console

    from her2kit.cli.score_slide import progress_bar
    from her2kit.pipelines.slide import SlideProgress

    buf = io.StringIO()
    bar, update = progress_bar(True, Console(file=buf, force_terminal=True, width=120))
    bar.start()
    update(SlideProgress(7, 16, 1234, "2+", 10.0, 12.9))
    bar.stop()
    text = buf.getvalue()
    assert "7/16" in text and "1234 cells" in text and "running score 2+" in text
    assert progress_bar(False) == (None, None)


def test_killed_at_half_and_resumed_is_identical(slide, tmp_path):
    ref = tmp_path / "ref"
    assert run("score-slide", str(slide), "--out", str(ref), "--workers", "1",
               "--tile-um", "250", "--json").returncode == 0
    out = tmp_path / "killed"
    proc = subprocess.Popen([sys.executable, "-m", "her2kit", "score-slide", str(slide),
                             "--out", str(out), "--workers", "1", "--tile-um", "250", "--json"],
                            cwd=REPO,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                            start_new_session=True)
    total = json.loads((ref / "slide.json").read_text())["tiles"]["tissue_tiles"]
    deadline = time.monotonic() + 240
    while time.monotonic() < deadline:
        parts = out / "parts"
        if parts.is_dir() and len(list(parts.glob("tile_*.parquet"))) >= total // 2:
            break
        time.sleep(0.05)
    os.killpg(proc.pid, signal.SIGKILL)  # the command and its worker processes
    proc.wait(30)
    n_parts = len(list((out / "parts").glob("tile_*.parquet")))
    assert total // 2 <= n_parts < total
    assert not (out / "slide.json").exists()
    again = run("score-slide", str(slide), "--out", str(out), "--workers", "1", "--resume",
                "--tile-um", "250", "--json")
    assert again.returncode == 0, again.stderr
    doc, ref_doc = json.loads(again.stdout), json.loads((ref / "slide.json").read_text())
    assert doc["timing"]["tiles_resumed"] == n_parts
    assert {k: v for k, v in doc.items() if k != "timing"} == {
        k: v for k, v in ref_doc.items() if k != "timing"}
    assert (out / "cells.parquet").read_bytes() == (ref / "cells.parquet").read_bytes()


def _real(real_data, name: str) -> str:
    return str(real_data("wsi_real_small") / name)


def test_h_and_e_slide_is_refused(real_data, tmp_path):
    proc = run("score-slide", _real(real_data, "CMU-1-Small-Region.svs"), "--out",
               str(tmp_path / "o"))
    _one_line_error(proc, 2, "no H-DAB stain found")
    assert not (tmp_path / "o").exists()


def test_fluorescence_slide_is_refused(real_data, tmp_path):
    proc = run("score-slide", _real(real_data, "test3-DAPI-2-(387).ndpi"), "--out",
               str(tmp_path / "o"))
    _one_line_error(proc, 2, "fluorescence")


def test_slide_without_pixel_size_is_refused(real_data, tmp_path):
    proc = run("score-slide", _real(real_data, "tcga-cr-7395-01a-01-ts1.svs"), "--out",
               str(tmp_path / "o"))
    _one_line_error(proc, 2, "give --assume-mpp")


def test_corrupt_slide_is_refused(real_data, tmp_path):
    proc = run("score-slide", _real(real_data, "broken.svs"), "--out", str(tmp_path / "o"))
    _one_line_error(proc, 2, "broken.svs")


def test_unreachable_scheduler_exits_3(slide, tmp_path):
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    proc = run("score-slide", str(slide), "--out", str(tmp_path / "o"), "--scheduler",
               f"tcp://127.0.0.1:{port}")
    _one_line_error(proc, 3, "cannot reach the Dask scheduler")


def test_workers_and_scheduler_together_are_refused(slide, tmp_path):
    proc = run("score-slide", str(slide), "--out", str(tmp_path / "o"), "--workers", "1",
               "--scheduler", "tcp://127.0.0.1:1")
    _one_line_error(proc, 2, "not both")


@pytest.mark.parametrize("value", ["20", "1e9", "nan"])
def test_tile_size_out_of_range_is_refused(slide, tmp_path, value):
    proc = run("score-slide", str(slide), "--out", str(tmp_path / "o"), "--tile-um", value)
    _one_line_error(proc, 2, "--tile-um")
    assert not (tmp_path / "o").exists()


def test_full_disk_is_one_line_exit_2_and_resume_works(slide, tmp_path, monkeypatch, capsys):
    import her2kit.io.atomic as atomic

    real = atomic._write_temp
    calls = {"n": 0}

    def full(tmp, content):
        calls["n"] += 1
        if calls["n"] > 3:
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
        real(tmp, content)

    monkeypatch.setattr(atomic, "_write_temp", full)
    out = tmp_path / "o"
    with pytest.raises(SystemExit) as stop:
        main(["score-slide", str(slide), "--out", str(out), "--workers", "0", "--tile-um",
              "250"])
    assert stop.value.code == 2
    cap = capsys.readouterr()
    assert cap.out == ""
    assert cap.err.count("\n") == 1 and "No space left on device" in cap.err
    assert not list(out.rglob("*.tmp*")) and not (out / "slide.json").exists()
    monkeypatch.setattr(atomic, "_write_temp", real)
    main(["score-slide", str(slide), "--out", str(out), "--workers", "0", "--resume",
          "--tile-um", "250", "--json"])
    doc = json.loads(capsys.readouterr().out)
    assert doc["timing"]["tiles_resumed"] == 2
