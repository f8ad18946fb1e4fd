"""The tables of the lab service (SQLAlchemy Core, one ``MetaData``).

Times are stored as timezone-aware UTC. JSON documents are stored as JSON (``JSON`` is
``jsonb``-free ``json`` on PostgreSQL and text on SQLite). Every mutable case row carries a
``version`` for optimistic locking: a write names the version it read, and an
``UPDATE ... WHERE version = :read`` that changes no row is a conflict (HTTP 409).

The initial Alembic migration (``migrations/versions/0001_initial.py``) creates exactly these
tables; ``tests/store/test_migrations.py`` compares the two.
"""

from __future__ import annotations

from datetime import UTC

from sqlalchemy import (
    JSON,
    Boolean,
    Column,
    DateTime,
    Float,
    ForeignKey,
    Integer,
    LargeBinary,
    MetaData,
    String,
    Table,
    Text,
    TypeDecorator,
    UniqueConstraint,
)

__all__ = [
    "ROLES", "amendments", "api_tokens", "audit_events", "cases", "jobs", "login_sessions",
    "metadata", "report_files", "reports", "results", "reviews", "tests", "uploads", "users",
]

#: The three roles; what each may do is decided in :mod:`her2kit.api.deps`.
ROLES = ("technologist", "pathologist", "admin")

metadata = MetaData()


