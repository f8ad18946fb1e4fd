"""Who may do what: every endpoint but health and login needs a login; roles; tokens; CSRF."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import update

PROTECTED = [("get", "/api/cases"), ("post", "/api/cases"), ("get", "/api/cases/1"),
             ("post", "/api/classify"), ("get", "/api/jobs/1"), ("get", "/api/results/1"),
             ("get", "/api/users"), ("post", "/api/cases/1/uploads"),
             ("get", "/api/cases/1/history"), ("post", "/api/cases/1/sign-out"),
             ("get", "/api/reports/1/files/x.html"), ("get", "/api/auth/me"),
             ("get", "/api/audit/verify")]


def _err(r):
    return r.json()["error"]["code"]


@pytest.mark.parametrize("method,path", PROTECTED)
def test_unauthenticated_is_401(lab, method, path):
    r = getattr(lab.client, method)(path)
    assert r.status_code == 401, (path, r.text)
    assert _err(r) == "not_authenticated"


def test_every_route_but_health_and_login_needs_auth(lab):
    """Walk the OpenAPI document: each operation without credentials is 401."""
    doc = lab.client.get("/api/openapi.json").json()
    open_routes = {("/api/health", "get"), ("/api/auth/login", "post")}
    for path, ops in doc["paths"].items():
        for method in ops:
            if (path, method) in open_routes:
                continue
            url = path.replace("{", "").replace("}", "").replace("_id", "1").replace(
                "name", "x")
            r = lab.client.request(method.upper(), url)
            assert r.status_code == 401, (method, path, r.status_code)


def test_wrong_token_is_401(lab):
    r = lab.client.get("/api/cases", headers={"Authorization": "Bearer h2k_forged"})
    assert r.status_code == 401


def test_expired_token_is_401(lab):
    from her2kit.store.schema import api_tokens

    with lab.svc.db.write() as session:
        session.execute(update(api_tokens).values(
            expires_at=datetime.now(UTC) - timedelta(seconds=1)))
    lab.svc.auth_cache.clear()
    r = lab.client.get("/api/cases", headers=lab.h("tech"))
    assert r.status_code == 401
    assert _err(r) == "token_expired"


def test_revoked_token_is_401(lab):
    r = lab.client.post("/api/auth/tokens", headers=lab.h("tech"), json={"name": "script"})
    assert r.status_code == 201
    tok = r.json()
    hdr = {"Authorization": f"Bearer {tok['token']}"}
    assert lab.client.get("/api/cases", headers=hdr).status_code == 200
    assert lab.client.delete(f"/api/auth/tokens/{tok['id']}", headers=hdr).status_code == 200
    assert lab.client.get("/api/cases", headers=hdr).status_code == 401


def test_tokens_are_hashed_at_rest(lab):
    from sqlalchemy import select

    from her2kit.store.schema import api_tokens, users

    with lab.svc.db.read() as session:
        stored = [r.token_hash for r in session.execute(select(api_tokens)).all()]
        pw = [r.password_hash for r in session.execute(select(users)).all()]
    assert lab.tokens["tech"] not in stored
    assert all(len(s) == 64 for s in stored)
    assert all(p.startswith("$argon2id$") for p in pw)


@pytest.mark.parametrize("who,method,path,body", [
    ("tech", "post", "/api/cases/1/sign-out", {"version": 1}),
    ("tech", "post", "/api/cases/1/tests/1/review", {"decision": "agree", "version": 1}),
    ("tech", "post", "/api/cases/1/amendments", {"reason": "x", "version": 1}),
    ("tech", "get", "/api/users", None),
    ("path", "post", "/api/users", {"username": "u", "password": "12345678",
                                    "role": "admin"}),
    ("admin", "post", "/api/cases", {"accession": "A1"}),
    ("admin", "post", "/api/cases/1/sign-out", {"version": 1}),
])
def test_wrong_role_is_403(lab, who, method, path, body):
    r = getattr(lab.client, method)(path, headers=lab.h(who),
                                    **({"json": body} if body is not None else {}))
    assert r.status_code == 403, r.text
    assert _err(r) == "forbidden"


def test_admin_creates_users(lab):
    r = lab.client.post("/api/users", headers=lab.h("admin"), json={
        "username": "newtech", "password": "a-long-password", "role": "technologist"})
    assert r.status_code == 201, r.text
    r = lab.client.post("/api/auth/login", json={"username": "newtech",
                                                 "password": "a-long-password"})
    assert r.status_code == 200


def test_login_wrong_password(lab):
    r = lab.client.post("/api/auth/login", json={"username": "tech", "password": "nope"})
    assert r.status_code == 401
    assert _err(r) == "bad_credentials"
    r = lab.client.post("/api/auth/login", json={"username": "ghost", "password": "nope"})
    assert r.status_code == 401


def test_cookie_session_needs_csrf_header_for_writes(lab):
    from fastapi.testclient import TestClient

    with TestClient(lab.app, raise_server_exceptions=False) as page:
        r = page.post("/api/auth/login", json={"username": "tech",
                                               "password": "tech-password"})
        assert r.status_code == 200
        csrf = r.json()["csrf_token"]
        assert r.json()["csrf_header"] == "X-CSRF-Token"
        assert "httponly" in r.headers["set-cookie"].lower()
        assert page.get("/api/cases").status_code == 200  # reads need no CSRF token
        r = page.post("/api/cases", json={"accession": "C-1"})
        assert r.status_code == 403 and _err(r) == "csrf"
        r = page.post("/api/cases", json={"accession": "C-1"},
                      headers={"X-CSRF-Token": "c_wrong"})
        assert r.status_code == 403
        r = page.post("/api/cases", json={"accession": "C-1"}, headers={"X-CSRF-Token": csrf})
        assert r.status_code == 201
        assert page.post("/api/auth/logout", headers={"X-CSRF-Token": csrf}).status_code == 200
        page.cookies.clear()
        assert page.get("/api/cases").status_code == 401


def test_users_add_cli(tmp_path, capsys):
    from her2kit.cli import main

    pw = tmp_path / "pw"
    pw.write_text("correct-horse-battery\n")
    main(["users", "add", "ada", "--role", "admin", "--password-file", str(pw),
          "--data-dir", str(tmp_path / "d")])
    assert "user ada (admin) created" in capsys.readouterr().out
    with pytest.raises(SystemExit) as exc:
        main(["users", "add", "bob", "--role", "wizard", "--password-file", str(pw),
              "--data-dir", str(tmp_path / "d")])
    assert exc.value.code == 2
    assert "unknown role 'wizard'" in capsys.readouterr().err
