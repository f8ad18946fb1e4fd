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
import re
from functools import cache
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict

from her2kit.report.build import LabReport

__all__ = ["BASIS_WORDS", "PatientSummary", "Question", "automated_readability_index",
           "load_answers", "load_knowledge", "patient_summary"]

KNOWLEDGE = Path(__file__).with_name("knowledge") / "therapies.json"
ANSWERS = Path(__file__).with_name("knowledge") / "patient_answers.json"
# How the PDF and HTML introduce each answer, so the reader sees where it comes from.
BASIS_WORDS = {"case": "From your results", "knowledge": "In general",
               "care team": "Only your care team can answer"}


class Question(BaseModel):
    """One of the patient's questions, its answer, and where the answer comes from.

    ``basis`` is "case" (this report's facts), "knowledge" (general, sourced
    information from ``knowledge/patient_answers.json``, listed in ``sources``)
    or "care team" (only the patient's doctors can answer; the answer says why).
    """

    model_config = ConfigDict(frozen=True)

    question: str
    answer: str | None
    basis: str = "case"
    sources: tuple[str, ...] = ()


class Section(BaseModel):
    model_config = ConfigDict(frozen=True)

    heading: str
    paragraphs: list[str]


class PatientSummary(BaseModel):
    """The patient summary: sections, the treatment table, questions and readability."""

    model_config = ConfigDict(frozen=True)

    title: str
    status: str  # "preliminary" or "final", as the lab report
    status_note: str
    sections: list[Section]
    treatments: list[dict[str, Any]]
    treatments_disclaimer: str
    treatments_note: str = ""  # said when the table is empty, and why
    knowledge_version: str
    trials: list[dict[str, Any]]
    trials_note: str
    questions: list[Question]
    closing: str
    readability: dict[str, float]

    def plain_text(self) -> str:
        """All prose of the summary, as scored for readability."""
        parts = [self.title, self.status_note]
        for s in self.sections:
            parts += [s.heading, *s.paragraphs]
        parts += [t["plain"] for t in self.treatments]
        parts += [q.question + " " + (q.answer or "") for q in self.questions]
        parts.append(self.closing)
        return "\n".join(parts)


@cache
def load_answers(path: Path = ANSWERS) -> dict[str, Any]:
    """The versioned general answers to patients' questions (every entry carries its sources)."""
    return load_knowledge(path)


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


# What each next step of the engine means for the patient, in plain words.
PENDING_PLAIN = {
    "reflex_ish": "a gene test (ISH) on the same tissue, to count the copies of the HER2 gene",
    "ihc_workup": "a protein stain (IHC) on the same tissue, to look at it next to the gene test",
    "blinded_recount": "a second count of the HER2 gene copies on the same slide, by another "
                       "expert who does not see the first count",
    "dual_probe_ish": "a second kind of gene test on the same tissue",
    "adjudicate": "a review of the two gene counts, which did not agree, by the lab's experts",
    "repeat_test": "the test is done again",
}


def _pending_plain(report: LabReport) -> str:
    steps = [PENDING_PLAIN[s.code] for s in report.result.next_steps]
    return "; ".join(steps) if steps else "a further test"


def _setting(report: LabReport) -> str:
    return report.stage.setting


