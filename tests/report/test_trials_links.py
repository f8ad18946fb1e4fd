"""Saved trial lists cannot put a live link other than a study page into a report
(issue 13, items 8 and 13): checked when `report --trials` reads the file."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
DEMO = REPO / "examples" / "report" / "demo-case.json"

GOOD = {"nct_id": "NCT09999999", "title": "Example", "status": "RECRUITING",
        "url": "https://clinicaltrials.gov/study/NCT09999999"}


def _report(tmp_path: Path, studies) -> subprocess.CompletedProcess:
    saved = tmp_path / "trials.json"
    saved.write_text(json.dumps({"studies": studies}))
    return subprocess.run(
        [sys.executable, "-m", "her2kit", "report", str(DEMO), "--out", str(tmp_path / "o"),
         "--format", "html", "--audience", "patient", "--trials", str(saved)],
        capture_output=True, text=True, timeout=120, cwd=REPO)


@pytest.mark.parametrize(("study", "named"), [
    ({**GOOD, "url": "javascript:alert(document.cookie)"}, "javascript:"),
    ({**GOOD, "url": "data:text/html,<script>alert(1)</script>"}, "data:"),
    ({**GOOD, "url": "http://clinicaltrials.gov/study/NCT09999999"}, "http://"),
    ({**GOOD, "url": "https://evil.example/phish?next=NCT09999999"}, "evil.example"),
    ({**GOOD, "url": "https://clinicaltrials.gov/study/NCT01234567"}, "NCT01234567"),
    ({k: v for k, v in GOOD.items() if k != "nct_id"}, "nct_id None"),
    ({**GOOD, "nct_id": "NCT1"}, "'NCT1'"),
    ({**GOOD, "title": 7}, "title"),
    (["NCT09999999"], "must be an object"),
])
def test_a_bad_saved_study_is_refused_in_one_line(tmp_path, study, named):
    proc = _report(tmp_path, [GOOD, study])
    assert proc.returncode == 2
    assert proc.stdout == ""
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and "studies[1]" in lines[0] and named in lines[0], proc.stderr
    assert not (tmp_path / "o").exists()


def test_a_study_page_link_is_kept(tmp_path):
    proc = _report(tmp_path, [GOOD])
    assert proc.returncode == 0, proc.stderr
    html = (tmp_path / "o" / "DEMO-2026-0117-patient.html").read_text()
    assert 'href="https://clinicaltrials.gov/study/NCT09999999"' in html
