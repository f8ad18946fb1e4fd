"""Cases and their tests: register a case, list, read, edit facts, order tests."""

from __future__ import annotations

from datetime import date
from typing import Annotated, Any, Literal

from fastapi import APIRouter
from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy import insert, select
from sqlalchemy.exc import IntegrityError

from her2kit.api.deps import CurrentUser, ServiceDep, Technologist
from her2kit.api.errors import ApiError
from her2kit.api.routes._common import bump_version, load_case, require_open
from her2kit.casefile import ControlFacts, PatientFacts, SpecimenFacts, TumourFacts
from her2kit.store import audit
from her2kit.store.people import now
from her2kit.store.schema import amendments, cases, jobs, reports, results, tests, uploads

router = APIRouter(prefix="/api/cases", tags=["cases"])

Text = Annotated[str, Field(max_length=2000)]


class CaseFacts(BaseModel):
    """What the lab records about a case: no more patient identity than the report needs."""

    model_config = ConfigDict(extra="forbid")

    specimen: SpecimenFacts | None = None
    patient: PatientFacts | None = None
    received_on: date | None = None
    ordering_physician: Annotated[str, Field(max_length=200)] | None = None
    tumour: TumourFacts | None = None
    controls: ControlFacts | None = None


class CaseIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    accession: Annotated[str, Field(min_length=1, max_length=64)]
    facts: CaseFacts = CaseFacts()


class CasePatch(BaseModel):
    model_config = ConfigDict(extra="forbid")

    facts: CaseFacts
    version: int
    reason: Text | None = None


class TestIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    kind: Literal["ihc", "ish", "er", "pr"]
    assay: Annotated[str, Field(min_length=1, max_length=200)] | None = None
    entered: dict[str, Any] | None = None  # a typed-in block (ER/PgR percent, IHC score)
    version: int


def check_block(kind: str, block: dict[str, Any], field: str) -> dict[str, Any]:
    """Validate a test block by classifying it alone (422 naming the field)."""
    from pydantic import ValidationError

    from her2kit.guideline import Case, classify
    from her2kit.io.jsonio import validation_error_line

    try:
        classify(Case.model_validate({kind: block}))
    except ValidationError as exc:
        raise ApiError(422, "invalid", f"{field}: {validation_error_line(exc)}") from None
    return block


def _rows(session, table, case_id: int) -> list[dict]:
    q = select(table).where(table.c.case_id == case_id).order_by(table.c.id)
    return [r._asdict() for r in session.execute(q).all()]


def case_detail(session, case_id: int) -> dict:
    """A case with its tests, uploads, jobs, results (without documents), reports."""
    out = load_case(session, case_id)._asdict()
    out["tests"] = _rows(session, tests, case_id)
    out["uploads"] = _rows(session, uploads, case_id)
    out["jobs"] = _rows(session, jobs, case_id)
    out["results"] = [{k: v for k, v in r.items() if k not in ("document", "overlay_png")}
                      | {"has_overlay": r["overlay_png"] is not None}
                      for r in _rows(session, results, case_id)]
    out["amendments"] = _rows(session, amendments, case_id)
    out["reports"] = _rows(session, reports, case_id)
    return out


@router.post("", status_code=201)
def create_case(body: CaseIn, user: Technologist, svc: ServiceDep) -> dict:
    """Register a case (technologist or pathologist)."""
    facts = body.facts.model_dump(mode="json", exclude_none=True)
    try:
        with svc.db.write() as session:
            cid = session.execute(insert(cases).values(
                accession=body.accession, facts=facts, state="open", revision=0, version=1,
                created_by=user.id, created_at=now())).inserted_primary_key[0]
            audit.append(session, actor=user.username, action="case.create", entity="case",
                         entity_id=cid, case_id=cid,
                         new={"accession": body.accession, "facts": facts})
    except IntegrityError:
        raise ApiError(409, "exists", f"accession {body.accession!r} is registered") from None
    with svc.db.read() as session:
        return case_detail(session, cid)


@router.get("")
def list_cases(user: CurrentUser, svc: ServiceDep, limit: int = 100, offset: int = 0) -> list:
    """Cases, newest first (``limit`` at most 500)."""
    limit = max(1, min(limit, 500))
    with svc.db.read() as session:
        q = select(cases).order_by(cases.c.id.desc()).limit(limit).offset(max(offset, 0))
        return [r._asdict() for r in session.execute(q).all()]


@router.get("/{case_id}")
def get_case(case_id: int, user: CurrentUser, svc: ServiceDep) -> dict:
    with svc.db.read() as session:
        return case_detail(session, case_id)


@router.patch("/{case_id}")
def patch_case(case_id: int, body: CasePatch, user: Technologist, svc: ServiceDep) -> dict:
    """Replace the case's facts (optimistic lock on ``version``)."""
    facts = body.facts.model_dump(mode="json", exclude_none=True)
    with svc.db.write() as session:
        case = load_case(session, case_id)
        require_open(case)
        bump_version(session, case_id, body.version, facts=facts)
        audit.append(session, actor=user.username, action="case.update", entity="case",
                     entity_id=case_id, case_id=case_id, old={"facts": case.facts},
                     new={"facts": facts}, reason=body.reason)
    with svc.db.read() as session:
        return case_detail(session, case_id)


@router.post("/{case_id}/tests", status_code=201)
def add_test(case_id: int, body: TestIn, user: Technologist, svc: ServiceDep) -> dict:
    """Order a test (IHC, ISH, ER, PgR), with a typed-in result when there is one."""
    if body.entered is not None:
        check_block(body.kind, body.entered, "entered")
    with svc.db.write() as session:
        require_open(load_case(session, case_id))
        bump_version(session, case_id, body.version)
        tid = session.execute(insert(tests).values(
            case_id=case_id, kind=body.kind, assay=body.assay, entered=body.entered,
            final=None, review_state="pending", created_at=now())).inserted_primary_key[0]
        audit.append(session, actor=user.username, action="test.create", entity="test",
                     entity_id=tid, case_id=case_id,
                     new={"kind": body.kind, "assay": body.assay, "entered": body.entered})
    with svc.db.read() as session:
        return case_detail(session, case_id)
