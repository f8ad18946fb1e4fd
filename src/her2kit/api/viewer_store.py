"""The viewer's images from the service's store: an upload's pixels and its result's cells.

:func:`store_source` is the :class:`~her2kit.api.viewer.ViewerSource` of ``her2kit serve``:
the image id is the upload id; the caller must be logged in (the service's own check, 401
otherwise). The tiles come from the stored file: a TIFF that :func:`her2kit.io.slides.open_slide`
opens is read level by level (a slide pyramid), anything else is read whole as a field.

The overlay is the newest analysis result of that upload. The service keeps a result's
document but not its per-cell table, so the cells are measured again, once per server
process, by the same pipeline with the job's own parameters (``score-ihc`` or ``count-ish``
are deterministic); the measured document's counts must equal the stored ones, else the
viewer refuses to draw an overlay that is not the result under review (409).
"""

from __future__ import annotations

import inspect
from pathlib import Path
from typing import Any

import numpy as np
from fastapi import Request

from her2kit.api.errors import ApiError
from her2kit.api.viewer import (
    CellLayer,
    SlideForDeepZoom,
    ViewerImage,
    build_cell_layer,
    signal_records,
)

__all__ = ["authenticate", "display_rgb", "store_source"]

_RESULT_KINDS = {"score-ihc": "ihc", "count-ish": "ish"}


def display_rgb(image: np.ndarray) -> np.ndarray:
    """8-bit RGB for display of a field as stored (grey, RGB(A), or FISH channels).

    Multi-channel or 16-bit images (FISH OME-TIFF: DAPI, HER2, CEP17 in that order) are
    shown HER2 red, CEP17 green, DAPI blue, each stretched from its 1st to 99.8th
    percentile, as :func:`her2kit.viz.ish.fish_display_rgb` does; counting never sees this.
    """
    a = np.asarray(image)
    if a.ndim == 2:
        a = a[..., None]
    if a.ndim == 3 and a.shape[0] in (2, 3, 4) and a.shape[-1] not in (3, 4):
        a = np.moveaxis(a, 0, -1)
    if a.ndim != 3:
        raise ApiError(415, "unsupported_media_type", f"cannot show an image of shape {a.shape}")
    if a.dtype == np.uint8 and a.shape[-1] in (3, 4):
        return np.ascontiguousarray(a[..., :3])
    if a.shape[-1] == 1:
        channels = [a[..., 0]] * 3
    else:  # (dapi, her2, cep17, ...) -> (her2, cep17, dapi)
        order = (1, 2, 0) if a.shape[-1] >= 3 else (1, 0, 0)
        channels = [a[..., i] for i in order]
    out = []
    for ch in channels:
        ch = ch.astype(np.float32)
        lo, hi = np.percentile(ch, [1.0, 99.8])
        out.append(np.clip((ch - lo) * (255.0 / (hi - lo) if hi > lo else 0.0), 0, 255))
    return np.stack(out, axis=-1).astype(np.uint8)


def _open_pixels(path: Path, media_type: str):
    """An OpenSlide-like object over a stored upload (slide pyramid or field)."""
    import openslide
    from PIL import Image

    from her2kit.errors import ImageInputError

    if media_type == "image/tiff":
        try:
            from her2kit.io.slides import open_slide

            slide = open_slide(path, assume_mpp_um=None)
            if len(slide.levels) > 1:
                return SlideForDeepZoom(slide)
            slide.close()
        except ImageInputError:
            pass  # not a slide OpenSlide or tifffile reads as one: a field
    from her2kit.io.images import read_image

    try:
        loaded = read_image(path, max_pixels=400_000_000)
    except ImageInputError as exc:
        raise ApiError(415, "unsupported_media_type", str(exc)) from None
    return openslide.ImageSlide(Image.fromarray(display_rgb(loaded.image)))


