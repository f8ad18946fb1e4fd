"""A restart after a kill: interrupted jobs re-queued or failed, unacknowledged files removed."""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import insert, select


def _setup(url, tmp_path):
    from her2kit.io.blobs import BlobStore
    from her2kit.store.db import Database, make_engine, migrate
    from her2kit.store.schema import cases, jobs, tests, uploads, users

    db = Database(make_engine(url))
    migrate(db.engine)
    now = datetime.now(UTC)
    with db.write() as s:
        s.execute(insert(users).values(id=1, username="u", display_name="u", role="admin",
                                       password_hash="x", active=True, created_at=now))
        s.execute(insert(cases).values(id=1, accession="A", facts={}, state="open", revision=0,
                                       version=1, created_by=1, created_at=now))
        s.execute(insert(tests).values(id=1, case_id=1, kind="ihc", review_state="pending",
                                       created_at=now))
        s.execute(insert(uploads).values(id=1, case_id=1, sha256="a" * 64,
                                         media_type="image/png", size_bytes=1, width_px=1,
                                         height_px=1, original_name="x", created_by=1,
                                         created_at=now))
        for jid, status, attempts in ((1, "running", 1), (2, "running", 2), (3, "queued", 0),
                                      (4, "done", 1)):
            s.execute(insert(jobs).values(id=jid, case_id=1, test_id=1, kind="score-ihc",
                                          params={}, upload_ids=[1], status=status,
                                          progress=0.0, attempts=attempts, created_by=1,
                                          created_at=now))
    blobs = BlobStore(tmp_path / "blobs")
    for sha in ("a" * 64, "b" * 64):
        p = blobs.path_of(sha, "image/png")
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_bytes(b"x")
    blobs.incoming.mkdir(parents=True, exist_ok=True)
    (blobs.incoming / "123-dead.part").write_bytes(b"half")
    return db, blobs


def test_recover(database_url, tmp_path):
    from her2kit.store.audit import verify_rows
    from her2kit.store.recovery import recover
    from her2kit.store.schema import audit_events, jobs

    db, blobs = _setup(database_url, tmp_path)
    with db.write() as s:
        counts = recover(s, blobs, max_attempts=2)
    assert counts == {"jobs_requeued": 1, "jobs_failed": 1, "temporary_files_removed": 1,
                      "orphan_files_removed": 1}
    with db.read() as s:
        rows = {r.id: r for r in s.execute(select(jobs)).all()}
        events = [r._asdict() for r in s.execute(select(audit_events).order_by(
            audit_events.c.id)).all()]
    assert rows[1].status == "queued" and "queued again" in rows[1].error
    assert rows[2].status == "failed" and "stopped during this job 2 time(s)" in rows[2].error
    assert (rows[3].status, rows[4].status) == ("queued", "done")
    assert [p.name[:1] for p in blobs.stored()] == ["a"]
    assert list(blobs.incoming.iterdir()) == []
    assert verify_rows(events) == (2, None)
    db.engine.dispose()
