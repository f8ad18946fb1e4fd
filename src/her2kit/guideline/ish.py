"""ISH counts → means, ratio and the ISH call (dual-probe groups, single-probe).

ASCO/CAP 2018 Figs 2–3 [S1 p.8–9]: dual-probe Groups 1–5 from the HER2/CEP17
ratio (cut-off 2.0) and the average HER2 copies per cell (4.0 and 6.0);
single-probe ≥6.0 positive, <4.0 negative, 4.0–<6.0 work-up. At least 20
nuclei are counted [S1 p.4]. Rejection criteria [S1 p.4] make the result
indeterminate.

Numbers are decided as reported: means and ratio are rounded half-up to two
decimals first (see :mod:`her2kit.guideline._numbers`). The ratio is that of
the summed (or mean) HER2 and CEP17 signals, not the mean of per-cell ratios.
"""

from __future__ import annotations

from collections.abc import Sequence
from decimal import Decimal
from fractions import Fraction
from types import MappingProxyType
from typing import Literal

from her2kit.errors import Her2kitInputError
from her2kit.guideline._numbers import decimal_places, round_half_up, to_decimal
from her2kit.guideline.models import IshInput
from her2kit.guideline.results import IshResult
from her2kit.guideline.versions import GuidelineVersion, get_guideline

__all__ = ["dual_probe_group", "ish_result", "single_probe_call"]

_GROUP_TEXT = MappingProxyType({
    1: "Group 1 (ratio ≥{r:.1f} and HER2 ≥{lo:.1f} signals/cell): ISH positive",
    2: "Group 2 (ratio ≥{r:.1f} and HER2 <{lo:.1f} signals/cell): needs concurrent IHC review",
    3: "Group 3 (ratio <{r:.1f} and HER2 ≥{hi:.1f} signals/cell): needs concurrent IHC review",
    4: "Group 4 (ratio <{r:.1f} and HER2 ≥{lo:.1f} and <{hi:.1f} signals/cell): "
    "needs concurrent IHC review",
    5: "Group 5 (ratio <{r:.1f} and HER2 <{lo:.1f} signals/cell): ISH negative",
})


def dual_probe_group(
    ratio: float | Decimal, her2_mean: float | Decimal, *,
    guideline: str | GuidelineVersion = "asco-cap-2018",
) -> Literal[1, 2, 3, 4, 5]:
    """ASCO/CAP 2018 dual-probe ISH group.

    Parameters
    ----------
    ratio : float or Decimal
        HER2/CEP17 ratio as reported (two decimals).
    her2_mean : float or Decimal
        Average HER2 signals per cell as reported (two decimals).
    guideline : str or GuidelineVersion
        Rule set supplying the cut-offs (2.0; 4.0 and 6.0 signals/cell).

    Returns
    -------
    int
        1 to 5.

    References
    ----------
    ASCO/CAP 2018 Fig. 3 [S1 p.9].

    Examples
    --------
    >>> dual_probe_group(2.0, 4.0)
    1
    >>> dual_probe_group(1.99, 6.0)
    3
    >>> dual_probe_group(2.0, 3.99), dual_probe_group(1.99, 4.0), dual_probe_group(1.99, 3.99)
    (2, 4, 5)
    >>> dual_probe_group(1.99, 5.99)
    4
    """
    g = get_guideline(guideline)
    r, h = to_decimal(ratio), to_decimal(her2_mean)
    cut_r = to_decimal(g.ish_ratio)
    lo, hi = to_decimal(g.ish_her2_copies_low), to_decimal(g.ish_her2_copies_high)
    if r >= cut_r:
        return 1 if h >= lo else 2
    if h >= hi:
        return 3
    return 4 if h >= lo else 5


