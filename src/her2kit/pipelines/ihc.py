"""The JSON document ``her2kit score-ihc`` prints: the guideline's IHC call plus evidence.

Its keys match ``her2kit classify --json`` where they overlap (``guideline``,
``ihc``, ``her2``, ``next_steps``, ``comments``, ``rationale``), and its
``case_input`` is exactly the ``classify`` input it came from, so the file
itself can be passed to ``her2kit classify`` or referenced from a case's
``image_analysis`` list for ``her2kit report``.
"""

from __future__ import annotations

from dataclasses import asdict
from typing import Any

import numpy as np

from her2kit import __version__
from her2kit.errors import Her2kitInputError
from her2kit.guideline import Case, classify
from her2kit.guideline.versions import get_guideline

__all__ = ["FEW_CELLS", "MIN_INTENSE_PCT", "NEAR_CUTOFF_FLAG", "NEAR_CUTOFF_MARGIN_PCT",
           "guideline_percent", "ihc_document", "near_cutoff"]

# Fewer counted cells than this get a quality flag: a percentage of a few dozen cells
# moves by several points per cell near the 10 % cut-offs.
FEW_CELLS = 100

# ASCO/CAP's unusual 2+ pattern "intense complete staining in ≤10 % of cells" is read by a
# pathologist as a visible, if limited, population. Taken literally on per-cell image
# analysis, one misclassified cell in thousands (a neighbour's membrane, a fold) makes any
# slide 2+: on the benchmark that was most 1+ → 2+ errors (synthetic and real cores). So the
# image-analysis hand-off needs that pattern to reach this share of counted cells; cells
# classed complete intense below it are handed over as complete weak-to-moderate (they still
# count as complete staining), and the evidence says so. ASSUMPTION, not a guideline number;
# `--min-intense-pct 0` restores the literal reading.
MIN_INTENSE_PCT = 1.0


def guideline_percent(percent_all, *, min_intense_pct: float = MIN_INTENSE_PCT
                      ) -> tuple[dict[str, float], str | None]:
    """The four stained-class percentages handed to the guideline, and a note if changed.

    Parameters
    ----------
    percent_all : mapping
        Percent of counted cells per membrane class (five classes).
    min_intense_pct : float
        Complete intense cells below this share (percent) are handed over as complete
        weak-to-moderate (see :data:`MIN_INTENSE_PCT`).
    """
    pct = {k: float(percent_all[k]) for k in (
        "complete_intense", "complete_weak_moderate", "incomplete_moderate_intense",
        "incomplete_faint")}
    note = None
    intense = pct["complete_intense"]
    if 0 < intense < min_intense_pct:
        pct["complete_weak_moderate"] += intense
        pct["complete_intense"] = 0.0
        note = (f"{intense:.2f}% of counted cells were classed complete intense, below the "
                f"{min_intense_pct:g}% evidence floor for the 'intense complete staining in "
                "≤10%' pattern; they are counted as complete weak-to-moderate")
    return pct, note


#: The quality flag raised by :func:`near_cutoff`.
NEAR_CUTOFF_FLAG = "score_near_cutoff"

# Counting noise, set a priori (not fitted): a share p of n counted cells has a binomial
# standard deviation sqrt(p (1 - p) / n); at the 10 % cut and a few hundred cells that is
# 1.5–2 percentage points (sqrt(0.1 * 0.9 / 300) = 1.7 %), before any classification
# error. A deciding share within ±2 points of the cut (8–12 %) could therefore fall on the
# other side in a recount, a neighbouring field or a re-scan.
NEAR_CUTOFF_MARGIN_PCT = 2.0

# The guideline's cumulative shares (see her2kit.guideline.ihc: a class counts towards
# every pattern it is at least) and the score whose ">10 %" rule compares each of them.
_CUMULATIVE = {
    "complete_intense": (("complete_intense",), "3+"),
    "complete": (("complete_intense", "complete_weak_moderate"), "2+"),
    "complete_or_incomplete_moderate_intense": (
        ("complete_intense", "complete_weak_moderate", "incomplete_moderate_intense"), "2+"),
    "stained": (("complete_intense", "complete_weak_moderate", "incomplete_moderate_intense",
                 "incomplete_faint"), "1+"),
}
# Per rule of her2kit.guideline.ihc.ihc_from_percent: the share that made the score and
# the share whose cut the next higher score needs. The floors at 0 % (0 vs 0+, and the
# "intense complete staining in ≤10 %" 2+) are not cuts a count can hover around.
_DECIDING = {
    "complete_intense_gt_10": ("complete_intense",),
    "complete_weak_moderate_gt_10": ("complete", "complete_intense"),
    "incomplete_moderate_intense_gt_10": ("complete_or_incomplete_moderate_intense",
                                          "complete_intense"),
    "incomplete_or_weak_moderate_gt_10": ("complete_or_incomplete_moderate_intense",
                                          "complete_intense"),
    "complete_intense_le_10": ("complete_intense",),
    "incomplete_faint_gt_10": ("stained", "complete_or_incomplete_moderate_intense"),
    "faint_le_10": ("stained",),
    "no_staining": (),
    "manual_score": (),  # a typed score: no share decided it
    "rejected": (),
}


