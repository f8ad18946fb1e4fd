"""Review, sign-out, amendment: reasons, optimistic locking, the frozen signed-out case."""

from __future__ import annotations

import importlib.util
import json
import threading
from pathlib import Path

import pytest

_spec = importlib.util.spec_from_file_location("svc_helpers", Path(__file__).with_name(
    "helpers.py"))
h = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(h)

ER = {"percent": 80.0, "intensity": "strong"}


def _er_case(lab, accession="S26-ER"):
    c = h.case(lab, accession)
    return h.add_test(lab, c, "er", assay="CONFIRM anti-ER (SP1)", entered=ER)


def _ihc_entered_case(lab, accession="S26-IHC", score="2+"):
    c = h.case(lab, accession)
    return h.add_test(lab, c, "ihc", entered={"score": score})


def test_override_needs_a_reason(lab):
    c = _ihc_entered_case(lab)
    tid = c["tests"][0]["id"]
    r = h.review(lab, c, tid, decision="override", block={"score": "3+"})
    assert r.status_code == 422 and "body.reason" in r.json()["error"]["message"]
    r = h.review(lab, c, tid, decision="override", reason="no block")
    assert r.status_code == 422 and "body.block" in r.json()["error"]["message"]
    r = h.review(lab, c, tid, decision="override", block={"score": "3+"}, reason="   ")
    assert r.status_code == 422 and "body.reason" in r.json()["error"]["message"]
    r = h.review(lab, c, tid, decision="override", block={"score": "9+"}, reason="typo")
    assert r.status_code == 422 and "body.block" in r.json()["error"]["message"]
    r = h.review(lab, c, tid, decision="override", block={"score": "3+"},
                 reason="complete intense staining in 40% on review")
    assert r.status_code == 200, r.text
    assert r.json()["tests"][0]["final"] == {"score": "3+"}
    assert r.json()["tests"][0]["review_state"] == "overridden"


def test_sign_out_needs_every_test_reviewed(lab):
    c = _er_case(lab)
    c = h.add_test(lab, c, "pr", entered={"percent": 5.0})
    r = h.review(lab, c, c["tests"][0]["id"])
    c = r.json()
    r = h.sign_out(lab, c)
    assert r.status_code == 409 and "is not reviewed" in r.json()["error"]["message"]


def test_stale_version_is_409_and_nothing_lost(lab):
    c = _ihc_entered_case(lab)
    tid = c["tests"][0]["id"]
    first = h.review(lab, c, tid, decision="override", block={"score": "3+"}, reason="A")
    assert first.status_code == 200
    second = h.review(lab, c, tid, who="path2", decision="override", block={"score": "1+"},
                      reason="B")  # from the same version
    assert second.status_code == 409
    assert second.json()["error"]["code"] == "version_conflict"
    now = h.get_case(lab, c)
    assert now["tests"][0]["final"] == {"score": "3+"}
    assert now["version"] == c["version"] + 1


