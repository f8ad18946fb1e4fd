"""One integrated result for a case file: the report, ``classify`` and ``trials`` share it.

A case may reference image-analysis results (``image_analysis``: ``score-ihc`` /
``count-ish`` JSON files). Their ``case_input`` blocks supply the test blocks
the case lacks and must agree with the blocks it has; the merged case is then
classified by the guideline engine. :func:`integrated_case` does exactly that,
so the lab report, ``her2kit classify`` and the trial query can never disagree
on the HER2 status of the same case.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, NamedTuple

from pydantic import ValidationError

from her2kit.casefile import CaseFile
from her2kit.errors import Her2kitInputError
from her2kit.guideline import ClassifyResult, classify
from her2kit.guideline.versions import GuidelineVersion
from her2kit.io.jsonio import validation_error_line
from her2kit.report.evidence import ImageEvidence, load_image_evidence

__all__ = ["IntegratedCase", "integrated_case"]


class IntegratedCase(NamedTuple):
    """The case with image-analysis blocks merged in, its classification, and the evidence."""

    case: CaseFile
    result: ClassifyResult
    images: list[ImageEvidence]


def _classify_block(block: dict[str, Any]) -> ClassifyResult:
    from her2kit.guideline import Case

    try:
        return classify(Case.model_validate(block))
    except ValidationError as exc:
        raise Her2kitInputError(validation_error_line(exc)) from None


def _check_agrees(case: CaseFile, raw: dict[str, Any], block: str, value: Any,
                  ev: ImageEvidence) -> None:
    if block == "ihc":
        theirs = _classify_block({"ihc": value}).ihc.score
        mine = _classify_block({"ihc": case.ihc.model_dump(exclude_none=True)}).ihc.score
        if theirs != mine:
            raise Her2kitInputError(
                f"image-analysis result gives IHC {theirs} but the case has IHC {mine}: the "
                "file does not match the case", field=ev.path)
        return
    a = _classify_block({"ish": value}).ish
    b = _classify_block({"ish": raw["ish"]}).ish
    if (a.cells_counted, a.her2_mean, a.cep17_mean) != (b.cells_counted, b.her2_mean,
                                                        b.cep17_mean):
        raise Her2kitInputError(
            "image-analysis ISH counts differ from the case's ISH counts: the file does not "
            "match the case", field=ev.path)


def merge_images(case: CaseFile, base_dir: Path | None) -> tuple[CaseFile, list[ImageEvidence]]:
    """Load the case's image-analysis results and merge their blocks into the case."""
    images = [load_image_evidence(p, base_dir=base_dir) for p in case.image_analysis]
    if not images:
        return case, images
    raw = case.model_dump(exclude_none=True)
    for ev in images:
        for block, value in ev.case_input.items():
            if block not in raw:
                raw[block] = value
            else:
                _check_agrees(case, raw, block, value, ev)
    try:
        return CaseFile.model_validate(raw), images
    except ValidationError as exc:
        raise Her2kitInputError(validation_error_line(exc)) from None


def integrated_case(
    case: CaseFile, *, guideline: str | GuidelineVersion = "asco-cap-2018",
    base_dir: Path | None = None,
) -> IntegratedCase:
    """Merge a case's image-analysis results and classify it.

    Parameters
    ----------
    case : CaseFile
        The validated case file.
    guideline : str or GuidelineVersion
        Rule set.
    base_dir : Path, optional
        Folder that relative ``image_analysis`` paths are taken from (the case
        file's folder).

    Returns
    -------
    IntegratedCase
        Without ``image_analysis`` entries, the case unchanged and exactly
        ``classify(case)``.

    Raises
    ------
    Her2kitInputError
        Unreadable or mismatching image-analysis results, or counts the engine
        refuses.
    """
    merged, images = merge_images(case, base_dir)
    return IntegratedCase(merged, classify(merged, guideline=guideline), images)
