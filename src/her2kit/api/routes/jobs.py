"""Analysis jobs and their results: start one on uploads, follow it, read the document."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import APIRouter, BackgroundTasks
from fastapi.responses import Response
from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy import insert, select

from her2kit.api.analysis import JOB_KINDS, KIND_TESTS
from her2kit.api.deps import CurrentUser, ServiceDep, Technologist
from her2kit.api.errors import ApiError
from her2kit.api.routes._common import load_case, load_row, require_open
from her2kit.store import audit
from her2kit.store.people import now
from her2kit.store.schema import jobs, results, tests, uploads

router = APIRouter(tags=["jobs"])


class JobParams(BaseModel):
    """Options of the analysis, as the CLI's flags."""

    model_config = ConfigDict(extra="forbid")

    mpp: Annotated[float, Field(gt=0, le=100)] | None = None
    assay: Literal["fish", "dual-ish", "cish"] | None = None
    channels: dict[Literal["dapi", "her2", "cep17"], int | str] | None = None
    estimate_stains: bool = False


class JobIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    test_id: int
    kind: str
    upload_ids: Annotated[list[int], Field(min_length=1, max_length=20)]
    params: JobParams = JobParams()


def _check_job(session, case_id: int, body: JobIn) -> None:
    if body.kind not in JOB_KINDS:
        raise ApiError(422, "invalid", f"body.kind: unknown job {body.kind!r}; use "
                       f"{', '.join(JOB_KINDS)}")
    test = session.execute(select(tests).where(tests.c.id == body.test_id,
                                               tests.c.case_id == case_id)).first()
    if test is None:
        raise ApiError(404, "not_found", f"no test {body.test_id} in case {case_id}")
    if test.kind != KIND_TESTS[body.kind]:
        raise ApiError(422, "invalid", f"body.kind: {body.kind} gives a {KIND_TESTS[body.kind]}"
                       f" result; test {test.id} is {test.kind}")
    found = {r.id for r in session.execute(select(uploads.c.id).where(
        uploads.c.id.in_(body.upload_ids), uploads.c.case_id == case_id)).all()}
    missing = [i for i in body.upload_ids if i not in found]
    if missing:
        raise ApiError(404, "not_found", f"no upload {missing[0]} in case {case_id}")
    if body.kind == "count-ish" and body.params.assay is None:
        raise ApiError(422, "invalid", "body.params.assay: count-ish needs fish, dual-ish or "
                       "cish")


@router.post("/api/cases/{case_id}/jobs", status_code=202)
def start_job(case_id: int, body: JobIn, background: BackgroundTasks, user: Technologist,
              svc: ServiceDep) -> dict:
    """Queue an analysis (it runs outside the request); poll ``GET /api/jobs/{id}``."""
    params: dict[str, Any] = body.params.model_dump(exclude_none=True)
    params["guideline"] = svc.settings.guideline
    with svc.db.write() as session:
        require_open(load_case(session, case_id))
        _check_job(session, case_id, body)
        jid = session.execute(insert(jobs).values(
            case_id=case_id, test_id=body.test_id, kind=body.kind, params=params,
            upload_ids=body.upload_ids, status="queued", progress=0.0, attempts=0,
            created_by=user.id, created_at=now())).inserted_primary_key[0]
        audit.append(session, actor=user.username, action="job.create", entity="job",
                     entity_id=jid, case_id=case_id,
                     new={"kind": body.kind, "upload_ids": body.upload_ids, "params": params})
    # After the response: a job committed but not yet started (the server died) stays
    # 'queued' and is started at the next start-up.
    background.add_task(svc.jobs.submit, jid)
    return get_job(jid, user, svc)


@router.get("/api/jobs/{job_id}")
def get_job(job_id: int, user: CurrentUser, svc: ServiceDep) -> dict:
    """Status (queued, running, done, failed), progress (0-1), error, result id."""
    with svc.db.read() as session:
        row = session.execute(select(jobs).where(jobs.c.id == job_id)).first()
        if row is None:
            raise ApiError(404, "not_found", f"no job {job_id}")
        rid = session.execute(select(results.c.id).where(results.c.job_id == job_id)).scalar()
    return row._asdict() | {"result_id": rid}


def _result(svc, result_id: int):
    with svc.db.read() as session:
        return load_row(session, results, result_id, "result")


@router.get("/api/results/{result_id}")
def get_result(result_id: int, user: CurrentUser, svc: ServiceDep) -> dict:
    """The analysis document (``score-ihc`` / ``count-ish`` JSON) with its ids."""
    row = _result(svc, result_id)
    return {k: v for k, v in row._asdict().items() if k != "overlay_png"} | {
        "has_overlay": row.overlay_png is not None}


@router.get("/api/results/{result_id}/overlay.png")
def result_overlay(result_id: int, user: CurrentUser, svc: ServiceDep) -> Response:
    row = _result(svc, result_id)
    if row.overlay_png is None:
        raise ApiError(404, "not_found", f"result {result_id} has no overlay")
    return Response(row.overlay_png, media_type="image/png")
