"""``GET /api/health``: is the service up and the database reachable (no login needed)."""

from __future__ import annotations

from fastapi import APIRouter
from sqlalchemy import text

from her2kit.api.deps import ServiceDep

router = APIRouter(tags=["health"])


@router.get("/api/health")
def health(svc: ServiceDep) -> dict:
    """``{"status": "ok", "database": "<dialect>"}``; 503 in the error shape when the
    database cannot be reached."""
    with svc.db.read() as session:
        session.execute(text("SELECT 1"))
    return {"status": "ok", "database": svc.db.dialect}
