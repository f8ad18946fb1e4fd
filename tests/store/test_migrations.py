"""The Alembic migration creates exactly the tables of store.schema, on both databases."""

from __future__ import annotations

import pytest

pytest.importorskip("alembic")


def test_migration_matches_schema(database_url):
    from alembic.autogenerate import compare_metadata
    from alembic.migration import MigrationContext

    from her2kit.store.db import make_engine, migrate
    from her2kit.store.schema import metadata

    engine = make_engine(database_url)
    migrate(engine)
    migrate(engine)  # idempotent
    with engine.connect() as conn:
        diff = compare_metadata(MigrationContext.configure(conn), metadata)
    engine.dispose()
    assert diff == []


def test_unsupported_database_url_is_one_line():
    from her2kit.errors import Her2kitInputError
    from her2kit.store.db import make_engine

    with pytest.raises(Her2kitInputError, match="--database-url: unsupported database mysql"):
        make_engine("mysql://x@localhost/db")
    with pytest.raises(Her2kitInputError, match="SQLite needs a file"):
        make_engine("sqlite://")


def test_sqlite_is_in_wal_mode(tmp_path):
    from sqlalchemy import text

    from her2kit.store.db import make_engine

    engine = make_engine(f"sqlite:///{tmp_path / 'x.sqlite3'}")
    with engine.connect() as conn:
        assert conn.execute(text("PRAGMA journal_mode")).scalar() == "wal"
    engine.dispose()
