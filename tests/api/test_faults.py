"""The fault run of benchmarks/service_load.py, shorter: SIGKILL the server during uploads and
during analysis jobs, restart, and check that nothing acknowledged is lost, no orphan or
partial file is left, every job ends done or failed (none stuck), the audit chain holds."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def bench():
    spec = importlib.util.spec_from_file_location("service_load_bench",
                                                  REPO / "benchmarks" / "service_load.py")
    mod = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = mod  # its dataclasses look their module up
    spec.loader.exec_module(mod)
    yield mod
    sys.modules.pop(spec.name, None)


@pytest.mark.parametrize("backend", ["sqlite", "postgresql"])
def test_kill_during_uploads_and_jobs(tmp_path, backend, request, bench, ihc_png):
    url = (request.getfixturevalue("pg_cluster").new_database() if backend == "postgresql"
           else None)
    server = bench.Server(tmp_path / "data", url)
    h = bench.make_users(server)
    server.start()
    try:
        up = bench.fault_uploads(server, h, threads=4, kill_after_s=1.0)
        jobs = bench.fault_jobs(server, h, ihc_png, jobs=2, timeout_s=240)
    finally:
        server.stop()
    assert up["acknowledged"] > 0
    assert up["lost"].endswith("lost: 0 cases, 0 uploads, 0 files"), up
    assert (up["orphan_files"], up["partial_files"], up["audit_intact"]) == (0, 0, True), up
    assert jobs["stuck"] == 0, jobs
    assert jobs["done"] + jobs["failed_with_reason"] == jobs["jobs"] == 2, jobs
    assert jobs["requeued"] >= 1, jobs  # the job killed while running was started again
    assert jobs["results_for_done"] and jobs["audit_intact"], jobs
