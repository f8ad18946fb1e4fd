"""Image-analysis results referenced by a case: loaded, checked, summarised.

``score-ihc``, ``count-ish`` and ``score-slide`` write one JSON object each with
``"kind"`` (the command), ``"case_input"`` (exactly the ``classify`` input
block they produced, e.g. ``{"ihc": {"percent": {...}}}``), the classification
of that block under the keys ``classify --json`` uses (``"ihc"`` / ``"ish"``),
``"evidence"`` (counts per class, thresholds, stain vectors, quality flags …),
and optional ``"overlay"`` (a PNG path relative to the JSON file; ``count-ish`` over
several fields also lists ``"images"`` and ``"overlays"``, one per field).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict

from her2kit.errors import Her2kitInputError
from her2kit.io.jsonio import read_json_object
from her2kit.io.paths import png_beside

__all__ = ["ImageEvidence", "load_image_evidence"]

KINDS = ("score-ihc", "count-ish", "score-slide")


class ImageEvidence(BaseModel):
    """One image-analysis result as the report uses it."""

    model_config = ConfigDict(frozen=True)

    kind: Literal["score-ihc", "count-ish", "score-slide"]
    path: str
    image: str | None
    overlays: list[str] = []  # PNG paths: one, or one per field (count-ish over several)
    assay: str | None = None  # count-ish: "fish" or a brightfield assay (the legend's colours)
    case_input: dict[str, Any]
    evidence: dict[str, Any]
    per_nucleus: list[list[int]] | None


def load_image_evidence(path: str | Path, *, base_dir: Path | None = None) -> ImageEvidence:
    """Read one image-analysis JSON file.

    Parameters
    ----------
    path : str or Path
        The file; relative paths are taken from `base_dir` (the case file's folder).

    Raises
    ------
    Her2kitInputError
        Unreadable file, unknown ``kind``, or a ``case_input`` that is not one
        ``ihc`` or ``ish`` block.
    """
    p = Path(path)
    if not p.is_absolute() and base_dir is not None:
        p = base_dir / p
    doc = read_json_object(str(p))
    kind = doc.get("kind")
    if kind not in KINDS:
        raise Her2kitInputError(
            f"not an image-analysis result (kind {kind!r}; expected one of {', '.join(KINDS)})",
            field=str(p),
        )
    case_input = doc.get("case_input")
    if (not isinstance(case_input, dict) or not set(case_input) <= {"ihc", "ish"} or not case_input
            or not all(isinstance(v, dict) for v in case_input.values())):
        raise Her2kitInputError("'case_input' must hold an 'ihc' or 'ish' block (an object)",
                                field=str(p))
    if not isinstance(doc.get("evidence", {}), dict | None):
        raise Her2kitInputError("'evidence' must be an object", field=str(p))
    listed = doc.get("overlays")
    if not isinstance(listed, list):
        listed = [doc.get("overlay")]
    overlays = [str(png_beside(o, p)) for o in listed if isinstance(o, str)]
    nuclei = case_input.get("ish", {}).get("nuclei")
    return ImageEvidence(
        kind=kind, path=str(p), image=", ".join(doc["images"]) if isinstance(
            doc.get("images"), list) else doc.get("image"), overlays=overlays,
        case_input=case_input, assay=doc.get("assay"),
        evidence=doc.get("evidence") or {},
        per_nucleus=nuclei if isinstance(nuclei, list) and nuclei and isinstance(
            nuclei[0], list) else None,
    )
