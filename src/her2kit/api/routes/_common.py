"""What the case routes share: loading a case, the frozen-state rule and optimistic locking."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from her2kit.api.errors import ApiError
from her2kit.store.schema import cases

__all__ = ["bump_version", "load_case", "load_row", "require_open"]


def load_row(session: Session, table, row_id: int, what: str) -> Any:
    """The row of ``table`` with id ``row_id``; 404 ``no <what> <row_id>`` when none."""
    row = session.execute(select(table).where(table.c.id == row_id)).first()
    if row is None:
        raise ApiError(404, "not_found", f"no {what} {row_id}")
    return row


def load_case(session: Session, case_id: int) -> Any:
    return load_row(session, cases, case_id, "case")


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