def _meaning(report: LabReport) -> tuple[str, str]:
    r = report.result
    her2 = r.her2
    setting = _setting(report)
    if her2 is None:
        return "not tested", "HER2 was not part of these results."
    ihc = r.ihc.score if r.ihc else None
    if her2.status == "positive":
        why = []
        if ihc == "3+":
            why.append("the protein test (IHC) showed strong HER2 staining all around many "
                       "cancer cells (score 3+)")
        if r.ish is not None and r.ish.call in ("positive", "needs_workup"):
            why.append(f"the gene test counted on average {r.ish.her2_mean:.1f} copies of the "
                       "HER2 gene in each cell" + (f", {r.ish.ratio:.1f} times the chromosome "
                                                   "17 count" if r.ish.ratio else ""))
        if r.her2.rule == "heterogeneity_positive_subpopulation":
            why.append("one group of cancer cells, more than 1 in 10, has many extra copies of "
                       "the HER2 gene")
        use = {"early": " They are often given before or after surgery.",
               "locally advanced": " They are often given before surgery.",
               "metastatic": " They are also used for cancer that has spread."}.get(setting, "")
        return "HER2-positive", (
            "Your cancer is HER2-positive. This means the cancer cells make too much of a "
            "protein called HER2, which can make the cancer grow. The tests showed this: "
            + " and ".join(why or ["the tests met the guideline's cut-off for positive"])
            + ". Drugs that target HER2 work well for this kind of cancer." + use)
    if her2.status == "equivocal":
        term = " (equivocal)" if r.ish is None else ""
        return f"not final yet{term} — another test is under way", (
            "The result is not final yet. This happens often, and the guideline says what to "
            f"do next: {_pending_plain(report)}. Your doctor will tell you the final result.")
    if her2.status == "indeterminate":
        return "not readable — the test will be repeated", (
            "The test could not be read reliably, so it will be repeated. This says nothing "
            "good or bad about your cancer.")
    spread = {"metastatic": " For cancer that has spread, a newer drug, T-DXd, can help some "
                            "people with HER2-low cancer.",
              "early": " A newer drug, T-DXd, is used for HER2-low cancer only if the cancer "
                       "spreads. It is not part of the treatment of early cancer."
              }.get(setting, " A newer drug, T-DXd, can help some people with HER2-low cancer "
                             "that has spread.")
    ultra = {"metastatic": " For cancer that has spread and is also hormone-receptor "
                           "positive, this can matter for the choice of drugs.",
             "early": " This can matter only if the cancer ever spreads; it does not change "
                      "the treatment of early cancer."
             }.get(setting, " This can matter for cancer that has spread and is also "
                            "hormone-receptor positive.")
    label, text = {
        "low": ("HER2-low", "Your cancer is HER2-negative, but it has a little HER2 (HER2-low). "
                "The cancer cells do not make too much HER2, so the classic HER2 drugs are not "
                "used." + spread),
        "ultralow": ("HER2-ultralow", "Your cancer is HER2-negative, with very little HER2 "
                     "(HER2-ultralow): a faint trace of HER2 was seen on a few cancer cells."
                     + ultra),
        "null": ("HER2-0", "Your cancer is HER2-negative with no HER2 seen (HER2-0). Drugs "
                 "that target HER2 are not used for this kind of cancer."),
        "unknown": ("HER2-negative", "Your cancer is HER2-negative: the cancer cells do not "
                    "make too much HER2."),
    }[her2.category]
    return label, text


def _caveats(report: LabReport) -> list[str]:
    """What makes the result less certain, from what the case carries, in plain words."""
    r = report.result
    out = []
    for ev in report.images:
        if ev.evidence.get("roi_used") is False:
            out.append("A computer counted the cells in a picture of the slide before anyone "
                       "marked where the cancer is, so it may have counted some normal cells "
                       "too. The pathologist checks this.")
        if "weak_signals" in (ev.evidence.get("quality_flags") or ()):
            out.append("Some of the coloured dots in the gene test were faint, which makes "
                       "them harder to count.")
    unmet = {c.item for c in report.preanalytics if c.met == "no"}
    if unmet:
        what = {"Fixative": "was not put in the usual fixing liquid",
                "Fixation time": "stayed in its fixing liquid for a time outside the "
                                 "guideline's range",
                "Cold ischemia time": "waited too long before it was put in its fixing "
                                      "liquid"}
        out.append("The tissue " + " and ".join(what[i] for i in sorted(unmet) if i in what)
                   + ". This can make the tests less reliable.")
    if r.ihc is not None and r.ihc.rejected_because:
        out.append("The protein test (IHC) could not be used, because its checks did not "
                   "work as expected. The result comes from the other tests.")
    ish = r.ish
    # Borderline: within 0.2 of the ratio cut-off or 0.3 signals/cell of 4.0 or 6.0.
    near_ratio = ish is not None and ish.ratio is not None and abs(ish.ratio - 2.0) <= 0.2
    near_copies = ish is not None and any(abs(ish.her2_mean - c) <= 0.3 for c in (4.0, 6.0))
    if near_ratio or near_copies:
        out.append("The first gene count was close to a cut-off, so a small difference could "
                   "move it to the other side.")
    counted = [p.cells_counted for p in (ish, r.ish_recount, r.ish_subpopulation) if p]
    if counted and min(counted) < 30:
        out.append(f"Only {min(counted)} cells were counted in one of the gene counts (the "
                   "guideline asks for at least 20), which is a small number.")
    if r.ish_recount is not None and r.ish is not None and r.ish_recount.group == r.ish.group:
        out.append("A second expert counted again without seeing the first count and got "
                   "the same result, which makes it more certain.")
    if report.status != "final":
        out.append("A pathologist has not yet checked and signed this report. The result is "
                   "not final until then.")
    return out


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
    setting = _setting(report)
    when = {"early": " For early cancer it is often taken for 5 to 10 years after surgery.",
            "locally advanced": " It is often taken for 5 to 10 years after surgery.",
            "metastatic": " For cancer that has spread, hormone medicines are often used alone "
                          "or with other drugs, for as long as they keep working."
            }.get(setting, "")
    text = {
        "positive": "Your cancer is hormone-receptor-positive. Hormone (endocrine) therapy "
                    "is usually part of the treatment." + when,
        "low positive": "Only a few cancer cells have the oestrogen receptor (ER low). Hormone "
                        "therapy may still help; ask your doctor about it.",
        "negative": "Your cancer is hormone-receptor-negative. Hormone therapy is not expected "
                    "to help.",
    }[hr]
    return [f"{er}; {pr}.", text]


