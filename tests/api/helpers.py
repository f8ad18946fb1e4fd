"""Steps of the case workflow, shared by the service tests (imported by path)."""

from __future__ import annotations

import time


def case(lab, accession="S26-0001", facts=None, who="tech") -> dict:
    body = {"accession": accession, "facts": facts or {
        "specimen": {"type": "core biopsy", "site": "left breast", "fixative": "10% NBF",
                     "fixation_time_h": 24, "cold_ischemia_min": 20}}}
    r = lab.client.post("/api/cases", headers=lab.h(who), json=body)
    assert r.status_code == 201, r.text
    return r.json()


def add_test(lab, c, kind, who="tech", **extra) -> dict:
    r = lab.client.post(f"/api/cases/{c['id']}/tests", headers=lab.h(who),
                        json={"kind": kind, "version": c["version"], **extra})
    assert r.status_code == 201, r.text
    return r.json()


def upload(lab, c, data: bytes, media_type="image/png", name="field.png", who="tech"):
    return lab.client.post(f"/api/cases/{c['id']}/uploads", params={"filename": name},
                           headers=lab.h(who) | {"Content-Type": media_type}, content=data)


def wait_job(lab, job_id, who="tech", timeout_s=120.0) -> dict:
    end = time.monotonic() + timeout_s
    while True:
        job = lab.client.get(f"/api/jobs/{job_id}", headers=lab.h(who)).json()
        if job["status"] in ("done", "failed") or time.monotonic() > end:
            return job
        time.sleep(0.2)


def get_case(lab, c, who="tech") -> dict:
    return lab.client.get(f"/api/cases/{c['id']}", headers=lab.h(who)).json()


def analysed_ihc_case(lab, png: bytes, accession="S26-0001") -> tuple[dict, dict]:
    """A case with an IHC test whose score-ihc job is done: (case, job)."""
    c = case(lab, accession)
    c = add_test(lab, c, "ihc", assay="PATHWAY HER2 (4B5)")
    up = upload(lab, c, png)
    assert up.status_code == 201, up.text
    r = lab.client.post(f"/api/cases/{c['id']}/jobs", headers=lab.h("tech"), json={
        "test_id": c["tests"][0]["id"], "kind": "score-ihc", "upload_ids": [up.json()["id"]],
        "params": {"mpp": 0.5}})
    assert r.status_code == 202, r.text
    job = wait_job(lab, r.json()["id"])
    assert job["status"] == "done", job
    return get_case(lab, c), job


def review(lab, c, test_id, who="path", **body):
    return lab.client.post(f"/api/cases/{c['id']}/tests/{test_id}/review", headers=lab.h(who),
                           json={"decision": "agree", "version": c["version"]} | body)


def sign_out(lab, c, who="path"):
    return lab.client.post(f"/api/cases/{c['id']}/sign-out", headers=lab.h(who),
                           json={"version": c["version"]})


def pdf_pages_text(data: bytes) -> list[str]:
    """The text of each page of a PDF (pypdfium2)."""
    import pypdfium2

    doc = pypdfium2.PdfDocument(data)
    try:
        return [doc[i].get_textpage().get_text_range() for i in range(len(doc))]
    finally:
        doc.close()
