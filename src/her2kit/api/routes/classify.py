"""``POST /api/classify``: a case's results → the guideline's classification (pure, no store)."""

from __future__ import annotations

from fastapi import APIRouter

from her2kit.api.deps import CurrentUser, ServiceDep
from her2kit.guideline import Case, classify

router = APIRouter(tags=["classify"])


@router.post("/api/classify")
def classify_case(case: Case, user: CurrentUser, svc: ServiceDep) -> dict:
    """The ``classify --json`` document of ``case`` (IHC, ISH, ER, PgR blocks)."""
    return classify(case, guideline=svc.settings.guideline).model_dump(mode="json")