def _final_category(report: LabReport) -> str | None:
    her2 = report.result.her2
    return her2.category if her2 is not None and her2.status in ("positive", "negative") \
        else None


def _applies(need: dict[str, Any], report: LabReport, shown: frozenset[str] = frozenset(),
             *, unknown_setting_matches: bool = True) -> bool:
    """Whether a knowledge entry's ``applies_to`` fits this case (and the treatments shown)."""
    if "her2_category" in need and _final_category(report) not in need["her2_category"]:
        return False
    if "hormone_receptor" in need and _hr_status(report) not in need["hormone_receptor"]:
        return False
    if "therapy" in need and not shown & set(need["therapy"]):
        return False
    setting = _setting(report)
    if "setting" in need and setting not in need["setting"]:
        return setting == "unknown" and unknown_setting_matches
    return True


def _treatments(report: LabReport, knowledge: dict[str, Any]) -> list[dict[str, Any]]:
    # Setting: entries for cancer that has spread are not shown for early cancer,
    # nor entries given around surgery for metastatic cancer; unknown shows all.
    setting = _setting(report)
    return [e | {"plain": e.get("plain_by_setting", {}).get(setting, e["plain"])}
            for e in knowledge["entries"] if _applies(e["applies_to"], report)]


def _stage_answer(report: LabReport) -> str:
    st = report.stage
    if st.group == "IV":
        where = f" (here: {', '.join(report.case.tumour.metastatic_sites)})" if (
            report.case.tumour and report.case.tumour.metastatic_sites) else ""
        return ("Stage IV. This means the cancer has spread to other parts of the body"
                f"{where}. The stage comes from that spread, not from the size of the tumour. "
                "Your doctor will explain what it means for you.")
    if st.kind == "pathologic":
        return (f"Stage {st.group}. It comes from the size of the tumour and the lymph nodes "
                "that were removed at surgery (the pathologic stage). Your doctor will explain "
                "what it means for you.")
    if st.kind == "clinical":
        return (f"Stage {st.group}, from exams and scans before surgery (the clinical stage). "
                "It can change once the tumour and lymph nodes are removed and looked at. "
                "Your doctor will explain it.")
    if report.case.specimen and report.case.specimen.type not in (None, "excision",
                                                                   "mastectomy"):
        return ("This report gives no stage. It is about a biopsy, a small sample of the "
                "tumour; the stage comes from exams and scans, or from surgery. Your doctor "
                "will tell you the stage.")
    return "This report gives no stage. Your doctor will tell you the stage."


def _sure_answer(report: LabReport, label: str) -> str | None:
    r = report.result
    if r.her2 is None:
        return None
    if r.her2.status not in ("positive", "negative"):
        return ("The result is not final yet, so no one can be sure yet. What is still being "
                f"done: {_pending_plain(report)}.")
    tests = ["IHC"] if r.ihc else []
    if r.ish is not None:
        tests.append(_assay_kind(report))
    base = (f"The result ({label}) comes from {' and '.join(tests) or 'the tests'}, read by "
            f"the rules of the {r.guideline_title}.")
    caveats = _caveats(report)
    if not caveats:
        return base + " The pathologist has checked and signed it."
    return base + " What to know about how certain it is: " + " ".join(caveats)


NOT_FINAL = ("Your HER2 result is not final yet, and the plan depends on it. Only your care "
             "team can answer this once the result is final.")
UNKNOWN_SETTING = ("This report does not say whether the cancer has spread, and the answer "
                   "depends on it. Only your care team can answer this.")
CARE_TEAM = {
    "chemotherapy": "Whether you need chemotherapy depends on the stage, your health and "
                    "what you want. This report cannot say; only your oncologist can.",
    "radiation": "Whether you need radiation depends on your surgery and your stage. This "
                 "report cannot say; only your surgeon and radiation doctor can.",
    "surgery": "This depends on your surgeon's plan and on your wishes. This report cannot "
               "say; only your surgeon can.",
    "side_effects": "It depends on which treatment you get, and each person feels it "
                    "differently. Your care team will tell you what to expect.",
    "no_response": "Doctors check how well a treatment works, and if it does not, they "
                   "change it. Only your care team can say what would come next for you.",
}


