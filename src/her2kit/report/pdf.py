"""The lab report as PDF, drawn with fpdf2 (pure Python: no system libraries).

Text uses DejaVu Sans from matplotlib's bundled fonts, so ≥, µ and – print
correctly without any font installed on the machine.
"""

from __future__ import annotations

import io
from itertools import groupby
from pathlib import Path

from her2kit.report.build import LabReport
from her2kit.report.html import (
    appendix_rows,
    identification,
    report_charts,
    specimen_text,
    status_line,
)
from her2kit.report.legend import overlay_caption, overlay_legend
from her2kit.report.patient import BASIS_WORDS, PatientSummary
from her2kit.report.wording import her2_status_text

__all__ = ["lab_report_pdf", "patient_summary_pdf"]

# No red/green pair: positive dark red, negative dark blue.
_STATUS_RGB = {"positive": (183, 28, 28), "negative": (26, 79, 139), "equivocal": (138, 75, 0),
               "indeterminate": (106, 27, 154)}
BODY_PT = 10.5


def _font_dir() -> Path:
    import matplotlib

    return Path(matplotlib.get_data_path()) / "fonts" / "ttf"


def _fpdf_class():
    from fpdf import FPDF

    class _Paged(FPDF):
        """FPDF with a running header (status mark, identification) and footer (page x of y)."""

        head: tuple[str, ...] = ()
        foot: str = ""

        def normalize_text(self, text: str) -> str:
            # fpdf2 drops a character its font has no glyph for (with a log line only), so
            # `UNI-名前-🧬` would print as `UNI--`: a different identifier. Refuse instead,
            # naming the character; nothing is written (the outputs are all-or-nothing).
            text = super().normalize_text(text)
            font = self.current_font
            cmap = getattr(font, "cmap", None)
            if cmap:
                for ch in text:
                    if ch not in "\n\r\t" and ord(ch) not in cmap:
                        from her2kit.errors import Her2kitInputError

                        raise Her2kitInputError(
                            f"the PDF font ({font.fontkey}) has no glyph for {ch!r} "
                            f"(U+{ord(ch):04X}) in {text[:60]!r}; the PDF would print another "
                            "text (write the HTML with --format html, or use characters the "
                            "font has)", field="pdf")
            return text

        def header(self) -> None:
            if not self.head:
                return
            self.set_font("DejaVu", "B", 9)
            self.set_text_color(0, 0, 0)
            for line in self.head:
                self.multi_cell(0, 4.2, line, new_x="LMARGIN", new_y="NEXT")
            self.set_draw_color(60, 60, 60)
            self.line(self.l_margin, self.get_y() + 0.5, self.w - self.r_margin, self.get_y() + 0.5)
            self.ln(3)
            self.set_font("DejaVu", size=BODY_PT)

        def footer(self) -> None:
            self.set_y(-12)
            self.set_font("DejaVu", size=8)
            self.set_text_color(60, 60, 60)
            self.cell(0, 5, f"{self.foot}    Page {self.page_no()} of {{nb}}", align="L")
            self.set_text_color(0, 0, 0)

    return _Paged


def _png_size(png: bytes) -> tuple[int, int]:
    """(width, height) in pixels from a PNG's IHDR chunk."""
    return int.from_bytes(png[16:20], "big"), int.from_bytes(png[20:24], "big")


