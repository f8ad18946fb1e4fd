"""The service under test: an app on a fresh database (SQLite and PostgreSQL), three users
and their API tokens."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import pytest

pytest.importorskip("fastapi")


@dataclass
class Lab:
    client: object
    app: object
    data_dir: Path
    tokens: dict[str, str]

    def h(self, who: str) -> dict[str, str]:
        """Authorization header of user ``who`` (tech, path, path2, admin)."""
        return {"Authorization": f"Bearer {self.tokens[who]}"}

    @property
    def svc(self):
        return self.app.state.service


USERS = (("tech", "technologist", "Tess Tech"), ("path", "pathologist", "Dr Paula Path"),
         ("path2", "pathologist", "Dr Second"), ("admin", "admin", "Ada Admin"))


def make_lab(data_dir: Path, database_url: str, **settings) -> tuple:
    from fastapi.testclient import TestClient

    from her2kit.api.app import create_app
    from her2kit.api.settings import ServiceSettings

    s = ServiceSettings(data_dir=data_dir, database_url=database_url,
                        **({"job_workers": 0} | settings))
    app = create_app(s)
    return app, TestClient(app, raise_server_exceptions=False)


def add_users(app) -> dict[str, str]:
    from her2kit.store.people import add_user, new_api_token

    tokens = {}
    with app.state.service.db.write() as session:
        for name, role, display in USERS:
            p = add_user(session, username=name, password=f"{name}-password", role=role,
                         display_name=display)
            tokens[name] = new_api_token(session, p, name="tests", ttl_s=3600)[1]
    return tokens


@pytest.fixture
def lab_settings() -> dict:
    """Settings of the ``lab`` fixture beyond the defaults (a test module may override)."""
    return {}


@pytest.fixture
def lab(tmp_path, database_url, lab_settings):
    app, client = make_lab(tmp_path / "data", database_url, **lab_settings)
    with client:
        yield Lab(client, app, tmp_path / "data", add_users(app))
    app.state.service.db.engine.dispose()


@pytest.fixture(scope="session")
def ihc_png(tmp_path_factory) -> bytes:
    """A synthetic IHC 3+ region (her2kit synth-ihc), 320 px at 0.5 µm/px, as PNG bytes."""
    from her2kit.io.export import png_bytes
    from her2kit.synthetic.ihc import generate_ihc_region

    region = generate_ihc_region(shape_px=(320, 320), pixel_size_um=0.5, target_score="3+",
                                 seed=0)
    return png_bytes(region.image)
