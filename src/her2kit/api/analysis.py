"""The analysis jobs the service runs, as plain picklable functions (local processes or
Dask workers import this module, not the web app).

:data:`JOB_KINDS` maps a job kind to its function; each takes the stored image paths and the
job's parameters and returns ``{"document": dict, "overlay_png": bytes | None}``. The one
place to add a kind: ``score-slide`` (whole slides) becomes one more entry here, and one
more name in :data:`KIND_TESTS`.
"""

from __future__ import annotations

from pathlib import Path
from types import MappingProxyType
from typing import Any

from her2kit.errors import Her2kitInputError

__all__ = ["JOB_KINDS", "KIND_TESTS", "run_job"]

_OVERLAY = Path("overlay.png")


def _score_ihc(paths: list[str], params: dict[str, Any]) -> dict[str, Any]:
    from her2kit.pipelines.score_ihc import score_ihc

    if len(paths) != 1:
        raise Her2kitInputError("score-ihc takes one upload", field="upload_ids")
    job = score_ihc(paths[0], mpp=params.get("mpp"),
                    estimate_stains=bool(params.get("estimate_stains", False)),
                    guideline=params.get("guideline", "asco-cap-2018"), overlay=_OVERLAY)
    return {"document": job.document, "overlay_png": job.outputs.get(_OVERLAY)}


def _count_ish(paths: list[str], params: dict[str, Any]) -> dict[str, Any]:
    from her2kit.pipelines.count_ish import count_ish

    overlay = _OVERLAY if len(paths) == 1 else None
    job = count_ish(paths, assay=params.get("assay", "fish"), channels=params.get("channels"),
                    mpp=params.get("mpp"), guideline=params.get("guideline", "asco-cap-2018"),
                    overlay=overlay)
    return {"document": job.document,
            "overlay_png": job.outputs.get(_OVERLAY) if overlay else None}


#: Job kind → function(paths, params). Add ``"score-slide"`` here when it lands.
JOB_KINDS = MappingProxyType({"score-ihc": _score_ihc, "count-ish": _count_ish})
#: Job kind → the test kind its result belongs to.
KIND_TESTS = MappingProxyType({"score-ihc": "ihc", "count-ish": "ish"})


def run_job(kind: str, paths: list[str], params: dict[str, Any]) -> dict[str, Any]:
    """Run one analysis (in a worker process): the document and the overlay bytes."""
    return JOB_KINDS[kind](paths, params)