class _Pdf:
    """A thin writer over fpdf2 with the report's few building blocks.

    A heading is not drawn at once: it waits for the block that follows it, and the
    two go on one page (a page break before the heading when they would not fit), so
    a heading never stands alone at the foot of a page. Short tables and figures with
    their captions and legends are kept whole; long tables split between rows only.
    """

    def __init__(self, title: str, head: tuple[str, ...] = (), foot: str = "") -> None:
        self.pdf = pdf = _fpdf_class()(format="A4")
        pdf.head, pdf.foot = head, foot
        pdf.set_title(title)
        pdf.set_creator("her2kit")
        fonts = _font_dir()
        pdf.add_font("DejaVu", "", str(fonts / "DejaVuSans.ttf"))
        pdf.add_font("DejaVu", "B", str(fonts / "DejaVuSans-Bold.ttf"))
        pdf.set_auto_page_break(auto=True, margin=16)
        pdf.add_page()
        pdf.set_font("DejaVu", size=BODY_PT)
        self._headings: list[tuple[str, float]] = []  # waiting for what follows them

    # -- keeping things together ------------------------------------------------------

    def _text_height(self, text: str, size: float, width: float = 0, *,
                     bold: bool = False, line: float | None = None) -> float:
        pdf = self.pdf
        pdf.set_font("DejaVu", "B" if bold else "", size)
        lines = pdf.multi_cell(width or pdf.epw, line or size * 0.5, text, dry_run=True,
                               output="LINES")
        pdf.set_font("DejaVu", size=BODY_PT)
        return len(lines) * (line or size * 0.5)

    def _room(self, need_mm: float) -> None:
        """Draw the waiting headings, with `need_mm` of what follows on the same page."""
        pdf = self.pdf
        head = sum(2 + self._text_height(text, size, bold=True, line=7) + 2
                   for text, size in self._headings)
        top = pdf.get_y() <= pdf.t_margin + 30  # at the top already: breaking would not help
        if pdf.get_y() + head + need_mm > pdf.page_break_trigger and not top:
            pdf.add_page()
        waiting, self._headings = self._headings, []
        for text, size in waiting:
            pdf.ln(2)
            pdf.set_font("DejaVu", "B", size)
            pdf.multi_cell(0, 7, text, new_x="LMARGIN", new_y="NEXT", align="L")
            pdf.set_draw_color(150, 150, 150)
            pdf.line(pdf.l_margin, pdf.get_y(), pdf.w - pdf.r_margin, pdf.get_y())
            pdf.ln(1)
            pdf.set_font("DejaVu", size=BODY_PT)

    def finish(self) -> bytes:
        self._room(0)
        return bytes(self.pdf.output())

    # -- blocks ---------------------------------------------------------------------------

    def heading(self, text: str, size: float = 12) -> None:
        self._headings.append((text, size))

    def para(self, text: str, *, bold: bool = False, rgb: tuple[int, int, int] | None = None,
             size: float = BODY_PT, fill: tuple[int, int, int] | None = None,
             keep: float = 0) -> None:
        """A left-aligned paragraph; with a heading waiting, its first lines (or `keep` mm
        more) go on the heading's page."""
        pdf = self.pdf
        first = min(self._text_height(text, size, bold=bold), 3 * size * 0.5)
        self._room(first + keep)
        pdf.set_font("DejaVu", "B" if bold else "", size)
        if rgb:
            pdf.set_text_color(*rgb)
        if fill:
            pdf.set_fill_color(*fill)
        pdf.multi_cell(0, size * 0.5, text, new_x="LMARGIN", new_y="NEXT", fill=fill is not None,
                       align="L")
        pdf.set_text_color(0, 0, 0)
        pdf.set_fill_color(255, 255, 255)
        pdf.set_font("DejaVu", size=BODY_PT)

    def block(self, parts: list[tuple[str, dict]]) -> None:
        """Paragraphs kept together on one page: (text, para options) each."""
        need = sum(self._text_height(t, o.get("size", BODY_PT), bold=o.get("bold", False))
                   for t, o in parts) + 2
        self._room(need)
        for t, o in parts:
            self.para(t, **o)
        self.pdf.ln(2)

    def box(self, title: str, lines: list[str], fill: tuple[int, int, int]) -> None:
        """A shaded box (warnings, conflicts): title and bullet lines, kept together."""
        self.block([(title, {"bold": True, "fill": fill}),
                    *(("• " + line, {"fill": fill}) for line in lines)])

    def _row_height(self, label: str, value: str, widths: tuple[float, float]) -> float:
        return max(self._text_height(label, BODY_PT, widths[0] - 2, line=5.2),
                   self._text_height(value, BODY_PT, widths[1] - 2, line=5.2)) + 2.2

    def rows(self, rows: list[tuple[str, str]], *, col_widths: tuple[int, int] = (38, 62)
             ) -> None:
        """A label/value table. A short one (≤ 12 rows) is kept whole with its heading; a
        long one splits between rows only, its heading repeated as "(continued)"."""
        pdf = self.pdf
        widths = (pdf.epw * col_widths[0] / 100, pdf.epw * col_widths[1] / 100)
        # A row taller than half a page (a 1,000-word or 5,000-character field) cannot be a
        # table row (fpdf2 refuses rows that do not fit a page): it is printed as its label
        # and a paragraph that breaks across pages, between the table parts around it.
        tall = (pdf.page_break_trigger - pdf.t_margin) / 2
        heights = [self._row_height(*row, widths) for row in rows]
        if any(h > tall for h in heights):
            part: list[tuple[str, str]] = []
            for row, h in zip(rows, heights, strict=True):
                if h <= tall:
                    part.append(row)
                    continue
                if part:
                    self.rows(part, col_widths=col_widths)
                    part = []
                self.para(row[0], bold=True)
                self.para(row[1])
            if part:
                self.rows(part, col_widths=col_widths)
            return
        todo = list(zip(rows, heights, strict=True))
        heading = self._headings[-1] if self._headings else None
        self._room(sum(h for _, h in todo) if len(todo) <= 12 else sum(h for _, h in todo[:3]))
        while todo:
            room, take = pdf.page_break_trigger - pdf.get_y(), 0
            while take < len(todo) and (take == 0 or todo[take][1] <= room):
                room -= todo[take][1]
                take += 1
            with pdf.table(col_widths=col_widths, text_align="LEFT",
                           first_row_as_headings=False, line_height=5.2,
                           borders_layout="HORIZONTAL_LINES") as table:
                for (label, value), _ in todo[:take]:
                    row = table.row()
                    row.cell(label)
                    row.cell(value)
            todo = todo[take:]
            if todo:
                pdf.add_page()
                if heading is not None:
                    self._headings = [(f"{heading[0]} (continued)", heading[1])]
                    self._room(0)
        pdf.ln(1)

    def figure(self, png: bytes, *, width_mm: float = 150, caption: str = "",
               legend: list[tuple[tuple[int, int, int], str]] = ()) -> None:
        """An image with its caption and legend (colour swatch and words in body type),
        drawn in the page and kept on one page with them."""
        pdf = self.pdf
        w_px, h_px = _png_size(png)
        height = width_mm * h_px / w_px
        line = BODY_PT * 0.5
        need = height + 2 + (self._text_height(caption, BODY_PT) if caption else 0) \
            + len(legend) * (line + 0.6)
        self._room(need)
        pdf.image(io.BytesIO(png), w=width_mm, h=height)
        pdf.ln(1)
        if caption:
            self.para(caption, rgb=(60, 60, 60))
        for rgb, words in legend:
            y = pdf.get_y()
            pdf.set_fill_color(*rgb)
            pdf.set_draw_color(0, 0, 0)
            pdf.rect(pdf.l_margin, y + 0.8, 4, 3.4, style="DF")
            pdf.set_x(pdf.l_margin + 6)
            pdf.multi_cell(0, line, words, new_x="LMARGIN", new_y="NEXT", align="L")
            pdf.set_y(pdf.get_y() + 0.6)
        pdf.set_fill_color(255, 255, 255)
        pdf.ln(2)


