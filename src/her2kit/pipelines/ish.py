"""The JSON document ``her2kit count-ish`` prints: the counts, the guideline's call, evidence.

Keys match ``her2kit classify --json`` where they overlap; ``case_input`` is the
``classify`` input the counts make (``{"ish": {...}}``). Fewer than 20 countable
nuclei is a finding, not bad input: the document then says "indeterminate" with
the count and no group (and its ``case_input`` would be refused by ``classify``,
which needs a valid count).
"""

from __future__ import annotations

from collections import Counter
from dataclasses import asdict
from typing import Any

from her2kit import __version__
from her2kit.guideline import DEFAULT_GUIDELINE, IshInput, get_guideline, her2_decision, ish_result
from her2kit.guideline.integrate import DISCLAIMER
from her2kit.guideline.ish_quality import Heterogeneity, ish_count_flags, ish_heterogeneity
from her2kit.guideline.versions import GuidelineVersion
from her2kit.imaging.ish.fields import IshFieldsResult
from her2kit.imaging.ish.results import IshImageResult
from her2kit.pipelines.ihc import _plain

__all__ = ["heterogeneity", "ish_document", "quality_flags"]


def quality_flags(result: IshImageResult | IshFieldsResult, *,
                  guideline: str | GuidelineVersion = DEFAULT_GUIDELINE) -> tuple[str, ...]:
    """The quality flags of a count: the guideline's reading of its measures, then the
    image's own flags.

    One field: ``too_few_nuclei``, ``weak_signals``, ``signals_outside_nuclei``
    (:func:`~her2kit.guideline.ish_quality.ish_count_flags`), then
    ``no_single_signal_reference``, ``high_background``, ``out_of_focus``. Several fields:
    ``too_few_nuclei`` judged on the pooled count, then any other flag raised in a
    field, once, in the order the fields raise them.
    """
    if isinstance(result, IshFieldsResult):
        flags = list(ish_count_flags(result.n_counted, weak_signal_fraction=None,
                                     outside_signal_fraction=None, guideline=guideline))
        for r in result.fields:
            flags += [f for f in quality_flags(r, guideline=guideline)
                      if f != "too_few_nuclei" and f not in flags]
        return tuple(flags)
    return ish_count_flags(
        result.n_counted, weak_signal_fraction=result.weak_signal_fraction,
        outside_signal_fraction=result.outside_signal_fraction, guideline=guideline,
    ) + tuple(result.image_flags)


def heterogeneity(result: IshImageResult | IshFieldsResult, *,
                  guideline: str | GuidelineVersion = DEFAULT_GUIDELINE) -> Heterogeneity | None:
    """:func:`~her2kit.guideline.ish_quality.ish_heterogeneity` over the counted nuclei
    (of all fields, pooled); None when none was counted."""
    return ish_heterogeneity([[n.her2, n.cep17] for n in result.counted],
                             dual=result.probe == "dual", guideline=guideline)


def _counts(result, g: GuidelineVersion) -> dict[str, Any]:
    """The counts part of the evidence, for one field or the pooled fields."""
    excluded = Counter(n.exclusion_reason for n in result.nuclei if not n.included)
    return {
        "nuclei_segmented": len(result.nuclei),
        "nuclei_counted": result.n_counted,
        "nuclei_excluded": dict(excluded),
        "her2_mean_unrounded": result.her2_mean,
        "cep17_mean_unrounded": result.cep17_mean,
        "quality_flags": list(quality_flags(result, guideline=g)),
        # One field's shares behind the flags (the pooled document lists each
        # field's under evidence.fields).
        "quality_shares": (None if isinstance(result, IshFieldsResult)
                           else _plain(dict(result.quality_shares))),
    }


def ish_document(result, *, image: str | list[str], assay: str, pixel_size_um: float,
                 pixel_size_source: str, guideline: str = DEFAULT_GUIDELINE,
                 overlay: str | list[str] | None = None) -> dict[str, Any]:
    """Build the ``count-ish`` JSON document from an :class:`IshImageResult`, or from an
    :class:`IshFieldsResult` of several fields (``image`` and ``overlay`` then list one
    per field; the document's ``image`` and ``overlay`` are the first, ``images`` and
    ``overlays`` all, and ``evidence.fields`` holds each field's counts and parameters).
    """
    g = get_guideline(guideline)
    block = result.guideline_input
    ish = ish_result(IshInput.model_validate(block), guideline=g,
                     too_few_cells="indeterminate")
    her2, steps, comments, rationale = her2_decision(None, ish, guideline=g)
    het = heterogeneity(result, guideline=g)
    fields = result.fields if isinstance(result, IshFieldsResult) else None
    evidence: dict[str, Any] = {
        **_counts(result, g),
        "heterogeneity": _plain(asdict(het)) if het is not None else None,
        "clusters": sum(n.her2_clusters for n in result.counted),
    }
    images = [image] if isinstance(image, str) else list(image)
    overlays = None if overlay is None else ([overlay] if isinstance(overlay, str)
                                             else list(overlay))
    if fields is None:
        evidence["parameters"] = _plain(dict(result.parameters))
    else:
        evidence["fields"] = [
            {"image": name, **_counts(f, g), "parameters": _plain(dict(f.parameters))}
            for name, f in zip(images, fields, strict=True)
        ]
    if het is not None and het.flagged:
        evidence["heterogeneity_note"] = (
            f"{het.fraction_high * 100:.0f}% of counted nuclei form a population with higher "
            "HER2 counts (>10%): ASCO/CAP asks for a separate count of ≥20 non-overlapping "
            "cells in that population, reported on its own; her2kit reports it and does not "
            "change the call.")
    multi = {} if fields is None else {"images": images, "overlays": overlays}
    return {
        "kind": "count-ish", "her2kit_version": __version__, "image": images[0],
        **multi, "assay": assay,
        "pixel_size_um": pixel_size_um, "pixel_size_source": pixel_size_source,
        "overlay": overlays[0] if overlays else None, "case_input": {"ish": block},
        "guideline": g.name, "guideline_title": g.title,
        "ish": ish.model_dump(mode="json"),
        "her2": her2.model_dump(mode="json") if her2 is not None else None,
        "next_steps": [s.model_dump(mode="json") for s in steps], "comments": comments,
        "rationale": [*ish.rationale, *rationale], "evidence": evidence,
        "disclaimer": DISCLAIMER.format(version=__version__, title=g.title),
    }
