"""Analysis jobs on a Dask cluster (``--scheduler``) instead of local processes."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest

_spec = importlib.util.spec_from_file_location("svc_helpers", Path(__file__).with_name(
    "helpers.py"))
h = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(h)


@pytest.fixture(scope="module")
def cluster():
    distributed = pytest.importorskip("distributed")
    with distributed.LocalCluster(n_workers=1, processes=False, threads_per_worker=1,
                                  dashboard_address=None) as c:
        yield c


@pytest.fixture
def database_url(tmp_path) -> str:
    return f"sqlite:///{tmp_path / 'her2kit.sqlite3'}"


@pytest.fixture
def lab_settings(cluster) -> dict:
    return {"scheduler": cluster.scheduler_address}


def test_score_ihc_job_on_dask(lab, ihc_png):
    from her2kit.pipelines.runner import ExecutorInfo

    assert lab.svc.jobs.executor.info == ExecutorInfo("dask", 1, lab.svc.settings.scheduler)
    c = h.add_test(lab, h.case(lab), "ihc")
    up = h.upload(lab, c, ihc_png).json()
    r = lab.client.post(f"/api/cases/{c['id']}/jobs", headers=lab.h("tech"), json={
        "test_id": c["tests"][0]["id"], "kind": "score-ihc", "upload_ids": [up["id"]],
        "params": {"mpp": 0.5}})
    job = h.wait_job(lab, r.json()["id"])
    assert job["status"] == "done", job
