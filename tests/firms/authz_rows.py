"""Authorization matrix rows for the firm routes, and the firm targets other rows use."""

import uuid
from typing import Any

from matchmaker.accounts import service as accounts_service
from matchmaker.firms import service as firms_service
from matchmaker.firms.schemas import validate_firm
from tests.authz import (
    LOGIN,
    NOTFOUND,
    OK,
    Ctx,
    Row,
    owner_or_admin,
    roles,
    target,
)
from tests.firms.helpers import firm_payload


def _serial() -> int:
    return uuid.uuid4().int % 9_000_000 + 1_000_000


def _firm(ctx: Ctx, owner: Any, visibility: str) -> dict[str, Any]:
    firm = firms_service.create_firm(
        ctx.db, data=validate_firm(firm_payload(_serial(), visibility=visibility))
    )
    accounts_service.add_firm_member(
        ctx.db, user=owner or ctx.make_user("owner"), firm_id=firm.id, role="owner"
    )
    colleague = ctx.make_user("owner")
    accounts_service.add_firm_member(ctx.db, user=colleague, firm_id=firm.id, role="colleague")
    return {"piva": firm.partita_iva, "firm": firm, "user_id": colleague.id}


@target("firm")
def public_firm(ctx: Ctx, owner: Any) -> dict[str, Any]:
    """A public firm owned by the actor (when owned) or by someone else, with a colleague."""
    return _firm(ctx, owner, "public")


@target("firm_hidden")
def hidden_firm(ctx: Ctx, owner: Any) -> dict[str, Any]:
    """A hidden firm: only its members and admins know it exists."""
    return _firm(ctx, owner, "hidden")


@target("firm_with_colleague")
def firm_with_colleague(ctx: Ctx, owner: Any) -> dict[str, Any]:
    """A public firm; `user_id` is its colleague (the member to remove)."""
    return _firm(ctx, owner, "public")


@target("firm_import")
def staged_import(ctx: Ctx, owner: Any) -> dict[str, Any]:
    """A previewed CSV import, uploaded by the actor (when owned) or by a curator."""
    uploader = owner or ctx.make_user("curator")
    job, _report = firms_service.stage_import(
        ctx.db,
        filename="firms.csv",
        content=_csv().encode(),
        user_id=uploader.id,
        skip_invalid=False,
    )
    return {"import_id": job.id}


def _csv() -> str:
    p = firm_payload(_serial())
    return (
        "partita_iva,name,ateco,comune_istat\n"
        f"{p['partita_iva']},{p['name']},{p['ateco']},{p['comune_istat']}\n"
    )


def _form(payload: dict[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in payload.items():
        if key == "goals":
            out[key] = list(value or [])
        elif isinstance(value, list):
            out[key] = "; ".join(value)
        else:
            out[key] = "" if value is None else str(value)
    return out


def _new_firm_form(ctx: Ctx) -> dict[str, Any]:
    return _form(firm_payload(_serial()))


def _edit_form(ctx: Ctx) -> dict[str, Any]:
    firm = ctx.target["firm"]
    values = _form(firms_service.firm_to_input(firm))
    values["name"] = "Nuovo Nome S.r.l."
    values["version"] = str(firm.version)
    return values


ROWS = [
    Row("POST", "/firms/new", roles("owner", "curator", "admin"), body=_new_firm_form),
    Row(
        "POST",
        "/firms/import",
        roles("curator", "admin"),
        files=lambda ctx: {"file": ("firms.csv", _csv().encode(), "text/csv")},
    ),
    Row(
        "POST",
        "/firms/import/{import_id}/confirm",
        {"anonymous": LOGIN, "own": OK, "admin": OK, "*": NOTFOUND},
        target="firm_import",
    ),
    Row("POST", "/firms/{piva}/edit", owner_or_admin(), target="firm", body=_edit_form),
    Row(
        "POST",
        "/firms/{piva}/edit",
        owner_or_admin(NOTFOUND),
        target="firm_hidden",
        body=_edit_form,
        variant="hidden firm",
    ),
    Row("POST", "/firms/{piva}/delete", owner_or_admin(), target="firm"),
    Row(
        "POST",
        "/firms/{piva}/delete",
        owner_or_admin(NOTFOUND),
        target="firm_hidden",
        variant="hidden firm",
    ),
    Row(
        "POST",
        "/api/v1/firms",
        roles("owner", "curator", "admin"),
        body=lambda ctx: firm_payload(_serial()),
    ),
    Row(
        "PATCH",
        "/api/v1/firms/{piva}",
        owner_or_admin(),
        target="firm",
        body=lambda ctx: {"name": "Nuovo Nome S.r.l."},
    ),
    Row(
        "PATCH",
        "/api/v1/firms/{piva}",
        owner_or_admin(NOTFOUND),
        target="firm_hidden",
        body=lambda ctx: {"name": "Nuovo Nome S.r.l."},
        variant="hidden firm",
    ),
    Row("DELETE", "/api/v1/firms/{piva}", owner_or_admin(), target="firm"),
    Row(
        "DELETE",
        "/api/v1/firms/{piva}",
        owner_or_admin(NOTFOUND),
        target="firm_hidden",
        variant="hidden firm",
    ),
]
