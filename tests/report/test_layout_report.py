"""Issue 12, layout: body text at least 10.5 pt and left-aligned, headings on the page of
what follows them, short tables whole, overlay legends in the page at print size, charts
with one font, integer counts and a "no staining" bar, print CSS and a viewport, and no
red/green pair. The PDFs are read back with pdfium (an independent PDF engine)."""

from __future__ import annotations

import json
import shutil
from datetime import UTC, datetime
from itertools import groupby
from pathlib import Path

import numpy as np
import pytest

from her2kit.casefile import CaseFile
from her2kit.report.build import build_report
from her2kit.report.charts import ihc_class_figure, ish_ratio_figure
from her2kit.report.html import lab_report_html, patient_summary_html
from her2kit.report.patient import patient_summary
from her2kit.report.pdf import lab_report_pdf, patient_summary_pdf

REPO = Path(__file__).resolve().parents[2]
EX = REPO / "examples" / "report"
WHEN = datetime(2026, 11, 25, 12, 0, tzinfo=UTC)
EXAMPLES = ["demo-case", "failed-controls", "group4-awaiting-recount", "heterogeneous-amplified",
            "image-analysis-positive-metastatic", "missing-facts-conflicts",
            "ultralow-metastatic-liver"]
MM = 72 / 25.4  # PDF points per mm
PAGE_H = 297 * MM
HEAD_BAND = 20 * MM  # running header (9 pt) from the top of the page
FOOT_BAND = 14 * MM  # running footer (8 pt) from the bottom


def report_of(name: str, base: Path = EX):
    case = json.loads((base / f"{name}.json").read_text())
    return build_report(CaseFile.model_validate(case), generated_at=WHEN, base_dir=base)


def lines_of(data: bytes) -> list[list[dict]]:
    """Per page, its text lines (top to bottom): text, font size (pt), left/right/top (pt)."""
    import ctypes

    import pypdfium2 as pdfium
    import pypdfium2.raw as raw

    ox, oy = ctypes.c_double(), ctypes.c_double()
    pages = []
    for page in pdfium.PdfDocument(data):
        tp = page.get_textpage()
        chars = []
        for i in range(tp.count_chars()):
            ch = tp.get_text_range(i, 1)
            if not ch.strip():
                continue
            left, bottom, right, top = tp.get_charbox(i)
            raw.FPDFText_GetCharOrigin(tp.raw, i, ctypes.byref(ox), ctypes.byref(oy))
            chars.append({"c": ch, "size": raw.FPDFText_GetFontSize(tp.raw, i),
                          "left": left, "right": right, "top": top, "bottom": bottom,
                          "base": round(oy.value)})  # the baseline: one per text line
        chars.sort(key=lambda c: (-c["base"], c["left"]))
        lines = []
        for _, group in groupby(chars, key=lambda c: c["base"]):
            g = list(group)
            lines.append({"text": "".join(c["c"] for c in g),
                          "size": max(c["size"] for c in g), "left": g[0]["left"],
                          "right": max(c["right"] for c in g), "top": max(c["top"] for c in g),
                          "bottom": min(c["bottom"] for c in g)})
        pages.append(lines)
    return pages


def body(lines: list[dict]) -> list[dict]:
    return [ln for ln in lines if ln["top"] < PAGE_H - HEAD_BAND and ln["bottom"] > FOOT_BAND]


def both_pdfs(name: str) -> list[bytes]:
    r = report_of(name)
    return [lab_report_pdf(r), patient_summary_pdf(patient_summary(r))]


@pytest.mark.parametrize("name", EXAMPLES)
def test_body_text_is_at_least_10_5_pt_and_left_aligned(name):
    for data in both_pdfs(name):
        for lines in lines_of(data):
            for ln in body(lines):
                assert ln["size"] >= 10.45, (ln["text"][:60], ln["size"])
            # Left-aligned, not justified: the long lines that start at the left margin
            # end at different places (justified lines would all end at the right margin).
            full = [ln for ln in body(lines) if abs(ln["left"] - 10 * MM) < 2 * MM
                    and ln["right"] - ln["left"] > 150 * MM]
            if len(full) >= 6:
                assert np.std([ln["right"] for ln in full]) > 2 * MM


