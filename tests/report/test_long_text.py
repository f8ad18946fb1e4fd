"""Long free text never kills the lab PDF, and none of it is lost (issue 13, item 14)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pypdfium2
import pytest

REPO = Path(__file__).resolve().parents[2]


@pytest.mark.parametrize(("site", "word", "count"), [
    (" ".join(["word"] * 1000), "word", 1000),   # one field of 1,000 words
    ("Q" * 5000, "Q", 5000),                      # one 5,000-character token
])
def test_a_very_long_field_prints_whole(tmp_path, site, word, count):
    case = tmp_path / "case.json"
    case.write_text(json.dumps({"case_id": "LONG-1", "ihc": {"score": "1+"},
                                "specimen": {"type": "excision", "site": site}}))
    proc = subprocess.run([sys.executable, "-m", "her2kit", "report", str(case), "--out",
                           str(tmp_path / "o"), "--format", "pdf", "--audience", "lab"],
                          capture_output=True, text=True, timeout=180, cwd=REPO)
    assert proc.returncode == 0, proc.stderr
    pdf = pypdfium2.PdfDocument(str(tmp_path / "o" / "LONG-1-lab.pdf"))
    text = "".join(pdf[i].get_textpage().get_text_range() for i in range(len(pdf)))
    assert text.replace("\r", "").replace("\n", "").count(word) >= count
