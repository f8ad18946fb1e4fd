"""A plain-language summary for the patient, in the order of the patient's questions.

What was tested and how; what the result means; hormone receptors and hormone
therapy; what kinds of treatment doctors usually consider (from the versioned
knowledge file ``knowledge/therapies.json``, each line with its source, never a
recommendation); clinical trials; questions to ask the doctor, with those this
report can already answer marked and answered. The reading level is measured
with textstat and reported.
"""

from __future__ import annotations

import json
from functools import cache
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict

from her2kit.report.build import LabReport

__all__ = ["PatientSummary", "Question", "load_knowledge", "patient_summary"]

KNOWLEDGE = Path(__file__).with_name("knowledge") / "therapies.json"


class Question(BaseModel):
    model_config = ConfigDict(frozen=True)

    question: str
    answer: str | None


class Section(BaseModel):
    model_config = ConfigDict(frozen=True)

    heading: str
    paragraphs: list[str]


class PatientSummary(BaseModel):
    """The patient summary: sections, the treatment table, questions and readability."""

    model_config = ConfigDict(frozen=True)

    title: str
    sections: list[Section]
    treatments: list[dict[str, Any]]
    treatments_disclaimer: str
    knowledge_version: str
    trials: list[dict[str, Any]]
    trials_note: str
    questions: list[Question]
    closing: str
    readability: dict[str, float]

    def plain_text(self) -> str:
        """All prose of the summary, as scored for readability."""
        parts = [self.title]
        for s in self.sections:
            parts += [s.heading, *s.paragraphs]
        parts += [t["plain"] for t in self.treatments]
        parts += [q.question + " " + (q.answer or "") for q in self.questions]
        parts.append(self.closing)
        return "\n".join(parts)


@cache
def load_knowledge(path: Path = KNOWLEDGE) -> dict[str, Any]:
    """The versioned treatment knowledge file (every entry carries its sources)."""
    data = json.loads(path.read_text(encoding="utf-8"))
    for entry in data["entries"]:
        if not entry.get("sources"):
            raise ValueError(f"knowledge entry {entry['id']} has no source")
    return data


def _assay_kind(report: LabReport) -> str:
    a = report.case.assays
    name = (a.ish.name if a and a.ish else "").lower()
    if "cish" in name:
        return "CISH"
    if "dual ish" in name:
        return "Dual ISH"
    if "fish" in name or "pathvysion" in name:
        return "FISH"
    return "ISH"


def _hr_status(report: LabReport) -> str | None:
    er, pr = report.result.er, report.result.pr
    if er is None and pr is None:
        return None
    if (er is not None and er.status == "positive") or (pr is not None and pr.status == "positive"):
        return "positive"
    if er is not None and er.status == "low positive":
        return "low positive"
    return "negative"


def _meaning(report: LabReport) -> tuple[str, str]:
    r = report.result
    her2 = r.her2
    if her2 is None:
        return "not tested", "HER2 was not part of these results."
    ihc = r.ihc.score if r.ihc else None
    if her2.status == "positive":
        why = []
        if ihc == "3+":
            why.append("the IHC test showed strong HER2 staining all around many cancer cells "
                       "(score 3+)")
        if r.ish is not None and r.ish.call in ("positive", "needs_workup"):
            why.append(f"the gene test counted on average {r.ish.her2_mean:.1f} copies of the "
                       "HER2 gene in each cell" + (f", {r.ish.ratio:.1f} times the chromosome "
                                                   "17 count" if r.ish.ratio else ""))
        return "HER2-positive", (
            "Your cancer is HER2-positive. This means the cancer cells make too much of a "
            "protein called HER2, which can make the cancer grow. We are sure because "
            + " and ".join(why or ["the tests met the guideline's cut-off for positive"])
            + ". Drugs that target HER2 work well for this kind of cancer.")
    if her2.status == "equivocal":
        return "equivocal — another test has been ordered", (
            "The result is not clear yet (equivocal). This happens often, and the guideline says "
            "what to do next: another test has been ordered on your tissue. Your doctor will "
            "tell you the final result.")
    if her2.status == "indeterminate":
        return "not readable — the test will be repeated", (
            "The test could not be read reliably, so it will be repeated. This says nothing "
            "good or bad about your cancer.")
    label, text = {
        "low": ("HER2-low", "Your cancer is HER2-negative, but it has a little HER2 (HER2-low). "
                "The cancer cells do not make too much HER2, so the classic HER2 drugs are not "
                "used. A newer drug, T-DXd, can help some people with HER2-low cancer if the "
                "cancer spreads."),
        "ultralow": ("HER2-ultralow", "Your cancer is HER2-negative, with very little HER2 "
                     "(HER2-ultralow): a faint trace of HER2 was seen on a few cancer cells. "
                     "This can matter if the cancer spreads and is also hormone-receptor "
                     "positive."),
        "null": ("HER2-0", "Your cancer is HER2-negative with no HER2 seen (HER2-0). Drugs "
                 "that target HER2 are not used for this kind of cancer."),
        "unknown": ("HER2-negative", "Your cancer is HER2-negative: the cancer cells do not "
                    "make too much HER2."),
    }[her2.category]
    return label, text