def _running_head(report: LabReport) -> tuple[str, ...]:
    # One line: "missing" said short here (page 1's block says it in full).
    ident = {k: "missing" if v.startswith("missing (") else v for k, v in identification(report)}
    mark = () if report.status == "final" else ("PRELIMINARY — NOT FOR CLINICAL USE",)
    who = (f"Patient {ident['Patient']} · DOB {ident['Date of birth']} · MRN "
           f"{ident['Medical record number']} · Accession {ident['Accession']}")
    return (*mark, who) if mark else (who, status_line(report))


def _foot(report: LabReport) -> str:
    lab = report.lab
    lab_text = f"{lab.name} · CLIA {lab.clia}" if lab else "Performing laboratory: missing"
    return f"{lab_text} · HER2 biomarker report {report.case.case_id or ''}".strip()


def _lab_front(doc: _Pdf, report: LabReport) -> None:
    r = report.result
    doc.para("HER2 and hormone receptor biomarker report", bold=True, size=15)
    doc.rows(identification(report))
    doc.para(r.disclaimer, rgb=(40, 70, 120))
    if report.warnings:
        doc.box("Warnings — read before the results", report.warnings, (255, 236, 210))
    if report.conflicts:
        doc.box("Conflicts to resolve before sign-out", report.conflicts, (253, 226, 222))
    doc.heading("Summary")
    if r.her2 is not None:
        cat = "" if r.her2.category in ("unknown", "positive") else f" (HER2-{r.her2.category})"
        text = her2_status_text(r) or ""
        if r.her2.status in ("positive", "negative"):
            text = text.upper()
        doc.para(f"HER2: {text}{cat}", bold=True, size=13, rgb=_STATUS_RGB[r.her2.status])
    for rec in (r.er, r.pr):
        if rec is not None:
            doc.para(f"{rec.receptor}: {rec.status} ({rec.percent:g}% of nuclei)")