def near_cutoff(percent, rule: str, *, guideline: str = "asco-cap-2018",
                margin_pct: float = NEAR_CUTOFF_MARGIN_PCT) -> list[dict[str, Any]]:
    """The deciding percentages of an IHC call that lie near the guideline's 10 % cut.

    Computed from the call as made (its percentages and the rule that fired), without
    scoring anything again. A call is near its cut-off when a share that decided it — the
    share that made the score (e.g. complete intense for 3+) or the share whose cut the
    next higher score needs (complete intense for a 2+) — lies within ``margin_pct`` of
    the guideline's cell-fraction cut (ASCO/CAP 2018: >10 % of tumour cells for 3+, 2+
    and 1+). Such a score can change under counting noise or a small change of the image
    (tone curve, exposure); the :data:`NEAR_CUTOFF_FLAG` quality flag says so.

    Parameters
    ----------
    percent : mapping
        Percent of counted cells per stained class as handed to the guideline
        (``complete_intense``, ``complete_weak_moderate``, ``incomplete_moderate_intense``,
        ``incomplete_faint``; :func:`guideline_percent`).
    rule : str
        The rule that fired (:func:`her2kit.guideline.ihc_from_percent`'s second value).
    guideline : str
        Guideline version; its ``ihc_cell_fraction_pct`` is the cut.
    margin_pct : float
        Half-width of the band around the cut, percentage points (inclusive);
        :data:`NEAR_CUTOFF_MARGIN_PCT` (2 points) by default: the binomial s.d. of a
        share of 10 % in a few hundred cells is 1.5–2 points.

    Returns
    -------
    list of dict
        One entry per deciding share within the band: ``percent`` (the share's name),
        ``value_pct``, ``cut_pct``, ``margin_pct`` and ``cut_for`` (the score whose rule
        the cut belongs to). Empty when the call is clear of every cut.
    """
    if rule not in _DECIDING:
        raise Her2kitInputError(f"unknown IHC rule {rule!r}", field="rule")
    if not margin_pct >= 0:
        raise Her2kitInputError(f"margin_pct must be ≥ 0, got {margin_pct!r}",
                                field="margin_pct")
    cut = float(get_guideline(guideline).ihc_cell_fraction_pct)
    out = []
    for name in _DECIDING[rule]:
        classes, score = _CUMULATIVE[name]
        value = round(sum(float(percent[c]) for c in classes), 2)
        # the tolerance keeps a share printed as cut ± margin inside the band
        if abs(value - cut) <= margin_pct + 1e-9:
            out.append({"percent": name, "value_pct": value, "cut_pct": cut,
                        "margin_pct": float(margin_pct), "cut_for": score})
    return out


def _plain(value: Any) -> Any:
    if isinstance(value, np.ndarray):
        return value.tolist()
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    return value


def _quality(quality) -> dict[str, Any]:
    """The quality evidence; the white-point flags only when there are some (a classical
    result's document stays as it was before they existed)."""
    q = _plain(asdict(quality))
    if not q.get("white_point_flags"):
        q.pop("white_point_flags", None)
    return q


def ihc_document(result, *, image: str, pixel_size_um: float, pixel_size_source: str,
                 guideline: str = "asco-cap-2018", overlay: str | None = None,
                 min_intense_pct: float = MIN_INTENSE_PCT) -> dict[str, Any]:
    """Build the ``score-ihc`` JSON document from an :class:`IhcImageResult`.

    Raises
    ------
    Her2kitInputError
        When no cell was counted: a region without tumour cells has no IHC
        score (it must not read as "IHC 0").
    """
    if result.n_cells_counted == 0:
        where = "inside the ROI" if result.roi_used else "in the image"
        raise Her2kitInputError(f"no cells detected {where}: nothing to score", field="image")
    handed, floor_note = guideline_percent(result.percent_all, min_intense_pct=min_intense_pct)
    case_input = {"ihc": {"percent": {k: round(v, 2) for k, v in handed.items()}}}
    decision = classify(Case.model_validate(case_input), guideline=guideline)
    flags = list(result.quality.flags)
    if result.n_cells_counted < FEW_CELLS:
        flags.append("few_cells")
    near = near_cutoff(case_input["ihc"]["percent"], decision.ihc.rule, guideline=guideline)
    if near:
        flags.append(NEAR_CUTOFF_FLAG)
    matrix = np.asarray(result.stain_matrix, dtype=float)
    evidence = {
        "cells_detected": result.n_cells_detected,
        "cells_counted": result.n_cells_counted,
        "roi_used": result.roi_used,
        "counts": dict(result.counts),
        "percent_all": {k: round(float(v), 2) for k, v in result.percent_all.items()},
        "h_score": round(float(result.h_score), 1),
        "stain_vectors_od": {"hematoxylin": matrix[0].round(4).tolist(),
                             "dab": matrix[1].round(4).tolist()},
        "stain_estimated": result.stain_estimated,
        "stain_fallback_reason": result.stain_fallback_reason,
        "thresholds": _plain(asdict(result.thresholds)),
        "nucleus_threshold_od": round(float(result.nucleus_threshold_od), 4),
        "quality": _quality(result.quality),
        "quality_flags": flags,
        "min_intense_pct": min_intense_pct,
        "parameters": _plain(dict(result.parameters)),
    }
    if floor_note is not None:
        evidence["intense_floor_note"] = floor_note
    if near:
        evidence["near_cutoff"] = near
    n_red = int(result.parameters.get("erythrocyte_cells_excluded", 0))
    if n_red:
        evidence["erythrocyte_cells_excluded"] = n_red
    if not result.roi_used:
        but = f" but the {n_red} taken for red blood cells" if n_red else ""
        evidence["note"] = (f"no ROI given: every detected cell was counted{but}, not only "
                            "invasive tumour cells")
    doc = decision.model_dump(mode="json")
    return {
        "kind": "score-ihc", "her2kit_version": __version__, "image": image,
        "pixel_size_um": pixel_size_um, "pixel_size_source": pixel_size_source,
        "overlay": overlay, "case_input": case_input, **doc, "evidence": evidence,
    }
