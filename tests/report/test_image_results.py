"""A case file whose only test is an image-analysis result is classified and reported, and a
malformed result file is one line, never a traceback (issues 12 and 13, item 13)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]


def _her2kit(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "her2kit", *args], capture_output=True,
                          text=True, timeout=180, cwd=REPO)


@pytest.fixture(scope="module")
def result_doc(tmp_path_factory) -> dict:
    d = tmp_path_factory.mktemp("ia")
    assert _her2kit("synth-ihc", str(d / "r.png"), "--score", "3+", "--size", "384",
                    "--seed", "2").returncode == 0
    proc = _her2kit("score-ihc", str(d / "r.png"), "--mpp", "0.5", "--json")
    assert proc.returncode == 0, proc.stderr
    return json.loads(proc.stdout)


def _case(tmp_path: Path, doc: dict, **extra) -> Path:
    (tmp_path / "ia.json").write_text(json.dumps(doc))
    case = tmp_path / "case.json"
    case.write_text(json.dumps({"case_id": "IA-ONLY", "image_analysis": ["ia.json"], **extra}))
    return case


def test_a_case_with_only_an_image_analysis_result_is_classified(tmp_path, result_doc):
    assert result_doc["ihc"]["score"] == "3+"  # the generated 3+ region scores 3+
    case = _case(tmp_path, result_doc)
    proc = _her2kit("classify", str(case))
    assert proc.returncode == 0, proc.stderr
    assert "HER2: POSITIVE" in proc.stdout
    rep = _her2kit("report", str(case), "--out", str(tmp_path / "o"), "--format", "json")
    assert rep.returncode == 0, rep.stderr


@pytest.mark.parametrize(("change", "named"), [
    ({"evidence": [1, 2]}, "'evidence' must be an object"),
    ({"case_input": {"ish": "x"}}, "'case_input' must hold an 'ihc' or 'ish' block"),
    ({"case_input": []}, "'case_input' must hold an 'ihc' or 'ish' block"),
])
def test_a_malformed_result_file_is_one_line(tmp_path, result_doc, change, named):
    case = _case(tmp_path, {**result_doc, **change}, er={"percent": 50})
    proc = _her2kit("report", str(case), "--out", str(tmp_path / "o"))
    assert proc.returncode == 2 and proc.stdout == ""
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and named in lines[0], proc.stderr
    assert not (tmp_path / "o").exists()
