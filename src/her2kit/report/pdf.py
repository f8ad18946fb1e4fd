"""The lab report as PDF, drawn with fpdf2 (pure Python: no system libraries).

Text uses DejaVu Sans from matplotlib's bundled fonts, so ≥, µ and – print
correctly without any font installed on the machine.
"""

from __future__ import annotations

import io
from itertools import groupby
from pathlib import Path

from her2kit.report.build import LabReport
from her2kit.report.html import flatten_evidence, report_charts, specimen_text
from her2kit.report.patient import PatientSummary

__all__ = ["lab_report_pdf", "patient_summary_pdf"]

_STATUS_RGB = {"positive": (183, 28, 28), "negative": (27, 94, 32), "equivocal": (230, 81, 0),
               "indeterminate": (106, 27, 154)}


def _font_dir() -> Path:
    import matplotlib

    return Path(matplotlib.get_data_path()) / "fonts" / "ttf"


class _Pdf:
    """A thin writer over fpdf2 with the report's few building blocks."""

    def __init__(self, title: str) -> None:
        from fpdf import FPDF

        self.pdf = pdf = FPDF(format="A4")
        pdf.set_title(title)
        pdf.set_creator("her2kit")
        fonts = _font_dir()
        pdf.add_font("DejaVu", "", str(fonts / "DejaVuSans.ttf"))
        pdf.add_font("DejaVu", "B", str(fonts / "DejaVuSans-Bold.ttf"))
        pdf.set_auto_page_break(auto=True, margin=15)
        pdf.add_page()
        pdf.set_font("DejaVu", size=9)

    def heading(self, text: str, size: int = 12) -> None:
        pdf = self.pdf
        pdf.ln(2)
        pdf.set_font("DejaVu", "B", size)
        pdf.multi_cell(0, 7, text, new_x="LMARGIN", new_y="NEXT")
        pdf.set_draw_color(150, 150, 150)
        pdf.line(pdf.l_margin, pdf.get_y(), pdf.w - pdf.r_margin, pdf.get_y())
        pdf.ln(1)
        pdf.set_font("DejaVu", size=9)

    def para(self, text: str, *, bold: bool = False, rgb: tuple[int, int, int] | None = None,
             size: int = 9) -> None:
        pdf = self.pdf
        pdf.set_font("DejaVu", "B" if bold else "", size)
        if rgb:
            pdf.set_text_color(*rgb)
        pdf.multi_cell(0, 5, text, new_x="LMARGIN", new_y="NEXT")
        pdf.set_text_color(0, 0, 0)
        pdf.set_font("DejaVu", size=9)

    def rows(self, rows: list[tuple[str, str]]) -> None:
        pdf = self.pdf
        with pdf.table(col_widths=(40, 60), text_align="LEFT", first_row_as_headings=False,
                       line_height=4.6, borders_layout="HORIZONTAL_LINES") as table:
            for label, value in rows:
                row = table.row()
                row.cell(label)
                row.cell(value)
        pdf.ln(1)

    def image(self, png: bytes, width_mm: float = 150) -> None:
        self.pdf.image(io.BytesIO(png), w=width_mm)
        self.pdf.ln(1)