def single_probe_call(
    her2_mean: float | Decimal, *, guideline: str | GuidelineVersion = "asco-cap-2018"
) -> Literal["positive", "negative", "needs_workup", "equivocal"]:
    """Single-probe ISH call from the average HER2 signals per cell.

    ≥6.0 positive, <4.0 negative; 4.0–<6.0 needs work-up with IHC and/or
    dual-probe ISH (2018, [S1 p.8 Fig. 2]) or is "equivocal" (2013).

    Examples
    --------
    >>> single_probe_call(6.0), single_probe_call(5.99), single_probe_call(3.99)
    ('positive', 'needs_workup', 'negative')
    """
    g = get_guideline(guideline)
    h = to_decimal(her2_mean)
    if h >= to_decimal(g.ish_her2_copies_high):
        return "positive"
    if h < to_decimal(g.ish_her2_copies_low):
        return "negative"
    return "needs_workup" if g.ish_scheme == "groups" else "equivocal"


def _dual_call_2013(ratio: Decimal, her2: Decimal, g: GuidelineVersion) -> str:
    # UNCONFIRMED in the facts file (see versions.ASCO_CAP_2013).
    if ratio >= to_decimal(g.ish_ratio) or her2 >= to_decimal(g.ish_her2_copies_high):
        return "positive"
    return "equivocal" if her2 >= to_decimal(g.ish_her2_copies_low) else "negative"


def _parse_nuclei(
    nuclei: Sequence[Sequence[int] | int], probe: str, field: str
) -> tuple[int, int, int | None]:
    """Sum per-nucleus counts; returns (n, her2_total, cep17_total or None)."""
    her2_total, cep17_total = 0, 0
    width = 2 if probe == "dual" else 1
    for i, item in enumerate(nuclei):
        counts = [item] if isinstance(item, int) else list(item)
        if len(counts) != width:
            shape = "[her2, cep17]" if probe == "dual" else "[her2] or her2"
            raise Her2kitInputError(
                f"expected {shape} for a {probe}-probe count, got {item!r}",
                field=f"{field}.nuclei[{i}]",
            )
        her2_total += counts[0]
        if probe == "dual":
            if counts[1] == 0:
                raise Her2kitInputError(
                    "CEP17 count is 0: a countable nucleus has at least one CEP17 signal",
                    field=f"{field}.nuclei[{i}][1]",
                )
            cep17_total += counts[1]
    return len(nuclei), her2_total, (cep17_total if probe == "dual" else None)


def _check_reported_ratio(
    ish: IshInput, exact: Decimal | None, field: str
) -> None:
    """Refuse a reported ratio that the counts or means cannot produce."""
    if ish.ratio is None:
        return
    given = to_decimal(ish.ratio)
    half = Decimal(5).scaleb(-decimal_places(ish.ratio) - 1)
    if exact is not None:  # from per-nucleus counts: the ratio is exact
        lo = hi = exact
    else:  # from means written to some precision: the ratio lies in an interval
        h, c = to_decimal(ish.her2_mean), to_decimal(ish.cep17_mean)
        uh = Decimal(5).scaleb(-decimal_places(ish.her2_mean) - 1)
        uc = Decimal(5).scaleb(-decimal_places(ish.cep17_mean) - 1)
        lo = max(h - uh, Decimal(0)) / (c + uc)
        hi = (h + uh) / (c - uc) if c > uc else Decimal("Infinity")
    if given + half < lo or given - half > hi:
        shown = f"{round_half_up(lo)}" if lo == hi else f"{round_half_up(lo)}–{round_half_up(hi)}"
        raise Her2kitInputError(
            f"ratio {ish.ratio:g} contradicts the {(ish.nuclei and 'counts') or 'means'}, "
            f"which give {shown}",
            field=f"{field}.ratio",
        )


