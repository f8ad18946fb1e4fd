"""Analysis jobs: count-ish on a brightfield dual ISH field, a failing job, refused jobs."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest

_spec = importlib.util.spec_from_file_location("svc_helpers", Path(__file__).with_name(
    "helpers.py"))
h = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(h)


def _start(lab, c, kind, upload_ids, params):
    r = lab.client.post(f"/api/cases/{c['id']}/jobs", headers=lab.h("tech"), json={
        "test_id": c["tests"][-1]["id"], "kind": kind, "upload_ids": upload_ids,
        "params": params})
    assert r.status_code == 202, r.text
    return h.wait_job(lab, r.json()["id"])


@pytest.fixture(scope="module")
def dual_ish_png() -> bytes:
    from her2kit.io.export import png_bytes
    from her2kit.synthetic.ish import generate_brightfield_ish_field

    field = generate_brightfield_ish_field(shape_px=(512, 512), pixel_size_um=0.2,
                                           n_nuclei=40, scenario="amplified", seed=1,
                                           assay="dual-ish")
    return png_bytes(field.image)


def test_count_ish_job(lab, dual_ish_png):
    c = h.add_test(lab, h.case(lab), "ish", assay="INFORM HER2 Dual ISH")
    up = h.upload(lab, c, dual_ish_png).json()
    job = _start(lab, c, "count-ish", [up["id"]], {"assay": "dual-ish", "mpp": 0.2})
    assert job["status"] == "done", job
    doc = lab.client.get(f"/api/results/{job['result_id']}", headers=lab.h("tech")).json()
    assert doc["document"]["kind"] == "count-ish"
    assert doc["document"]["ish"]["group"] == 1  # an amplified field: ISH group 1
    assert lab.client.get(f"/api/results/{job['result_id']}/overlay.png",
                          headers=lab.h("tech")).content.startswith(b"\x89PNG")


@pytest.fixture
def database_url(tmp_path) -> str:  # this module: SQLite (the job path is the same on both)
    return f"sqlite:///{tmp_path / 'her2kit.sqlite3'}"


def test_failing_job_is_failed_with_its_reason(lab, ihc_png):
    c = h.add_test(lab, h.case(lab), "ihc")
    up = h.upload(lab, c, ihc_png).json()
    job = _start(lab, c, "score-ihc", [up["id"]], {})  # a PNG states no pixel size
    assert job["status"] == "failed"
    assert "give --mpp" in job["error"]
    hist = lab.client.get(f"/api/cases/{c['id']}/history", headers=lab.h("tech")).json()
    assert hist[-1]["action"] == "job.fail" and "give --mpp" in hist[-1]["reason"]


def test_job_refuses_mismatched_test_and_foreign_upload(lab, ihc_png):
    c = h.add_test(lab, h.case(lab), "er")
    other = h.case(lab, "OTHER")
    up = h.upload(lab, other, ihc_png).json()
    r = lab.client.post(f"/api/cases/{c['id']}/jobs", headers=lab.h("tech"), json={
        "test_id": c["tests"][0]["id"], "kind": "score-ihc", "upload_ids": [up["id"]]})
    assert r.status_code == 422 and "test" in r.json()["error"]["message"]
    c2 = h.add_test(lab, h.case(lab, "THIRD"), "ihc")
    r = lab.client.post(f"/api/cases/{c2['id']}/jobs", headers=lab.h("tech"), json={
        "test_id": c2["tests"][0]["id"], "kind": "score-ihc", "upload_ids": [up["id"]]})
    assert r.status_code == 404 and "no upload" in r.json()["error"]["message"]
    r = lab.client.post(f"/api/cases/{c2['id']}/jobs", headers=lab.h("tech"), json={
        "test_id": c2["tests"][0]["id"], "kind": "rm -rf", "upload_ids": [up["id"]]})
    assert r.status_code == 422 and "body.kind" in r.json()["error"]["message"]
