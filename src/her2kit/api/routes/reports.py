"""Reports: generate the ``her2kit report`` files of a case (stored, with their status), list
and download them."""

from __future__ import annotations

from pathlib import Path

from fastapi import APIRouter
from fastapi.responses import Response
from sqlalchemy import insert, select

from her2kit.api.casereport import MEDIA_TYPES, render_case
from her2kit.api.deps import CurrentUser, ServiceDep, Technologist
from her2kit.api.errors import ApiError
from her2kit.api.routes._common import load_case, load_row
from her2kit.store import audit
from her2kit.store.people import now
from her2kit.store.schema import report_files, reports

router = APIRouter(tags=["reports"])


def _lab(svc):
    if svc.settings.lab_file is None:
        return None
    from her2kit.io.jsonio import read_json_object

    return read_json_object(str(svc.settings.lab_file))


def _report_out(session, report_id: int) -> dict:
    row = load_row(session, reports, report_id, "report")
    names = session.execute(select(report_files.c.name, report_files.c.media_type).where(
        report_files.c.report_id == report_id).order_by(report_files.c.name)).all()
    return row._asdict() | {"files": [
        {"name": n.name, "media_type": n.media_type,
         "url": f"/api/reports/{report_id}/files/{n.name}"} for n in names]}


@router.post("/api/cases/{case_id}/reports", status_code=201)
def create_report(case_id: int, user: Technologist, svc: ServiceDep) -> dict:
    """Render the case's report now (preliminary, final or amended) and keep the files."""
    with svc.db.read() as session:
        load_case(session, case_id)
        status, files = render_case(session, case_id, lab=_lab(svc),
                                    guideline=svc.settings.guideline)
        case = load_case(session, case_id)
    with svc.db.write() as session:
        rid = session.execute(insert(reports).values(
            case_id=case_id, revision=case.revision, status=status, created_by=user.id,
            created_at=now())).inserted_primary_key[0]
        for name, content in files.items():
            session.execute(insert(report_files).values(
                report_id=rid, name=name, content=content,
                media_type=MEDIA_TYPES.get(Path(name).suffix, "application/octet-stream")))
        audit.append(session, actor=user.username, action="report.create", entity="report",
                     entity_id=rid, case_id=case_id,
                     new={"status": status, "revision": case.revision, "files": sorted(files)})
        return _report_out(session, rid)


@router.get("/api/cases/{case_id}/reports")
def list_reports(case_id: int, user: CurrentUser, svc: ServiceDep) -> list[dict]:
    with svc.db.read() as session:
        load_case(session, case_id)
        ids = session.execute(select(reports.c.id).where(reports.c.case_id == case_id)
                              .order_by(reports.c.id)).scalars().all()
        return [_report_out(session, i) for i in ids]


@router.get("/api/reports/{report_id}")
def get_report(report_id: int, user: CurrentUser, svc: ServiceDep) -> dict:
    with svc.db.read() as session:
        return _report_out(session, report_id)


@router.get("/api/reports/{report_id}/files/{name}")
def report_file(report_id: int, name: str, user: CurrentUser, svc: ServiceDep) -> Response:
    """One file of a report, as stored (a download)."""
    with svc.db.read() as session:
        row = session.execute(select(report_files).where(
            report_files.c.report_id == report_id, report_files.c.name == name)).first()
    if row is None:
        raise ApiError(404, "not_found", f"report {report_id} has no file {name!r}")
    safe = "".join(c if c.isalnum() or c in "-_." else "_" for c in name)
    return Response(row.content, media_type=row.media_type,
                    headers={"Content-Disposition": f'attachment; filename="{safe}"',
                             "X-Content-Type-Options": "nosniff"})
