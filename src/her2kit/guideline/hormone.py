"""ER and PgR status by IHC (ASCO/CAP 2020) and the Allred score.

ER: positive >10 %, low positive 1–10 % (with the recommended comment),
negative <1 % of tumour nuclei. PgR: positive ≥1 %, negative <1 % [S7; CAP
template fields, S9]. Allred = proportion score (0 none, 1 <1 %, 2 1–10 %,
3 11–33 %, 4 34–66 %, 5 ≥67 %) + intensity score (0 none, 1 weak,
2 moderate, 3 strong), range 0 and 2–8.

Non-integer percentages between the Allred bands (e.g. 10.5 %, 33.5 %) go to
the band whose stated range they round into from above: >10 and ≤33 → 3,
>33 and <67 → 4 (ASSUMPTION: the bands are written for whole percents).
"""

from __future__ import annotations

from types import MappingProxyType
from typing import Literal

from her2kit.errors import Her2kitInputError
from her2kit.guideline.models import HormoneReceptorInput
from her2kit.guideline.results import HormoneReceptorResult

__all__ = [
    "ER_LOW_POSITIVE_COMMENT",
    "ER_PR_GUIDELINE",
    "allred_proportion_score",
    "hormone_receptor_result",
]

ER_PR_GUIDELINE = "asco-cap-2020"
ER_POSITIVE_ABOVE_PCT = 10.0  # ">10 %": positive; 1–10 %: low positive [S7, S9]
RECEPTOR_POSITIVE_FROM_PCT = 1.0  # "≥1 %" positive (ER low positive; PgR positive) [S7]
ALLRED_INTENSITY = MappingProxyType({"none": 0, "weak": 1, "moderate": 2, "strong": 3})

# Paraphrase of the ASCO/CAP 2020 recommended comment for ER low positive
# results [S7]; the exact wording is the guideline's.
ER_LOW_POSITIVE_COMMENT = (
    "ER low positive (1–10% of tumour cell nuclei): the cancer has a low level of "
    "oestrogen receptor expression. There are limited data on the overall benefit of "
    "endocrine therapy for patients with low-level (1–10%) ER expression, but they "
    "currently suggest possible benefit, so patients are considered eligible for "
    "endocrine treatment. Cancers with these results are heterogeneous in behaviour "
    "and biology and often have gene expression profiles more similar to ER-negative "
    "cancers. Report the status of the internal controls for results of 0–10%."
)


def allred_proportion_score(percent: float) -> int:
    """Allred proportion score (0–5) from the percent of positive nuclei.

    Examples
    --------
    >>> [allred_proportion_score(p) for p in (0, 0.5, 1, 10, 11, 33, 34, 66, 67, 100)]
    [0, 1, 2, 2, 3, 3, 4, 4, 5, 5]
    """
    if percent <= 0:
        return 0
    if percent < 1:
        return 1
    if percent <= 10:
        return 2
    if percent <= 33:
        return 3
    if percent < 67:
        return 4
    return 5


def hormone_receptor_result(
    receptor: Literal["ER", "PgR"], value: HormoneReceptorInput, *, field: str | None = None
) -> HormoneReceptorResult:
    """ER or PgR status and Allred score.

    Parameters
    ----------
    receptor : {"ER", "PgR"}
    value : HormoneReceptorInput
        Percent (0–100) of tumour nuclei with any staining and the average
        intensity (``"none"``, ``"weak"``, ``"moderate"``, ``"strong"``).
    field : str, optional
        Input field name for error messages (default: ``"er"`` / ``"pr"``).

    Returns
    -------
    HormoneReceptorResult
        ``allred`` is ``None`` when the intensity is not given.

    Raises
    ------
    Her2kitInputError
        When the intensity contradicts the percent (staining nuclei with
        intensity "none", or 0 % with an intensity).

    References
    ----------
    Allison KH et al. J Clin Oncol 2020;38:1346-66 [S7].

    Examples
    --------
    ER is positive above 10 %, low positive from 1 to 10 %, negative below 1 %
    (CAP template [S9]); PgR has no low-positive band:

    >>> from her2kit.guideline import HormoneReceptorInput as HR
    >>> [hormone_receptor_result("ER", HR(percent=p)).status for p in (11, 10, 1, 0.5)]
    ['positive', 'low positive', 'low positive', 'negative']
    >>> hormone_receptor_result("PgR", HR(percent=5)).status
    'positive'
    """
    field = field or ("er" if receptor == "ER" else "pr")
    pct, intensity = value.percent, value.intensity
    if intensity == "none" and pct > 0:
        raise Her2kitInputError(
            f"intensity 'none' contradicts {pct:g}% staining nuclei", field=f"{field}.intensity"
        )
    if pct == 0 and intensity not in (None, "none"):
        raise Her2kitInputError(
            f"intensity {intensity!r} contradicts 0% staining nuclei", field=f"{field}.intensity"
        )
    if receptor == "ER" and pct > ER_POSITIVE_ABOVE_PCT:
        status, rule = "positive", f">{ER_POSITIVE_ABOVE_PCT:g}%"
    elif pct >= RECEPTOR_POSITIVE_FROM_PCT:
        if receptor == "ER":
            low, high = RECEPTOR_POSITIVE_FROM_PCT, ER_POSITIVE_ABOVE_PCT
            status, rule = "low positive", f"{low:g}–{high:g}%"
        else:
            status, rule = "positive", f"≥{RECEPTOR_POSITIVE_FROM_PCT:g}%"
    else:
        status, rule = "negative", f"<{RECEPTOR_POSITIVE_FROM_PCT:g}%"
    proportion = allred_proportion_score(pct)
    intensity_score = ALLRED_INTENSITY[intensity] if intensity is not None else None
    allred = proportion + intensity_score if intensity_score is not None else None
    why = f"{receptor}: {pct:g}% of tumour nuclei stain ({rule}) → {status}"
    if allred is not None:
        why += f"; Allred {allred} (proportion {proportion} + intensity {intensity_score})"
    return HormoneReceptorResult(
        receptor=receptor, status=status, percent=pct, intensity=intensity, allred=allred,
        allred_proportion=proportion, allred_intensity=intensity_score,
        guideline=ER_PR_GUIDELINE, rationale=[why],
    )
