"""Log in and out (the page's cookie session) and API tokens (scripts)."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Request, Response
from pydantic import BaseModel, Field
from sqlalchemy import update

from her2kit.api.deps import CSRF_COOKIE, CSRF_HEADER, SESSION_COOKIE, CurrentUser, ServiceDep
from her2kit.api.errors import ApiError
from her2kit.store.people import (
    authenticate,
    end_login_session,
    new_api_token,
    new_login_session,
    now,
)
from her2kit.store.schema import api_tokens

router = APIRouter(prefix="/api/auth", tags=["auth"])


class Login(BaseModel):
    username: Annotated[str, Field(min_length=1, max_length=64)]
    password: Annotated[str, Field(min_length=1, max_length=1024)]


class UserOut(BaseModel):
    id: int
    username: str
    display_name: str
    role: str


class LoginOut(BaseModel):
    user: UserOut
    csrf_token: str
    csrf_header: str = CSRF_HEADER
    expires_at: datetime


class TokenIn(BaseModel):
    name: Annotated[str, Field(min_length=1, max_length=200)]
    ttl_s: Annotated[int | None, Field(gt=0)] = None


class TokenOut(BaseModel):
    id: int
    name: str
    token: str
    expires_at: datetime


@router.post("/login")
def login(body: Login, response: Response, svc: ServiceDep) -> LoginOut:
    """Check the password; set the session cookie (HttpOnly) and the CSRF cookie."""
    with svc.db.write() as session:
        user = authenticate(session, body.username, body.password)
        if user is None:
            raise ApiError(401, "bad_credentials", "unknown user name or wrong password")
        token, csrf, expires = new_login_session(session, user,
                                                 ttl_s=svc.settings.session_ttl_s)
    secure, ttl = svc.settings.cookie_secure, svc.settings.session_ttl_s
    response.set_cookie(SESSION_COOKIE, token, max_age=ttl, httponly=True, samesite="strict",
                        secure=secure, path="/")
    response.set_cookie(CSRF_COOKIE, csrf, max_age=ttl, httponly=False, samesite="strict",
                        secure=secure, path="/")
    return LoginOut(user=UserOut(**user.__dict__), csrf_token=csrf, expires_at=expires)


@router.post("/logout")
def logout(request: Request, response: Response, user: CurrentUser, svc: ServiceDep) -> dict:
    """End the cookie session (a bearer token is revoked with DELETE /api/auth/tokens/{id})."""
    token = request.cookies.get(SESSION_COOKIE)
    if token:
        with svc.db.write() as session:
            end_login_session(session, token)
        svc.auth_cache.clear()
    response.delete_cookie(SESSION_COOKIE, path="/")
    response.delete_cookie(CSRF_COOKIE, path="/")
    return {"logged_out": True}


@router.get("/me")
def me(user: CurrentUser) -> UserOut:
    return UserOut(**user.__dict__)


@router.post("/tokens", status_code=201)
def create_token(body: TokenIn, user: CurrentUser, svc: ServiceDep) -> TokenOut:
    """A new API token for the caller (shown once; at most ``token_ttl_s``)."""
    ttl = min(body.ttl_s or svc.settings.token_ttl_s, svc.settings.token_ttl_s)
    with svc.db.write() as session:
        tid, token, expires = new_api_token(session, user, name=body.name, ttl_s=ttl)
    return TokenOut(id=tid, name=body.name, token=token, expires_at=expires)


@router.delete("/tokens/{token_id}")
def revoke_token(token_id: int, user: CurrentUser, svc: ServiceDep) -> dict:
    """Revoke one of the caller's tokens (an admin: anyone's)."""
    with svc.db.write() as session:
        q = update(api_tokens).where(api_tokens.c.id == token_id,
                                     api_tokens.c.revoked_at.is_(None))
        if user.role != "admin":
            q = q.where(api_tokens.c.user_id == user.id)
        if not session.execute(q.values(revoked_at=now())).rowcount:
            raise ApiError(404, "not_found", f"no active token {token_id} of yours")
    svc.auth_cache.clear()
    return {"revoked": token_id}
