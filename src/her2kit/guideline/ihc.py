"""HER2 IHC score from a manual score or from membrane-staining percentages.

ASCO/CAP 2018 Fig. 1 [S1 p.7]; 2013 definitions [S5]; the IHC 0 split into
*null* (no staining) and *ultralow* (faint incomplete staining in >0 and
≤10 % of cells) follows DESTINY-Breast06 and the CAP template's "Score 0" /
"Score 0+" [S9]. ASCO/CAP itself declined to make ultralow a category [S4],
so "0+" is a negative result, exactly as "0".

How percentages are read (documented assumptions):

- A pattern's share is *cumulative* over the classes that are at least that
  pattern: a cell with complete intense staining also has complete staining of
  at least weak-to-moderate intensity, and every stained class counts towards
  "membrane staining in >10 %" for 1+. A slide with 6 % complete intense and
  6 % complete weak-to-moderate cells therefore has 12 % complete staining (2+).
- The unusual 2+ pattern "moderate-to-intense incomplete (basolateral or
  lateral)" has no cell fraction in the guideline; her2kit applies the same
  >10 % as every other IHC rule (ASSUMPTION).
- "Intense circumferential staining in ≤10 % of cells" is taken literally:
  any complete intense cell (>0 %) makes 2+.
- Membrane staining in >0 and ≤10 % of cells that is not faint incomplete
  (e.g. 5 % complete weak-to-moderate) is neither 1+ nor 2+ by definition; it
  is reported as 0+ (ultralow: "membrane staining >0 and <1+") (ASSUMPTION).
"""

from __future__ import annotations

from types import MappingProxyType

from her2kit.errors import Her2kitInputError
from her2kit.guideline.models import IhcInput, IhcPercent
from her2kit.guideline.results import IhcResult
from her2kit.guideline.versions import GuidelineVersion, get_guideline

__all__ = ["IHC_LABELS", "ihc_from_percent", "ihc_result"]

# CAP breast biomarker template 1.6.1.0 wording [S9].
IHC_LABELS = MappingProxyType({
    "0": "Negative (Score 0): no membrane staining",
    "0+": "Negative (Score 0+): incomplete, faint/barely perceptible staining in ≤10% of cells",
    "1+": "Negative (1+): incomplete, faint/barely perceptible staining in >10% of cells",
    "2+": "Equivocal (2+)",
    "3+": "Positive (3+): complete, intense circumferential staining in >10% of cells",
})
_STATUS = MappingProxyType(
    {"0": "negative", "0+": "negative", "1+": "negative", "2+": "equivocal", "3+": "positive"})


def _fmt(pct: float) -> str:
    return f"{pct:g}%"


def ihc_from_percent(
    percent: IhcPercent, *, guideline: str | GuidelineVersion = "asco-cap-2018"
) -> tuple[str, str, str]:
    """IHC score from the percent of tumour cells in each membrane class.

    Parameters
    ----------
    percent : IhcPercent
        Percent (0–100) of invasive tumour cells with complete intense,
        complete weak-to-moderate, incomplete moderate-to-intense and
        incomplete faint membrane staining; the rest have none.
    guideline : str or GuidelineVersion
        Rule set; the two supported versions share the >10 % cut-off.

    Returns
    -------
    score : str
        ``"0"``, ``"0+"``, ``"1+"``, ``"2+"`` or ``"3+"``.
    rule : str
        Short identifier of the rule that fired.
    why : str
        The rule with the numbers, for the rationale.

    References
    ----------
    ASCO/CAP 2018 Fig. 1 [S1 p.7]; 2013 IHC definitions [S5].

    Examples
    --------
    Complete intense staining in >10 % of cells is 3+; in ≤10 % it is the
    unusual 2+ pattern "intense circumferential staining in ≤10 % of cells":

    >>> ihc_from_percent(IhcPercent(complete_intense=11))[0]
    '3+'
    >>> ihc_from_percent(IhcPercent(complete_intense=10))[0]
    '2+'

    Weak-to-moderate complete staining in >10 % is 2+; faint incomplete
    staining in >10 % is 1+, in ≤10 % it is 0 with membrane staining (0+,
    ultralow), and no staining at all is 0:

    >>> ihc_from_percent(IhcPercent(complete_weak_moderate=11))[0]
    '2+'
    >>> [ihc_from_percent(IhcPercent(incomplete_faint=p))[0] for p in (11, 10, 0)]
    ['1+', '0+', '0']
    """
    g = get_guideline(guideline)
    cut = g.ihc_cell_fraction_pct
    ci = percent.complete_intense
    complete = ci + percent.complete_weak_moderate
    level2 = complete + percent.incomplete_moderate_intense
    stained = percent.stained_total

    if ci > cut:
        return "3+", "complete_intense_gt_10", (
            f"complete intense circumferential membrane staining in {_fmt(ci)} of tumour cells "
            f"(>{cut:g}%) → 3+"
        )
    if g.ish_scheme == "groups" and complete > cut:
        return "2+", "complete_weak_moderate_gt_10", (
            f"complete membrane staining of at least weak-to-moderate intensity in "
            f"{_fmt(complete)} of tumour cells (>{cut:g}%) → 2+"
        )
    if level2 > cut:
        if g.ish_scheme == "groups":
            return "2+", "incomplete_moderate_intense_gt_10", (
                f"moderate-to-intense incomplete (basolateral/lateral) or complete staining in "
                f"{_fmt(level2)} of tumour cells (>{cut:g}%): unusual pattern → 2+"
            )
        return "2+", "incomplete_or_weak_moderate_gt_10", (
            f"incomplete and/or weak-to-moderate circumferential staining in {_fmt(level2)} "
            f"of tumour cells (>{cut:g}%) → 2+ (2013 definition)"
        )
    if ci > 0:
        return "2+", "complete_intense_le_10", (
            f"intense complete staining in only {_fmt(ci)} of tumour cells (≤{cut:g}%): "
            "heterogeneous, very limited pattern → 2+"
        )
    if stained > cut:
        return "1+", "incomplete_faint_gt_10", (
            f"membrane staining, at most faint or incomplete, in {_fmt(stained)} of tumour cells "
            f"(>{cut:g}%) → 1+"
        )
    if stained > 0:
        return "0+", "faint_le_10", (
            f"faint/barely perceptible or incomplete membrane staining in {_fmt(stained)} of "
            f"tumour cells (>0% and ≤{cut:g}%) → 0 with membrane staining (0+, ultralow)"
        )
    return "0", "no_staining", "no membrane staining in any tumour cell → 0 (null)"


