"""Rendered reports: PDF pages rendered to PNG and read back, HTML content, patient summary."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import pytest

from her2kit.casefile import CaseFile
from her2kit.report.build import build_report
from her2kit.report.html import lab_report_html, patient_summary_html
from her2kit.report.patient import load_knowledge, patient_summary
from her2kit.report.pdf import lab_report_pdf, patient_summary_pdf

REPO = Path(__file__).resolve().parents[2]
DEMO = json.loads((REPO / "examples" / "report" / "demo-case.json").read_text())
CASES = REPO / "examples" / "cases"
WHEN = datetime(2026, 11, 25, 12, 0, tzinfo=UTC)


def report_of(case: dict):
    return build_report(CaseFile.model_validate(case), generated_at=WHEN)


def pdf_pages(data: bytes) -> list[tuple[str, np.ndarray]]:
    """Each page's text and its rendering as an RGB array."""
    import pypdfium2 as pdfium

    pdf = pdfium.PdfDocument(data)
    pages = []
    for page in pdf:
        text = page.get_textpage().get_text_range()
        pixels = np.asarray(page.render(scale=1.0).to_pil().convert("RGB"))
        pages.append((text, pixels))
    return pages


def test_lab_pdf_renders_with_all_cap_fields_and_the_sign_out_block():
    report = report_of(DEMO)
    pages = pdf_pages(lab_report_pdf(report))
    text = "\n".join(t for t, _ in pages).replace("\r", "")
    flat = " ".join(text.split())
    for field in report.cap_fields:
        assert field.label in flat, field.label
        assert field.value in flat, field.value
    for must in ("HER2: NEGATIVE (HER2-low)", "asco-cap-2018", "Pathologist:",
                 "10% neutral buffered formalin", "≥", "Clinical stage group IA",
                 "PRELIMINARY — NOT FOR CLINICAL USE", "Page 1 of"):
        assert must in flat, must
    # Layout: A4 pages with ink on them, and a chart image (many non-white, non-black pixels).
    for _, pixels in pages:
        h, w, _ = pixels.shape
        assert abs(h / w - 297 / 210) < 0.01
    first = pages[0][1]
    assert (first < 200).any(axis=2).mean() > 0.01
    coloured = [(np.ptp(p.astype(int), axis=2) > 60).mean() for _, p in pages]
    assert max(coloured) > 0.005  # the IHC class chart and ratio histogram are in colour


def test_pdf_shows_the_engine_status_colour_for_positive():
    pages = pdf_pages(lab_report_pdf(report_of(json.loads(
        (CASES / "01-ihc-3plus-positive.json").read_text()))))
    pixels = pages[0][1].astype(int)
    red = (pixels[..., 0] > 150) & (pixels[..., 1] < 60) & (pixels[..., 2] < 60)
    assert red.sum() > 50  # "HER2: POSITIVE" in red


def test_lab_html_is_self_contained_and_escaped():
    case = DEMO | {"case_id": "<script>x</script>"}
    html = lab_report_html(report_of(case))
    assert "<script>x</script>" not in html and "&lt;script&gt;" in html
    assert html.count("data:image/png;base64,") == 2  # IHC chart + ratio histogram
    assert "http://" not in html and "https://" not in html  # nothing fetched when opened
    assert "Pathologist:" in html and "Number of invasive tumor cells counted" in html


def test_patient_summary_answers_what_it_can_and_reads_plainly():
    s = patient_summary(report_of(DEMO))
    answered = {q.question for q in s.questions if q.answer}
    assert "How are you sure of my HER2 result?" in answered
    assert "Do I need hormone treatment?" in answered
    # Issue 12: all fifteen are answered now; treatment options point to the table and say
    # they are not a plan (tests/report/test_patient_questions.py).
    assert "HER2-low" in s.sections[1].heading
    ids = {t["id"] for t in s.treatments}
    # Early disease (the demo): no treatment given only once cancer has spread (issue 12).
    assert ids == {"hrpos-endocrine"}
    # A general reader: Flesch–Kincaid grade at most 9 (measured ~6–7 on the examples).
    assert s.readability["flesch_kincaid_grade"] <= 9
    assert s.readability["flesch_reading_ease"] >= 55
    assert "not medical advice" in s.closing


@pytest.mark.parametrize(
    ("case", "label", "treatments"),
    [("01-ihc-3plus-positive", "HER2-positive", {"her2pos-trastuzumab-pertuzumab"}),
     ("02-ihc-0-null", "HER2-0", {"her2null-note"}),
     ("03-ihc-0plus-ultralow", "HER2-ultralow", {"hrpos-her2low-ultralow-tdxd"}),
     ("05-ihc-2plus-reflex-ish", "equivocal", set()),
     ("15-ish-rejected-weak-signals", "repeated", set())],
)
def test_patient_summary_per_result(case, label, treatments):
    s = patient_summary(report_of(json.loads((CASES / f"{case}.json").read_text())))
    assert label in s.sections[1].heading
    assert treatments <= {t["id"] for t in s.treatments}
    if not treatments:
        assert s.treatments == []  # nothing is suggested before the result is final


def test_every_knowledge_entry_has_a_source_and_the_file_is_versioned():
    k = load_knowledge()
    assert k["version"]
    assert all(e["sources"] and e["plain"] for e in k["entries"])


def test_patient_pdf_and_html_render(tmp_path):
    s = patient_summary(report_of(DEMO), trials=[{"nct_id": "NCT00000000", "title": "A study",
                                                   "url": "https://example.org", "status": "R"}])
    text = " ".join(" ".join(t for t, _ in pdf_pages(patient_summary_pdf(s))).split())
    assert "Questions to ask your doctor" in text and "NCT00000000" in text
    assert "not medical advice" in patient_summary_html(s)