def _general(report: LabReport, key: str, answers: dict[str, Any], shown: frozenset[str],
             *, needs_final: bool = False) -> tuple[str, str, tuple[str, ...]]:
    """(answer, basis, sources) from the sourced answers file, else why the care team must."""
    if needs_final and _final_category(report) is None and report.result.her2 is not None:
        return NOT_FINAL, "care team", ()
    hits = [e for e in answers["entries"] if e["question"] == key
            and _applies(e["applies_to"], report, shown, unknown_setting_matches=False)]
    if not hits:
        if _setting(report) == "unknown" and key in ("radiation", "surgery", "no_response"):
            return UNKNOWN_SETTING, "care team", ()
        return CARE_TEAM[key], "care team", ()
    text = " ".join(e["text"] for e in hits)
    tail = {"side_effects": " Not everyone gets these. Your care team checks for them and "
                            "can help.",
            "no_response": " Your care team decides what fits you."}.get(
        key, " This is general information, not advice for you; your care team decides "
             "with you.")
    return text + tail, "knowledge", tuple(src for e in hits for src in e["sources"])


def _where(report: LabReport) -> str:
    sp, t = report.case.specimen, report.case.tumour
    sites = ", ".join(t.metastatic_sites) if t is not None and t.metastatic_sites else ""
    spread = {"metastatic": f" The cancer has spread{' to: ' + sites if sites else ''}."
                            " Your doctor knows from scans where else it may be.",
              "early": " This report is about the tissue only; scans and exams tell your "
                       "doctor the rest."}.get(_setting(report), "")
    if sp is None or not sp.site:
        return ("This report does not say where the tissue came from. Your care team knows "
                "this from your exams and scans." + spread)
    side = f" ({sp.laterality} side)" if sp.laterality in ("left", "right") and \
        sp.laterality not in sp.site else ""
    return f"The tissue tested came from: {sp.site}{side}." + spread


def _treatment_options(report: LabReport, shown: frozenset[str]) -> tuple[str, str]:
    if _final_category(report) is None:
        return NOT_FINAL, "care team"
    if not shown:
        return ("This report lists no treatment for this result. Your options depend on "
                "many things this report does not know. Only your care team can tell you."),\
            "care team"
    where = {"early": " for cancer that has not spread",
             "locally advanced": " for cancer that has grown near the breast",
             "metastatic": " for cancer that has spread"}.get(_setting(report), "")
    return (f"The table above lists kinds of treatment studied{where} with a result like "
            "yours. It is not a plan for you. Your options also depend on "
            + ("your earlier treatment" if _setting(report) == "metastatic" else "your stage")
            + ", your health and your wishes, so only your care team can say which fit you."),\
        "knowledge"


def _more_tests(report: LabReport) -> str:
    if report.result.next_steps:
        return f"Yes: {_pending_plain(report)}."
    return ("This report asks for no more tests on this tissue. Your doctors may still order "
            "other tests, such as scans or blood tests. Ask them which and why.")


