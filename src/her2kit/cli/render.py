"""Readable terminal summaries of results (rich)."""

from __future__ import annotations

from rich.console import Console
from rich.markup import escape

from her2kit.guideline.results import ClassifyResult, IshResult

__all__ = ["print_ihc_image_summary", "print_ish_image_summary", "print_summary"]

_STATUS_STYLE = {
    "positive": "bold red",
    "negative": "bold green",
    "equivocal": "bold yellow",
    "indeterminate": "bold magenta",
}


_ISH_LABELS = {
    "ish": "ISH",
    "ish_recount": "ISH blinded recount",
    "ish_workup": "ISH dual-probe work-up",
    "ish_subpopulation": "ISH separate population",
}


def _ish_line(name: str, ish: IshResult) -> str:
    parts = [f"{ish.probe}-probe, {ish.cells_counted} nuclei", f"HER2 {ish.her2_mean:.2f}/cell"]
    if ish.cep17_mean is not None:
        parts.append(f"CEP17 {ish.cep17_mean:.2f}/cell")
    if ish.ratio is not None:
        parts.append(f"ratio {ish.ratio:.2f}")
    head = f"Group {ish.group}" if ish.group is not None else ish.call.replace("_", " ")
    if ish.percent_of_tumour is not None:
        head += f", {ish.percent_of_tumour:g}% of tumour"
    return f"  {name}: {head} ({', '.join(parts)})"


def print_summary(result: ClassifyResult, console: Console | None = None) -> None:
    """Print a classification for a person: status first, then evidence and steps."""
    out = console or Console(highlight=False, soft_wrap=True)
    if result.case_id:
        out.print(f"[bold]Case {escape(result.case_id)}[/bold]")
    if result.her2 is not None:
        style = _STATUS_STYLE[result.her2.status]
        category = "" if result.her2.category == "unknown" else (
            f" (HER2-{result.her2.category})" if result.her2.category != "positive" else "")
        out.print(f"HER2: [{style}]{result.her2.status.upper()}[/{style}]{category}")
    if result.ihc is not None:
        score = result.ihc.score or "not scored"
        out.print(f"  IHC: {score} — {escape(result.ihc.label)}")
    for name, label in _ISH_LABELS.items():
        ish = getattr(result, name)
        if ish is not None:
            out.print(escape(_ish_line(label, ish)))
    if result.ish is not None:  # the CAP template's own result option, as the report says it
        from her2kit.report.wording import ish_result_text

        out.print(escape(f"  ISH result (CAP template): {ish_result_text(result)}"))
    for rec in (result.er, result.pr):
        if rec is not None:
            allred = f", Allred {rec.allred}" if rec.allred is not None else ""
            out.print(f"{rec.receptor}: {rec.status} ({rec.percent:g}% of nuclei{allred})")
    if result.next_steps:
        out.print("[bold]Next steps[/bold]")
        for step in result.next_steps:
            out.print(f"  - {escape(f'[{step.code}]')} {escape(step.text)}")
    if result.comments:
        out.print("[bold]Comments[/bold]")
        for comment in result.comments:
            out.print(f"  - {escape(comment)}")
    out.print("[bold]Why[/bold]")
    for line in result.rationale:
        out.print(f"  - {escape(line)}")
    out.print(f"[dim]{escape(result.disclaimer)}[/dim]")


def print_ihc_image_summary(doc: dict, *, written: list[str], console: Console | None = None
                            ) -> None:
    """Print a ``score-ihc`` document: score, class percentages, evidence, files."""
    out = console or Console(highlight=False, soft_wrap=True)
    ihc, ev = doc["ihc"], doc["evidence"]
    out.print(f"[bold]{escape(doc['image'])}[/bold] ({doc['pixel_size_um']:g} µm/px from "
              f"{escape(doc['pixel_size_source'])})")
    out.print(f"IHC score: [bold]{ihc['score']}[/bold] — {escape(ihc['label'])}")
    red = ev.get("erythrocyte_cells_excluded", 0)
    out.print(f"  cells counted {ev['cells_counted']} of {ev['cells_detected']} detected"
              + ("" if ev["roi_used"] else " (no ROI: every detected cell counted"
                 + (f" but {red} red blood cells)" if red else ")")))
    for name, pct in ev["percent_all"].items():
        out.print(f"  {name.replace('_', ' '):<30} {pct:6.2f}%  ({ev['counts'][name]} cells)")
    out.print(f"  H-score {ev['h_score']:g}; quality flags: "
              f"{', '.join(ev['quality_flags']) or 'none'}")
    for near in ev.get("near_cutoff") or ():
        out.print(f"  near the cut-off: {near['percent'].replace('_', ' ')} "
                  f"{near['value_pct']:g}% is within ±{near['margin_pct']:g} points of the "
                  f"{near['cut_pct']:g}% cut for {near['cut_for']}: the score may change on a "
                  "recount or a re-scan")
    _print_tail(out, doc, written)


def print_ish_image_summary(doc: dict, *, written: list[str], console: Console | None = None
                            ) -> None:
    """Print a ``count-ish`` document: counts, group, evidence, files."""
    out = console or Console(highlight=False, soft_wrap=True)
    ish, ev = doc["ish"], doc["evidence"]
    if doc.get("images"):
        out.print(f"[bold]{len(doc['images'])} fields counted as one population[/bold] "
                  f"({doc['assay']})")
        for f in ev["fields"]:
            flags = ", ".join(f["quality_flags"]) or "none"
            out.print(f"  {escape(f['image'])}: {f['parameters']['pixel_size_um']:g} µm/px, "
                      f"nuclei counted {f['nuclei_counted']} of {f['nuclei_segmented']}; "
                      f"flags: {escape(flags)}")
    else:
        out.print(f"[bold]{escape(doc['image'])}[/bold] ({doc['assay']}, "
                  f"{doc['pixel_size_um']:g} µm/px from {escape(doc['pixel_size_source'])})")
    out.print(escape(_ish_line("ISH", IshResult.model_validate(ish))))
    excluded = ", ".join(f"{k} {v}" for k, v in ev["nuclei_excluded"].items()) or "none"
    out.print(f"  nuclei counted {ev['nuclei_counted']} of {ev['nuclei_segmented']} segmented; "
              f"excluded: {excluded}")
    flags = ", ".join(ev["quality_flags"]) or "none"
    out.print(f"  clusters {ev['clusters']}; quality flags: {flags}")
    if ev.get("heterogeneity_note"):
        out.print(f"  {escape(ev['heterogeneity_note'])}")
    _print_tail(out, doc, written, next_steps=True)


def _print_tail(out: Console, doc: dict, written: list[str], *, next_steps: bool = False
                ) -> None:
    """The end of an image command's summary: why, next steps, files, the disclaimer."""
    for line in doc["rationale"]:
        out.print(f"  - {escape(line)}")
    if next_steps:
        for step in doc["next_steps"]:
            out.print(f"  - {escape('[' + step['code'] + ']')} {escape(step['text'])}")
    for path in written:
        out.print(f"wrote {escape(path)}")
    out.print(f"[dim]{escape(doc['disclaimer'])}[/dim]")
