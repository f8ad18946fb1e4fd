"""Result wording from the CAP Breast Biomarker Reporting Template, driven by the engine.

Every place that states a HER2 result (lab report HTML/PDF, FHIR
``Observation.value``, the ``classify`` terminal line) takes its text from
here, so they cannot drift apart.

HER2 by ISH result options (CAP template, Breast.Bmk 1.6.1.0 as encoded by
the secondary source [S9], guideline-facts.md §4; the verbatim CAP text is
UNCONFIRMED, §8 item 9):

- Negative: Group 5, or negative based on IHC and ISH (Group 2 with IHC 0–2+,
  Group 3 with IHC 0–1+, Group 4 with IHC 0–2+);
- Positive: Group 1, Group 1 in >10 % of the cell population, or positive based
  on IHC and ISH (Group 2 with IHC 3+, Group 3 with IHC 2–3+, Group 4 with IHC 3+);
- Pending: the 2018 rules have no equivocal ISH result [S6]; a Group 2–4 count
  that still waits for its blinded recount, its adjudication or its concurrent
  IHC is "Pending", with what is awaited;
- Indeterminate: the test could not be completed [S1 p.4];
- Not performed.
"""

from __future__ import annotations

from types import MappingProxyType

from her2kit.guideline.results import ClassifyResult

__all__ = [
    "AWAITED",
    "SUBPOPULATION_POSITIVE",
    "awaited",
    "her2_status_text",
    "ihc_result_text",
    "ish_result_text",
]

SUBPOPULATION_POSITIVE = (
    "Positive (amplified, Group 1 result in >10 % of the cell population)"
)
NOT_PERFORMED = "Not performed"

# What each next step of the engine waits for, in the lab's words.
AWAITED = MappingProxyType({
    "reflex_ish": "reflex ISH on the same specimen",
    "ihc_workup": "HER2 IHC on the same tissue, reviewed together with the ISH slides",
    "blinded_recount": "blinded recount of at least 20 cells by an additional observer",
    "dual_probe_ish": "dual-probe ISH on the same tissue",
    "adjudicate": "adjudication per laboratory procedure, as the blinded recount gave another "
                  "ISH group",
    "repeat_test": "a repeat test",
})


def awaited(result: ClassifyResult) -> list[str]:
    """What the result is waiting for, one phrase per next step of the engine."""
    return [AWAITED[s.code] for s in result.next_steps]


def _pending(result: ClassifyResult) -> str:
    what = awaited(result)
    return "Pending" + (f" (awaiting {'; '.join(what)})" if what else "")


def ihc_result_text(result: ClassifyResult) -> str | None:
    """The HER2 IHC result line: the engine's label, or "Not performed"."""
    if result.ihc is not None:
        return result.ihc.label
    return NOT_PERFORMED if result.her2 is not None else None


def _group_text(result: ClassifyResult, group: int) -> str:
    her2 = result.her2
    assert her2 is not None
    if group == 1:
        return "Positive (Group 1)"
    if group == 5:
        return "Negative (Group 5)"
    score = result.ihc.score if result.ihc is not None else None
    with_ihc = f" with IHC {score}" if score is not None else ""
    return f"{her2.status.capitalize()} (Group {group}{with_ihc})"


def ish_result_text(result: ClassifyResult) -> str | None:
    """The HER2 by ISH result as the CAP template words it.

    Returns ``None`` when HER2 was not tested at all, ``"Not performed"`` when
    only IHC was done.

    Examples
    --------
    >>> from her2kit.guideline import Case, classify
    >>> r = classify(Case.model_validate({"ihc": {"score": "2+"}, "ish": {
    ...     "probe": "dual", "cells_counted": 20, "her2_mean": 4.6, "cep17_mean": 2.9}}))
    >>> ish_result_text(r)
    'Pending (awaiting blinded recount of at least 20 cells by an additional observer)'
    """
    her2, ish = result.her2, result.ish
    if her2 is None:
        return None
    if ish is None:
        return NOT_PERFORMED
    if her2.rule == "heterogeneity_positive_subpopulation":
        return SUBPOPULATION_POSITIVE
    if ish.call == "indeterminate":
        return "Indeterminate (cannot be determined: " + "; ".join(ish.rejected_because) + ")"
    if her2.status == "equivocal":
        if result.guideline == "asco-cap-2013" and ish.call == "equivocal":
            return "Equivocal (2013 criteria)" + _pending(result)[len("Pending"):]
        return _pending(result)
    if ish.group is not None:
        return _group_text(result, ish.group)
    if ish.probe == "single":
        if ish.call == "positive":
            return "Positive (single-probe, ≥6.0 HER2 signals per cell)"
        if ish.call == "negative":
            return "Negative (single-probe, <4.0 HER2 signals per cell)"
        if result.ish_workup is not None and result.ish_workup.group is not None:
            basis = f"dual-probe ISH Group {result.ish_workup.group}"
        else:
            basis = f"IHC {result.ihc.score}" if result.ihc and result.ihc.score else "IHC"
        return (f"{her2.status.capitalize()} (single-probe 4.0–<6.0 HER2 signals per cell, "
                f"with {basis})")
    return f"{ish.call.capitalize()} (2013 criteria)"


def her2_status_text(result: ClassifyResult) -> str | None:
    """The final (integrated) HER2 status line, never "Equivocal" for an ISH still pending."""
    her2 = result.her2
    if her2 is None:
        return None
    if her2.status == "equivocal":
        if result.ish is not None and result.guideline != "asco-cap-2013":
            return _pending(result)
        what = awaited(result)
        return "Equivocal" + (f" (awaiting {'; '.join(what)})" if what else "")
    if her2.status == "indeterminate":
        what = awaited(result)
        return "Indeterminate" + (f" (awaiting {'; '.join(what)})" if what else "")
    return her2.status.capitalize()