def _qc_rejections(ihc: IhcInput) -> list[str]:
    reasons = []
    if not ihc.qc.controls_as_expected:
        reasons.append("controls are not as expected")
    if ihc.qc.artifacts_involve_most_of_sample:
        reasons.append("artifacts involve most of the sample")
    if ihc.qc.internal_control_ducts_strongly_stained:
        reasons.append("normal breast ducts (internal controls) show strong membrane staining")
    return reasons


def ihc_result(
    ihc: IhcInput, *, guideline: str | GuidelineVersion = "asco-cap-2018"
) -> IhcResult:
    """The IHC block of a result: score, status, CAP label and rationale.

    Parameters
    ----------
    ihc : IhcInput
        A manual ``score``, ``percent`` per membrane class, or both. When both
        are given they must agree, so a typed score can never silently
        override the measured percentages (or the reverse).
    guideline : str or GuidelineVersion
        Rule set name.

    Returns
    -------
    IhcResult

    Raises
    ------
    Her2kitInputError
        When ``score`` contradicts ``percent``.
    """
    g = get_guideline(guideline)
    thresholds = {"cell_fraction_pct": g.ihc_cell_fraction_pct}
    percent = ihc.percent.model_dump() if ihc.percent is not None else None
    pct_ci = ihc.percent.complete_intense if ihc.percent is not None else None
    rationale: list[str] = []

    rejected = _qc_rejections(ihc)
    if rejected:
        rationale.append(
            "IHC rejected (" + "; ".join(rejected) + "): repeat the test or test by ISH "
            "[ASCO/CAP IHC rejection criteria]"
        )
        return IhcResult(
            score=None, label="Cannot be determined", status="indeterminate",
            source="percent" if ihc.percent is not None else "manual", percent=percent,
            percent_complete_intense=pct_ci, rule="rejected", thresholds=thresholds,
            rejected_because=rejected, rationale=rationale,
        )

    if ihc.percent is not None:
        score, rule, why = ihc_from_percent(ihc.percent, guideline=g)
        if ihc.score is not None and ihc.score != score:
            raise Her2kitInputError(
                f"score {ihc.score} contradicts the percentages, which give {score} "
                f"under {g.name} ({why})",
                field="ihc.score",
            )
        source = "percent"
        rationale.append(f"IHC: {why}")
    else:
        assert ihc.score is not None  # the model guarantees score or percent
        score, rule = ihc.score, "manual_score"
        source = "manual"
        rationale.append(f"IHC: score {score} as reported by the pathologist")
    return IhcResult(
        score=score, label=IHC_LABELS[score], status=_STATUS[score], source=source,
        percent=percent, percent_complete_intense=pct_ci, rule=rule, thresholds=thresholds,
        rejected_because=[], rationale=rationale,
    )
