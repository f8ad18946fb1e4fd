"""Who is asking, and may they: API tokens (``Authorization: Bearer``) for scripts, login
sessions (cookie ``her2kit_session``) with CSRF protection for the page.

A request with the session cookie and an unsafe method (POST, PUT, PATCH, DELETE) must
carry the session's CSRF token in the ``X-CSRF-Token`` header (the login answer gives it,
and the readable cookie ``her2kit_csrf`` holds it): another site can make the browser send
the cookie, but cannot read the token. Bearer tokens are not sent by browsers on their
own, so they need no CSRF token.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Annotated, Any

from fastapi import Depends, Request
from fastapi.concurrency import run_in_threadpool

from her2kit.api.errors import ApiError
from her2kit.api.settings import ServiceSettings
from her2kit.io.blobs import BlobStore
from her2kit.store.credentials import hash_token, same_hash
from her2kit.store.db import Database
from her2kit.store.people import Principal, find_credential, now

__all__ = ["CSRF_COOKIE", "CSRF_HEADER", "SESSION_COOKIE", "CurrentUser", "Service", "require",
           "service"]

SESSION_COOKIE = "her2kit_session"
CSRF_COOKIE = "her2kit_csrf"
CSRF_HEADER = "X-CSRF-Token"
_SAFE = frozenset({"GET", "HEAD", "OPTIONS"})


@dataclass
class Service:
    """What the routes share, built by create_app's lifespan: settings, database, files, jobs."""

    settings: ServiceSettings
    db: Database
    blobs: BlobStore
    jobs: Any = None  # her2kit.api.jobs.JobRunner
    auth_cache: dict[str, tuple[float, Any]] = field(default_factory=dict)


async def service(request: Request) -> Service:
    # async: FastAPI runs a plain ``def`` dependency in a thread, a cost on every request.
    return request.app.state.service


ServiceDep = Annotated[Service, Depends(service)]


async def _lookup(svc: Service, token_hash: str, kind: str):
    """The credential, from a cache of ``auth_cache_s`` seconds, else the database (in a
    thread, so a slow database does not stall the event loop)."""
    key = f"{kind}:{token_hash}"
    hit = svc.auth_cache.get(key)
    if hit is not None and time.monotonic() - hit[0] < svc.settings.auth_cache_s:
        return hit[1]

    def query():
        with svc.db.read() as session:
            return find_credential(session, token_hash, kind=kind)

    cred = await run_in_threadpool(query)
    if len(svc.auth_cache) > 10_000:
        svc.auth_cache.clear()
    svc.auth_cache[key] = (time.monotonic(), cred)
    return cred


def _unauthenticated(message: str) -> ApiError:
    return ApiError(401, "not_authenticated", message, {"WWW-Authenticate": "Bearer"})


async def current_user(request: Request, svc: ServiceDep) -> Principal:
    """The user of a valid token or session; 401 otherwise, 403 for a missing CSRF token."""
    header = request.headers.get("authorization")
    if header is not None:
        scheme, _, token = header.partition(" ")
        if scheme.lower() != "bearer" or not token.strip():
            raise _unauthenticated("use 'Authorization: Bearer <token>'")
        cred = await _lookup(svc, hash_token(token.strip()), "token")
        kind = "token"
    else:
        token = request.cookies.get(SESSION_COOKIE)
        if not token:
            raise _unauthenticated("log in or give an API token")
        cred = await _lookup(svc, hash_token(token), "session")
        kind = "session"
    if cred is None or cred.revoked:
        raise _unauthenticated(f"unknown or revoked {kind}")
    if cred.expires_at <= now():
        raise ApiError(401, "token_expired", f"the {kind} has expired; "
                       + ("log in again" if kind == "session" else "create a new token"))
    if kind == "session" and request.method not in _SAFE:
        given = request.headers.get(CSRF_HEADER, "")
        if not given or not same_hash(hash_token(given), cred.csrf_hash):
            raise ApiError(403, "csrf", f"missing or wrong {CSRF_HEADER} header")
    return cred.principal


CurrentUser = Annotated[Principal, Depends(current_user)]


def require(*roles: str):
    """A dependency that lets only ``roles`` through (403 naming them)."""

    async def _check(user: CurrentUser) -> Principal:
        if user.role not in roles:
            raise ApiError(403, "forbidden",
                           f"this needs the {' or '.join(roles)} role (you are {user.role})")
        return user

    return _check


Technologist = Annotated[Principal, Depends(require("technologist", "pathologist"))]
Pathologist = Annotated[Principal, Depends(require("pathologist"))]
Admin = Annotated[Principal, Depends(require("admin"))]
