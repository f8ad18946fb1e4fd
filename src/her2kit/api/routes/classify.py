"""``POST /api/classify``: a case's results → the guideline's classification (pure, no store)."""

from __future__ import annotations

import json

from fastapi import APIRouter
from fastapi.responses import Response

from her2kit.api.deps import CurrentUser, ServiceDep
from her2kit.guideline import Case, classify

router = APIRouter(tags=["classify"])


@router.post("/api/classify", response_class=Response, responses={200: {
    "content": {"application/json": {}},
    "description": "The `classify --json` document (README: Output)."}})
async def classify_case(case: Case, user: CurrentUser, svc: ServiceDep) -> Response:
    """The ``classify --json`` document of ``case`` (IHC, ISH, ER, PgR blocks)."""
    # async: the engine is pure and takes microseconds, a thread hop would cost more.
    # Serialised once, here: the engine's own JSON, without a second pass through
    # FastAPI's encoder (the cheap path of the service; benchmarks/service_load.py).
    doc = classify(case, guideline=svc.settings.guideline).model_dump(mode="json")
    return Response(json.dumps(doc, ensure_ascii=False).encode(),
                    media_type="application/json")