def _qc_rejections(ish: IshInput, g: GuidelineVersion) -> list[str]:
    qc, reasons = ish.qc, []
    if not qc.controls_as_expected:
        reasons.append("controls are not as expected")
    if qc.invasive_tumour_areas_counted is not None and (
        qc.invasive_tumour_areas_counted < g.ish_min_tumour_areas
    ):
        reasons.append(
            f"only {qc.invasive_tumour_areas_counted} area(s) of invasive tumour counted "
            f"(at least {g.ish_min_tumour_areas} required)"
        )
    if qc.weak_signals_pct is not None and qc.weak_signals_pct > g.ish_weak_signals_reject_pct:
        reasons.append(
            f"{qc.weak_signals_pct:g}% of signals unscorable because weak "
            f"(>{g.ish_weak_signals_reject_pct:g}%)"
        )
    if qc.cytoplasmic_signals_pct is not None and (
        qc.cytoplasmic_signals_pct > g.ish_cytoplasmic_signals_reject_pct
    ):
        reasons.append(
            f"{qc.cytoplasmic_signals_pct:g}% of signals over cytoplasm "
            f"(>{g.ish_cytoplasmic_signals_reject_pct:g}%)"
        )
    if qc.poor_nuclear_resolution:
        reasons.append("poor nuclear resolution")
    if qc.strong_autofluorescence:
        reasons.append("strong autofluorescence")
    return reasons