def _lab_body(doc: _Pdf, report: LabReport) -> None:
    r, case = report.result, report.case
    for section, fields in groupby(report.cap_fields, key=lambda f: f.section):
        doc.heading(section)
        doc.rows([(f.label, f.value if f.value is not None else "not given") for f in fields])
    if r.next_steps:
        doc.heading("Next steps")
        for s in r.next_steps:
            doc.para(f"• {s.text}")
    if r.comments or report.warnings:
        doc.heading("Comments")
        for c in [*report.warnings, *r.comments]:
            doc.para(c)
    doc.heading("Specimen and pre-analytics")
    rows = [("Specimen", specimen_text(report))]
    t = case.tumour
    if t is not None and t.histologic_type:
        rows.append(("Histologic type", t.histologic_type))
    if t is not None and t.grade:
        rows.append(("Histologic grade", str(t.grade)))
    rows += [(p.item, f"{p.value} — requirement {p.requirement} — met: {p.met}")
             for p in report.preanalytics]
    doc.rows(rows)
    doc.heading("Methods")
    doc.rows([(f.label, f.value if f.value is not None else "not given") for f in report.methods])
    doc.heading("Stage (AJCC 8th edition)")
    st = report.stage
    label = f"{st.kind.capitalize()} stage group" if st.kind else "Stage group"
    doc.rows([(label, f"{st.group or 'not stated'}"
               + (f" ({st.categories})" if st.categories else "") + f" — {st.basis}; {st.reason}"),
              ("Disease setting", st.setting),
              ("Prognostic stage group", f"not computed ({st.prognostic_note})")])
    if report.missing:
        doc.box("Facts not given in the case file", report.missing_text, (255, 248, 225))


def _lab_evidence(doc: _Pdf, report: LabReport) -> None:
    charts = report_charts(report)
    if charts or report.images:
        doc.heading("Image evidence")
        for title, png in charts:
            doc.figure(png, caption=title)
        for im in report.images:
            overlays = [Path(o) for o in im.overlays if Path(o).is_file()]
            if not overlays:
                doc.para(f"{im.kind}: {im.image or im.path} (no overlay image)", bold=True)
            for o in overlays:
                doc.figure(o.read_bytes(), width_mm=110, caption=overlay_caption(im, o),
                           legend=overlay_legend(im))
    r = report.result
    doc.heading("Versions")
    from her2kit.guideline import get_guideline

    doc.rows([("Guideline", f"{r.guideline_title} ({r.guideline})"),
              ("Sources", "; ".join(get_guideline(r.guideline).sources)),
              ("ER/PgR guideline", "ASCO/CAP 2020 (Allison KH et al. J Clin Oncol 2020)"),
              ("her2kit", r.her2kit_version)])


