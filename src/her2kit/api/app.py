"""The app factory: :func:`create_app` builds a FastAPI app from :class:`ServiceSettings`.

The routers are listed once in :data:`ROUTERS` (module paths, each with a ``router``);
a new one (the web page's viewer, :mod:`her2kit.api.viewer`) is one more entry there, or
passed as ``extra_routers``. Start-up (the lifespan) opens the database, migrates it,
recovers jobs and files left by a previous run (:mod:`her2kit.store.recovery`), opens the
job executor (:func:`her2kit.pipelines.runner.open_executor`) and starts the queued jobs.
"""

from __future__ import annotations

import contextlib
import importlib
import logging
from collections.abc import AsyncIterator, Iterable

from fastapi import APIRouter, FastAPI

from her2kit.api.deps import Service
from her2kit.api.errors import install_error_handlers
from her2kit.api.settings import ServiceSettings

__all__ = ["ROUTERS", "create_app"]

log = logging.getLogger(__name__)

#: Every router of the service, in the order of the OpenAPI document.
ROUTERS: tuple[str, ...] = (
    "her2kit.api.routes.health",
    "her2kit.api.routes.auth",
    "her2kit.api.routes.users",
    "her2kit.api.routes.classify",
    "her2kit.api.routes.cases",
    "her2kit.api.routes.uploads",
    "her2kit.api.routes.jobs",
    "her2kit.api.routes.review",
    "her2kit.api.routes.reports",
    "her2kit.api.routes.audit",
    "her2kit.api.viewer",
    "her2kit.api.web",  # last: it owns / and /static
)


def _open_service(settings: ServiceSettings) -> Service:
    from her2kit.io.blobs import BlobStore
    from her2kit.store.db import Database, make_engine, migrate

    settings.data_dir.mkdir(parents=True, exist_ok=True)
    db = Database(make_engine(settings.url))
    migrate(db.engine)
    return Service(settings=settings, db=db, blobs=BlobStore(settings.blob_dir))


@contextlib.asynccontextmanager
async def _lifespan(app: FastAPI) -> AsyncIterator[None]:
    from her2kit.api.jobs import JobRunner
    from her2kit.pipelines.runner import open_executor
    from her2kit.store.recovery import recover

    settings: ServiceSettings = app.state.settings
    svc = _open_service(settings)
    if settings.recover_on_start:
        with svc.db.write() as session:
            report = recover(session, svc.blobs, max_attempts=settings.max_job_attempts)
        log.info("recovery: %s", report)
    kwargs = ({"scheduler": settings.scheduler} if settings.scheduler
              else {"workers": settings.job_workers})
    with open_executor(**kwargs) as executor:
        svc.jobs = JobRunner(svc, executor)
        app.state.service = svc
        svc.jobs.start_queued()
        try:
            yield
        finally:
            svc.jobs.stop()
            svc.db.engine.dispose()


def create_app(settings: ServiceSettings, *,
               extra_routers: Iterable[APIRouter] = ()) -> FastAPI:
    """The lab service as an ASGI app (start-up work happens when it is served).

    Parameters
    ----------
    settings : ServiceSettings
        Built by the caller (``her2kit serve``, a test); never read here from the
        environment.
    extra_routers : iterable of APIRouter, optional
        Routers added after :data:`ROUTERS` (another module's pages).
    """
    from her2kit import __version__

    app = FastAPI(title="her2kit lab service", version=__version__, lifespan=_lifespan,
                  description="HER2 testing workflow: cases, uploads, analysis, review, "
                              "sign-out, reports, audit. Decision support; a pathologist "
                              "signs out.",
                  openapi_url="/api/openapi.json", docs_url="/api/docs", redoc_url=None)
    app.state.settings = settings
    install_error_handlers(app)
    for name in ROUTERS:
        app.include_router(importlib.import_module(name).router)
    for router in extra_routers:
        app.include_router(router)
    return app


def app_from_environment() -> FastAPI:
    """The app of one of several HTTP workers (``her2kit serve --http-workers N``): the
    settings come from the ``HER2KIT_SERVE_*`` variables the serve command set."""
    return create_app(ServiceSettings())
