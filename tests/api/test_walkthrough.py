"""The README walkthrough (The lab service; examples/service/walkthrough.py) against a
real `her2kit serve` on a free port: users, case, upload, analysis, review, sign-out, final
report and FHIR bundle, history."""

from __future__ import annotations

import importlib.util
import json
import runpy
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
_spec = importlib.util.spec_from_file_location("serverproc", Path(__file__).with_name(
    "serverproc.py"))
sp = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(sp)


@pytest.mark.parametrize("backend", ["sqlite", "postgresql"])
def test_walkthrough_against_a_real_server(tmp_path, backend, request, capsys):
    url = (request.getfixturevalue("pg_cluster").new_database() if backend == "postgresql"
           else None)
    server = sp.Server(tmp_path / "lab-data", database_url=url)
    pw = tmp_path / "admin-password"
    pw.write_text("admin-secret-pw\n")
    made = sp.her2kit("users", "add", "admin", "--role", "admin", "--password-file", str(pw),
                      *server.args())
    assert made.returncode == 0, made.stderr
    image = tmp_path / "field.png"
    synth = sp.her2kit("synth-ihc", str(image), "--score", "3+", "--size", "320")
    assert synth.returncode == 0, synth.stderr
    server.start()
    try:
        walk = runpy.run_path(str(REPO / "examples" / "service" / "walkthrough.py"))
        walk["main"](server.url, "admin-secret-pw", str(image), str(tmp_path / "out"))
    finally:
        server.stop()
    assert server.proc.returncode == 0  # SIGTERM is the normal way to stop it
    assert "her2kit serve: stopped" in server.log.read_text()
    out = capsys.readouterr().out
    assert "score-ihc gives IHC 3+" in out
    assert "report 1: final" in out
    for action in ("case.create", "test.create", "upload.create", "job.create",
                   "result.create", "review.agree", "case.sign_out", "report.create"):
        assert action in out, action
    html = (tmp_path / "out" / "S26-00042-lab.html").read_text()
    assert "FINAL — signed out by Dr Paula Path on" in html
    assert (tmp_path / "out" / "S26-00042-lab.pdf").read_bytes().startswith(b"%PDF")
    bundle = json.loads((tmp_path / "out" / "S26-00042-fhir.json").read_text())
    dr = next(e["resource"] for e in bundle["entry"]
              if e["resource"]["resourceType"] == "DiagnosticReport")
    assert dr["status"] == "final"
    verify = sp.her2kit("audit", "verify", *server.args())
    assert verify.returncode == 0 and "audit chain intact" in verify.stdout
