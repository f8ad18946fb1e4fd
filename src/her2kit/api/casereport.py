"""A stored case → the ``her2kit report`` files: the case file the report code reads is built
from the database (facts, reviewed test blocks, agreed image-analysis documents, sign-out),
then :func:`her2kit.report.render.render_report` renders it as the CLI does.

Status: *preliminary* until sign-out; *final* once signed out; *amended* when signed out
again after an amendment. The patient summary is rendered only for a signed-out case.
"""

from __future__ import annotations

import json
import tempfile
from pathlib import Path
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from her2kit.store.schema import amendments, cases, results, reviews, tests, users

__all__ = ["MEDIA_TYPES", "case_file_dict", "render_case", "report_status"]

MEDIA_TYPES = {".html": "text/html; charset=utf-8", ".pdf": "application/pdf",
               ".json": "application/json"}
_KITS = {"ihc", "er", "pr"}


def report_status(case) -> str:
    if case.state != "signed_out":
        return "preliminary"
    return "amended" if case.revision > 0 else "final"


def _sign_out(session: Session, case) -> dict[str, Any] | None:
    if case.state != "signed_out":
        return None
    name = session.execute(select(users.c.display_name).where(
        users.c.id == case.signed_out_by)).scalar()
    out: dict[str, Any] = {"by": name, "at": case.signed_out_at.isoformat()}
    if case.revision > 0:
        am = session.execute(select(amendments).where(
            amendments.c.case_id == case.id, amendments.c.revision == case.revision)).one()
        out["amendment"] = {"revision": am.revision, "replaces_revision": am.replaces_revision,
                            "reason": am.reason}
    return out


def _agreed_documents(session: Session, test) -> list[dict]:
    """The analysis document the pathologist agreed with (its block is not repeated)."""
    review = session.execute(select(reviews).where(reviews.c.test_id == test.id).order_by(
        reviews.c.id.desc()).limit(1)).first()
    if review is None or review.decision != "agree" or review.result_id is None:
        return []
    row = session.execute(select(results).where(results.c.id == review.result_id)).one()
    return [{"id": row.id, "document": row.document, "overlay_png": row.overlay_png}]


def case_file_dict(session: Session, case_id: int, *, lab: Any = None) -> tuple[dict, list]:
    """``(case file dict, agreed analysis documents)`` of a stored case."""
    case = session.execute(select(cases).where(cases.c.id == case_id)).one()
    facts = dict(case.facts)
    out: dict[str, Any] = {"case_id": case.accession, "accession": case.accession, **facts}
    if lab is not None:
        out["lab"] = lab
    assays: dict[str, Any] = {}
    docs: list[dict] = []
    for test in session.execute(select(tests).where(tests.c.case_id == case_id).order_by(
            tests.c.id)).all():
        if test.final is None:
            continue
        agreed = _agreed_documents(session, test)
        if agreed:
            docs += agreed
        else:
            out[test.kind] = test.final
        if test.assay and test.kind in (_KITS | {"ish"}):
            assays[test.kind] = {"name": test.assay}
        if agreed:
            assays["image_analysis_used"] = True
    if assays:
        out["assays"] = assays
    sign_out = _sign_out(session, case)
    if sign_out is not None:
        out["sign_out"] = sign_out
    return out, docs


def render_case(session: Session, case_id: int, *, lab: Any = None,
                guideline: str = "asco-cap-2018") -> tuple[str, dict[str, bytes]]:
    """``(status, {file name: bytes})``: HTML, PDF, JSON, FHIR (and the patient summary
    once signed out)."""
    from her2kit.casefile import CaseFile
    from her2kit.io.atomic import write_files_atomically
    from her2kit.report.render import render_report

    case = session.execute(select(cases).where(cases.c.id == case_id)).one()
    raw, docs = case_file_dict(session, case_id, lab=lab)
    with tempfile.TemporaryDirectory(prefix="her2kit-report-") as tmp:
        files: dict[str, bytes] = {}
        for d in docs:
            doc = dict(d["document"])
            if d["overlay_png"] is not None:
                doc["overlay"] = f"result-{d['id']}-overlay.png"
                files[doc["overlay"]] = d["overlay_png"]
            files[f"result-{d['id']}.json"] = json.dumps(doc).encode()
            raw.setdefault("image_analysis", []).append(f"result-{d['id']}.json")
        write_files_atomically(tmp, files)
        audience = "both" if case.state == "signed_out" else "lab"
        out = render_report(CaseFile.model_validate(raw), formats={"json", "html", "pdf", "fhir"},
                            audience=audience, guideline=guideline, base_dir=Path(tmp))
    return report_status(case), out
