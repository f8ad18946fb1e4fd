"""The guideline's reading of per-nucleus ISH counts: too few nuclei, rejection, heterogeneity.

Image analysis measures (counts per nucleus, the share of weak signals, the share of
signals outside nuclei); these pure functions apply the guideline's limits from
:mod:`her2kit.guideline.versions` to those measures [S1 p.4]:

- at least ``min_cells_counted`` (20) nuclei are counted;
- reject when more than ``ish_weak_signals_reject_pct`` (25 %) of the signals are
  unscorable because weak, or more than ``ish_cytoplasmic_signals_reject_pct`` (10 %)
  lie over cytoplasm (her2kit reads "outside every segmented nucleus" as over
  cytoplasm);
- heterogeneity: a second population with increased HER2 signals making up more
  than ``ish_heterogeneity_pct`` (10 %) of the tumour cells.

UNCONFIRMED (``shared/guideline-facts.md`` §3 says only "a second population of cells
with increased HER2 signals/cell"): which nucleus belongs to that population. her2kit
reads it per nucleus with the group cut-offs: HER2 >= ``ish_her2_copies_high`` (6.0),
or, dual probe, HER2 >= ``ish_her2_copies_low`` (4.0) with HER2/CEP17 >=
``ish_ratio`` (2.0); and a population of nearly all nuclei (more than
:data:`HETEROGENEITY_MAX_FRACTION`) is the tumour itself, not a second population.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from her2kit.guideline.versions import DEFAULT_GUIDELINE, GuidelineVersion, get_guideline

__all__ = ["HETEROGENEITY_MAX_FRACTION", "Heterogeneity", "ish_count_flags", "ish_heterogeneity"]

#: her2kit's reading (not a guideline number): a "high" share above this (0-1) is the
#: whole population rather than a distinct second one.
HETEROGENEITY_MAX_FRACTION = 0.9


@dataclass(frozen=True)
class Heterogeneity:
    """A distinct population of nuclei with higher counts.

    Attributes
    ----------
    n_high : int
        Nuclei in the "high" population (see the module notes).
    fraction_high : float
        Share of counted nuclei that are high (0-1).
    her2_mean_high, cep17_mean_high : float or None
        Mean signals per nucleus over the high nuclei (``cep17_mean_high`` None for
        single probe).
    ratio_high : float or None
        HER2/CEP17 of the high nuclei (dual probe).
    flagged : bool
        ``ish_heterogeneity_pct`` % < share <= :data:`HETEROGENEITY_MAX_FRACTION`.
    """

    n_high: int
    fraction_high: float
    her2_mean_high: float | None
    cep17_mean_high: float | None
    ratio_high: float | None
    flagged: bool


def ish_heterogeneity(
    nuclei: Sequence[Sequence[int]],
    *,
    dual: bool,
    guideline: str | GuidelineVersion = DEFAULT_GUIDELINE,
) -> Heterogeneity | None:
    """The population of counted nuclei with high HER2 counts, and whether it is distinct.

    Parameters
    ----------
    nuclei : sequence of (her2, cep17) int pairs
        Signals per counted nucleus (``cep17`` ignored for single probe).
    dual : bool
        Dual probe: a nucleus is also high with HER2 >= 4 and HER2/CEP17 >= 2.0.
    guideline : str or GuidelineVersion
        Rule set supplying the cut-offs.

    Returns
    -------
    Heterogeneity or None
        None when no nucleus was counted.

    References
    ----------
    ASCO/CAP 2018, heterogeneity [S1 p.4]; the per-nucleus reading is her2kit's
    (UNCONFIRMED, see the module notes).

    Examples
    --------
    >>> het = ish_heterogeneity([[2, 2]] * 8 + [[12, 2]] * 2, dual=True)
    >>> het.n_high, het.fraction_high, het.ratio_high, het.flagged
    (2, 0.2, 6.0, True)
    >>> ish_heterogeneity([[7, 2]] * 10, dual=True).flagged
    False
    """
    if not nuclei:
        return None
    g = get_guideline(guideline)
    high = [(h, c) for h, c in nuclei if _is_high(h, c, dual=dual, g=g)]
    nh = len(high)
    frac = nh / len(nuclei)
    hm = sum(h for h, _ in high) / nh if nh else None
    cm = sum(c for _, c in high) / nh if nh and dual else None
    return Heterogeneity(
        n_high=nh,
        fraction_high=frac,
        her2_mean_high=hm,
        cep17_mean_high=cm,
        ratio_high=(hm / cm) if (cm and hm is not None) else None,
        flagged=g.ish_heterogeneity_pct / 100 < frac <= HETEROGENEITY_MAX_FRACTION,
    )


def _is_high(her2, cep17, *, dual: bool, g: GuidelineVersion) -> bool:
    if her2 >= g.ish_her2_copies_high:
        return True
    return dual and her2 >= g.ish_her2_copies_low and cep17 > 0 and her2 / cep17 >= g.ish_ratio


def ish_count_flags(
    n_counted: int,
    *,
    weak_signal_fraction: float | None,
    outside_signal_fraction: float | None,
    guideline: str | GuidelineVersion = DEFAULT_GUIDELINE,
) -> tuple[str, ...]:
    """The guideline's quality flags of an ISH count, in this order.

    ``too_few_nuclei`` (fewer than ``min_cells_counted``), ``weak_signals`` (more than
    ``ish_weak_signals_reject_pct`` % of the signals in counted nuclei are weak),
    ``signals_outside_nuclei`` (more than ``ish_cytoplasmic_signals_reject_pct`` % of
    all signals lie outside nuclei).

    Parameters
    ----------
    n_counted : int
        Nuclei counted.
    weak_signal_fraction, outside_signal_fraction : float or None
        Measured shares (0-1); None when there were no signals to measure.
    guideline : str or GuidelineVersion
        Rule set supplying the limits.

    Returns
    -------
    tuple of str

    References
    ----------
    ASCO/CAP 2018, counting and ISH rejection criteria [S1 p.4].

    Examples
    --------
    >>> ish_count_flags(19, weak_signal_fraction=0.25, outside_signal_fraction=0.11)
    ('too_few_nuclei', 'signals_outside_nuclei')
    """
    g = get_guideline(guideline)
    flags = []
    if n_counted < g.min_cells_counted:
        flags.append("too_few_nuclei")
    if weak_signal_fraction is not None and (
            weak_signal_fraction > g.ish_weak_signals_reject_pct / 100):
        flags.append("weak_signals")
    if outside_signal_fraction is not None and (
            outside_signal_fraction > g.ish_cytoplasmic_signals_reject_pct / 100):
        flags.append("signals_outside_nuclei")
    return tuple(flags)
