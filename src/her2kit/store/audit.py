"""The audit trail: an append-only table whose rows are hash-chained.

Each row's ``hash`` is SHA-256 (hex) of the previous row's hash followed by the canonical
JSON of the row itself (every column but ``hash``, keys sorted, no spaces, UTF-8), so a
row changed, removed or inserted afterwards breaks the chain at that row. The first row's
previous hash is 64 zeros. Appends are serialised (SQLite: the writer's ``BEGIN
IMMEDIATE``; PostgreSQL: a table lock held to the end of the transaction) so two
concurrent writers cannot both chain onto the same row.

>>> canonical_json({"b": 1, "a": "é"})
'{"a":"é","b":1}'
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import insert, select, text
from sqlalchemy.orm import Session

from her2kit.store.schema import audit_events

__all__ = ["GENESIS", "AuditBreak", "append", "canonical_json", "row_hash", "verify_rows"]

GENESIS = "0" * 64
_FIELDS = ("id", "at", "actor", "action", "entity", "entity_id", "case_id", "old", "new",
           "reason", "prev_hash")


def canonical_json(value: Any) -> str:
    """The one serialisation that is hashed: sorted keys, no spaces, UTF-8 as is."""
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False,
                      default=str)


def row_hash(row: dict[str, Any]) -> str:
    """SHA-256 (hex) of ``row["prev_hash"]`` + the canonical JSON of the row's fields."""
    body = canonical_json({k: row[k] for k in _FIELDS})
    return hashlib.sha256((row["prev_hash"] + body).encode("utf-8")).hexdigest()


def append(session: Session, *, actor: str, action: str, entity: str,
           entity_id: int | None = None, case_id: int | None = None, old: Any = None,
           new: Any = None, reason: str | None = None) -> int:
    """Append one event in the session's transaction; returns its id.

    ``old`` and ``new`` are JSON-serialisable values (what was, what is now).
    """
    if session.get_bind().dialect.name == "postgresql":
        # Held to the end of this transaction: the next appender reads this row's hash.
        session.execute(text("LOCK TABLE audit_events IN SHARE ROW EXCLUSIVE MODE"))
    last = session.execute(select(audit_events.c.id, audit_events.c.hash)
                           .order_by(audit_events.c.id.desc()).limit(1)).first()
    row = {"id": (last.id + 1) if last else 1,
           "at": datetime.now(UTC).isoformat(timespec="microseconds"),
           "actor": actor, "action": action, "entity": entity, "entity_id": entity_id,
           "case_id": case_id, "old": canonical_json(old), "new": canonical_json(new),
           "reason": reason, "prev_hash": last.hash if last else GENESIS}
    row["hash"] = row_hash(row)
    session.execute(insert(audit_events).values(**row))
    return row["id"]


@dataclass(frozen=True)
class AuditBreak:
    """The first row where the chain does not hold, and why."""

    row_id: int
    problem: str


def verify_rows(rows: Iterable[dict[str, Any]]) -> tuple[int, AuditBreak | None]:
    """Check a chain given in id order: ``(rows checked, first break or None)``."""
    prev, n = GENESIS, 0
    expected_id = 1
    for row in rows:
        n += 1
        if row["id"] != expected_id:
            return n, AuditBreak(row["id"], f"row {expected_id} is missing (next is "
                                            f"{row['id']})")
        if row["prev_hash"] != prev:
            return n, AuditBreak(row["id"], "previous-hash does not match the row before")
        if row_hash(row) != row["hash"]:
            return n, AuditBreak(row["id"], "contents do not match its hash (changed)")
        prev, expected_id = row["hash"], expected_id + 1
    return n, None