def test_concurrent_reviews_one_wins(lab):
    """Eight pathologist requests from one version at once: exactly one succeeds."""
    c = _ihc_entered_case(lab)
    tid = c["tests"][0]["id"]
    codes: list[int] = []
    barrier = threading.Barrier(8)

    def go(i):
        barrier.wait()
        r = h.review(lab, c, tid, who="path" if i % 2 else "path2", decision="override",
                     block={"score": "3+" if i % 2 else "1+"}, reason=f"reviewer {i}")
        codes.append(r.status_code)

    threads = [threading.Thread(target=go, args=(i,)) for i in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(codes) == [200] + [409] * 7
    hist = lab.client.get(f"/api/cases/{c['id']}/history", headers=lab.h("tech")).json()
    assert sum(e["action"] == "review.override" for e in hist) == 1


def _signed_out(lab):
    c = _er_case(lab)
    c = h.review(lab, c, c["tests"][0]["id"]).json()
    r = h.sign_out(lab, c)
    assert r.status_code == 200, r.text
    return r.json()


def test_signed_out_case_is_frozen(lab):
    c = _signed_out(lab)
    tid = c["tests"][0]["id"]
    v = c["version"]
    attempts = [
        lab.client.post(f"/api/cases/{c['id']}/tests/{tid}/review", headers=lab.h("path"),
                        json={"decision": "override", "block": {"percent": 1.0},
                              "reason": "x", "version": v}),
        lab.client.post(f"/api/cases/{c['id']}/tests", headers=lab.h("tech"),
                        json={"kind": "pr", "version": v}),
        lab.client.patch(f"/api/cases/{c['id']}", headers=lab.h("tech"),
                         json={"facts": {}, "version": v}),
        h.upload(lab, c, b"\x89PNG\r\n\x1a\n" + b"\x00" * 30),
        h.sign_out(lab, c),
    ]
    for r in attempts:
        assert r.status_code == 409, r.text
        assert r.json()["error"]["code"] == "signed_out"
    assert h.get_case(lab, c)["tests"][0]["final"] == ER


def test_amendment_makes_an_amended_report(lab):
    c = _signed_out(lab)
    final = lab.client.post(f"/api/cases/{c['id']}/reports", headers=lab.h("tech")).json()
    assert final["status"] == "final"
    r = lab.client.post(f"/api/cases/{c['id']}/amendments", headers=lab.h("path"),
                        json={"reason": "ER percent mistyped", "version": c["version"]})
    assert r.status_code == 201, r.text
    c = r.json()
    assert (c["state"], c["revision"]) == ("amending", 1)
    assert c["amendments"][0]["replaces_revision"] == 0
    c = h.review(lab, c, c["tests"][0]["id"], decision="override",
                 block={"percent": 8.0, "intensity": "weak"}, reason="recounted").json()
    assert h.sign_out(lab, c).status_code == 200
    rep = lab.client.post(f"/api/cases/{c['id']}/reports", headers=lab.h("tech")).json()
    assert rep["status"] == "amended" and rep["revision"] == 1
    files = {f["name"]: lab.client.get(f["url"], headers=lab.h("tech")) for f in rep["files"]}
    html = files["S26-ER-lab.html"].text
    assert "AMENDED — revision 1, replacing revision 0 (ER percent mistyped)" in html
    for text in h.pdf_pages_text(files["S26-ER-lab.pdf"].content):
        assert "AMENDED — revision 1, replacing revision 0" in text
    bundle = json.loads(files["S26-ER-fhir.json"].content)
    statuses = {e["resource"].get("status") for e in bundle["entry"]
                if e["resource"]["resourceType"] in ("DiagnosticReport", "Observation")}
    assert statuses == {"amended"}
    # the final report of revision 0 is kept as it was
    old = lab.client.get(f"/api/reports/{final['id']}", headers=lab.h("tech")).json()
    assert old["status"] == "final"


def test_amend_needs_a_signed_out_case_and_a_reason(lab):
    c = _er_case(lab)
    r = lab.client.post(f"/api/cases/{c['id']}/amendments", headers=lab.h("path"),
                        json={"reason": "x", "version": c["version"]})
    assert r.status_code == 409
    r = lab.client.post(f"/api/cases/{c['id']}/amendments", headers=lab.h("path"),
                        json={"reason": "", "version": c["version"]})
    assert r.status_code == 422 and "body.reason" in r.json()["error"]["message"]


NASTY = ["'; DROP TABLE cases; --", "\" OR 1=1 --", "<script>alert('x')</script>",
         "<img src=x onerror=alert(1)>", "Robert'); DELETE FROM users;--"]


@pytest.mark.parametrize("nasty", NASTY)
def test_hostile_text_stored_verbatim_and_escaped(lab, nasty):
    from markupsafe import escape

    facts = {"specimen": {"type": "excision", "site": nasty, "block": nasty, "fixative": nasty},
             "ordering_physician": nasty, "patient": {"name": nasty, "mrn": nasty}}
    c = h.case(lab, accession=nasty[:64], facts=facts)
    c = h.add_test(lab, c, "er", assay="CONFIRM anti-ER (SP1)", entered=ER)
    got = h.get_case(lab, c)
    assert got["accession"] == nasty[:64]
    assert got["facts"]["specimen"]["site"] == nasty
    assert got["facts"]["ordering_physician"] == nasty
    assert got["facts"]["patient"]["name"] == nasty
    c = h.review(lab, got, got["tests"][0]["id"], decision="override",
                 block={"percent": 70.0}, reason=nasty).json()
    hist = lab.client.get(f"/api/cases/{c['id']}/history", headers=lab.h("tech")).json()
    assert any(e["reason"] == nasty for e in hist)
    other = h.add_test(lab, h.case(lab, accession="OTHER"), "pr", assay=nasty)
    assert other["tests"][0]["assay"] == nasty
    assert len(lab.client.get("/api/cases", headers=lab.h("tech")).json()) == 2
    rep = lab.client.post(f"/api/cases/{c['id']}/reports", headers=lab.h("tech"))
    assert rep.status_code == 201, rep.text
    for f in rep.json()["files"]:
        if f["name"].endswith(".html"):
            text = lab.client.get(f["url"], headers=lab.h("tech")).text
            assert "<script>alert" not in text and "<img src=x" not in text
            assert str(escape(nasty)) in text


def test_a_new_result_invalidates_an_older_view(lab, ihc_png):
    """A review from the version read before a result arrived is refused (409)."""
    c = h.case(lab, "S26-RACE")
    c = h.add_test(lab, c, "ihc")
    before = c["version"]
    up = h.upload(lab, c, ihc_png).json()
    r = lab.client.post(f"/api/cases/{c['id']}/jobs", headers=lab.h("tech"), json={
        "test_id": c["tests"][0]["id"], "kind": "score-ihc", "upload_ids": [up["id"]],
        "params": {"mpp": 0.5}})
    assert h.wait_job(lab, r.json()["id"])["status"] == "done"
    r = h.review(lab, dict(c, version=before), c["tests"][0]["id"])
    assert r.status_code == 409
    assert h.review(lab, h.get_case(lab, c), c["tests"][0]["id"]).status_code == 200
