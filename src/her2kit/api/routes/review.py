"""The pathologist's part: review a test (agree, or override with a reason), sign the case
out (it freezes), amend a signed-out case (a new revision that references the one it
replaces, with a reason). Every write names the case ``version`` it read: a second
reviewer working from the same version gets 409 and loses nothing."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import APIRouter
from pydantic import BaseModel, ConfigDict, Field, field_validator
from sqlalchemy import insert, select, update

from her2kit.api.deps import Pathologist, ServiceDep
from her2kit.api.errors import ApiError
from her2kit.api.routes._common import bump_version, load_case, require_open
from her2kit.api.routes.cases import case_detail, check_block
from her2kit.store import audit
from her2kit.store.people import now
from her2kit.store.schema import amendments, results, reviews, tests

router = APIRouter(prefix="/api/cases/{case_id}", tags=["review"])

Reason = Annotated[str, Field(min_length=1, max_length=4000)]


def _not_blank(value: str | None) -> str | None:
    if value is not None and not value.strip():
        raise ValueError("must not be blank")
    return value


class ReviewIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    decision: Literal["agree", "override"]
    block: dict[str, Any] | None = None  # override: the IHC or ISH (or ER/PgR) block
    reason: Reason | None = None
    version: int

    _reason = field_validator("reason")(_not_blank)


class VersionIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    version: int


class AmendIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    reason: Reason
    version: int

    _reason = field_validator("reason")(_not_blank)


def _agreed_block(session, test) -> tuple[dict, int | None]:
    """What "agree" accepts: the newest result's block, else the typed-in one."""
    res = session.execute(select(results).where(results.c.test_id == test.id)
                          .order_by(results.c.id.desc()).limit(1)).first()
    if res is not None:
        block = (res.document.get("case_input") or {}).get(test.kind)
        if isinstance(block, dict):
            return block, res.id
    if test.entered is not None:
        return test.entered, None
    raise ApiError(409, "nothing_to_review", f"test {test.id} has no result yet")


@router.post("/tests/{test_id}/review")
def review(case_id: int, test_id: int, body: ReviewIn, user: Pathologist,
           svc: ServiceDep) -> dict:
    """Agree with the result, or override it (``block`` and ``reason`` required)."""
    if body.decision == "override" and (body.block is None or body.reason is None):
        missing = "body.block" if body.block is None else "body.reason"
        raise ApiError(422, "invalid", f"{missing}: an override needs the new block and a "
                       "reason")
    with svc.db.write() as session:
        case = load_case(session, case_id)
        require_open(case)
        test = session.execute(select(tests).where(tests.c.id == test_id,
                                                   tests.c.case_id == case_id)).first()
        if test is None:
            raise ApiError(404, "not_found", f"no test {test_id} in case {case_id}")
        if body.decision == "agree":
            block, result_id = _agreed_block(session, test)
        else:
            block = check_block(test.kind, body.block, "body.block")
            result_id = session.execute(select(results.c.id).where(
                results.c.test_id == test.id).order_by(results.c.id.desc()).limit(1)).scalar()
        bump_version(session, case_id, body.version)
        state = "agreed" if body.decision == "agree" else "overridden"
        session.execute(update(tests).where(tests.c.id == test_id).values(
            final=block, review_state=state))
        rid = session.execute(insert(reviews).values(
            case_id=case_id, test_id=test_id, result_id=result_id, revision=case.revision,
            decision=body.decision, block=block, reason=body.reason, reviewer_id=user.id,
            created_at=now())).inserted_primary_key[0]
        audit.append(session, actor=user.username, action=f"review.{body.decision}",
                     entity="test", entity_id=test_id, case_id=case_id,
                     old={"final": test.final, "review_state": test.review_state},
                     new={"final": block, "review_state": state, "review_id": rid},
                     reason=body.reason)
    with svc.db.read() as session:
        return case_detail(session, case_id)


@router.post("/sign-out")
def sign_out(case_id: int, body: VersionIn, user: Pathologist, svc: ServiceDep) -> dict:
    """Sign the case out: every test reviewed; afterwards it changes only by amendment."""
    with svc.db.write() as session:
        case = load_case(session, case_id)
        require_open(case)
        rows = session.execute(select(tests).where(tests.c.case_id == case_id)).all()
        if not rows:
            raise ApiError(409, "not_ready", f"case {case_id} has no tests")
        pending = [t.id for t in rows if t.review_state == "pending"]
        if pending:
            raise ApiError(409, "not_ready", f"test {pending[0]} is not reviewed")
        at = now()
        bump_version(session, case_id, body.version, state="signed_out",
                     signed_out_by=user.id, signed_out_at=at)
        audit.append(session, actor=user.username, action="case.sign_out", entity="case",
                     entity_id=case_id, case_id=case_id, old={"state": case.state},
                     new={"state": "signed_out", "revision": case.revision,
                          "signed_out_at": at.isoformat()})
    with svc.db.read() as session:
        return case_detail(session, case_id)


@router.post("/amendments", status_code=201)
def amend(case_id: int, body: AmendIn, user: Pathologist, svc: ServiceDep) -> dict:
    """Open a signed-out case as a new revision (reviews, then sign-out again: amended)."""
    with svc.db.write() as session:
        case = load_case(session, case_id)
        if case.state != "signed_out":
            raise ApiError(409, "not_signed_out", f"case {case_id} is not signed out; "
                           "review it instead")
        revision = case.revision + 1
        bump_version(session, case_id, body.version, state="amending", revision=revision)
        session.execute(insert(amendments).values(
            case_id=case_id, revision=revision, replaces_revision=case.revision,
            reason=body.reason, created_by=user.id, created_at=now()))
        audit.append(session, actor=user.username, action="case.amend", entity="case",
                     entity_id=case_id, case_id=case_id,
                     old={"state": case.state, "revision": case.revision},
                     new={"state": "amending", "revision": revision}, reason=body.reason)
    with svc.db.read() as session:
        return case_detail(session, case_id)
