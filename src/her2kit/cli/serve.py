"""``her2kit serve`` (the lab service), ``her2kit users add`` and ``her2kit audit verify``."""

from __future__ import annotations

import contextlib
import os
import signal
import sys
from pathlib import Path
from typing import Annotated

import typer

from her2kit.cli.options import require_extra
from her2kit.errors import Her2kitInputError, ServiceUnavailableError

__all__ = ["audit_app", "serve", "users_app"]

DataDirOption = Annotated[Path, typer.Option(
    "--data-dir", help="Folder of the SQLite database and the uploaded files.")]
DatabaseOption = Annotated[str | None, typer.Option(
    "--database-url", help="postgresql+psycopg://USER@HOST:PORT/DB (default: SQLite in "
                           "--data-dir).")]


def _settings(**given):
    require_extra("service", "fastapi", "uvicorn", "sqlalchemy", "alembic", "pwdlib")
    from pydantic import ValidationError

    from her2kit.api.settings import ServiceSettings

    try:  # the environment (HER2KIT_SERVE_*) fills what the command line does not give
        return ServiceSettings(**{k: v for k, v in given.items() if v is not None})
    except ValidationError as exc:
        from her2kit.io.jsonio import validation_error_line

        raise Her2kitInputError(validation_error_line(exc)) from None


def _open_db(settings):
    """The migrated database, or ServiceUnavailableError (exit 3) when it cannot be reached."""
    from sqlalchemy.exc import OperationalError

    from her2kit.store.db import Database, make_engine, migrate

    settings.data_dir.mkdir(parents=True, exist_ok=True)
    db = Database(make_engine(settings.url))
    try:
        migrate(db.engine)
    except OperationalError as exc:
        line = " ".join(str(exc.orig).split())[:300]
        raise ServiceUnavailableError(f"cannot reach the database: {line}") from None
    return db


def _recover_once(settings) -> None:
    from her2kit.io.blobs import BlobStore
    from her2kit.store.recovery import recover

    db = _open_db(settings)
    with db.write() as session:
        counts = recover(session, BlobStore(settings.blob_dir),
                         max_attempts=settings.max_job_attempts)
    db.engine.dispose()
    typer.echo("recovery: " + ", ".join(f"{k} {v}" for k, v in counts.items()), err=True)


def serve(
    host: Annotated[str, typer.Option(help="Address to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="TCP port.")] = 8000,
    data_dir: DataDirOption = Path("her2kit-data"),
    database_url: DatabaseOption = None,
    scheduler: Annotated[str | None, typer.Option(
        help="Dask scheduler tcp://HOST:PORT for analysis jobs (default: local processes).")]
    = None,
    job_workers: Annotated[int | None, typer.Option(
        help="Local analysis worker processes (default 1).")] = None,
    http_workers: Annotated[int, typer.Option(
        help="HTTP worker processes (uvicorn); more serve more requests per second.")] = 1,
) -> None:
    """Run the lab service (API under /api, OpenAPI at /api/openapi.json)."""
    if not 1 <= port <= 65535:
        raise Her2kitInputError(f"expected a TCP port 1-65535, got {port}", field="--port")
    if http_workers < 1:
        raise Her2kitInputError(f"expected >= 1, got {http_workers}", field="--http-workers")
    settings = _settings(data_dir=data_dir, database_url=database_url, scheduler=scheduler,
                         job_workers=job_workers)
    _recover_once(settings)
    settings = settings.model_copy(update={"recover_on_start": False})
    typer.echo(f"her2kit serve: http://{host}:{port}/api (database: "
               f"{settings.url.split('://')[0]}, data: {settings.data_dir})", err=True)
    with _stop_is_normal():
        _run_uvicorn(settings, host=host, port=port, http_workers=http_workers)
    typer.echo("her2kit serve: stopped", err=True)


@contextlib.contextmanager
def _stop_is_normal():
    """SIGINT/SIGTERM end the server normally (exit 0): uvicorn shuts down gracefully, then
    raises the signal again with the handler it found, which here does nothing."""
    previous = {sig: signal.signal(sig, lambda *_: None)
                for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        yield
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)


def _run_uvicorn(settings, *, host: str, port: int, http_workers: int) -> None:
    import uvicorn

    if http_workers == 1:
        from her2kit.api.app import create_app

        uvicorn.run(create_app(settings), host=host, port=port, log_level="warning")
        return
    # Several workers each build their app from these settings (app_from_environment).
    for name, value in settings.model_dump(mode="json").items():
        if value is not None:
            os.environ[f"HER2KIT_SERVE_{name.upper()}"] = str(value)
    uvicorn.run("her2kit.api.app:app_from_environment", factory=True, host=host, port=port,
                workers=http_workers, log_level="warning")


users_app = typer.Typer(help="Manage users of the lab service.", no_args_is_help=True)
audit_app = typer.Typer(help="Check the lab service's audit trail.", no_args_is_help=True)


def _read_password(password_file: str | None) -> str:
    if password_file == "-" or (password_file is None and not sys.stdin.isatty()):
        text = sys.stdin.readline()
    elif password_file is not None:
        from her2kit.io.jsonio import read_limited_text

        lines = read_limited_text(password_file, max_bytes=4096)[0].splitlines()
        text = lines[0] if lines else ""
    else:
        text = typer.prompt("Password", hide_input=True, confirmation_prompt=True)
    return text.rstrip("\r\n")


@users_app.command("add")
def users_add(
    name: Annotated[str, typer.Argument(metavar="NAME", help="User name (log-in name).")],
    role: Annotated[str, typer.Option(help="technologist, pathologist or admin.")],
    display_name: Annotated[str | None, typer.Option(
        help="Name printed on reports (default: NAME).")] = None,
    password_file: Annotated[str | None, typer.Option(
        help="File whose first line is the password, or - for standard input (default: "
             "prompt; standard input when it is not a terminal).")] = None,
    data_dir: DataDirOption = Path("her2kit-data"),
    database_url: DatabaseOption = None,
) -> None:
    """Create a user (the first admin, for example)."""
    from her2kit.store.people import add_user

    settings = _settings(data_dir=data_dir, database_url=database_url)
    password = _read_password(password_file)
    db = _open_db(settings)
    with db.write() as session:
        p = add_user(session, username=name, password=password, role=role,
                     display_name=display_name, actor="cli")
    typer.echo(f"user {p.username} ({p.role}) created, id {p.id}")


@audit_app.command("verify")
def audit_verify(data_dir: DataDirOption = Path("her2kit-data"),
                 database_url: DatabaseOption = None) -> None:
    """Check the audit chain; name the first broken row (exit 1)."""
    from sqlalchemy import select

    from her2kit.store.audit import verify_rows
    from her2kit.store.schema import audit_events

    settings = _settings(data_dir=data_dir, database_url=database_url)
    if settings.database_url is None and not (data_dir / "her2kit.sqlite3").is_file():
        raise Her2kitInputError(f"no her2kit database in {data_dir}", field="--data-dir")
    db = _open_db(settings)
    with db.read() as session:
        rows = (r._asdict() for r in session.execute(
            select(audit_events).order_by(audit_events.c.id)))
        n, broken = verify_rows(rows)
    if broken is not None:
        print(f"her2kit: error: audit chain broken at row {broken.row_id}: {broken.problem} "
              f"({n} rows read)", file=sys.stderr)
        raise typer.Exit(1)
    typer.echo(f"audit chain intact: {n} rows")