class UtcDateTime(TypeDecorator):
    """A timezone-aware UTC time on both databases (SQLite stores no zone: UTC is implied)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value, dialect):
        if value is not None and value.tzinfo is None:
            raise ValueError("naive datetime given to a UTC column")
        return value

    def process_result_value(self, value, dialect):
        if value is not None and value.tzinfo is None:
            return value.replace(tzinfo=UTC)
        return value


def _when(name: str, **kw) -> Column:
    return Column(name, UtcDateTime(), **kw)


users = Table(
    "users", metadata,
    Column("id", Integer, primary_key=True),
    Column("username", String(64), nullable=False, unique=True),
    Column("display_name", String(200), nullable=False),
    Column("role", String(20), nullable=False),
    Column("password_hash", String(300), nullable=False),
    Column("active", Boolean, nullable=False, default=True),
    _when("created_at", nullable=False),
)

api_tokens = Table(
    "api_tokens", metadata,
    Column("id", Integer, primary_key=True),
    Column("user_id", Integer, ForeignKey("users.id"), nullable=False),
    Column("name", String(200), nullable=False),
    Column("token_hash", String(64), nullable=False, unique=True),
    _when("created_at", nullable=False),
    _when("expires_at", nullable=False),
    _when("revoked_at"),
)

login_sessions = Table(
    "login_sessions", metadata,
    Column("id", Integer, primary_key=True),
    Column("user_id", Integer, ForeignKey("users.id"), nullable=False),
    Column("token_hash", String(64), nullable=False, unique=True),
    Column("csrf_hash", String(64), nullable=False),
    _when("created_at", nullable=False),
    _when("expires_at", nullable=False),
    _when("ended_at"),
)

cases = Table(
    "cases", metadata,
    Column("id", Integer, primary_key=True),
    Column("accession", String(64), nullable=False, unique=True),
    Column("facts", JSON, nullable=False),  # specimen, received_on, ordering physician, ...
    Column("state", String(20), nullable=False),  # open | signed_out | amending
    Column("revision", Integer, nullable=False, default=0),  # 0 original, n: amendment n
    Column("version", Integer, nullable=False, default=1),
    Column("signed_out_by", Integer, ForeignKey("users.id")),
    _when("signed_out_at"),
    Column("created_by", Integer, ForeignKey("users.id"), nullable=False),
    _when("created_at", nullable=False),
)

tests = Table(
    "tests", metadata,
    Column("id", Integer, primary_key=True),
    Column("case_id", Integer, ForeignKey("cases.id"), nullable=False, index=True),
    Column("kind", String(10), nullable=False),  # ihc | ish | er | pr
    Column("assay", String(200)),  # ish: fish | dual-ish | cish; kit name for the others
    Column("entered", JSON),  # a result typed in (ER/PgR percent, a manual IHC score)
    Column("final", JSON),  # the reviewed block the report classifies
    Column("review_state", String(20), nullable=False),  # pending | agreed | overridden
    _when("created_at", nullable=False),
)

uploads = Table(
    "uploads", metadata,
    Column("id", Integer, primary_key=True),
    Column("case_id", Integer, ForeignKey("cases.id"), nullable=False, index=True),
    Column("sha256", String(64), nullable=False),
    Column("media_type", String(40), nullable=False),
    Column("size_bytes", Integer, nullable=False),
    Column("width_px", Integer, nullable=False),
    Column("height_px", Integer, nullable=False),
    Column("original_name", String(255), nullable=False),  # a label, never a path
    Column("created_by", Integer, ForeignKey("users.id"), nullable=False),
    _when("created_at", nullable=False),
)

jobs = Table(
    "jobs", metadata,
    Column("id", Integer, primary_key=True),
    Column("case_id", Integer, ForeignKey("cases.id"), nullable=False, index=True),
    Column("test_id", Integer, ForeignKey("tests.id"), nullable=False),
    Column("kind", String(20), nullable=False),  # score-ihc | count-ish | score-slide
    Column("params", JSON, nullable=False),
    Column("upload_ids", JSON, nullable=False),
    Column("status", String(10), nullable=False, index=True),  # queued|running|done|failed
    Column("progress", Float, nullable=False, default=0.0),  # 0-1
    Column("error", Text),
    Column("attempts", Integer, nullable=False, default=0),
    Column("created_by", Integer, ForeignKey("users.id"), nullable=False),
    _when("created_at", nullable=False),
    _when("started_at"),
    _when("finished_at"),
)

results = Table(
    "results", metadata,
    Column("id", Integer, primary_key=True),
    Column("case_id", Integer, ForeignKey("cases.id"), nullable=False, index=True),
    Column("test_id", Integer, ForeignKey("tests.id"), nullable=False),
    Column("job_id", Integer, ForeignKey("jobs.id"), nullable=False, unique=True),
    Column("kind", String(20), nullable=False),
    Column("document", JSON, nullable=False),  # the score-ihc / count-ish JSON document
    Column("overlay_png", LargeBinary),
    _when("created_at", nullable=False),
)

reviews = Table(
    "reviews", metadata,
    Column("id", Integer, primary_key=True),
    Column("case_id", Integer, ForeignKey("cases.id"), nullable=False, index=True),
    Column("test_id", Integer, ForeignKey("tests.id"), nullable=False),
    Column("result_id", Integer, ForeignKey("results.id")),
    Column("revision", Integer, nullable=False),
    Column("decision", String(10), nullable=False),  # agree | override
    Column("block", JSON, nullable=False),  # the block the pathologist accepted or set
    Column("reason", Text),
    Column("reviewer_id", Integer, ForeignKey("users.id"), nullable=False),
    _when("created_at", nullable=False),
)

amendments = Table(
    "amendments", metadata,
    Column("id", Integer, primary_key=True),
    Column("case_id", Integer, ForeignKey("cases.id"), nullable=False, index=True),
    Column("revision", Integer, nullable=False),
    Column("replaces_revision", Integer, nullable=False),
    Column("reason", Text, nullable=False),
    Column("created_by", Integer, ForeignKey("users.id"), nullable=False),
    _when("created_at", nullable=False),
    UniqueConstraint("case_id", "revision", name="uq_amendments_case_revision"),
)

reports = Table(
    "reports", metadata,
    Column("id", Integer, primary_key=True),
    Column("case_id", Integer, ForeignKey("cases.id"), nullable=False, index=True),
    Column("revision", Integer, nullable=False),
    Column("status", String(12), nullable=False),  # preliminary | final | amended
    Column("created_by", Integer, ForeignKey("users.id"), nullable=False),
    _when("created_at", nullable=False),
)

report_files = Table(
    "report_files", metadata,
    Column("id", Integer, primary_key=True),
    Column("report_id", Integer, ForeignKey("reports.id"), nullable=False, index=True),
    Column("name", String(200), nullable=False),
    Column("media_type", String(60), nullable=False),
    Column("content", LargeBinary, nullable=False),
    UniqueConstraint("report_id", "name", name="uq_report_files_report_name"),
)

# Append-only (triggers in the migration refuse UPDATE and DELETE); each row's ``hash`` is
# SHA-256 of the previous row's hash and the canonical JSON of this row
# (her2kit.store.audit). Times and values are text so the hash is recomputed byte-exactly.
audit_events = Table(
    "audit_events", metadata,
    Column("id", Integer, primary_key=True),
    Column("at", String(40), nullable=False),
    Column("actor", String(64), nullable=False),
    Column("action", String(40), nullable=False),
    Column("entity", String(20), nullable=False),
    Column("entity_id", Integer),
    Column("case_id", Integer, index=True),
    Column("old", Text, nullable=False),
    Column("new", Text, nullable=False),
    Column("reason", Text),
    Column("prev_hash", String(64), nullable=False),
    Column("hash", String(64), nullable=False),
)
