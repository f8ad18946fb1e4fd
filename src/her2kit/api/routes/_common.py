"""What the case routes share: loading a case, the frozen-state rule and optimistic locking."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from her2kit.api.errors import ApiError
from her2kit.store.schema import cases

__all__ = ["bump_version", "load_case", "require_open"]


def load_case(session: Session, case_id: int) -> Any:
    row = session.execute(select(cases).where(cases.c.id == case_id)).first()
    if row is None:
        raise ApiError(404, "not_found", f"no case {case_id}")
    return row


def require_open(case) -> None:
    """A signed-out case changes only through an amendment (409 otherwise)."""
    if case.state == "signed_out":
        raise ApiError(409, "signed_out", f"case {case.id} is signed out; nothing changes "
                       "except through an amendment (POST /api/cases/{id}/amendments)")


def bump_version(session: Session, case_id: int, read_version: int, **values) -> int:
    """``UPDATE cases SET version = version + 1 ... WHERE version = read_version``; 409 when
    another change came first (nothing is lost: the caller re-reads and retries)."""
    changed = session.execute(update(cases).where(
        cases.c.id == case_id, cases.c.version == read_version).values(
        version=cases.c.version + 1, **values)).rowcount
    if not changed:
        current = session.execute(select(cases.c.version).where(cases.c.id == case_id)).scalar()
        raise ApiError(409, "version_conflict",
                       f"case {case_id} changed since version {read_version} (now {current}); "
                       "reload it and try again")
    return read_version + 1