def _latest_result(session, upload) -> tuple[Any, Any] | None:
    """(result row, job row) of the newest result of a job over this upload."""
    from sqlalchemy import select

    from her2kit.store.schema import jobs, results

    q = (select(results, jobs.c.upload_ids, jobs.c.params)
         .join(jobs, jobs.c.id == results.c.job_id)
         .where(results.c.case_id == upload.case_id).order_by(results.c.id.desc()))
    for row in session.execute(q).all():
        if upload.id in (row.upload_ids or []) and row.kind in _RESULT_KINDS:
            return row, row.params or {}
    return None


def _same_counts(stored: dict, measured: dict, kind: str) -> bool:
    if kind == "score-ihc":
        return (stored.get("evidence") or {}).get("counts") == \
            (measured.get("evidence") or {}).get("counts")
    keys = ("cells_counted", "her2_mean", "cep17_mean")
    return all((stored.get("ish") or {}).get(k) == (measured.get("ish") or {}).get(k)
               for k in keys)


def _measure(path: Path, result, params: dict, size_px) -> CellLayer:
    """The cells of a stored result, measured again with the job's parameters."""
    if result.kind == "score-ihc":
        from her2kit.api.viewer import cell_records_from_geojson
        from her2kit.io.export import cells_geojson
        from her2kit.pipelines.score_ihc import score_ihc
        from her2kit.viz.colors import CLASS_COLORS

        job = score_ihc(path, mpp=params.get("mpp"),
                        estimate_stains=bool(params.get("estimate_stains", False)),
                        guideline=params.get("guideline", "asco-cap-2018"))
        records, outlines = cell_records_from_geojson(
            cells_geojson(job.result, class_colors=CLASS_COLORS))
        layer_args = {"assay": "ihc", "outlines": outlines}
    else:
        from her2kit.pipelines.count_ish import count_ish

        job = count_ish([str(path)], assay=params.get("assay", "fish"),
                        channels=params.get("channels"), mpp=params.get("mpp"),
                        guideline=params.get("guideline", "asco-cap-2018"))
        records = job.result.table()
        layer_args = {"assay": "ish", "signals": signal_records(job.result)}
    single = len(result.upload_ids or []) == 1
    if single and not _same_counts(result.document, job.document, result.kind):
        raise ApiError(409, "overlay_mismatch", f"the cells measured again for result "
                       f"{result.id} do not give its stored counts; the overlay is not shown")
    return build_cell_layer(records, size_px=size_px,
                            pixel_size_um=job.document.get("pixel_size_um"), **layer_args)


async def _value(x):
    return await x if inspect.isawaitable(x) else x


async def authenticate(request: Request) -> None:
    """The service's own login check (401 / 403 in its error shape), before every route."""
    from her2kit.api.deps import current_user, service

    await _value(current_user(request, await _value(service(request))))


def store_source(request: Request, image_id: str) -> ViewerImage:
    """The upload ``image_id`` of the service's store (the caller is logged in:
    :func:`authenticate` ran first)."""
    from sqlalchemy import select

    from her2kit.store.schema import uploads

    svc = request.app.state.service
    if not image_id.isdigit():
        raise ApiError(404, "not_found", f"no upload {image_id}")
    with svc.db.read() as session:
        upload = session.execute(select(uploads).where(uploads.c.id == int(image_id))).first()
        if upload is None:
            raise ApiError(404, "not_found", f"no upload {image_id}")
        found = _latest_result(session, upload)
    path = svc.blobs.path_of(upload.sha256, upload.media_type)
    size_px = (int(upload.width_px), int(upload.height_px))
    result, params = found if found else (None, {})
    doc = result.document if result is not None else {}
    return ViewerImage(
        key=f"{upload.sha256}|{result.id if result is not None else '-'}",
        name=upload.original_name,
        pixel_size_um=doc.get("pixel_size_um") or params.get("mpp"),
        assay=_RESULT_KINDS.get(result.kind) if result is not None else None,
        open_slide=lambda: _open_pixels(path, upload.media_type),
        load_overlay=(None if result is None
                      else lambda: _measure(path, result, params, size_px)))
