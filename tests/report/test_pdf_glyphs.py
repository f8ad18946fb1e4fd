"""The lab PDF never prints a different identifier (issue 13, item 9): a character its font
lacks is refused, named, in one line; the HTML, which has no such limit, still works."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]


def _report(tmp_path: Path, case_id: str, fmt: str) -> subprocess.CompletedProcess:
    case = tmp_path / "case.json"
    case.write_text(json.dumps({"case_id": case_id, "ihc": {"score": "1+"}}, ensure_ascii=False),
                    encoding="utf-8")
    return subprocess.run([sys.executable, "-m", "her2kit", "report", str(case), "--out",
                           str(tmp_path / "o"), "--format", fmt, "--audience", "lab"],
                          capture_output=True, text=True, timeout=180, cwd=REPO)


def test_a_character_the_pdf_font_lacks_is_refused_and_named(tmp_path):
    proc = _report(tmp_path, "UNI-名前-🧬", "pdf")
    assert proc.returncode == 2 and proc.stdout == ""
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and "'名' (U+540D)" in lines[0], proc.stderr
    assert not (tmp_path / "o").exists()


def test_the_same_case_as_html_keeps_its_identifier(tmp_path):
    proc = _report(tmp_path, "UNI-名前-🧬", "html")
    assert proc.returncode == 0, proc.stderr
    html = next((tmp_path / "o").glob("*-lab.html")).read_text(encoding="utf-8")
    assert "UNI-名前-🧬" in html


def test_symbols_the_font_has_still_print(tmp_path):
    proc = _report(tmp_path, "µ≥–Ö-1", "pdf")
    assert proc.returncode == 0, proc.stderr
