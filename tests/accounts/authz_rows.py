"""Authorization matrix rows for the accounts routes (and the language switch)."""

import uuid
from typing import Any

from matchmaker.accounts import service
from tests.authz import (
    FORBIDDEN,
    LOGIN,
    NOTFOUND,
    OK,
    Ctx,
    Row,
    admin_only,
    anyone,
    owner_or_admin,
    signed_in,
    target,
)
from tests.conftest import TEST_PASSWORD


def _email(prefix: str = "new") -> str:
    return f"{prefix}-{uuid.uuid4().hex[:10]}@example.it"


@target("user")
def user_target(ctx: Ctx, owner: Any) -> dict[str, Any]:
    """A platform user: the actor's own account when owned, else somebody else's."""
    user = owner or ctx.make_user("owner")
    return {"user_id": user.id}


@target("api_token")
def api_token_target(ctx: Ctx, owner: Any) -> dict[str, Any]:
    """An API token of the actor when owned, else of somebody else."""
    holder = owner or ctx.make_user("owner")
    _plain, record = service.issue_api_token(ctx.db, user=holder, name="matrix")
    return {"token_id": record.id}


def _new_user_credentials(ctx: Ctx) -> dict[str, Any]:
    user = ctx.make_user("owner")
    return {"email": user.email, "password": TEST_PASSWORD}


def _reset_body(ctx: Ctx) -> dict[str, Any]:
    token = service.issue_reset_token(ctx.db, user=ctx.make_user("owner"))
    return {
        "token": token,
        "password": "a brand new password",
        "password_confirm": "a brand new password",
    }


def _delete_body(ctx: Ctx) -> dict[str, Any]:
    ctx.make_user("admin")  # so that an admin actor is never the last one
    return {"password": TEST_PASSWORD}


def _add_member_body(ctx: Ctx) -> dict[str, Any]:
    return {"email": ctx.make_user("owner").email, "role": "colleague"}


ROWS = [
    Row(
        "POST",
        "/register",
        anyone(),
        body=lambda ctx: {
            "email": _email(),
            "password": TEST_PASSWORD,
            "password_confirm": TEST_PASSWORD,
            "privacy": "1",
        },
    ),
    Row("POST", "/login", anyone(), body=_new_user_credentials),
    Row("POST", "/logout", anyone()),
    Row("POST", "/language", anyone(), body=lambda ctx: {"lang": "en", "next": "/"}),
    Row("POST", "/password-reset", anyone(), body=lambda ctx: {"email": _email()}),
    Row("POST", "/password-reset/confirm", anyone(), body=_reset_body),
    Row(
        "POST",
        "/account",
        signed_in(),
        body=lambda ctx: {"full_name": "Maria Rossi", "language": "en"},
    ),
    Row(
        "POST",
        "/account/password",
        signed_in(),
        body=lambda ctx: {
            "current_password": TEST_PASSWORD,
            "new_password": "another long password",
            "new_password_confirm": "another long password",
        },
    ),
    Row("POST", "/account/tokens", signed_in(), body=lambda ctx: {"name": "script"}),
    Row(
        "POST",
        "/account/tokens/{token_id}/revoke",
        {"anonymous": LOGIN, "own": OK, "*": NOTFOUND},
        target="api_token",
    ),
    Row("POST", "/account/delete", signed_in(), body=_delete_body),
    Row(
        "POST",
        "/firms/{piva}/members",
        owner_or_admin(FORBIDDEN),
        target="firm",
        body=_add_member_body,
    ),
    Row(
        "POST",
        "/firms/{piva}/members",
        owner_or_admin(NOTFOUND),
        target="firm_hidden",
        body=_add_member_body,
        variant="hidden firm",
    ),
    Row(
        "POST",
        "/firms/{piva}/members/{user_id}/remove",
        owner_or_admin(FORBIDDEN),
        target="firm_with_colleague",
    ),
    Row(
        "POST",
        "/admin/users/{user_id}/role",
        {"anonymous": LOGIN, "admin": OK, "admin+own": FORBIDDEN, "*": FORBIDDEN},
        target="user",
        body=lambda ctx: {"role": "facilitator"},
    ),
    Row("POST", "/admin/users/{user_id}/unlock", admin_only(), target="user"),
    Row(
        "POST",
        "/admin/users/{user_id}/active",
        {"anonymous": LOGIN, "admin": OK, "admin+own": FORBIDDEN, "*": FORBIDDEN},
        target="user",
        body=lambda ctx: {"active": "0"},
    ),
    Row("POST", "/admin/users/{user_id}/reset-link", admin_only(), target="user"),
    Row("POST", "/api/v1/auth/token", anyone(), body=_new_user_credentials),
    Row("DELETE", "/api/v1/auth/token", signed_in()),
]
