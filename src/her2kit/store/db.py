"""Engines, sessions and migrations: SQLite (WAL) by default, PostgreSQL through psycopg 3.

:func:`make_engine` builds an engine from a URL; :func:`migrate` brings its schema to the
newest Alembic revision; :class:`Database` holds the engine and its two session makers
(reads, and writes that serialise where they must: SQLite's ``BEGIN IMMEDIATE``).
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import Engine, create_engine, event
from sqlalchemy.engine import make_url
from sqlalchemy.orm import Session, sessionmaker

from her2kit.errors import Her2kitInputError

__all__ = ["Database", "make_engine", "migrate", "sqlite_url"]

MIGRATIONS = Path(__file__).with_name("migrations")
#: Seconds a SQLite writer waits for another's lock before the request fails (503).
SQLITE_BUSY_TIMEOUT_S = 30


def sqlite_url(data_dir: Path) -> str:
    """The default database: ``her2kit.sqlite3`` in the data folder."""
    return f"sqlite:///{Path(data_dir).resolve() / 'her2kit.sqlite3'}"


def _sqlite_events(engine: Engine) -> None:
    @event.listens_for(engine, "connect")
    def _connect(dbapi_connection, _record) -> None:
        # Transactions are begun by the "begin" hook below, not by the driver, so that a
        # writer can take the lock at BEGIN (IMMEDIATE) instead of failing at its first
        # write when another wrote since its snapshot.
        dbapi_connection.isolation_level = None
        cur = dbapi_connection.cursor()
        cur.execute("PRAGMA journal_mode=WAL")
        cur.execute("PRAGMA synchronous=NORMAL")
        cur.execute("PRAGMA foreign_keys=ON")
        cur.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT_S * 1000}")
        cur.close()

    @event.listens_for(engine, "begin")
    def _begin(conn) -> None:
        immediate = conn.get_execution_options().get("her2kit_write", False)
        conn.exec_driver_sql("BEGIN IMMEDIATE" if immediate else "BEGIN")


def make_engine(url: str, *, pool_size: int = 10) -> Engine:
    """An engine for ``url`` (``sqlite:///PATH`` or ``postgresql+psycopg://...``).

    Raises
    ------
    Her2kitInputError
        A URL of another database or driver (field ``--database-url``).
    """
    try:
        parsed = make_url(url)
    except Exception:  # SQLAlchemy's ArgumentError for a malformed URL
        raise Her2kitInputError(f"not a database URL: {url!r}", field="--database-url") from None
    backend = parsed.get_backend_name()
    if backend == "sqlite":
        if parsed.database in (None, "", ":memory:"):
            raise Her2kitInputError("SQLite needs a file (sqlite:///PATH)",
                                    field="--database-url")
        engine = create_engine(parsed, pool_size=pool_size, max_overflow=20,
                               connect_args={"check_same_thread": False, "timeout": 30})
        _sqlite_events(engine)
        return engine
    if backend == "postgresql" and parsed.get_driver_name() == "psycopg":
        # pre-ping: a connection that died with the server (a restart) is replaced, so the
        # service recovers by itself when the database is back.
        return create_engine(parsed, pool_size=pool_size, max_overflow=20, pool_pre_ping=True,
                             connect_args={"connect_timeout": 5})
    raise Her2kitInputError(f"unsupported database {backend}+{parsed.get_driver_name()}; use "
                            "sqlite:///PATH or postgresql+psycopg://...", field="--database-url")


def migrate(engine: Engine) -> None:
    """Upgrade the schema to the newest Alembic revision (idempotent)."""
    from alembic import command
    from alembic.config import Config

    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    with engine.begin() as conn:
        cfg.attributes["connection"] = conn
        command.upgrade(cfg, "head")


@dataclass(frozen=True)
class Database:
    """An engine with a session maker for reads and one for writes."""

    engine: Engine

    @property
    def dialect(self) -> str:
        return self.engine.dialect.name

    @contextlib.contextmanager
    def read(self) -> Iterator[Session]:
        """A session for reading (no commit)."""
        with Session(self.engine) as session:
            yield session

    @contextlib.contextmanager
    def write(self) -> Iterator[Session]:
        """A session committed on leaving the block, rolled back on an exception."""
        bind = self.engine.execution_options(her2kit_write=True)
        maker = sessionmaker(bind=bind)
        with maker() as session, session.begin():
            yield session
