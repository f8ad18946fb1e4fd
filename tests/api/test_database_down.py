"""A database that goes away: 503 with a clear message, and the service recovers by itself
when it is back (PostgreSQL: the test stops and restarts the cluster)."""

from __future__ import annotations

import pytest


@pytest.fixture
def database_url(pg_cluster) -> str:  # this module: PostgreSQL only
    return pg_cluster.new_database()


def test_database_down_then_back(lab, pg_cluster):
    assert lab.client.post("/api/cases", headers=lab.h("tech"),
                           json={"accession": "BEFORE"}).status_code == 201
    pg_cluster.stop()
    try:
        for method, path, body in (("get", "/api/health", None),
                                   ("get", "/api/cases", None),
                                   ("post", "/api/cases", {"accession": "DURING"})):
            lab.svc.auth_cache.clear()
            r = getattr(lab.client, method)(path, headers=lab.h("tech"),
                                            **({"json": body} if body else {}))
            assert r.status_code == 503, (path, r.text)
            assert r.json() == {"error": {
                "code": "database_unavailable",
                "message": "the database cannot be reached; the service retries on the "
                           "next request"}}
            assert r.headers["retry-after"] == "5"
    finally:
        pg_cluster.start()
    assert lab.client.get("/api/health").status_code == 200
    r = lab.client.post("/api/cases", headers=lab.h("tech"), json={"accession": "AFTER"})
    assert r.status_code == 201, r.text
    names = [c["accession"] for c in lab.client.get("/api/cases", headers=lab.h("tech")).json()]
    assert sorted(names) == ["AFTER", "BEFORE"]
