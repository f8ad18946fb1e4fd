"""Users, API tokens and login sessions (the store side: rows, hashes, expiry)."""

from __future__ import annotations

import functools
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from sqlalchemy import insert, select, update
from sqlalchemy.orm import Session

from her2kit.errors import Her2kitInputError
from her2kit.store import audit
from her2kit.store.credentials import hash_password, hash_token, new_token, verify_password
from her2kit.store.schema import ROLES, api_tokens, login_sessions, users

__all__ = [
    "Principal",
    "add_user",
    "authenticate",
    "end_login_session",
    "find_credential",
    "new_api_token",
    "new_login_session",
    "now",
]


def now() -> datetime:
    return datetime.now(UTC)


@dataclass(frozen=True)
class Principal:
    """Who a request acts for."""

    id: int
    username: str
    display_name: str
    role: str


@dataclass(frozen=True)
class Credential:
    """A token or session found by its hash: whose, until when, and (sessions) the CSRF hash."""

    principal: Principal
    expires_at: datetime
    csrf_hash: str | None
    revoked: bool


def _principal(row) -> Principal:
    return Principal(row.id, row.username, row.display_name, row.role)


def add_user(session: Session, *, username: str, password: str, role: str,
             display_name: str | None = None, actor: str = "cli") -> Principal:
    """Create a user with an argon2id password hash (audited).

    Raises
    ------
    Her2kitInputError
        Unknown role, blank or taken user name, password shorter than 8 characters.
    """
    if role not in ROLES:
        raise Her2kitInputError(f"unknown role {role!r}; use {', '.join(ROLES)}", field="role")
    if not username or not username.strip() or len(username) > 64:
        raise Her2kitInputError("a user name of 1-64 characters is needed", field="username")
    if len(password) < 8:
        raise Her2kitInputError("the password needs at least 8 characters", field="password")
    if session.execute(select(users.c.id).where(users.c.username == username)).first():
        raise Her2kitInputError(f"user {username!r} exists", field="username")
    uid = session.execute(insert(users).values(
        username=username, display_name=display_name or username, role=role,
        password_hash=hash_password(password), active=True, created_at=now())
    ).inserted_primary_key[0]
    audit.append(session, actor=actor, action="user.create", entity="user", entity_id=uid,
                 new={"username": username, "role": role, "display_name": display_name})
    return Principal(uid, username, display_name or username, role)


def authenticate(session: Session, username: str, password: str) -> Principal | None:
    """The active user with this name and password, or None (the same for either miss)."""
    row = session.execute(select(users).where(users.c.username == username)).first()
    if row is None:
        verify_password(password, _dummy_hash())  # the same time whether or not the name exists
        return None
    if not row.active or not verify_password(password, row.password_hash):
        return None
    return _principal(row)


@functools.cache
def _dummy_hash() -> str:
    return hash_password("not-a-password-of-anyone")


def new_api_token(session: Session, user: Principal, *, name: str, ttl_s: int) -> tuple[int, str,
                                                                                       datetime]:
    """``(id, token, expires_at)``; the token is shown once, its SHA-256 kept."""
    token = new_token()
    expires = now() + timedelta(seconds=ttl_s)
    tid = session.execute(insert(api_tokens).values(
        user_id=user.id, name=name, token_hash=hash_token(token), created_at=now(),
        expires_at=expires)).inserted_primary_key[0]
    audit.append(session, actor=user.username, action="token.create", entity="token",
                 entity_id=tid, new={"name": name, "expires_at": expires.isoformat()})
    return tid, token, expires


def new_login_session(session: Session, user: Principal, *, ttl_s: int) -> tuple[str, str,
                                                                               datetime]:
    """``(session token, CSRF token, expires_at)`` of a new login session."""
    token, csrf = new_token("s_"), new_token("c_")
    expires = now() + timedelta(seconds=ttl_s)
    session.execute(insert(login_sessions).values(
        user_id=user.id, token_hash=hash_token(token), csrf_hash=hash_token(csrf),
        created_at=now(), expires_at=expires))
    return token, csrf, expires


def end_login_session(session: Session, token: str) -> None:
    session.execute(update(login_sessions).where(
        login_sessions.c.token_hash == hash_token(token)).values(ended_at=now()))


def find_credential(session: Session, token_hash: str, *, kind: str) -> Credential | None:
    """The API token (``kind="token"``) or login session (``"session"``) with this hash."""
    table = api_tokens if kind == "token" else login_sessions
    ended = table.c.revoked_at if kind == "token" else table.c.ended_at
    cols = [users.c.id, users.c.username, users.c.display_name, users.c.role, users.c.active,
            table.c.expires_at, ended.label("ended")]
    if kind == "session":
        cols.append(table.c.csrf_hash)
    row = session.execute(select(*cols).join(users, users.c.id == table.c.user_id)
                          .where(table.c.token_hash == token_hash)).first()
    if row is None:
        return None
    return Credential(_principal(row), row.expires_at,
                      row.csrf_hash if kind == "session" else None,
                      revoked=row.ended is not None or not row.active)