@pytest.mark.parametrize("name", EXAMPLES)
def test_no_heading_alone_at_a_page_foot_and_short_tables_whole(name):
    r = report_of(name)
    for data in both_pdfs(name):
        for lines in lines_of(data):
            b = body(lines)
            if b:  # the last line of a page is never a heading (12–13 pt, bold)
                assert b[-1]["size"] < 11.9 or b[-1]["size"] > 14, b[-1]["text"]
    pages = [[ln["text"].replace(" ", "") for ln in body(p)] for p in lines_of(lab_report_pdf(r))]
    squeezed = ["".join(p) for p in pages]
    for section, fields in groupby(r.cap_fields, key=lambda f: f.section):
        fields = list(fields)
        where = [i for i, p in enumerate(pages) if section.replace(" ", "") in p]
        assert where, section
        first = squeezed[where[0]]
        # A label may wrap: its first two words are on its first line.
        def start(label: str) -> str:
            return "".join(label.split()[:2])

        assert start(fields[0].label) in first, (section, fields[0].label)
        if len(fields) <= 12:  # a short table is on one page with its heading
            for f in fields:
                assert start(f.label) in first, (section, f.label)


def _with_overlays(tmp_path: Path) -> Path:
    """A case whose image-analysis results (IHC and FISH) carry overlay PNGs."""
    from PIL import Image

    shutil.copy(EX / "lab.json", tmp_path / "lab.json")
    for name in ("ihc.png", "fish.png"):
        Image.new("RGB", (200, 160), (230, 230, 240)).save(tmp_path / name)
    ihc = json.loads((EX / "ia" / "score-ihc-3plus.json").read_text()) | {"overlay": "ihc.png"}
    (tmp_path / "ihc.json").write_text(json.dumps(ihc))
    fish = {"kind": "count-ish", "image": "fish.ome.tif", "assay": "fish", "overlay": "fish.png",
            "case_input": {"ish": {"probe": "dual", "cells_counted": 20, "her2_mean": 2.0,
                                   "cep17_mean": 2.0}}, "evidence": {"nuclei_counted": 20}}
    (tmp_path / "fish.json").write_text(json.dumps(fish))
    case = json.loads((EX / "image-analysis-positive-metastatic.json").read_text())
    case["image_analysis"] = ["ihc.json", "fish.json"]
    case.pop("ish", None)
    (tmp_path / "case.json").write_text(json.dumps(case))
    return tmp_path


def test_overlay_legends_are_in_the_page_at_body_size(tmp_path):
    r = report_of("case", _with_overlays(tmp_path))
    pages = lines_of(lab_report_pdf(r))
    text = {ln["text"].replace(" ", ""): ln["size"] for p in pages for ln in body(p)}
    for words in ("complete,intensemembrane", "nostaining", "notcounted",
                  "HER2signal(ring)", "CEP17signal(ring)", "countednucleus(outline)",
                  "signalcluster"):
        hits = [size for t, size in text.items() if words in t]
        assert hits and min(hits) >= 10.45, words
    html = lab_report_html(r)
    assert html.count('class="swatch"') == 6 + 5  # IHC six entries, FISH five


def test_legend_colours_are_the_overlays_colours():
    from her2kit.report.legend import IHC_LEGEND, ISH_LEGEND
    from her2kit.viz import ish as viz_ish
    from her2kit.viz.colors import CLASS_COLORS

    legend = {key: rgb for key, _, rgb in IHC_LEGEND}
    assert {k: legend[k] for k in CLASS_COLORS} == dict(CLASS_COLORS)
    assert legend["not_counted"] == (128, 128, 128)
    assert [rgb for _, rgb in ISH_LEGEND["fish"]] == [viz_ish._FISH_COLOURS["her2"],
                                                      viz_ish._FISH_COLOURS["cep17"]]
    assert [rgb for _, rgb in ISH_LEGEND["brightfield"]] == [viz_ish._BF_COLOURS["her2"],
                                                             viz_ish._BF_COLOURS["cep17"]]
    assert [rgb for _, rgb in ISH_LEGEND["common"]] == [viz_ish._COUNTED, viz_ish._EXCLUDED,
                                                        viz_ish._CLUSTER]


