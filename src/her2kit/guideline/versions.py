"""Named HER2 guideline rule sets and their thresholds: one place per version.

Each :class:`GuidelineVersion` holds every number its rules compare against,
with the source it comes from. The rule functions read thresholds only from
here, so the tests can iterate over the same table.

Sources (see ``shared/guideline-facts.md`` §0):

- [S1] ASCO/CAP HER2 pocket guide, 2018 algorithm figures 1–6 (affirmed 2023).
- [S3] Wolff AC et al., J Clin Oncol 2018;36:2105-22 (2018 focused update).
- [S4] Wolff AC et al., J Clin Oncol 2023;41:3867-72 (2023 update: affirms 2018).
- [S5] Table comparing the 2007, 2013 and 2018 IHC definitions.
- [S6] Secondary summary: 2013 ISH "equivocal" is the 2018 Group 4 zone.
"""

from __future__ import annotations

from dataclasses import dataclass
from types import MappingProxyType
from typing import Literal

from her2kit.errors import GuidelineError

__all__ = ["DEFAULT_GUIDELINE", "GUIDELINES", "GuidelineVersion", "get_guideline"]


@dataclass(frozen=True)
class GuidelineVersion:
    """One named ASCO/CAP HER2 rule set.

    Attributes
    ----------
    name : str
        Identifier used on the command line and in every result.
    title : str
        Human-readable name, as printed in reports.
    sources : tuple of str
        Where the rules come from.
    ihc_cell_fraction_pct : float
        Percent of invasive tumour cells that a staining pattern must *exceed*
        (">10 %") to set the IHC score [S1 Fig. 1].
    ish_ratio : float
        HER2/CEP17 ratio cut-off (≥ is amplified side) [S1 Fig. 3].
    ish_her2_copies_low, ish_her2_copies_high : float
        Average HER2 signals per cell cut-offs, 4.0 and 6.0 [S1 Figs 2–3].
    min_cells_counted : int
        Fewest invasive tumour nuclei in a valid ISH count [S1 p.4].
    ish_weak_signals_reject_pct, ish_cytoplasmic_signals_reject_pct : float
        ISH rejection when more than this percent of signals are weak
        (unscorable) or lie over cytoplasm [S1 p.4].
    ish_min_tumour_areas : int
        The observer must find and count at least this many areas of invasive
        tumour [S1 p.4].
    ish_heterogeneity_pct : float
        A second population of cells with increased HER2 signals that makes up
        more than this percent of the tumour cells is heterogeneity, to be
        counted separately and reported [S1 p.4].
    ish_scheme : {"groups", "equivocal"}
        ``"groups"``: 2018 dual-probe Groups 1–5 with concurrent-IHC work-up of
        Groups 2–4. ``"equivocal"``: 2013 positive / equivocal / negative.
    recount_required : bool
        Whether Groups 2–4 with IHC 2+ need a blinded second-observer recount.
    """

    name: str
    title: str
    sources: tuple[str, ...]
    ish_scheme: Literal["groups", "equivocal"]
    recount_required: bool
    ihc_cell_fraction_pct: float = 10.0
    ish_ratio: float = 2.0
    ish_her2_copies_low: float = 4.0
    ish_her2_copies_high: float = 6.0
    min_cells_counted: int = 20
    ish_weak_signals_reject_pct: float = 25.0
    ish_cytoplasmic_signals_reject_pct: float = 10.0
    ish_min_tumour_areas: int = 2
    ish_heterogeneity_pct: float = 10.0


ASCO_CAP_2018 = GuidelineVersion(
    name="asco-cap-2018",
    title="ASCO/CAP HER2 testing guideline 2018 (affirmed by the 2023 update)",
    sources=(
        "Wolff AC et al. J Clin Oncol 2018;36:2105-22; Arch Pathol Lab Med 2018;142:1364-82",
        "Wolff AC et al. J Clin Oncol 2023;41:3867-72 (update affirming 2018)",
    ),
    ish_scheme="groups",
    recount_required=True,
)

# The 2013 rule set differs in the IHC 2+ wording ("incomplete and/or
# weak-to-moderate circumferential staining in >10 %, or intense complete
# staining in ≤10 %") [S5] and in dual-probe ISH, which had an equivocal zone
# (ratio <2.0 with 4.0–<6.0 HER2 copies) that 2018 turned into Group 4 [S6].
# UNCONFIRMED in shared/guideline-facts.md: the 2013 dual-probe *positive*
# definition (ratio ≥2.0 whatever the copy number, or ≥6.0 HER2 copies whatever
# the ratio) and the 2013 single-probe equivocal zone (4.0–<6.0) are from
# Wolff AC et al. J Clin Oncol 2013;31:3997-4013, which the facts file does not
# quote. A secondary source agrees: the table of report comments in "'Non-classical'
# HER2 FISH results in breast cancer: a multi-institutional study" (Mod Pathol 2016)
# calls ratio ≥2.0 with <4.0 copies, and ratio <2.0 with ≥6.0 copies, positive under
# 2013. Use this version only to re-read older cases.
ASCO_CAP_2013 = GuidelineVersion(
    name="asco-cap-2013",
    title="ASCO/CAP HER2 testing guideline 2013",
    sources=("Wolff AC et al. J Clin Oncol 2013;31:3997-4013",),
    ish_scheme="equivocal",
    recount_required=False,
)

GUIDELINES: MappingProxyType[str, GuidelineVersion] = MappingProxyType(
    {g.name: g for g in (ASCO_CAP_2018, ASCO_CAP_2013)}
)
DEFAULT_GUIDELINE = ASCO_CAP_2018.name


def get_guideline(name: str | GuidelineVersion = DEFAULT_GUIDELINE) -> GuidelineVersion:
    """Return the rule set called `name`.

    Parameters
    ----------
    name : str or GuidelineVersion
        ``"asco-cap-2018"`` (default) or ``"asco-cap-2013"``; a
        :class:`GuidelineVersion` is returned unchanged.

    Raises
    ------
    GuidelineError
        For a name her2kit does not know; the message lists the known names.
    """
    if isinstance(name, GuidelineVersion):
        return name
    try:
        return GUIDELINES[name]
    except KeyError:
        known = ", ".join(GUIDELINES)
        raise GuidelineError(f"unknown guideline {name!r}; known: {known}") from None
