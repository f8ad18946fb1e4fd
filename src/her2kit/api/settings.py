"""The service's settings: environment (``HER2KIT_SERVE_*``) or arguments, built by the entry
point (``her2kit serve``, a test) and passed to :func:`her2kit.api.app.create_app`; never
read at import."""

from __future__ import annotations

from pathlib import Path

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

__all__ = ["ServiceSettings"]


class ServiceSettings(BaseSettings):
    """Everything ``create_app`` needs; units in the names."""

    model_config = SettingsConfigDict(env_prefix="HER2KIT_SERVE_", extra="forbid",
                                      frozen=True)

    data_dir: Path = Field(Path("her2kit-data"), description=(
        "Folder of the SQLite database (unless database_url) and the uploaded files."))
    database_url: str | None = Field(None, description=(
        "sqlite:///PATH or postgresql+psycopg://USER@HOST:PORT/DB; default: SQLite in "
        "data_dir."))
    scheduler: str | None = Field(None, description=(
        "Dask scheduler (tcp://HOST:PORT) for analysis jobs; default: local processes."))
    job_workers: int = Field(1, ge=0, description=(
        "Local worker processes for analysis jobs (0: in the server process, for tests)."))
    max_job_attempts: int = Field(2, ge=1, description=(
        "Times a job is started before a restart marks it failed instead of re-queueing."))
    max_upload_bytes: int = Field(256 * 1024 * 1024, gt=0, description="Largest upload, bytes.")
    max_upload_pixels: int = Field(100_000_000, gt=0, description=(
        "Largest image an upload may decode to (width x height x planes), checked from the "
        "header before any decoding."))
    session_ttl_s: int = Field(8 * 3600, gt=0, description="Login session lifetime, s.")
    token_ttl_s: int = Field(90 * 24 * 3600, gt=0, description=(
        "Longest API token lifetime, s (a token may ask for less)."))
    auth_cache_s: float = Field(2.0, ge=0, description=(
        "Seconds a checked token or session is trusted without asking the database again "
        "(a revoked one keeps working for at most this long)."))
    cookie_secure: bool = Field(False, description=(
        "Mark cookies Secure (behind HTTPS); off for the default 127.0.0.1."))
    recover_on_start: bool = Field(True, description=(
        "At start-up, re-queue or fail jobs left running and remove unfinished uploads "
        "(the `serve` command does it once before starting several HTTP workers)."))
    lab_file: Path | None = Field(None, description=(
        "Lab settings JSON (name, address, CLIA) printed on every report."))
    guideline: str = Field("asco-cap-2018", description="Rule set of reports and classify.")

    @property
    def url(self) -> str:
        """The database URL in use."""
        from her2kit.store.db import sqlite_url

        return self.database_url or sqlite_url(self.data_dir)

    @property
    def blob_dir(self) -> Path:
        return self.data_dir / "blobs"