def ish_result(
    ish: IshInput,
    *,
    guideline: str | GuidelineVersion = "asco-cap-2018",
    field: str = "ish",
    too_few_cells: Literal["error", "indeterminate"] = "error",
    percent_of_tumour: float | None = None,
) -> IshResult:
    """Means, ratio and ISH call of one count.

    Parameters
    ----------
    ish : IshInput
        Per-nucleus counts or reported means (validated model).
    guideline : str or GuidelineVersion
        Rule set name.
    field : str
        Name of the input block, used in error messages (``"ish_recount"``).
    too_few_cells : {"error", "indeterminate"}
        Fewer than 20 nuclei is never a valid count. ``"error"`` (the
        ``classify`` contract) raises; ``"indeterminate"`` (image analysis,
        where too few countable nuclei is a finding) returns an indeterminate
        result with the count and no group.
    percent_of_tumour : float, optional
        For a separately counted population: its share of tumour cells.

    Returns
    -------
    IshResult

    Raises
    ------
    Her2kitInputError
        Malformed per-nucleus counts, CEP17 of zero, fewer than 20 nuclei
        (with ``too_few_cells="error"``), or a reported ratio that the counts
        cannot give.

    Examples
    --------
    Twenty nuclei with 4 HER2 and 2 CEP17 signals each: ratio 2.0 and 4.0
    HER2 signals per cell, Group 1, ISH positive [S1 p.9]:

    >>> r = ish_result(IshInput(probe="dual", nuclei=[[4, 2]] * 20))
    >>> r.group, r.call, r.ratio, r.her2_mean, r.cells_counted
    (1, 'positive', 2.0, 4.0, 20)

    At least 20 cells must be counted [S1 p.4]; image analysis gets an
    indeterminate result instead of an error:

    >>> ish_result(IshInput(probe="dual", nuclei=[[4, 2]] * 19),
    ...            too_few_cells="indeterminate").call
    'indeterminate'

    More than 25 % of signals weak and unscorable rejects the test [S1 p.4]:

    >>> ish_result(IshInput(probe="dual", nuclei=[[4, 2]] * 20,
    ...                     qc={"weak_signals_pct": 26})).call
    'indeterminate'
    """
    g = get_guideline(guideline)
    exact_ratio: Decimal | None = None
    if ish.nuclei is not None:
        n, her2_total, cep17_total = _parse_nuclei(ish.nuclei, ish.probe, field)
        # An empty list is "too few nuclei" below; give it zero means meanwhile.
        her2_raw = to_decimal(Fraction(her2_total, max(n, 1)))
        cep17_raw = (to_decimal(Fraction(cep17_total, n)) if cep17_total and n else None)
        if cep17_total:
            exact_ratio = to_decimal(Fraction(her2_total, cep17_total))
        source = "nuclei"
    else:
        assert ish.cells_counted is not None and ish.her2_mean is not None
        n = ish.cells_counted
        her2_raw = to_decimal(ish.her2_mean)
        cep17_raw = to_decimal(ish.cep17_mean) if ish.cep17_mean is not None else None
        if cep17_raw is not None and cep17_raw == 0:
            raise Her2kitInputError(
                "mean CEP17 is 0: the HER2/CEP17 ratio is undefined", field=f"{field}.cep17_mean"
            )
        source = "means"
    _check_reported_ratio(ish, exact_ratio, field)

    her2_mean = round_half_up(her2_raw)
    cep17_mean = round_half_up(cep17_raw) if cep17_raw is not None else None
    ratio: Decimal | None = None
    if cep17_raw is not None:
        ratio = round_half_up(ish.ratio) if ish.ratio is not None else round_half_up(
            exact_ratio if exact_ratio is not None else her2_raw / cep17_raw
        )
    thresholds = {
        "ratio": g.ish_ratio,
        "her2_copies_low": g.ish_her2_copies_low,
        "her2_copies_high": g.ish_her2_copies_high,
        "min_cells_counted": float(g.min_cells_counted),
    }
    numbers = f"mean HER2 {her2_mean} signals/cell"
    if ratio is not None:
        numbers += f", mean CEP17 {cep17_mean} signals/cell, HER2/CEP17 ratio {ratio}"
    label = f"{field} ({ish.probe} probe, {n} nuclei)"
    rationale: list[str] = []

    def _result(group, call, rejected) -> IshResult:
        return IshResult(
            probe=ish.probe, group=group, call=call, cells_counted=n,
            her2_mean=float(her2_mean),
            cep17_mean=float(cep17_mean) if cep17_mean is not None else None,
            ratio=float(ratio) if ratio is not None else None, source=source,
            percent_of_tumour=percent_of_tumour, thresholds=thresholds,
            rejected_because=rejected, rationale=rationale,
        )

    if n < g.min_cells_counted:
        msg = (
            f"only {n} nuclei counted; at least {g.min_cells_counted} invasive tumour nuclei "
            "are needed for a valid ISH count"
        )
        if too_few_cells == "error":
            raise Her2kitInputError(msg, field=f"{field}.nuclei" if source == "nuclei"
                                    else f"{field}.cells_counted")
        rationale.append(f"{label}: {msg} → indeterminate, no group")
        return _result(None, "indeterminate", [msg])

    rejected = _qc_rejections(ish, g)
    if rejected:
        rationale.append(
            f"{label}: rejected (" + "; ".join(rejected) + ") → indeterminate; repeat the test "
            "[ASCO/CAP ISH rejection criteria]"
        )
        return _result(None, "indeterminate", rejected)

    rounding = "means and ratio rounded half-up to two decimals before comparison"
    if ish.probe == "single":
        call = single_probe_call(her2_mean, guideline=g)
        rationale.append(
            f"{label}: {numbers} ({rounding}) → single-probe {call.replace('_', ' ')} "
            f"(≥{g.ish_her2_copies_high:.1f} positive, <{g.ish_her2_copies_low:.1f} negative)"
        )
        return _result(None, call, [])
    assert ratio is not None
    if g.ish_scheme == "groups":
        group = dual_probe_group(ratio, her2_mean, guideline=g)
        text = _GROUP_TEXT[group].format(
            r=g.ish_ratio, lo=g.ish_her2_copies_low, hi=g.ish_her2_copies_high
        )
        call = {1: "positive", 5: "negative"}.get(group, "needs_workup")
        rationale.append(f"{label}: {numbers} ({rounding}) → {text}")
        return _result(group, call, [])
    call = _dual_call_2013(ratio, her2_mean, g)
    rationale.append(f"{label}: {numbers} ({rounding}) → ISH {call} (2013 dual-probe criteria)")
    return _result(None, call, [])
