"""Analysis jobs: the database row is the truth, the executor does the work.

A job is committed ``queued``; :meth:`JobRunner.submit` claims it (``UPDATE ... WHERE status
= 'queued'``, so two servers cannot both start it), marks it ``running`` and hands
:func:`her2kit.api.analysis.run_job` to the executor (local processes or Dask). When the
future completes, its result row and the job's ``done`` are written in one transaction,
or the job is ``failed`` with the error's one line. A server killed in between leaves the
job ``running``; :func:`her2kit.store.recovery.recover` re-queues or fails it at start-up.
No queue of its own: the executor's, and the table.
"""

from __future__ import annotations

import logging
import threading
from concurrent.futures import Executor, Future
from typing import Any

from sqlalchemy import insert, select, update

from her2kit.api.analysis import run_job
from her2kit.errors import Her2kitError
from her2kit.store import audit
from her2kit.store.people import now
from her2kit.store.schema import cases, jobs, results, tests, uploads

__all__ = ["JobRunner"]

log = logging.getLogger(__name__)


class JobRunner:
    """Starts queued jobs on an executor and records how they end."""

    def __init__(self, service, executor: Executor) -> None:
        self.service, self.executor = service, executor
        self._stopping = threading.Event()

    def start_queued(self) -> int:
        """Submit every queued job (start-up); returns how many were started."""
        with self.service.db.read() as session:
            ids = [r.id for r in session.execute(select(jobs.c.id).where(
                jobs.c.status == "queued").order_by(jobs.c.id)).all()]
        return sum(self.submit(i) for i in ids)

    def _claim(self, job_id: int) -> tuple[dict, list[str]] | None:
        with self.service.db.write() as session:
            claimed = session.execute(update(jobs).where(
                jobs.c.id == job_id, jobs.c.status == "queued").values(
                status="running", attempts=jobs.c.attempts + 1, started_at=now(),
                progress=0.0)).rowcount
            if not claimed:
                return None
            job = session.execute(select(jobs).where(jobs.c.id == job_id)).one()._asdict()
            rows = {r.id: r for r in session.execute(select(uploads).where(
                uploads.c.id.in_(job["upload_ids"]))).all()}
        paths = [str(self.service.blobs.path_of(rows[i].sha256, rows[i].media_type))
                 for i in job["upload_ids"]]
        return job, paths

    def submit(self, job_id: int) -> bool:
        """Claim a queued job and start it; False if another took it (or it is not queued)."""
        if self._stopping.is_set():
            return False
        claimed = self._claim(job_id)
        if claimed is None:
            return False
        job, paths = claimed
        try:
            future = self.executor.submit(run_job, job["kind"], paths, job["params"])
        except RuntimeError as exc:  # the executor is shutting down
            self._fail(job_id, f"could not start: {exc}")
            return False
        future.add_done_callback(lambda f: self._finished(job, f))
        return True

    def _finished(self, job: dict, future: Future) -> None:
        if future.cancelled():
            return  # shutting down: the row stays 'running', recovery re-queues it
        exc = future.exception()
        try:
            if exc is not None:
                message = str(exc) if isinstance(exc, Her2kitError) else (
                    f"{type(exc).__name__}: {exc}")
                self._fail(job["id"], " ".join(message.split())[:2000])
            else:
                self._store_result(job, future.result())
        except Exception:  # the database is down: the row stays 'running' until restart
            log.exception("could not record the end of job %s", job["id"])

    def _fail(self, job_id: int, message: str) -> None:
        with self.service.db.write() as session:
            case_id = session.execute(update(jobs).where(jobs.c.id == job_id).values(
                status="failed", error=message, finished_at=now()).returning(
                jobs.c.case_id)).scalar()
            audit.append(session, actor="system", action="job.fail", entity="job",
                         entity_id=job_id, case_id=case_id, new={"status": "failed"},
                         reason=message)

    def _store_result(self, job: dict, out: dict[str, Any]) -> None:
        doc = dict(out["document"])
        with self.service.db.write() as session:
            names = {r.id: r.original_name for r in session.execute(select(
                uploads.c.id, uploads.c.original_name).where(
                uploads.c.id.in_(job["upload_ids"]))).all()}
            labels = [names[i] for i in job["upload_ids"]]
            # The document names the uploads, not the server's file paths.
            doc["image"] = labels[0] if len(labels) == 1 else labels
            if "images" in doc:
                doc["images"] = labels
            rid = session.execute(insert(results).values(
                case_id=job["case_id"], test_id=job["test_id"], job_id=job["id"],
                kind=job["kind"], document=doc, overlay_png=out.get("overlay_png"),
                created_at=now())).inserted_primary_key[0]
            session.execute(update(jobs).where(jobs.c.id == job["id"]).values(
                status="done", progress=1.0, error=None, finished_at=now()))
            session.execute(update(tests).where(tests.c.id == job["test_id"]).values(
                review_state="pending"))
            # A new result changes what "agree" accepts: a review from the version before
            # it gets 409, so nobody agrees with a result they have not seen.
            session.execute(update(cases).where(cases.c.id == job["case_id"]).values(
                version=cases.c.version + 1))
            audit.append(session, actor="system", action="result.create", entity="result",
                         entity_id=rid, case_id=job["case_id"],
                         new={"job_id": job["id"], "case_input": doc.get("case_input")})

    def stop(self) -> None:
        self._stopping.set()
