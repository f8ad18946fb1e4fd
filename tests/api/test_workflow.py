"""A case from registration to the final report, in process, on SQLite and PostgreSQL."""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path

_spec = importlib.util.spec_from_file_location("svc_helpers", Path(__file__).with_name(
    "helpers.py"))
h = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(h)


def test_health_needs_no_login(lab):
    r = lab.client.get("/api/health")
    assert r.status_code == 200
    assert r.json()["status"] == "ok"


def test_openapi_is_published(lab):
    doc = lab.client.get("/api/openapi.json").json()
    for path in ("/api/cases", "/api/cases/{case_id}/uploads", "/api/jobs/{job_id}",
                 "/api/cases/{case_id}/sign-out", "/api/cases/{case_id}/history",
                 "/api/reports/{report_id}/files/{name}"):
        assert path in doc["paths"], path


def test_ihc_case_to_final_report(lab, ihc_png):
    c, job = h.analysed_ihc_case(lab, ihc_png)
    result = lab.client.get(f"/api/results/{job['result_id']}", headers=lab.h("tech")).json()
    assert result["document"]["kind"] == "score-ihc"
    assert result["document"]["ihc"]["score"] == "3+"  # the synthetic truth
    assert result["document"]["image"] == "field.png"  # a label, not the server's path
    r = h.review(lab, c, c["tests"][0]["id"])
    assert r.status_code == 200, r.text
    c = r.json()
    prelim = lab.client.post(f"/api/cases/{c['id']}/reports", headers=lab.h("tech")).json()
    assert prelim["status"] == "preliminary"
    assert not any("patient" in f["name"] for f in prelim["files"])  # only after sign-out
    r = h.sign_out(lab, c)
    assert r.status_code == 200, r.text
    rep = lab.client.post(f"/api/cases/{c['id']}/reports", headers=lab.h("tech")).json()
    assert rep["status"] == "final"
    files = {f["name"]: lab.client.get(f["url"], headers=lab.h("tech")) for f in rep["files"]}
    html = files["S26-0001-lab.html"].text
    assert "FINAL — signed out by Dr Paula Path on" in html
    assert "PRELIMINARY" not in html
    bundle = json.loads(files["S26-0001-fhir.json"].content)
    dr = next(e["resource"] for e in bundle["entry"]
          if e["resource"]["resourceType"] == "DiagnosticReport")
    assert dr["status"] == "final"
    assert "S26-0001-patient.html" in files
    pages = h.pdf_pages_text(files["S26-0001-lab.pdf"].content)
    assert len(pages) > 1
    for text in pages:  # the status mark on every page, not blank signature lines
        assert "FINAL — signed out by Dr Paula Path on" in text
        assert "PRELIMINARY" not in text and "Pathologist: ____" not in text
    prelim_html = lab.client.get(
        next(f["url"] for f in prelim["files"] if f["name"].endswith("lab.html")),
        headers=lab.h("tech")).text
    assert "PRELIMINARY — NOT FOR CLINICAL USE" in prelim_html
    prelim_pdf = lab.client.get(
        next(f["url"] for f in prelim["files"] if f["name"].endswith("lab.pdf")),
        headers=lab.h("tech")).content
    for text in h.pdf_pages_text(prelim_pdf):
        assert "PRELIMINARY — NOT FOR CLINICAL USE" in text
