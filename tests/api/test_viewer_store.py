"""The viewer over the service's store: an analysed upload's tiles and its cells."""

from __future__ import annotations

import io
import json
from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("fastapi")
pytest.importorskip("openslide")

HELPERS = Path(__file__).with_name("helpers.py")


def _helpers():
    import importlib.util

    spec = importlib.util.spec_from_file_location("service_helpers", HELPERS)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


class _Lab:
    """The shape of the service tests' ``lab`` (tests/api/helpers.py takes it)."""

    def __init__(self, client, app, tokens):
        self.client, self.app, self.tokens = client, app, tokens

    def h(self, who: str) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.tokens[who]}"}


@pytest.fixture
def vlab(tmp_path):
    from fastapi.testclient import TestClient

    from her2kit.api import viewer, web
    from her2kit.api.app import create_app
    from her2kit.api.settings import ServiceSettings
    from her2kit.store.people import add_user, new_api_token

    app = create_app(ServiceSettings(data_dir=tmp_path / "data", job_workers=0),
                     extra_routers=[viewer.router, web.router])
    client = TestClient(app, raise_server_exceptions=False)
    with client:
        tokens = {}
        with app.state.service.db.write() as session:
            for name, role in (("tech", "technologist"), ("path", "pathologist")):
                p = add_user(session, username=name, password=f"{name}-password", role=role,
                             display_name=name)
                tokens[name] = new_api_token(session, p, name="tests", ttl_s=3600)[1]
        yield _Lab(client, app, tokens)
    app.state.service.db.engine.dispose()


def _png(seed=0) -> bytes:
    from her2kit.io.export import png_bytes
    from her2kit.synthetic.ihc import generate_ihc_region

    region = generate_ihc_region(shape_px=(320, 320), pixel_size_um=0.5, target_score="3+",
                                 seed=seed)
    return png_bytes(region.image)


def test_an_analysed_upload_shows_its_cells(vlab):
    from PIL import Image

    h = _helpers()
    c, _job = h.analysed_ihc_case(vlab, _png())
    upload_id = c["uploads"][0]["id"]
    result = vlab.client.get(f"/api/results/{c['results'][0]['id']}",
                             headers=vlab.h("tech")).json()
    counts = result["document"]["evidence"]["counts"]
    info = vlab.client.get(f"/api/viewer/{upload_id}", headers=vlab.h("path")).json()
    assert (info["width"], info["height"], info["pixel_size_um"]) == (320, 320, 0.5)
    overlay = info["overlay"]
    assert overlay["assay"] == "ihc" and overlay["outlines"] is True
    # The cells drawn are the cells the stored result counted, class by class.
    assert {c_["key"]: c_["cells"] for c_ in overlay["classes"]} == counts
    tile = vlab.client.get(f"/api/viewer/{upload_id}/tiles/{info['levels'] - 1}/0_0.jpeg",
                           headers=vlab.h("path"))
    assert tile.status_code == 200
    assert Image.open(io.BytesIO(tile.content)).size == (255, 255)
    cells = vlab.client.get(f"/api/viewer/{upload_id}/cells/0_0", headers=vlab.h("path"))
    assert "no-cache" in cells.headers["cache-control"]  # a new analysis changes the cells
    doc = json.loads(cells.content)
    assert doc["n"] == sum(counts.values()) and len(doc["outline"]) == doc["n"]
    assert np.all(np.array(doc["x"]) < 320)


def test_viewer_needs_a_login_and_a_real_upload(vlab):
    h = _helpers()
    c = h.case(vlab)
    up = h.upload(vlab, c, _png(1)).json()
    assert vlab.client.get(f"/api/viewer/{up['id']}").status_code == 401
    r = vlab.client.get("/api/viewer/999", headers=vlab.h("tech"))
    assert r.status_code == 404 and r.json()["error"]["code"] == "not_found"
    assert vlab.client.get("/api/viewer/..%2Fetc", headers=vlab.h("tech")).status_code == 404
    # Not analysed yet: tiles, no overlay.
    info = vlab.client.get(f"/api/viewer/{up['id']}", headers=vlab.h("tech")).json()
    assert info["overlay"] is None
    assert vlab.client.get(f"/api/viewer/{up['id']}/density",
                           headers=vlab.h("tech")).status_code == 404


def test_the_page_is_served_same_origin(vlab):
    from her2kit.api.web import static_dir

    r = vlab.client.get("/")
    if not (static_dir() / "index.html").is_file():
        assert r.status_code == 503 and "setup_web.sh" in r.text
        return
    assert r.status_code == 200 and "/static/app.js" in r.text
    assert "default-src 'self'" in r.headers["content-security-policy"]
    assert vlab.client.get("/static/app.js").headers["content-type"].startswith(
        "text/javascript")
    assert vlab.client.get("/static/index.py").status_code == 404
    assert vlab.client.get("/static/..%2F__init__.py").status_code == 404


def test_the_page_config_gives_limits_and_known_kits(vlab):
    assert vlab.client.get("/api/web/config").status_code == 401
    cfg = vlab.client.get("/api/web/config", headers=vlab.h("tech")).json()
    assert cfg["max_upload_bytes"] == 256 * 1024 * 1024
    kits = {a["name"]: a for a in cfg["assays"]}
    assert kits["INFORM HER2 Dual ISH"]["job_assay"] == "dual-ish"
    assert kits["PathVysion HER-2 DNA Probe Kit"]["job_assay"] == "fish"
    assert kits["PATHWAY HER2 (4B5)"]["test"] == "ihc"
    assert all(a["test"] in ("ihc", "ish") for a in cfg["assays"])
    # The class colours are her2kit's overlay palette (Okabe-Ito vermillion ... sky blue).
    assert [(c["key"], c["color"]) for c in cfg["ihc_classes"]][::4] == [
        ("complete_intense", "#d55e00"), ("none", "#56b4e9")]
