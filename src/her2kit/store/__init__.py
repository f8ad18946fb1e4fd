"""The lab service's store: SQLAlchemy tables, Alembic migrations, the audit chain, blobs.

Imports neither :mod:`her2kit.api` nor :mod:`her2kit.cli`. Every function takes the engine or
session it works on; nothing is created at import.

- :mod:`~her2kit.store.schema`: the tables (one ``MetaData``).
- :mod:`~her2kit.store.db`: engines (SQLite in WAL mode, PostgreSQL through psycopg 3),
  sessions and :func:`~her2kit.store.db.migrate` (Alembic, ``migrations/``).
- :mod:`~her2kit.store.audit`: the append-only, hash-chained audit table.
- uploaded files live on disk through :mod:`her2kit.io.blobs` (content-addressed, SHA-256).
- :mod:`~her2kit.store.credentials`: argon2id passwords (pwdlib) and hashed API tokens.
- :mod:`~her2kit.store.recovery`: what a restart does with jobs and files left behind.
"""