def lab_report_pdf(report: LabReport) -> bytes:
    """Render the lab report to PDF bytes."""
    r, case = report.result, report.case
    doc = _Pdf(f"HER2 biomarker report {case.case_id or ''}".strip())
    doc.para("HER2 and hormone receptor biomarker report", bold=True, size=15)
    ident = [f"Case {case.case_id}" if case.case_id else None,
             f"Accession {case.accession}" if case.accession else None,
             f"Patient {case.patient_id}" if case.patient_id else None,
             "generated " + report.generated_at.strftime("%Y-%m-%d %H:%M %Z").strip()]
    doc.para(" · ".join(p for p in ident if p))
    doc.para(r.disclaimer, rgb=(40, 70, 120))
    if report.conflicts:
        doc.heading("Conflicts to resolve before sign-out")
        for c in report.conflicts:
            doc.para("• " + c, rgb=_STATUS_RGB["positive"])
    if report.missing:
        doc.heading("Facts not given in the case file")
        for m in report.missing:
            doc.para("• " + m)

    doc.heading("Summary")
    if r.her2 is not None:
        cat = "" if r.her2.category in ("unknown", "positive") else f" (HER2-{r.her2.category})"
        doc.para(f"HER2: {r.her2.status.upper()}{cat}", bold=True, size=13,
                 rgb=_STATUS_RGB[r.her2.status])
    for rec in (r.er, r.pr):
        if rec is not None:
            doc.para(f"{rec.receptor}: {rec.status} ({rec.percent:g}% of nuclei)")

    for section, fields in groupby(report.cap_fields, key=lambda f: f.section):
        doc.heading(section)
        doc.rows([(f.label, f.value if f.value is not None else "not given") for f in fields])
    if r.next_steps:
        doc.heading("Next steps")
        for s in r.next_steps:
            doc.para(f"• [{s.code}] {s.text}")
    if r.comments:
        doc.heading("Comments")
        for c in r.comments:
            doc.para(c)

    doc.heading("Specimen and pre-analytics")
    rows = [("Specimen", specimen_text(report))]
    rows += [(p.item, f"{p.value} — requirement {p.requirement} — met: {p.met}"
              + (f" ({p.note})" if p.note else "")) for p in report.preanalytics]
    doc.rows(rows)
    doc.heading("Methods")
    doc.rows([(f.label, f.value if f.value is not None else "not given") for f in report.methods])
    doc.heading("Stage (AJCC 8th edition)")
    doc.rows([("Anatomic stage group",
               f"{report.stage.group or 'not computed'} ({report.stage.reason})"),
              ("Prognostic stage group", f"not computed ({report.stage.prognostic_note})")])

    charts = report_charts(report)
    if charts or report.images:
        doc.heading("Image evidence")
        for _, png in charts:
            doc.image(png)
        for im in report.images:
            doc.para(f"{im.kind}: {im.image or im.path}", bold=True)
            for o in im.overlays:
                if Path(o).is_file():
                    doc.image(Path(o).read_bytes(), width_mm=110)
            doc.rows(flatten_evidence(im.evidence))

    doc.heading("Why: the rules that fired")
    for i, line in enumerate(r.rationale, 1):
        doc.para(f"{i}. {line}")
    doc.heading("Versions")
    from her2kit.guideline import get_guideline

    doc.rows([("Guideline", f"{r.guideline_title} ({r.guideline})"),
              ("Sources", "; ".join(get_guideline(r.guideline).sources)),
              ("ER/PgR guideline", "ASCO/CAP 2020 (Allison KH et al. J Clin Oncol 2020)"),
              ("her2kit", r.her2kit_version)])
    doc.heading("Sign-out")
    doc.para("Reviewed and signed out by the pathologist. her2kit is decision support; the "
             "pathologist's sign-out is the diagnosis.")
    doc.para("Pathologist: ______________________________    Date: ________________")
    return bytes(doc.pdf.output())


def patient_summary_pdf(summary: PatientSummary) -> bytes:
    """Render the patient summary to PDF bytes (larger type, same content as the HTML)."""
    doc = _Pdf(summary.title)
    doc.para(summary.title, bold=True, size=16)
    doc.para(summary.closing, rgb=(40, 70, 120), size=11)
    for section in summary.sections:
        doc.heading(section.heading, size=13)
        for p in section.paragraphs:
            doc.para(p, size=11)
    doc.heading("What kinds of treatment do doctors usually consider?", size=13)
    doc.para(summary.treatments_disclaimer, size=11)
    if summary.treatments:
        doc.rows([(t["treatment"], f"{t['plain']} Studied in: {t['trials']}. "
                   f"Source: {'; '.join(t['sources'])}") for t in summary.treatments])
    doc.para(f"Knowledge file version {summary.knowledge_version}.", size=8)
    doc.heading("Is there a clinical trial I should consider?", size=13)
    doc.para(summary.trials_note, size=11)
    for t in summary.trials:
        doc.para(f"• {t['nct_id']}: {t['title']} ({t.get('url', '')})", size=10)
    doc.heading("Questions to ask your doctor", size=13)
    for q in summary.questions:
        if q.answer:
            doc.para(f"✓ {q.question}", bold=True, size=11, rgb=(27, 94, 32))
            doc.para(q.answer, size=11)
        else:
            doc.para(f"☐ {q.question}", size=11)
    r = summary.readability
    doc.para(f"Reading level: Flesch reading ease {r['flesch_reading_ease']}, "
             f"Flesch–Kincaid grade {r['flesch_kincaid_grade']} (measured with textstat).", size=8)
    return bytes(doc.pdf.output())
