"""What a restart does with work a killed server left behind. The database is the truth:

- a job still ``running`` was interrupted: it goes back to ``queued`` (started again), or
  to ``failed`` with the reason once it has been started ``max_attempts`` times;
- a file still being received (``blobs/.incoming``) is deleted: its upload was never
  acknowledged;
- a stored file that no upload row names (the server died between storing the file and
  committing its row) is deleted: that upload was never acknowledged either.

Run once, before the server takes requests (several HTTP workers: once, before they start).
"""

from __future__ import annotations

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from her2kit.io.blobs import BlobStore
from her2kit.store import audit
from her2kit.store.people import now
from her2kit.store.schema import jobs, uploads

__all__ = ["recover"]


def _requeue_jobs(session: Session, max_attempts: int) -> tuple[int, int]:
    requeued = failed = 0
    for job in session.execute(select(jobs.c.id, jobs.c.attempts, jobs.c.case_id)
                               .where(jobs.c.status == "running")).all():
        if job.attempts >= max_attempts:
            reason = (f"the server stopped during this job {job.attempts} time(s); not "
                      "started again")
            values = {"status": "failed", "error": reason, "finished_at": now()}
            failed += 1
        else:
            reason = "the server stopped during this job; queued again"
            values = {"status": "queued", "error": reason, "progress": 0.0}
            requeued += 1
        session.execute(update(jobs).where(jobs.c.id == job.id).values(**values))
        audit.append(session, actor="system", action="job.recover", entity="job",
                     entity_id=job.id, case_id=job.case_id, old={"status": "running"},
                     new={"status": values["status"]}, reason=reason)
    return requeued, failed


def recover(session: Session, blobs: BlobStore, *, max_attempts: int) -> dict[str, int]:
    """Re-queue or fail interrupted jobs and remove unacknowledged files; the counts."""
    requeued, failed = _requeue_jobs(session, max_attempts)
    temporaries = blobs.remove_temporaries()
    known = {r.sha256 for r in session.execute(select(uploads.c.sha256)).all()}
    orphans = 0
    for path in list(blobs.stored()):
        if path.name.split(".")[0] not in known:
            path.unlink(missing_ok=True)
            orphans += 1
    return {"jobs_requeued": requeued, "jobs_failed": failed,
            "temporary_files_removed": temporaries, "orphan_files_removed": orphans}
