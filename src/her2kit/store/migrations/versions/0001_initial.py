"""The first schema: users, tokens, sessions, cases, tests, uploads, jobs, results, reviews,
amendments, reports and the append-only audit table.

Revision ID: 0001
"""

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def _when(name, **kw):
    return sa.Column(name, sa.DateTime(timezone=True), **kw)


def _id():
    return sa.Column("id", sa.Integer, primary_key=True)


def _fk(name, table, **kw):
    return sa.Column(name, sa.Integer, sa.ForeignKey(f"{table}.id"), **kw)


def _people() -> None:
    op.create_table(
        "users", _id(),
        sa.Column("username", sa.String(64), nullable=False, unique=True),
        sa.Column("display_name", sa.String(200), nullable=False),
        sa.Column("role", sa.String(20), nullable=False),
        sa.Column("password_hash", sa.String(300), nullable=False),
        sa.Column("active", sa.Boolean, nullable=False),
        _when("created_at", nullable=False))
    op.create_table(
        "api_tokens", _id(), _fk("user_id", "users", nullable=False),
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column("token_hash", sa.String(64), nullable=False, unique=True),
        _when("created_at", nullable=False), _when("expires_at", nullable=False),
        _when("revoked_at"))
    op.create_table(
        "login_sessions", _id(), _fk("user_id", "users", nullable=False),
        sa.Column("token_hash", sa.String(64), nullable=False, unique=True),
        sa.Column("csrf_hash", sa.String(64), nullable=False),
        _when("created_at", nullable=False), _when("expires_at", nullable=False),
        _when("ended_at"))


def _cases() -> None:
    op.create_table(
        "cases", _id(),
        sa.Column("accession", sa.String(64), nullable=False, unique=True),
        sa.Column("facts", sa.JSON, nullable=False),
        sa.Column("state", sa.String(20), nullable=False),
        sa.Column("revision", sa.Integer, nullable=False),
        sa.Column("version", sa.Integer, nullable=False),
        _fk("signed_out_by", "users"), _when("signed_out_at"),
        _fk("created_by", "users", nullable=False), _when("created_at", nullable=False))
    op.create_table(
        "tests", _id(), _fk("case_id", "cases", nullable=False, index=True),
        sa.Column("kind", sa.String(10), nullable=False),
        sa.Column("assay", sa.String(200)),
        sa.Column("entered", sa.JSON), sa.Column("final", sa.JSON),
        sa.Column("review_state", sa.String(20), nullable=False),
        _when("created_at", nullable=False))
    op.create_table(
        "uploads", _id(), _fk("case_id", "cases", nullable=False, index=True),
        sa.Column("sha256", sa.String(64), nullable=False),
        sa.Column("media_type", sa.String(40), nullable=False),
        sa.Column("size_bytes", sa.Integer, nullable=False),
        sa.Column("width_px", sa.Integer, nullable=False),
        sa.Column("height_px", sa.Integer, nullable=False),
        sa.Column("original_name", sa.String(255), nullable=False),
        _fk("created_by", "users", nullable=False), _when("created_at", nullable=False))


def _work() -> None:
    op.create_table(
        "jobs", _id(), _fk("case_id", "cases", nullable=False, index=True),
        _fk("test_id", "tests", nullable=False),
        sa.Column("kind", sa.String(20), nullable=False),
        sa.Column("params", sa.JSON, nullable=False),
        sa.Column("upload_ids", sa.JSON, nullable=False),
        sa.Column("status", sa.String(10), nullable=False, index=True),
        sa.Column("progress", sa.Float, nullable=False),
        sa.Column("error", sa.Text),
        sa.Column("attempts", sa.Integer, nullable=False),
        _fk("created_by", "users", nullable=False), _when("created_at", nullable=False),
        _when("started_at"), _when("finished_at"))
    op.create_table(
        "results", _id(), _fk("case_id", "cases", nullable=False, index=True),
        _fk("test_id", "tests", nullable=False),
        _fk("job_id", "jobs", nullable=False, unique=True),
        sa.Column("kind", sa.String(20), nullable=False),
        sa.Column("document", sa.JSON, nullable=False),
        sa.Column("overlay_png", sa.LargeBinary),
        _when("created_at", nullable=False))
    op.create_table(
        "reviews", _id(), _fk("case_id", "cases", nullable=False, index=True),
        _fk("test_id", "tests", nullable=False), _fk("result_id", "results"),
        sa.Column("revision", sa.Integer, nullable=False),
        sa.Column("decision", sa.String(10), nullable=False),
        sa.Column("block", sa.JSON, nullable=False),
        sa.Column("reason", sa.Text),
        _fk("reviewer_id", "users", nullable=False), _when("created_at", nullable=False))


def _sign_out() -> None:
    op.create_table(
        "amendments", _id(), _fk("case_id", "cases", nullable=False, index=True),
        sa.Column("revision", sa.Integer, nullable=False),
        sa.Column("replaces_revision", sa.Integer, nullable=False),
        sa.Column("reason", sa.Text, nullable=False),
        _fk("created_by", "users", nullable=False), _when("created_at", nullable=False),
        sa.UniqueConstraint("case_id", "revision", name="uq_amendments_case_revision"))
    op.create_table(
        "reports", _id(), _fk("case_id", "cases", nullable=False, index=True),
        sa.Column("revision", sa.Integer, nullable=False),
        sa.Column("status", sa.String(12), nullable=False),
        _fk("created_by", "users", nullable=False), _when("created_at", nullable=False))
    op.create_table(
        "report_files", _id(), _fk("report_id", "reports", nullable=False, index=True),
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column("media_type", sa.String(60), nullable=False),
        sa.Column("content", sa.LargeBinary, nullable=False),
        sa.UniqueConstraint("report_id", "name", name="uq_report_files_report_name"))


_PG_APPEND_ONLY = """
CREATE FUNCTION audit_events_append_only() RETURNS trigger AS $$
BEGIN RAISE EXCEPTION 'audit_events is append-only'; END $$ LANGUAGE plpgsql;
CREATE TRIGGER audit_events_no_update BEFORE UPDATE OR DELETE ON audit_events
FOR EACH ROW EXECUTE FUNCTION audit_events_append_only();
"""


def _audit() -> None:
    op.create_table(
        "audit_events", _id(),
        sa.Column("at", sa.String(40), nullable=False),
        sa.Column("actor", sa.String(64), nullable=False),
        sa.Column("action", sa.String(40), nullable=False),
        sa.Column("entity", sa.String(20), nullable=False),
        sa.Column("entity_id", sa.Integer),
        sa.Column("case_id", sa.Integer, index=True),
        sa.Column("old", sa.Text, nullable=False),
        sa.Column("new", sa.Text, nullable=False),
        sa.Column("reason", sa.Text),
        sa.Column("prev_hash", sa.String(64), nullable=False),
        sa.Column("hash", sa.String(64), nullable=False))
    # Append-only in the database itself, not only in the code: an UPDATE or DELETE fails.
    if op.get_bind().dialect.name == "postgresql":
        op.execute(_PG_APPEND_ONLY)
    else:
        for verb in ("UPDATE", "DELETE"):
            op.execute(f"CREATE TRIGGER audit_events_no_{verb.lower()} BEFORE {verb} ON "
                       "audit_events BEGIN SELECT RAISE(ABORT, 'audit_events is "
                       "append-only'); END")


def upgrade() -> None:
    _people()
    _cases()
    _work()
    _sign_out()
    _audit()


def downgrade() -> None:
    raise NotImplementedError("the first schema is not downgraded: the audit trail would go")
