"""`her2kit calibrate` end to end: a control list of generated regions → file → score-ihc."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from PIL import Image

from her2kit.synthetic.ihc import generate_ihc_region

REPO = Path(__file__).resolve().parents[2]
SCORES = ("0", "1+", "2+", "3+")


def run(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "her2kit", *args], capture_output=True,
                          text=True, timeout=300, cwd=REPO)


@pytest.fixture(scope="module")
def controls(tmp_path_factory):
    folder = tmp_path_factory.mktemp("controls")
    lines = ["file,score,tissue,mpp"]
    for i, score in enumerate(SCORES * 2):
        s = generate_ihc_region(shape_px=(384, 384), pixel_size_um=0.5, target_score=score,
                                seed=700 + i)
        Image.fromarray(s.image).save(folder / f"c{i}.png")
        lines.append(f"c{i}.png,{score},breast,0.5")
    (folder / "controls.csv").write_text("\n".join(lines) + "\n")
    return folder


def test_calibrate_writes_a_file_that_score_ihc_uses(controls, tmp_path):
    out = tmp_path / "cal.json"
    proc = run("calibrate", str(controls / "controls.csv"), "--out", str(out))
    assert proc.returncode == 0, proc.stderr
    assert "breast: 8 controls" in proc.stdout
    assert "leave-one-out" in proc.stdout
    doc = json.loads(out.read_text())
    assert doc["kind"] == "ihc-calibration"
    assert set(doc["thresholds"]) == {"breast"}
    assert len(doc["evidence"]["breast"]["controls"]) == 8
    proc = run("score-ihc", str(controls / "c3.png"), "--mpp", "0.5", "--json",
               "--calibration", str(out))
    assert proc.returncode == 0, proc.stderr
    ev = json.loads(proc.stdout)["evidence"]
    assert ev["calibration"]["source"] == "cal.json"
    assert ev["calibration"]["thresholds"] == doc["thresholds"]["breast"]
    assert ev["parameters"]["membrane_baseline"] == "cell_cytoplasm"


def test_bad_control_list_is_one_line_error(tmp_path):
    bad = tmp_path / "bad.csv"
    bad.write_text("file,score,tissue\nx.png,4+,breast\n")
    proc = run("calibrate", str(bad), "--out", str(tmp_path / "c.json"))
    assert proc.returncode == 2
    assert proc.stdout == ""
    assert proc.stderr.startswith("her2kit: error:") and "4+" in proc.stderr


def test_gastric_needs_a_calibration(controls):
    proc = run("score-ihc", str(controls / "c0.png"), "--mpp", "0.5", "--tissue", "gastric")
    assert proc.returncode == 2
    assert "--calibration" in proc.stderr
