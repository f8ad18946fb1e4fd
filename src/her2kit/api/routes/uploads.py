"""Uploads: the request body is the image (``Content-Type`` its claimed type), stored by the
SHA-256 of its content.

Checked in this order, each before the next costs anything: the claimed type (PNG, JPEG,
TIFF), the declared length, the bytes as they arrive (the byte limit), the type sniffed
from the content against the claim, the pixel count from the header (a decompression bomb
is refused here, before any decoding). The file name is a label: only its last component
is kept, and it never becomes a path.
"""

from __future__ import annotations

import errno
import re
from typing import Annotated

from fastapi import APIRouter, Query, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import FileResponse
from sqlalchemy import insert, select

from her2kit.api.deps import CurrentUser, ServiceDep, Technologist
from her2kit.api.errors import ApiError
from her2kit.api.routes._common import load_case, load_row, require_open
from her2kit.errors import ImageInputError
from her2kit.io.blobs import SUFFIXES, BlobTooLarge
from her2kit.io.sniff import sniff_image
from her2kit.store import audit
from her2kit.store.people import now
from her2kit.store.schema import uploads

router = APIRouter(tags=["uploads"])


def label_of(filename: str) -> str:
    """The last component of a client's file name, without control characters (a label)."""
    name = re.split(r"[/\\]", filename)[-1]
    name = "".join(c for c in name if c.isprintable()).strip()
    return name[:255] if name not in ("", ".", "..") else "upload"


def _too_large(message: str) -> ApiError:
    return ApiError(413, "too_large", message)


def _check_claim(request: Request, max_bytes: int) -> str:
    claimed = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if claimed not in SUFFIXES:
        raise ApiError(415, "unsupported_media_type",
                       f"Content-Type {claimed or '(none)'!r}: send image/png, image/jpeg or "
                       "image/tiff as the request body")
    length = request.headers.get("content-length")
    if length is not None and length.isdigit() and int(length) > max_bytes:
        raise _too_large(f"upload of {length} bytes exceeds the limit of {max_bytes} bytes")
    return claimed


def _checked_header(path, claimed: str, max_pixels: int):
    try:
        header = sniff_image(path)
    except ImageInputError as exc:
        raise ApiError(415, "unsupported_media_type", str(exc)) from None
    if header.media_type != claimed:
        raise ApiError(415, "wrong_type", f"the content is {header.media_type}, not the "
                       f"claimed {claimed}")
    if header.pixels > max_pixels:
        raise _too_large(f"image of {header.width_px} x {header.height_px} px "
                         f"({header.pixels} pixels) exceeds the limit of {max_pixels} "
                         "pixels (checked before decoding)")
    return header


async def _receive(request: Request, svc, claimed: str):
    """Stream the body to a temporary file, check it, move it to its address."""
    s = svc.settings
    blob = svc.blobs.start(max_bytes=s.max_upload_bytes)
    try:
        async for chunk in request.stream():
            blob.write(chunk)
        blob.close()
        header = _checked_header(blob.path, claimed, s.max_upload_pixels)
        svc.blobs.commit(blob, claimed)
    except BlobTooLarge as exc:
        blob.discard()
        raise _too_large(str(exc).removeprefix("body: ")) from None
    except OSError as exc:
        blob.discard()
        if exc.errno in (errno.ENOSPC, errno.EDQUOT):
            raise ApiError(507, "disk_full", "the server's disk is full; the upload was "
                           "not stored") from None
        raise
    except BaseException:
        blob.discard()
        raise
    return blob, header


_BODY = {"requestBody": {"required": True, "description": "The image file itself.",
                         "content": {t: {"schema": {"type": "string", "format": "binary"}}
                                     for t in SUFFIXES}}}


@router.post("/api/cases/{case_id}/uploads", status_code=201, openapi_extra=_BODY)
async def upload(case_id: int, request: Request, user: Technologist, svc: ServiceDep,
                 filename: Annotated[str, Query(max_length=1000)] = "upload") -> dict:
    """Store an image for a case (technologist or pathologist)."""
    claimed = _check_claim(request, svc.settings.max_upload_bytes)

    def _case_open() -> None:
        with svc.db.read() as session:
            require_open(load_case(session, case_id))

    await run_in_threadpool(_case_open)
    blob, header = await _receive(request, svc, claimed)
    return await run_in_threadpool(_record, svc, user, case_id, blob, header,
                                   label_of(filename))


def _record(svc, user, case_id: int, blob, header, label: str) -> dict:
    values = dict(case_id=case_id, sha256=blob.sha256, media_type=header.media_type,
                  size_bytes=blob.size_bytes, width_px=header.width_px,
                  height_px=header.height_px, original_name=label, created_by=user.id,
                  created_at=now())
    try:
        with svc.db.write() as session:
            require_open(load_case(session, case_id))
            uid = session.execute(insert(uploads).values(**values)).inserted_primary_key[0]
            audit.append(session, actor=user.username, action="upload.create",
                         entity="upload", entity_id=uid, case_id=case_id,
                         new={k: v for k, v in values.items() if k != "created_at"})
    except BaseException:
        _drop_if_unreferenced(svc, blob.sha256, header.media_type)
        raise
    return {"id": uid, **values}


def _drop_if_unreferenced(svc, sha256: str, media_type: str) -> None:
    """Remove a stored file whose row was not committed, unless another upload names it."""
    try:
        with svc.db.read() as session:
            if session.execute(select(uploads.c.id).where(uploads.c.sha256 == sha256)).first():
                return
    except Exception:  # the database is down: start-up recovery removes the file
        return
    svc.blobs.path_of(sha256, media_type).unlink(missing_ok=True)


def _upload_row(svc, upload_id: int):
    with svc.db.read() as session:
        return load_row(session, uploads, upload_id, "upload")


@router.get("/api/uploads/{upload_id}")
def get_upload(upload_id: int, user: CurrentUser, svc: ServiceDep) -> dict:
    return _upload_row(svc, upload_id)._asdict()


@router.get("/api/uploads/{upload_id}/content")
def upload_content(upload_id: int, user: CurrentUser, svc: ServiceDep) -> FileResponse:
    """The stored bytes, with the sniffed type."""
    row = _upload_row(svc, upload_id)
    return FileResponse(svc.blobs.path_of(row.sha256, row.media_type),
                        media_type=row.media_type)
