"""Users (admin only): list, create, change role or deactivate."""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter
from pydantic import BaseModel, Field
from sqlalchemy import select, update

from her2kit.api.deps import Admin, ServiceDep
from her2kit.api.errors import ApiError
from her2kit.store import audit
from her2kit.store.people import add_user
from her2kit.store.schema import users

router = APIRouter(prefix="/api/users", tags=["users"])
Role = Literal["technologist", "pathologist", "admin"]


class UserIn(BaseModel):
    username: Annotated[str, Field(min_length=1, max_length=64)]
    password: Annotated[str, Field(min_length=8, max_length=1024)]
    role: Role
    display_name: Annotated[str | None, Field(max_length=200)] = None


class UserPatch(BaseModel):
    role: Role | None = None
    active: bool | None = None


def _public(row) -> dict:
    return {"id": row.id, "username": row.username, "display_name": row.display_name,
            "role": row.role, "active": row.active}


@router.get("")
def list_users(admin: Admin, svc: ServiceDep) -> list[dict]:
    with svc.db.read() as session:
        return [_public(r) for r in session.execute(select(users).order_by(users.c.id)).all()]


@router.post("", status_code=201)
def create_user(body: UserIn, admin: Admin, svc: ServiceDep) -> dict:
    with svc.db.write() as session:
        p = add_user(session, username=body.username, password=body.password, role=body.role,
                     display_name=body.display_name, actor=admin.username)
    return {"id": p.id, "username": p.username, "display_name": p.display_name,
            "role": p.role, "active": True}


@router.patch("/{user_id}")
def patch_user(user_id: int, body: UserPatch, admin: Admin, svc: ServiceDep) -> dict:
    changes = body.model_dump(exclude_none=True)
    with svc.db.write() as session:
        row = session.execute(select(users).where(users.c.id == user_id)).first()
        if row is None:
            raise ApiError(404, "not_found", f"no user {user_id}")
        if changes:
            session.execute(update(users).where(users.c.id == user_id).values(**changes))
            audit.append(session, actor=admin.username, action="user.update", entity="user",
                         entity_id=user_id, old={k: getattr(row, k) for k in changes},
                         new=changes)
        row = session.execute(select(users).where(users.c.id == user_id)).one()
    svc.auth_cache.clear()
    return _public(row)
