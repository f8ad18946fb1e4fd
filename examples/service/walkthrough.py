"""Walk one case through the lab service, as the README (The lab service) describes it.

    python examples/service/walkthrough.py http://127.0.0.1:8000 ADMIN_PASSWORD IMAGE.png OUT/

Needs a running ``her2kit serve`` and its first admin (``her2kit users add admin --role
admin``). The admin creates a technologist and a pathologist; the technologist registers a
case, orders an IHC test, uploads a field image and runs ``score-ihc`` on it; the
pathologist agrees and signs out; the final report (HTML, PDF, FHIR bundle) is saved in
OUT/ and the case's history printed. tests/api/test_walkthrough.py runs this file against a
real server.
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

import httpx


def check(r: httpx.Response) -> dict:
    if r.is_error:
        sys.exit(f"{r.request.method} {r.request.url.path}: {r.status_code} {r.text}")
    return r.json()


def token(api: httpx.Client, username: str, password: str) -> dict:
    """Log in, then make an API token for scripts: the Authorization header."""
    with httpx.Client(base_url=api.base_url) as page:
        login = check(page.post("/api/auth/login",
                                json={"username": username, "password": password}))
        made = check(page.post("/api/auth/tokens", json={"name": "walkthrough"},
                               headers={"X-CSRF-Token": login["csrf_token"]}))
    return {"Authorization": f"Bearer {made['token']}"}


def register_and_analyse(api: httpx.Client, tech: dict, image: Path) -> dict:
    case = check(api.post("/api/cases", headers=tech, json={
        "accession": "S26-00042",
        "facts": {"specimen": {"type": "core biopsy", "site": "left breast",
                               "fixative": "10% NBF", "fixation_time_h": 24,
                               "cold_ischemia_min": 20},
                  "received_on": "2026-11-30"}}))
    case = check(api.post(f"/api/cases/{case['id']}/tests", headers=tech, json={
        "kind": "ihc", "assay": "PATHWAY HER2 (4B5)", "version": case["version"]}))
    upload = check(api.post(f"/api/cases/{case['id']}/uploads", params={"filename": image.name},
                            headers=tech | {"Content-Type": "image/png"},
                            content=image.read_bytes()))
    job = check(api.post(f"/api/cases/{case['id']}/jobs", headers=tech, json={
        "test_id": case["tests"][0]["id"], "kind": "score-ihc",
        "upload_ids": [upload["id"]], "params": {"mpp": 0.5}}))
    while job["status"] in ("queued", "running"):
        time.sleep(0.5)
        job = check(api.get(f"/api/jobs/{job['id']}", headers=tech))
    if job["status"] != "done":
        sys.exit(f"job {job['id']} {job['status']}: {job['error']}")
    result = check(api.get(f"/api/results/{job['result_id']}", headers=tech))
    print(f"case {case['accession']}: score-ihc gives IHC {result['document']['ihc']['score']}")
    return check(api.get(f"/api/cases/{case['id']}", headers=tech))


def main(base_url: str, admin_password: str, image: str, out: str) -> None:
    out_dir = Path(out)
    out_dir.mkdir(parents=True, exist_ok=True)
    with httpx.Client(base_url=base_url, timeout=120) as api:
        admin = token(api, "admin", admin_password)
        for name, role, display in (("tess", "technologist", "Tess Tech"),
                                    ("paula", "pathologist", "Dr Paula Path")):
            check(api.post("/api/users", headers=admin, json={
                "username": name, "password": f"{name}-secret-pw", "role": role,
                "display_name": display}))
        tech = token(api, "tess", "tess-secret-pw")
        path = token(api, "paula", "paula-secret-pw")
        case = register_and_analyse(api, tech, Path(image))
        case = check(api.post(f"/api/cases/{case['id']}/tests/{case['tests'][0]['id']}/review",
                              headers=path, json={"decision": "agree",
                                                  "version": case["version"]}))
        case = check(api.post(f"/api/cases/{case['id']}/sign-out", headers=path,
                              json={"version": case["version"]}))
        report = check(api.post(f"/api/cases/{case['id']}/reports", headers=tech))
        print(f"report {report['id']}: {report['status']}")
        for f in report["files"]:
            (out_dir / f["name"]).write_bytes(api.get(f["url"], headers=tech).content)
            print(f"  saved {out_dir / f['name']}")
        for event in check(api.get(f"/api/cases/{case['id']}/history", headers=tech)):
            print(f"  {event['at'][:19]} {event['actor']:>6} {event['action']}")


if __name__ == "__main__":
    main(*sys.argv[1:5])
