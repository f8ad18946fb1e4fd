"""The one error shape, pinned: {"error": {"code": str, "message": str}} and nothing else."""

from __future__ import annotations

import pytest


def assert_error(r, status: int, code: str, words: str = "") -> None:
    assert r.status_code == status, r.text
    body = r.json()
    assert set(body) == {"error"}
    assert set(body["error"]) == {"code", "message"}
    assert body["error"]["code"] == code
    assert isinstance(body["error"]["message"], str) and body["error"]["message"]
    assert words in body["error"]["message"]


def test_unknown_route_is_404(lab):
    assert_error(lab.client.get("/api/no-such-thing", headers=lab.h("tech")), 404,
                 "not_found", "/api/no-such-thing")


def test_wrong_method_is_405(lab):
    assert_error(lab.client.put("/api/health"), 405, "method_not_allowed", "PUT")


def test_validation_names_the_field(lab):
    r = lab.client.post("/api/cases", headers=lab.h("tech"),
                        json={"accession": "X", "facts": {"specimen": {"type": "banana"}}})
    assert_error(r, 422, "invalid", "body.facts.specimen.type")
    r = lab.client.post("/api/cases", headers=lab.h("tech"), json={"facts": {}})
    assert_error(r, 422, "invalid", "body.accession")


def test_bad_json_is_422(lab):
    r = lab.client.post("/api/cases", headers=lab.h("tech") | {
        "Content-Type": "application/json"}, content=b"{not json")
    assert_error(r, 422, "invalid")


def test_missing_case_is_404(lab):
    assert_error(lab.client.get("/api/cases/999", headers=lab.h("tech")), 404, "not_found",
                 "no case 999")


def test_unexpected_error_is_500_without_internals(lab, monkeypatch):
    import her2kit.api.routes.classify as mod

    def boom(*a, **k):
        raise RuntimeError("secret internal detail")

    monkeypatch.setattr(mod, "classify", boom)
    r = lab.client.post("/api/classify", headers=lab.h("tech"), json={"ihc": {"score": "1+"}})
    assert_error(r, 500, "internal")
    assert "secret" not in r.text


def test_classify_bad_counts_name_the_field(lab):
    r = lab.client.post("/api/classify", headers=lab.h("tech"),
                        json={"ish": {"probe": "dual", "her2_mean": 5.0}})
    assert r.status_code == 422
    assert r.json()["error"]["message"].startswith("body.")


@pytest.mark.parametrize("case,status,category", [
    ({"ihc": {"score": "3+"}}, "positive", "positive"),
    ({"ihc": {"score": "1+"}}, "negative", "low"),
    ({"ihc": {"score": "0"}}, "negative", "null"),  # README: positive/low/ultralow/null
])
def test_classify(lab, case, status, category):
    r = lab.client.post("/api/classify", headers=lab.h("tech"), json=case)
    assert r.status_code == 200, r.text
    assert (r.json()["her2"]["status"], r.json()["her2"]["category"]) == (status, category)
