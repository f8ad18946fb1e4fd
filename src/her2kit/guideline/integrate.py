"""The integrated HER2 call: IHC and ISH together, with the reflex rules.

2018 (affirmed 2023) [S1 Figs 1–6; S2]:

- IHC 3+ → positive; IHC 0/0+/1+ → negative; IHC 2+ alone → equivocal, reflex ISH.
- Dual-probe Group 1 → positive; Group 5 → negative.
- Groups 2–4 are decided by the concurrent IHC: 0/1+ → negative (with the
  group's comment); 3+ → positive; 2+ → a blinded second observer recounts
  ≥20 cells; if the recount stays in the group, Group 3 → positive and
  Groups 2 and 4 → negative (with comment); if it lands in another group,
  the lab adjudicates.
- Single-probe 4.0–<6.0: IHC 3+ or dual-probe Group 1 → positive; IHC 0/1+
  or dual-probe Group 5 → negative; IHC 2+ → dual-probe ISH decides.
- Either test positive makes the result positive (an IHC 3+ next to a
  negative ISH is positive, with a discordance comment).
- A rejected test is indeterminate; the other test decides where it can.
- Heterogeneity: a separately counted population of >10 % of tumour cells is
  reported on its own; if it is positive, the result is positive (the CAP
  template's "Group 1 in >10 % of the cell population" [S9]).

2013 (re-reading older cases): ISH positive / equivocal / negative; an
equivocal ISH is resolved by the IHC (3+ positive, 0/1+ negative), and ISH
equivocal with IHC 2+ stays equivocal pending another test.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from types import MappingProxyType

from her2kit import __version__
from her2kit.guideline.comments import (
    GROUP_COMMENTS,
    HER2_LOW_COMMENT,
    NEXT_STEP_TEXT,
    ULTRALOW_COMMENT,
)
from her2kit.guideline.hormone import ER_LOW_POSITIVE_COMMENT, hormone_receptor_result
from her2kit.guideline.ihc import ihc_result
from her2kit.guideline.ish import ish_result
from her2kit.guideline.models import Case
from her2kit.guideline.results import (
    ClassifyResult,
    Her2Decision,
    IhcResult,
    IshResult,
    NextStep,
)
from her2kit.guideline.versions import GuidelineVersion, get_guideline

__all__ = ["DISCLAIMER", "classify", "her2_decision"]

DISCLAIMER = (
    "Decision support, not a diagnosis: computed by her2kit {version} under {title}. "
    "A pathologist reviews the slides and signs out the report."
)
_NEGATIVE_SCORES = ("0", "0+", "1+")
_CATEGORY_OF_NEGATIVE = MappingProxyType({"0": "null", "0+": "ultralow", "1+": "low", "2+": "low"})


@dataclass
class _Call:
    """A decision under construction (mutable only inside this module)."""

    status: str
    rule: str
    steps: list[NextStep] = field(default_factory=list)
    comments: list[str] = field(default_factory=list)
    rationale: list[str] = field(default_factory=list)
    used_recount: bool = False


def _step(code: str, text: str | None = None) -> NextStep:
    return NextStep(code=code, text=text or NEXT_STEP_TEXT[code])


def _from_ihc_alone(score: str | None, ihc: IhcResult | None) -> _Call | None:
    if ihc is None:
        return None
    if score is None:
        return _Call("indeterminate", "ihc_rejected", [_step("repeat_test")],
                     rationale=["HER2: IHC rejected and no ISH → indeterminate"])
    if score == "3+":
        return _Call("positive", "ihc_3plus", rationale=["HER2: IHC 3+ → positive"])
    if score == "2+":
        return _Call("equivocal", "ihc_2plus_needs_ish", [_step("reflex_ish")],
                     rationale=["HER2: IHC 2+ is equivocal and no ISH result is given → "
                                "equivocal; reflex ISH"])
    return _Call("negative", f"ihc_{score}", rationale=[f"HER2: IHC {score} → negative"])


def _groups_2_to_4(ish: IshResult, score: str | None, recount: IshResult | None,
                   which: str) -> _Call:
    group = ish.group
    assert group in (2, 3, 4)
    if score is None:
        return _Call("equivocal", f"group_{group}_needs_ihc", [_step("ihc_workup")],
                     rationale=[f"HER2: {which} Group {group} needs the concurrent IHC, which is "
                                "not available → equivocal"])
    if score == "3+":
        return _Call("positive", f"group_{group}_ihc_3plus",
                     rationale=[f"HER2: {which} Group {group} with IHC 3+ → positive"])
    if score in _NEGATIVE_SCORES:
        return _Call("negative", f"group_{group}_ihc_0_1plus", comments=[GROUP_COMMENTS[group]],
                     rationale=[f"HER2: {which} Group {group} with IHC {score} → negative "
                                "(with the group's comment)"])
    # IHC 2+: a blinded second observer recounts.
    if recount is None:
        return _Call("equivocal", f"group_{group}_ihc_2plus_needs_recount",
                     [_step("blinded_recount")],
                     rationale=[f"HER2: {which} Group {group} with IHC 2+ needs a blinded recount "
                                "of ≥20 cells by an additional observer → equivocal until then"])
    if recount.group is None:
        return _Call("equivocal", f"group_{group}_recount_invalid", [_step("blinded_recount")],
                     rationale=["HER2: the recount is indeterminate → recount again"],
                     used_recount=True)
    if recount.group != group:
        return _Call("equivocal", f"group_{group}_recount_group_{recount.group}",
                     [_step("adjudicate")],
                     rationale=[f"HER2: blinded recount gives Group {recount.group}, not Group "
                                f"{group} → adjudicate per the laboratory's procedures"],
                     used_recount=True)
    if group == 3:
        return _Call("positive", "group_3_ihc_2plus_recount_confirms",
                     rationale=["HER2: Group 3 with IHC 2+, confirmed by the blinded recount "
                                "→ positive"], used_recount=True)
    return _Call("negative", f"group_{group}_ihc_2plus_recount_confirms",
                 comments=[GROUP_COMMENTS[group]],
                 rationale=[f"HER2: Group {group} with IHC 2+, confirmed by the blinded recount → "
                            "negative (with the group's comment)"], used_recount=True)


def _with_ish(ish: IshResult, score: str | None, recount: IshResult | None,
              workup: IshResult | None, g: GuidelineVersion) -> _Call:
    name = f"{ish.probe}-probe ISH"
    if ish.call == "indeterminate":
        if score == "3+":
            return _Call("positive", "ihc_3plus_ish_indeterminate",
                         rationale=["HER2: IHC 3+ → positive (ISH indeterminate)"])
        if score in _NEGATIVE_SCORES:
            return _Call("negative", f"ihc_{score}_ish_indeterminate",
                         rationale=[f"HER2: IHC {score} → negative (ISH indeterminate)"])
        return _Call("indeterminate", "ish_indeterminate", [_step("repeat_test")],
                     rationale=["HER2: ISH indeterminate and IHC does not decide → "
                                "indeterminate; repeat the ISH"])
    if ish.call == "positive":
        return _Call("positive", f"{ish.probe}_ish_positive",
                     rationale=[f"HER2: {name} positive → positive"])
    if ish.call == "negative":
        if score == "3+":
            return _Call(
                "positive", "ihc_3plus_ish_negative",
                comments=["IHC 3+ with negative ISH is discordant: either positive test makes "
                          "the result positive; review both with the histopathology."],
                rationale=["HER2: IHC 3+ → positive although ISH is negative (discordant)"])
        return _Call("negative", f"{ish.probe}_ish_negative",
                     rationale=[f"HER2: {name} negative → negative"])

    if ish.probe == "single":  # 4.0–<6.0 HER2 signals/cell (or 2013 equivocal)
        if workup is not None and workup.call != "indeterminate":
            call = _with_ish(workup, score, recount, None, g)
            call.rationale.insert(0, "HER2: single-probe 4.0–<6.0 worked up by dual-probe ISH")
            return call
        if score == "3+":
            return _Call("positive", "single_probe_workup_ihc_3plus",
                         rationale=["HER2: single-probe 4.0–<6.0 with IHC 3+ → positive"])
        if score in _NEGATIVE_SCORES:
            return _Call("negative", f"single_probe_workup_ihc_{score}",
                         rationale=[f"HER2: single-probe 4.0–<6.0 with IHC {score} → negative"])
        steps = [_step("dual_probe_ish")] if score == "2+" else [
            _step("ihc_workup"), _step("dual_probe_ish")]
        return _Call("equivocal", "single_probe_needs_workup", steps,
                     rationale=["HER2: single-probe 4.0–<6.0 needs IHC and/or dual-probe ISH "
                                "on the same tissue → equivocal"])

    if g.ish_scheme == "groups":
        return _groups_2_to_4(ish, score, recount, name)
    # 2013 dual-probe equivocal (ratio <2.0, HER2 4.0–<6.0).
    if score == "3+":
        return _Call("positive", "ish_equivocal_ihc_3plus",
                     rationale=["HER2: ISH equivocal with IHC 3+ → positive (2013)"])
    if score in _NEGATIVE_SCORES:
        return _Call("negative", f"ish_equivocal_ihc_{score}",
                     rationale=[f"HER2: ISH equivocal with IHC {score} → negative (2013)"])
    text = ("ISH is equivocal: reflex to IHC on the same specimen if not done, or repeat ISH "
            "with an alternative chromosome 17 probe or on another specimen (2013).")
    return _Call("equivocal", "ish_equivocal", [_step("repeat_test", text)],
                 rationale=["HER2: ISH equivocal and IHC does not resolve it → equivocal (2013)"])


def her2_decision(
    ihc: IhcResult | None,
    ish: IshResult | None,
    *,
    recount: IshResult | None = None,
    workup: IshResult | None = None,
    subpopulation: IshResult | None = None,
    guideline: str | GuidelineVersion = "asco-cap-2018",
) -> tuple[Her2Decision | None, list[NextStep], list[str], list[str]]:
    """Integrate IHC and ISH into the HER2 status and the therapy category.

    Parameters
    ----------
    ihc, ish : IhcResult or None
        The IHC block and the (first) ISH count.
    recount : IshResult, optional
        The blinded second-observer count (Groups 2–4 with IHC 2+).
    workup : IshResult, optional
        Dual-probe ISH done to work up a single-probe 4.0–<6.0 result.
    subpopulation : IshResult, optional
        A separately counted population (heterogeneity), with
        ``percent_of_tumour`` set.
    guideline : str or GuidelineVersion

    Returns
    -------
    decision : Her2Decision or None
        ``None`` when neither IHC nor ISH was given.
    next_steps : list of NextStep
    comments : list of str
    rationale : list of str
    """
    g = get_guideline(guideline)
    score = ihc.score if ihc is not None else None
    if ish is None:
        call = _from_ihc_alone(score, ihc)
        if call is None:
            return None, [], [], []
    else:
        call = _with_ish(ish, score, recount, workup, g)
        if ihc is not None and ihc.score is None:
            call.rationale.append("HER2: the IHC was rejected and is not used; repeat it if "
                                  "the IHC result is needed")
    if recount is not None and not call.used_recount:
        call.rationale.append("HER2: a recount was given but this result does not need one; "
                              "it is reported, not used")
    if subpopulation is not None:
        share = subpopulation.percent_of_tumour or 0.0
        sub = _with_ish(subpopulation, score, None, None, g)
        cut = g.ihc_cell_fraction_pct
        call.comments.append(
            f"Heterogeneity: a separately counted population of {share:g}% of tumour cells "
            f"({subpopulation.cells_counted} nuclei; HER2 {subpopulation.her2_mean:.2f}/cell"
            + (f", ratio {subpopulation.ratio:.2f}" if subpopulation.ratio is not None else "")
            + (f", Group {subpopulation.group}" if subpopulation.group else "")
            + f") is {sub.status} on its own."
        )
        if share > cut and sub.status == "positive" and call.status != "positive":
            call = _Call("positive", "heterogeneity_positive_subpopulation", [],
                         call.comments, [*call.rationale,
                                         f"HER2: a separately counted population of {share:g}% "
                                         f"(>{cut:g}%) of tumour cells is positive → positive"])
        elif share <= cut:
            call.rationale.append(
                f"HER2: the separately counted population is {share:g}% of tumour cells "
                f"(≤{cut:g}%): reported, does not change the result")
    if call.status == "positive":
        category = "positive"
    elif call.status == "negative" and score is not None:
        category = _CATEGORY_OF_NEGATIVE[score]
        call.comments.append(HER2_LOW_COMMENT)
        if score == "0+":
            call.comments.append(ULTRALOW_COMMENT)
    else:
        category = "unknown"
    decision = Her2Decision(status=call.status, category=category, rule=call.rule)
    return decision, call.steps, call.comments, call.rationale


def classify(case: Case, *, guideline: str | GuidelineVersion = "asco-cap-2018") -> ClassifyResult:
    """Classify a case: IHC score, ISH group, integrated HER2 status, ER and PgR.

    Parameters
    ----------
    case : Case
        The validated input (see :class:`her2kit.guideline.models.Case`).
    guideline : str or GuidelineVersion
        ``"asco-cap-2018"`` (default; affirmed by the 2023 update) or
        ``"asco-cap-2013"``.

    Returns
    -------
    ClassifyResult
        Serialises to the documented ``classify --json`` contract.

    Raises
    ------
    Her2kitInputError
        Counts or scores that contradict each other or the guideline's
        minimums (the message names the field).
    GuidelineError
        Unknown guideline name.

    Examples
    --------
    >>> from her2kit.guideline import Case, classify
    >>> r = classify(Case.model_validate({"ihc": {"score": "1+"}}))
    >>> r.her2.status, r.her2.category
    ('negative', 'low')
    """
    g = get_guideline(guideline)
    ihc = ihc_result(case.ihc, guideline=g) if case.ihc is not None else None

    def _ish(value, name, **kw):
        return ish_result(value, guideline=g, field=name, **kw) if value is not None else None

    ish = _ish(case.ish, "ish")
    recount = _ish(case.ish_recount, "ish_recount")
    workup = _ish(case.ish_workup, "ish_workup")
    sub = case.ish_subpopulation
    subpopulation = _ish(sub, "ish_subpopulation",
                         percent_of_tumour=sub.percent_of_tumour if sub else None)
    her2, steps, comments, rationale = her2_decision(
        ihc, ish, recount=recount, workup=workup, subpopulation=subpopulation, guideline=g)

    er = hormone_receptor_result("ER", case.er) if case.er is not None else None
    pr = hormone_receptor_result("PgR", case.pr) if case.pr is not None else None
    if er is not None and er.status == "low positive":
        comments.append(ER_LOW_POSITIVE_COMMENT)

    all_rationale: list[str] = []
    for part in (ihc, ish, recount, workup, subpopulation):
        if part is not None:
            all_rationale.extend(part.rationale)
    all_rationale.extend(rationale)
    for part in (er, pr):
        if part is not None:
            all_rationale.extend(part.rationale)
    return ClassifyResult(
        guideline=g.name, guideline_title=g.title, her2kit_version=__version__,
        case_id=case.case_id, ihc=ihc, ish=ish, ish_recount=recount, ish_workup=workup,
        ish_subpopulation=subpopulation, her2=her2, er=er, pr=pr, next_steps=steps,
        comments=comments, rationale=all_rationale,
        disclaimer=DISCLAIMER.format(version=__version__, title=g.title),
    )
