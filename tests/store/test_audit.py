"""The audit chain: hash-chained rows, append-only, tampering named by `her2kit audit verify`."""

from __future__ import annotations

import hashlib
import json

import pytest
from sqlalchemy import select, text

pytest.importorskip("sqlalchemy")


def _db(url):
    from her2kit.store.db import Database, make_engine, migrate

    db = Database(make_engine(url))
    migrate(db.engine)
    return db


def _append(db, n):
    from her2kit.store import audit

    with db.write() as session:
        for i in range(n):
            audit.append(session, actor="tess", action="case.update", entity="case",
                         entity_id=1, case_id=1, old={"v": i}, new={"v": i + 1},
                         reason=f"edit {i}")


def _rows(db):
    from her2kit.store.schema import audit_events

    with db.read() as session:
        return [r._asdict() for r in session.execute(
            select(audit_events).order_by(audit_events.c.id)).all()]


def test_hash_is_sha256_of_previous_hash_and_canonical_row(database_url):
    db = _db(database_url)
    _append(db, 2)
    rows = _rows(db)
    assert rows[0]["prev_hash"] == "0" * 64
    assert rows[1]["prev_hash"] == rows[0]["hash"]
    r = rows[1]
    body = {k: r[k] for k in ("id", "at", "actor", "action", "entity", "entity_id", "case_id",
                              "old", "new", "reason", "prev_hash")}
    # Recomputed here from the documented rule, not with the module's own function.
    expected = hashlib.sha256((r["prev_hash"] + json.dumps(
        body, sort_keys=True, separators=(",", ":"), ensure_ascii=False)).encode()).hexdigest()
    assert r["hash"] == expected
    assert json.loads(r["old"]) == {"v": 1} and json.loads(r["new"]) == {"v": 2}
    db.engine.dispose()


def test_update_and_delete_are_refused_by_the_database(database_url):
    from sqlalchemy.exc import DBAPIError

    db = _db(database_url)
    _append(db, 1)
    for sql in ("UPDATE audit_events SET actor = 'mallory'", "DELETE FROM audit_events"):
        with pytest.raises(DBAPIError, match="append-only"), db.engine.begin() as conn:
            conn.execute(text(sql))
    assert len(_rows(db)) == 1
    db.engine.dispose()


def _drop_guard(db):
    with db.engine.begin() as conn:
        if db.dialect == "postgresql":
            conn.execute(text("DROP TRIGGER audit_events_no_update ON audit_events"))
        else:
            conn.execute(text("DROP TRIGGER audit_events_no_update"))
            conn.execute(text("DROP TRIGGER audit_events_no_delete"))


@pytest.mark.parametrize("tamper,row,problem", [
    ("UPDATE audit_events SET reason = 'nothing to see' WHERE id = 3", 3, "changed"),
    ("DELETE FROM audit_events WHERE id = 2", 3, "row 2 is missing"),
    ("UPDATE audit_events SET actor = 'mallory' WHERE id = 4", 4, "changed"),
])
def test_verify_names_the_first_broken_row(database_url, tmp_path, capsys, tamper, row,
                                           problem):
    from her2kit.cli import main

    db = _db(database_url)
    _append(db, 5)
    main(["audit", "verify", "--database-url", database_url, "--data-dir", str(tmp_path)])
    assert "audit chain intact: 5 rows" in capsys.readouterr().out
    _drop_guard(db)  # an attacker with write access to the database
    with db.engine.begin() as conn:
        conn.execute(text(tamper))
    with pytest.raises(SystemExit) as exc:
        main(["audit", "verify", "--database-url", database_url, "--data-dir", str(tmp_path)])
    assert exc.value.code == 1
    err = capsys.readouterr().err
    assert f"audit chain broken at row {row}" in err and problem in err
    db.engine.dispose()


def test_rewriting_a_row_with_a_fresh_hash_breaks_the_next(database_url):
    """Recomputing the changed row's own hash does not help: the next row points at the old."""
    from her2kit.store.audit import row_hash, verify_rows

    db = _db(database_url)
    _append(db, 3)
    _drop_guard(db)
    rows = _rows(db)
    forged = dict(rows[1], reason="forged")
    forged["hash"] = row_hash(forged)
    with db.engine.begin() as conn:
        conn.execute(text("UPDATE audit_events SET reason = :r, hash = :h WHERE id = 2"),
                     {"r": "forged", "h": forged["hash"]})
    _n, broken = verify_rows(_rows(db))
    assert broken is not None and broken.row_id == 3
    db.engine.dispose()


def test_concurrent_appends_keep_one_chain(database_url):
    import threading

    from her2kit.store.audit import verify_rows

    db = _db(database_url)
    threads = [threading.Thread(target=_append, args=(db, 10)) for _ in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    n, broken = verify_rows(_rows(db))
    assert (n, broken) == (60, None)
    db.engine.dispose()
