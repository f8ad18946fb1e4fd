"""A case's history (its audit events) and the chain check."""

from __future__ import annotations

import json

from fastapi import APIRouter
from sqlalchemy import select

from her2kit.api.deps import Admin, CurrentUser, ServiceDep
from her2kit.api.routes._common import load_case
from her2kit.store.audit import verify_rows
from her2kit.store.schema import audit_events

router = APIRouter(tags=["audit"])


def _event(row) -> dict:
    d = row._asdict()
    d["old"], d["new"] = json.loads(d["old"]), json.loads(d["new"])
    return d


@router.get("/api/cases/{case_id}/history")
def history(case_id: int, user: CurrentUser, svc: ServiceDep) -> list[dict]:
    """Every change to the case, oldest first: who, when, what, old → new, reason."""
    with svc.db.read() as session:
        load_case(session, case_id)
        q = select(audit_events).where(audit_events.c.case_id == case_id).order_by(
            audit_events.c.id)
        return [_event(r) for r in session.execute(q).all()]


@router.get("/api/audit/verify")
def verify(admin: Admin, svc: ServiceDep) -> dict:
    """Check the whole chain: ``{"rows": n, "ok": bool, "first_broken_row", "problem"}``."""
    with svc.db.read() as session:
        rows = (r._asdict() for r in session.execute(
            select(audit_events).order_by(audit_events.c.id)))
        n, broken = verify_rows(rows)
    return {"rows": n, "ok": broken is None,
            "first_broken_row": broken.row_id if broken else None,
            "problem": broken.problem if broken else None}
