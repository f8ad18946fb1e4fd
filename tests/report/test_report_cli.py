"""`her2kit report` through a real subprocess: files written, bad input refused whole."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
DEMO = REPO / "examples" / "report" / "demo-case.json"


def run(*args: str, cwd: Path = REPO) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "her2kit", *args], capture_output=True,
                          text=True, timeout=120, cwd=cwd)


def test_all_formats_for_both_audiences(tmp_path):
    proc = run("report", str(DEMO), "--out", str(tmp_path))
    assert proc.returncode == 0, proc.stderr
    written = {Path(p).name for p in proc.stdout.split()}
    stem = "DEMO-2026-0117"
    assert written == {f"{stem}-{s}" for s in ("report.json", "lab.html", "patient.html",
                                              "lab.pdf", "patient.pdf", "fhir.json")}
    assert {p.name for p in tmp_path.iterdir()} == written  # no temporary leftovers
    doc = json.loads((tmp_path / f"{stem}-report.json").read_text())
    assert doc["lab"]["result"]["her2"]["category"] == "low"
    assert doc["patient"]["readability"]["flesch_kincaid_grade"] > 0
    assert (tmp_path / f"{stem}-lab.pdf").read_bytes().startswith(b"%PDF")
    bundle = json.loads((tmp_path / f"{stem}-fhir.json").read_text())
    assert bundle["resourceType"] == "Bundle"


def test_patient_only_html(tmp_path):
    proc = run("report", str(DEMO), "--out", str(tmp_path), "--format", "html",
               "--audience", "patient")
    assert proc.returncode == 0, proc.stderr
    assert [p.name for p in tmp_path.iterdir()] == ["DEMO-2026-0117-patient.html"]


def _bad_case(tmp_path: Path, **change) -> str:
    case = json.loads(DEMO.read_text()) | change
    path = tmp_path / "case.json"
    path.write_text(json.dumps(case))
    return str(path)


@pytest.mark.parametrize(
    ("change", "args", "message"),
    [
        ({"assays": {"ihc": {"name": "Mystery HER2 kit"}}}, (), "unknown assay 'Mystery"),
        ({"image_analysis": ["missing.json"]}, (), "missing.json: file not found"),
        ({"specimen": {"fixation_time_h": -3}}, (), "specimen.fixation_time_h"),
        ({"tumour": {"pT": "T9"}}, (), "tumour.pT"),
        ({}, ("--lang", "fr"), "language 'fr' is not available"),
        ({}, ("--format", "docx"), "unknown format 'docx'"),
        ({}, ("--audience", "everyone"), "unknown audience"),
    ],
)
def test_bad_input_one_line_exit_2_no_files(tmp_path, change, args, message):
    out = tmp_path / "out"
    proc = run("report", _bad_case(tmp_path, **change), "--out", str(out), *args)
    assert proc.returncode == 2, proc.stderr
    assert proc.stdout == ""
    assert len(proc.stderr.strip().splitlines()) == 1 and message in proc.stderr
    assert not out.exists() or not any(out.iterdir())


def test_unwritable_output_folder(tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("not a folder")
    proc = run("report", str(DEMO), "--out", str(blocker / "sub"))
    assert proc.returncode == 2 and proc.stdout == ""
    assert "cannot write the output folder" in proc.stderr


def test_image_analysis_result_is_pulled_in(tmp_path):
    overlay = tmp_path / "overlay.png"
    from PIL import Image

    Image.new("RGB", (40, 30), (200, 120, 60)).save(overlay)
    (tmp_path / "ihc.json").write_text(json.dumps({
        "kind": "score-ihc", "image": "region.png", "overlay": "overlay.png",
        "case_input": {"ihc": {"percent": {"complete_weak_moderate": 25,
                                           "incomplete_moderate_intense": 5,
                                           "incomplete_faint": 40}}},
        "evidence": {"cells_counted": 640, "thresholds": {"faint_od": 0.08}}}))
    case = json.loads(DEMO.read_text()) | {"image_analysis": ["ihc.json"]}
    (tmp_path / "case.json").write_text(json.dumps(case))
    proc = run("report", str(tmp_path / "case.json"), "--out", str(tmp_path / "o"),
               "--format", "html", "--audience", "lab")
    assert proc.returncode == 0, proc.stderr
    html = (tmp_path / "o" / "DEMO-2026-0117-lab.html").read_text()
    assert "score-ihc: region.png" in html and "Thresholds: faint (OD)" in html
    assert html.count("data:image/png;base64,") == 3  # chart, histogram, overlay


def test_trials_dry_run_shows_the_query_without_the_network():
    proc = run("trials", str(DEMO), "--dry-run", "--json")
    assert proc.returncode == 0, proc.stderr
    doc = json.loads(proc.stdout)
    assert doc["params"]["query.cond"] == "breast cancer"
    assert doc["params"]["query.term"] == (
        '"HER2-low" AND "hormone receptor positive" AND "early stage"')
    assert doc["params"]["filter.overallStatus"] == "RECRUITING"


def test_saved_trials_go_into_the_patient_summary(tmp_path):
    saved = tmp_path / "trials.json"
    saved.write_text(json.dumps({"studies": [{"nct_id": "NCT09999999", "title": "Example",
                                              "url": "https://example.org/NCT09999999",
                                              "status": "RECRUITING"}]}))
    proc = run("report", str(DEMO), "--out", str(tmp_path / "o"), "--format", "html",
               "--audience", "patient", "--trials", str(saved))
    assert proc.returncode == 0, proc.stderr
    assert "NCT09999999" in (tmp_path / "o" / "DEMO-2026-0117-patient.html").read_text()


def test_every_field_overlay_of_a_pooled_count_is_shown(tmp_path):
    from PIL import Image

    for name in ("ov-field1.png", "ov-field2.png"):
        Image.new("RGB", (40, 30), (60, 120, 200)).save(tmp_path / name)
    nuclei = [[2, 2]] * 12 + [[3, 2]] * 10
    (tmp_path / "ish.json").write_text(json.dumps({
        "kind": "count-ish", "image": "a.tif", "images": ["a.tif", "b.tif"],
        "overlay": "ov-field1.png", "overlays": ["ov-field1.png", "ov-field2.png"],
        "case_input": {"ish": {"probe": "dual", "nuclei": nuclei}},
        "evidence": {"nuclei_counted": 22}}))
    case = json.loads(DEMO.read_text())
    for key in ("ish", "ish_recount"):
        case.pop(key, None)
    case |= {"image_analysis": ["ish.json"]}
    (tmp_path / "case.json").write_text(json.dumps(case))
    proc = run("report", str(tmp_path / "case.json"), "--out", str(tmp_path / "o"),
               "--format", "html", "--audience", "lab")
    assert proc.returncode == 0, proc.stderr
    html = next((tmp_path / "o").glob("*-lab.html")).read_text()
    assert "count-ish: a.tif, b.tif" in html
    assert html.count('alt="overlay"') == 2