def _questions(report: LabReport, label: str, meaning: str, trials_found: bool,
               answers: dict[str, Any], shown: frozenset[str]) -> list[Question]:
    """The fifteen questions of the patient article, each answered (case, knowledge or why
    only the care team can)."""
    r = report.result
    hr = _hr_status(report)

    def general(question: str, key: str, *, needs_final: bool = False) -> Question:
        text, basis, sources = _general(report, key, answers, shown, needs_final=needs_final)
        return Question(question=question, answer=text, basis=basis, sources=sources)

    options, options_basis = _treatment_options(report, shown)
    care = "care team"
    return [
        Question(question="How are you sure of my HER2 result?",
                 answer=_sure_answer(report, label)),
        Question(question="What does my HER2 result mean for my treatment?",
                 answer=meaning if r.her2 is not None else None),
        Question(question="Where exactly is my cancer?", answer=_where(report)),
        Question(question="What is the stage of my cancer, and what does it mean?",
                 answer=_stage_answer(report)),
        Question(question="What are my treatment options?", answer=options,
                 basis=options_basis),
        general("Do I need chemotherapy?", "chemotherapy", needs_final=True),
        general("Do I need radiation?", "radiation"),
        Question(question="Do I need hormone treatment?",
                 answer="Hormone receptors were not part of these results. Ask your care team."
                 if hr is None else {
                     "positive": "Hormone therapy is usually part of treatment for "
                                 "hormone-receptor-positive cancer; your doctor will explain "
                                 "which one and for how long.",
                     "low positive": "Possibly: with low ER, the benefit is less certain.",
                     "negative": "Hormone therapy is not expected to help a "
                                 "hormone-receptor-negative cancer."}[hr]),
        general("Do I need to have my breast removed?", "surgery"),
        general("How will the treatment make me feel? What side effects can it have?",
                "side_effects"),
        Question(question="Will I be able to work?", basis=care,
                 answer="This report cannot answer this: it depends on your treatment, your "
                        "job and how you feel. Many people keep working during treatment, "
                        "some with changes. Ask your care team; many hospitals have a social "
                        "worker or nurse who can help."),
        Question(question="Will my insurance cover my treatment?", basis=care,
                 answer="This report cannot answer this: it depends on your plan and your "
                        "treatment. Ask your insurer and your hospital's financial counsellor "
                        "or social worker."),
        general("What if my cancer doesn't respond to treatment?", "no_response",
                needs_final=True),
        Question(question="Is there a clinical trial I should consider?",
                 answer="Some open trials are listed above; ask your doctor whether any fit."
                 if trials_found else "This report did not search for trials. Your care team "
                 "can tell you if a trial fits you, for example from ClinicalTrials.gov.",
                 basis="case" if trials_found else care),
        Question(question="Will I need more tests?", answer=_more_tests(report)),
    ]


def automated_readability_index(text: str) -> float:
    """The automated readability index (Senter & Smith 1967), computed here, not by textstat.

    ARI = 4.71 × letters-and-digits per word + 0.5 × words per sentence − 21.43. A
    sentence ends at ".", "!", "?" or a line break (headings and questions are lines);
    a word is a whitespace-separated token with at least one letter or digit. ARI counts
    characters, not syllables, so it is an independent check on Flesch–Kincaid.
    """
    sentences = [s for s in re.split(r"[.!?]+(?=\s|$)|\n", text)
                 if any(c.isalnum() for c in s)]
    words = [w for s in sentences for w in s.split() if any(c.isalnum() for c in w)]
    if not words:
        raise ValueError("no words to score")
    chars = sum(c.isalnum() for w in words for c in w)
    return 4.71 * chars / len(words) + 0.5 * len(words) / len(sentences) - 21.43


def _readability(text: str) -> dict[str, float]:
    import textstat

    return {
        "flesch_reading_ease": round(float(textstat.flesch_reading_ease(text)), 1),
        "flesch_kincaid_grade": round(float(textstat.flesch_kincaid_grade(text)), 1),
        "automated_readability_index": round(automated_readability_index(text), 1),
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
    treatments = _treatments(report, knowledge)
    shown = frozenset(t["id"] for t in treatments)
    sections = [
        Section(heading="What was tested, and how?", paragraphs=_how_tested(report)),
        Section(heading=f"What does the result mean? {label}", paragraphs=[meaning]),
        Section(heading="Hormone receptors: do I need hormone treatment?",
                paragraphs=_hormones(report)),
    ]
    trials = trials or []
    summary = PatientSummary(
        title="Your breast cancer test results, in plain words",
        status=report.status,
        status_note=("PRELIMINARY — NOT FOR CLINICAL USE. A pathologist has not yet checked "
                     "and signed these results; they can still change."
                     if report.status != "final" else
                     f"Checked and signed by {report.sign_out.by} on "
                     f"{report.sign_out.at:%Y-%m-%d}." if report.sign_out else ""),
        sections=sections, treatments=treatments,
        treatments_note="" if treatments else (
            "No treatment information is shown until the result is final."
            if _final_category(report) is None and report.result.her2 is not None else
            "The knowledge file lists no treatment for this result. Your care team can tell "
            "you about your options."),
        treatments_disclaimer=knowledge["disclaimer"], knowledge_version=knowledge["version"],
        trials=trials,
        trials_note=("Studies found on ClinicalTrials.gov for this result (recruiting)."
                     if trials else "No trial search was included. Your care team can help "
                     "you look for clinical trials, for example on ClinicalTrials.gov."),
        questions=_questions(report, label, meaning, bool(trials), load_answers(), shown),
        closing=("This summary is information for a talk with your care team. It is not "
                 "medical advice. Your pathologist checks the results, and your doctors "
                 "decide with you what to do."),
        readability={},
    )
    return summary.model_copy(update={"readability": _readability(summary.plain_text())})