def _how_tested(report: LabReport) -> list[str]:
    r = report.result
    out = []
    if r.ihc is not None:
        out.append("IHC (immunohistochemistry): a thin slice of your tumour was stained so that "
                   "the HER2 protein turns brown. A pathologist looked at how many cancer cells "
                   "were stained and how strongly.")
    if r.ish is not None:
        out.append(f"{_assay_kind(report)} (in situ hybridization): a test that marks the HER2 "
                   "gene with coloured dots, so the copies of the gene can be counted in "
                   f"{r.ish.cells_counted} cancer cells.")
    if r.er is not None or r.pr is not None:
        out.append("Hormone receptors: the same kind of staining shows whether the cancer cells "
                   "have receptors for the hormones oestrogen (ER) and progesterone (PgR).")
    return out


def _hormones(report: LabReport) -> list[str]:
    r = report.result
    hr = _hr_status(report)
    if hr is None:
        return ["Hormone receptors were not part of these results."]
    er = f"ER {r.er.status} ({r.er.percent:g}% of cells)" if r.er else "ER not tested"
    pr = f"PgR {r.pr.status} ({r.pr.percent:g}% of cells)" if r.pr else "PgR not tested"
    text = {
        "positive": "Your cancer is hormone-receptor-positive. Hormone (endocrine) therapy "
                    "is usually part of the treatment.",
        "low positive": "Only a few cancer cells have the oestrogen receptor (ER low). Hormone "
                        "therapy may still help; ask your doctor about it.",
        "negative": "Your cancer is hormone-receptor-negative. Hormone therapy is not expected "
                    "to help.",
    }[hr]
    return [f"{er}; {pr}.", text]


def _treatments(report: LabReport, knowledge: dict[str, Any]) -> list[dict[str, Any]]:
    her2 = report.result.her2
    category = her2.category if her2 is not None and her2.status in ("positive", "negative") \
        else None
    hr = _hr_status(report)
    rows = []
    for entry in knowledge["entries"]:
        need = entry["applies_to"]
        if "her2_category" in need and category not in need["her2_category"]:
            continue
        if "hormone_receptor" in need and hr not in need["hormone_receptor"]:
            continue
        rows.append(entry)
    return rows


def _questions(report: LabReport, label: str, meaning: str, trials_found: bool) -> list[Question]:
    r = report.result
    hr = _hr_status(report)
    ish = r.ish
    sure = None
    if r.her2 is not None and r.her2.status in ("positive", "negative"):
        tests = ["IHC"] if r.ihc else []
        if ish is not None:
            tests.append(_assay_kind(report))
        sure = (f"The result ({label}) comes from {' and '.join(tests)}, read by the rules of "
                f"the {r.guideline_title}. A pathologist checks it before it is final.")
    return [
        Question(question="How are you sure of my HER2 result?", answer=sure),
        Question(question="What does my HER2 result mean for my treatment?",
                 answer=meaning if r.her2 is not None else None),
        Question(question="Do I need hormone treatment?",
                 answer=None if hr is None else {
                     "positive": "Hormone therapy is usually part of treatment for "
                                 "hormone-receptor-positive cancer; your doctor will explain "
                                 "which one and for how long.",
                     "low positive": "Possibly: with low ER, the benefit is less certain.",
                     "negative": "Hormone therapy is not expected to help a "
                                 "hormone-receptor-negative cancer."}[hr]),
        Question(question="What are my treatment options?", answer=None),
        Question(question="Is there a clinical trial I should consider?",
                 answer="Some open trials are listed above; ask your doctor whether any fit."
                 if trials_found else None),
        Question(question="What is the stage of my cancer, and what does it mean?",
                 answer=(f"The anatomic stage from the tumour size and lymph nodes is "
                         f"{report.stage.group}. Your doctor will explain it.")
                 if report.stage.group else None),
        Question(question="Will I need more tests?",
                 answer=("Yes: " + " ".join(s.text for s in r.next_steps)) if r.next_steps
                 else None),
        Question(question="What side effects should I expect from the treatment?", answer=None),
    ]


def _readability(text: str) -> dict[str, float]:
    import textstat

    return {
        "flesch_reading_ease": round(float(textstat.flesch_reading_ease(text)), 1),
        "flesch_kincaid_grade": round(float(textstat.flesch_kincaid_grade(text)), 1),
    }


def patient_summary(report: LabReport, *, trials: list[dict[str, Any]] | None = None,
                    knowledge: dict[str, Any] | None = None) -> PatientSummary:
    """Build the plain-language summary of a report.

    Parameters
    ----------
    report : LabReport
    trials : list of dict, optional
        Studies from ``her2kit trials`` (nct_id, title, url …) to list.
    knowledge : dict, optional
        A treatment knowledge file (default: the bundled, versioned one).
    """
    knowledge = knowledge or load_knowledge()
    label, meaning = _meaning(report)
    sections = [
        Section(heading="What was tested, and how?", paragraphs=_how_tested(report)),
        Section(heading=f"What does the result mean? {label}", paragraphs=[meaning]),
        Section(heading="Hormone receptors: do I need hormone treatment?",
                paragraphs=_hormones(report)),
    ]
    trials = trials or []
    summary = PatientSummary(
        title="Your breast cancer test results, in plain words",
        sections=sections, treatments=_treatments(report, knowledge),
        treatments_disclaimer=knowledge["disclaimer"], knowledge_version=knowledge["version"],
        trials=trials,
        trials_note=("Studies found on ClinicalTrials.gov for this result (recruiting)."
                     if trials else "No trial search was included. Your care team can help "
                     "you look for clinical trials, for example on ClinicalTrials.gov."),
        questions=_questions(report, label, meaning, bool(trials)),
        closing=("This summary is information for a talk with your care team. It is not "
                 "medical advice. Your pathologist checks the results, and your doctors "
                 "decide with you what to do."),
        readability={},
    )
    return summary.model_copy(update={"readability": _readability(summary.plain_text())})
