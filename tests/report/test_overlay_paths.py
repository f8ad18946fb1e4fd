"""A result file can only bring a PNG from beside it into a report (issue 13, item 7): an
overlay entry naming another file is one line, exit 2, and nothing is embedded."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
CASE = {"case_id": "OV-1", "ihc": {"score": "2+"}, "image_analysis": ["score-ihc.json"]}
PNG_1PX = bytes.fromhex(
    "89504e470d0a1a0a0000000d4948445200000001000000010806000000"
    "1f15c4890000000d49444154789c63000100000500010d0a2db40000000049454e44ae426082")


def _setup(tmp_path: Path, overlay: str, *, overlay_bytes: bytes | None = None) -> Path:
    # A genuine score-ihc document (from the demo's generated region) with its overlay
    # entry replaced: the rest of the file is what her2kit writes.
    subprocess.run([sys.executable, "-m", "her2kit", "synth-ihc", str(tmp_path / "r.png"),
                    "--score", "2+", "--size", "256", "--seed", "1"], check=True,
                   capture_output=True, timeout=120, cwd=REPO)
    out = subprocess.run([sys.executable, "-m", "her2kit", "score-ihc", str(tmp_path / "r.png"),
                          "--mpp", "0.5", "--json"], check=True, capture_output=True,
                         text=True, timeout=120, cwd=REPO).stdout
    doc = json.loads(out)
    doc["overlay"] = overlay
    (tmp_path / "score-ihc.json").write_text(json.dumps(doc))
    if overlay_bytes is not None:
        (tmp_path / overlay).write_bytes(overlay_bytes)
    case = tmp_path / "case.json"
    case.write_text(json.dumps(CASE))
    return case


def _report(tmp_path: Path, case: Path) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "her2kit", "report", str(case), "--out",
                           str(tmp_path / "o"), "--format", "html", "--audience", "lab"],
                          capture_output=True, text=True, timeout=180, cwd=REPO)


@pytest.mark.parametrize("overlay", ["/etc/passwd", "../secret.png", "sub/ov.png", "ov.txt"])
def test_an_overlay_not_beside_the_result_is_refused(tmp_path, overlay):
    proc = _report(tmp_path, _setup(tmp_path, overlay))
    assert proc.returncode == 2 and proc.stdout == ""
    assert len(proc.stderr.strip().splitlines()) == 1, proc.stderr
    assert "not the file name of a PNG beside the result file" in proc.stderr
    assert not (tmp_path / "o").exists()


def test_a_file_that_is_not_a_png_is_refused(tmp_path):
    shutil.copyfile("/etc/hostname" if Path("/etc/hostname").exists() else __file__,
                    tmp_path / "ov.png")
    proc = _report(tmp_path, _setup(tmp_path, "ov.png"))
    assert proc.returncode == 2 and "is not a PNG file" in proc.stderr, proc.stderr


def test_a_png_beside_the_result_is_embedded(tmp_path):
    proc = _report(tmp_path, _setup(tmp_path, "ov.png", overlay_bytes=PNG_1PX))
    assert proc.returncode == 0, proc.stderr
    html = (tmp_path / "o" / "OV-1-lab.html").read_text()
    assert "data:image/png;base64,iVBORw0KGgo" in html