def lab_report_pdf(report: LabReport) -> bytes:
    """Render the lab report to PDF bytes (running header and footer on every page)."""
    case = report.case
    doc = _Pdf(f"HER2 biomarker report {case.case_id or ''}".strip(), head=_running_head(report),
               foot=_foot(report))
    _lab_front(doc, report)
    _lab_body(doc, report)
    _lab_evidence(doc, report)
    doc.heading("Sign-out")
    if report.sign_out is not None:
        doc.para(f"Signed out by {report.sign_out.by} on {report.sign_out.at:%Y-%m-%d %H:%M}. "
                 "her2kit is decision support; the pathologist's sign-out is the diagnosis.")
        if report.sign_out.amendment is not None:
            am = report.sign_out.amendment
            doc.para(f"AMENDED report: revision {am.revision}, replacing revision "
                     f"{am.replaces_revision}. Reason: {am.reason}", bold=True)
    else:
        doc.para("Awaiting pathologist review and sign-out. This report is preliminary and not "
                 "for clinical use until a pathologist has reviewed the slides and signed it "
                 "out. her2kit is decision support; the pathologist's sign-out is the "
                 "diagnosis.", bold=True)
        doc.para("Pathologist: ______________________________    Date: ________________")
    doc.pdf.add_page()
    doc.heading("Appendix: the rules that fired (technical)")
    for i, line in enumerate(report.result.rationale, 1):
        doc.para(f"{i}. {line}")
    if report.images:
        doc.heading("Appendix: image-analysis parameters")
        for im in report.images:
            doc.heading(f"{im.kind}: {im.image or im.path}", size=BODY_PT)
            doc.rows(appendix_rows(im.evidence))
    return doc.finish()


def patient_summary_pdf(summary: PatientSummary) -> bytes:
    """Render the patient summary to PDF bytes (larger type, same content as the HTML)."""
    mark = ("PRELIMINARY — NOT FOR CLINICAL USE",) if summary.status != "final" else ()
    doc = _Pdf(summary.title, head=mark, foot="Your breast cancer test results")
    doc.para(summary.title, bold=True, size=16)
    if summary.status_note:
        doc.para(summary.status_note, bold=True, size=12,
                 fill=(255, 236, 210) if summary.status != "final" else None)
    doc.para(summary.closing, rgb=(40, 70, 120), size=11)
    for section in summary.sections:
        doc.heading(section.heading, size=13)
        for p in section.paragraphs:
            doc.para(p, size=11)
    doc.heading("What kinds of treatment do doctors usually consider?", size=13)
    doc.para(summary.treatments_disclaimer, size=11)
    grey = (70, 70, 70)
    # One block per treatment, full width (a two-column table squeezed the long text).
    for t in summary.treatments:
        doc.block([(t["treatment"], {"bold": True, "size": 11}),
                   (t["plain"], {"size": 11}),
                   (f"Studied in: {t['trials']}.", {"rgb": grey}),
                   (f"Source: {'; '.join(t['sources'])}.", {"rgb": grey})])
    if not summary.treatments:
        doc.para(summary.treatments_note, size=11)
    doc.para(f"Knowledge file version {summary.knowledge_version}.", rgb=grey)
    doc.heading("Is there a clinical trial I should consider?", size=13)
    doc.para(summary.trials_note, size=11)
    for t in summary.trials:
        doc.para(f"• {t['nct_id']}: {t['title']} ({t.get('url', '')})", size=11)
    doc.heading("Questions to ask your doctor, and what this report can say", size=13)
    for q in summary.questions:
        parts = [(f"{'✓' if q.answer else '☐'} {q.question}",
                  {"bold": True, "size": 11, "rgb": (26, 79, 139)})]
        if q.answer:
            parts.append((f"{BASIS_WORDS[q.basis]}: {q.answer}", {"size": 11}))
        if q.sources:
            parts.append(("Sources: " + "; ".join(q.sources) + ".", {"rgb": grey}))
        doc.block(parts)
    r = summary.readability
    doc.para(f"Reading level: Flesch–Kincaid grade {r['flesch_kincaid_grade']} and Flesch "
             f"reading ease {r['flesch_reading_ease']} (textstat); automated readability "
             f"index {r['automated_readability_index']} (computed by her2kit).", rgb=grey)
    return doc.finish()