def test_charts_one_font_integer_counts_and_a_no_staining_bar():
    r = report_of("demo-case")
    fig = ihc_class_figure(r.result)
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.text import Text

    FigureCanvasAgg(fig).draw()
    ax = fig.axes[0]
    labels = [t.get_text() for t in ax.get_yticklabels()]
    assert labels[-1] == "no staining"
    # No staining is what the four staining classes leave of 100 %.
    widths = [p.get_width() for p in ax.patches]
    assert widths[-1] == pytest.approx(100 - sum(widths[:-1]))
    texts = [t for t in fig.findobj(Text) if t.get_text()]
    assert {t.get_fontfamily()[0] for t in texts} == {"DejaVu Sans"}
    assert {t.get_fontsize() for t in texts} <= {9.0, 10.0}
    hist = ish_ratio_figure([[4, 2], [2, 2], [9, 2], [3, 2], [5, 2]])
    FigureCanvasAgg(hist).draw()
    ticks = hist.axes[0].get_yticks()
    assert all(float(t).is_integer() for t in ticks)  # whole nuclei
    assert {t.get_fontfamily()[0] for t in hist.findobj(Text) if t.get_text()} == {"DejaVu Sans"}


def test_html_has_a_viewport_print_css_and_no_justified_text():
    r = report_of("demo-case")
    for html in (lab_report_html(r), patient_summary_html(patient_summary(r))):
        assert '<meta name="viewport" content="width=device-width, initial-scale=1">' in html
        assert "@media print" in html and "@page" in html
        assert "justify" not in html
        assert "break-inside: avoid" in html and "break-after: avoid" in html


def _greenish(rgb) -> bool:
    r, g, b = rgb
    return g > r + 40 and g > b + 20


def test_no_red_green_pair_for_positive_and_negative():
    from her2kit.report import pdf

    pos, neg = pdf._STATUS_RGB["positive"], pdf._STATUS_RGB["negative"]
    assert pos[0] > 150 and not _greenish(neg) and neg[2] > neg[1] > neg[0]  # dark red, blue
    css = (REPO / "src/her2kit/report/templates/lab.html.j2").read_text()
    assert ".positive { color: #b71c1c; } .negative { color: #1a4f8b; }" in css
    # No green ink anywhere on the patient summary's pages (the question marks were green).
    import pypdfium2 as pdfium

    s = patient_summary(report_of("heterogeneous-amplified"))
    for page in pdfium.PdfDocument(patient_summary_pdf(s)):
        px = np.asarray(page.render(scale=1.0).to_pil().convert("RGB")).astype(int)
        green = (px[..., 1] > px[..., 0] + 40) & (px[..., 1] > px[..., 2] + 20)
        assert green.sum() == 0


def test_patient_treatments_are_full_width_blocks_not_a_squeezed_table():
    s = patient_summary(report_of("image-analysis-positive-metastatic"))
    pages = lines_of(patient_summary_pdf(s))
    lines = [ln for p in pages for ln in body(p)]
    for t in s.treatments:
        first = "".join(t["plain"].split()[0:4])
        hit = next(ln for ln in lines if ln["text"].replace(" ", "").startswith(first))
        assert abs(hit["left"] - 10 * MM) < 2 * MM  # starts at the left margin, full width
    # The metastatic case is not told the pair is "used before or after surgery".
    assert "surgery" not in next(t["plain"] for t in s.treatments
                                 if t["id"] == "her2pos-trastuzumab-pertuzumab")
