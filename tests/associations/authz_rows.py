"""Authorization matrix rows for the association routes.

"Own" for an association means curating it; for an invitation, a membership or a campaign
link it means running the firm concerned.
"""

import io
import uuid
from typing import Any

from matchmaker.accounts import service as accounts_service
from matchmaker.associations import service
from matchmaker.firms import service as firms_service
from matchmaker.firms.schemas import validate_firm
from tests.authz import FORBIDDEN, LOGIN, NOTFOUND, OK, Ctx, Row, roles, target
from tests.firms.authz_rows import _serial
from tests.firms.helpers import firm_payload

CURATORS = {"anonymous": LOGIN, "curator+own": OK, "admin": OK, "*": FORBIDDEN}
FIRM_PEOPLE = {"anonymous": LOGIN, "own": OK, "admin": FORBIDDEN, "*": NOTFOUND}


def _firm(ctx: Ctx, **over: Any) -> Any:
    return firms_service.create_firm(ctx.db, data=validate_firm(firm_payload(_serial(), **over)))


def _association(ctx: Ctx, owner: Any, *, members: int = 2) -> dict[str, Any]:
    slug = f"assoc-{uuid.uuid4().hex[:8]}"
    a = service.create_association(ctx.db, slug=slug, name="Confartigianato Test",
                                   region_code="03")
    curator = owner if owner is not None and owner.role == "curator" else ctx.make_user("curator")
    service.add_curator(ctx.db, association=a, email=curator.email)
    firms = [_firm(ctx) for _ in range(members)]
    service.add_members(ctx.db, association=a, firm_ids=[f.id for f in firms], source="added",
                        user=None)
    return {"slug": slug, "association": a, "curator": curator, "firms": firms,
            "piva": firms[0].partita_iva if firms else "", "user_id": curator.id}


@target("association")
def association_target(ctx: Ctx, owner: Any) -> dict[str, Any]:
    """An association (curated by the actor when owned) with two public member firms."""
    return _association(ctx, owner)


def _run_by(ctx: Ctx, owner: Any, firm: Any) -> None:
    accounts_service.add_firm_member(ctx.db, user=owner or ctx.make_user("owner"),
                                     firm_id=firm.id, role="owner")


@target("association_invitation")
def invitation_target(ctx: Ctx, owner: Any) -> dict[str, Any]:
    """A firm (run by the actor when owned) invited to join an association."""
    out = _association(ctx, None, members=0)
    firm = _firm(ctx)
    _run_by(ctx, owner, firm)
    service.invite_firm(ctx.db, association=out["association"], partita_iva=firm.partita_iva,
                        user=out["curator"])
    return {**out, "piva": firm.partita_iva}


@target("association_membership")
def membership_target(ctx: Ctx, owner: Any) -> dict[str, Any]:
    """A member firm run by the actor when owned."""
    out = _association(ctx, None, members=1)
    _run_by(ctx, owner, out["firms"][0])
    return out


def _csv(ctx: Ctx) -> bytes:
    p = firm_payload(_serial())
    return ("partita_iva,name,ateco,comune_istat\n"
            f"{p['partita_iva']},{p['name']},{p['ateco']},{p['comune_istat']}\n").encode()


def _xlsx() -> bytes:
    from openpyxl import Workbook

    p = firm_payload(_serial())
    wb = Workbook()
    ws = wb.active
    ws.append(["Ragione sociale", "P.IVA", "Codice ATECO", "Codice ISTAT"])
    ws.append([p["name"], p["partita_iva"], p["ateco"], p["comune_istat"]])
    buf = io.BytesIO()
    wb.save(buf)
    return buf.getvalue()


@target("association_import")
def import_target(ctx: Ctx, owner: Any) -> dict[str, Any]:
    """A CSV import waiting to be checked, of an association the actor curates when owned."""
    out = _association(ctx, owner)
    job = service.start_import(ctx.db, association=out["association"], user=out["curator"],
                               filename="members.csv", content=_csv(ctx))
    return {**out, "import_id": job.id}


@target("association_preview")
def preview_target(ctx: Ctx, owner: Any) -> dict[str, Any]:
    """A checked CSV import, ready to be written."""
    out = import_target(ctx, owner)
    job = service.get_import(ctx.db, association=out["association"], import_id=out["import_id"])
    service.check_import(ctx.db, job=job, association=out["association"], user=out["curator"])
    return out


@target("association_workbook")
def workbook_target(ctx: Ctx, owner: Any) -> dict[str, Any]:
    """An uploaded workbook waiting for its column mapping."""
    out = _association(ctx, owner)
    job = service.start_import(ctx.db, association=out["association"], user=out["curator"],
                               filename="soci.xlsx", content=_xlsx())
    return {**out, "import_id": job.id}


@target("association_shortlist")
def shortlist_target(ctx: Ctx, owner: Any) -> dict[str, Any]:
    """A shortlist of two members, and a facilitator's e-mail."""
    out = _association(ctx, owner)
    sl = service.create_shortlist(ctx.db, association=out["association"],
                                  firm_ids=[f.id for f in out["firms"]], user=out["curator"])
    return {**out, "shortlist_id": sl.id, "shortlist": sl}


@target("association_network")
def network_target(ctx: Ctx, owner: Any) -> dict[str, Any]:
    """A shortlist with the network built from it (invitations not sent yet)."""
    out = shortlist_target(ctx, owner)
    service.build_network(ctx.db, shortlist=out["shortlist"], user=out["curator"])
    return out


@target("association_agreed_network")
def agreed_network_target(ctx: Ctx, owner: Any) -> dict[str, Any]:
    """A shortlist whose network every invited firm accepted, and a facilitator's e-mail."""
    from matchmaker.networks import service as networks

    out = network_target(ctx, owner)
    service.send_network_invitations(ctx.db, shortlist=out["shortlist"], user=out["curator"])
    network = networks.get_network(ctx.db, out["shortlist"].network_id)
    for inv in list(network.invitations):
        person = ctx.make_user("owner")
        accounts_service.add_firm_member(ctx.db, user=person, firm_id=inv.firm_id, role="owner")
        networks.answer_invitation(ctx.db, network=network, invitation_id=inv.id, user=person,
                                   accept=True)
    facilitator = ctx.make_user("facilitator")
    return {**out, "facilitator": facilitator.email}


@target("association_campaign")
def campaign_target(ctx: Ctx, owner: Any) -> dict[str, Any]:
    """A campaign of an association (curated by the actor when owned)."""
    out = _association(ctx, owner)
    c = service.create_campaign(ctx.db, association=out["association"], user=out["curator"],
                                name="Profili 2026", only_incomplete=False)
    return {**out, "campaign_id": c.id}


@target("campaign_link")
def campaign_link_target(ctx: Ctx, owner: Any) -> dict[str, Any]:
    """A member firm's campaign link; the firm is run by the actor when owned, else by nobody."""
    out = _association(ctx, None, members=1)
    if owner is not None:
        _run_by(ctx, owner, out["firms"][0])
    c = service.create_campaign(ctx.db, association=out["association"], user=out["curator"],
                                name="Profili 2026", only_incomplete=False)
    return {**out, "token": service.campaign_token(c.id, out["firms"][0].id)}


def _new_member(ctx: Ctx) -> dict[str, Any]:
    return {"partita_iva": _firm(ctx).partita_iva}


def _shortlist_body(ctx: Ctx) -> dict[str, Any]:
    return {"firm_id": [str(f.id) for f in ctx.target["firms"]], "chain_key": ""}


ROWS = [
    Row("POST", "/associations", roles("admin"),
        body=lambda ctx: {"slug": f"new-{uuid.uuid4().hex[:8]}", "name": "CNA Nuova",
                          "kind": "trade", "region_code": "03"}),
    Row("POST", "/associations/{slug}/members", CURATORS, target="association", body=_new_member),
    Row("POST", "/associations/{slug}/members/{piva}/remove", CURATORS, target="association"),
    Row("POST", "/associations/{slug}/invitations/{piva}/accept", FIRM_PEOPLE,
        target="association_invitation"),
    Row("POST", "/associations/{slug}/invitations/{piva}/decline", FIRM_PEOPLE,
        target="association_invitation"),
    Row("POST", "/associations/{slug}/leave/{piva}", FIRM_PEOPLE,
        target="association_membership"),
    Row("POST", "/associations/{slug}/curators", {"anonymous": LOGIN, "admin": OK, "*": FORBIDDEN},
        target="association", body=lambda ctx: {"email": ctx.make_user("curator").email}),
    Row("POST", "/associations/{slug}/curators/{user_id}/remove",
        {"anonymous": LOGIN, "admin": OK, "*": FORBIDDEN}, target="association"),
    Row("POST", "/associations/{slug}/imports", CURATORS, target="association",
        files=lambda ctx: {"file": ("members.csv", _csv(ctx), "text/csv")}),
    Row("POST", "/associations/{slug}/imports/{import_id}/mapping", CURATORS,
        target="association_workbook",
        body=lambda ctx: {"col-0": "name", "col-1": "partita_iva", "col-2": "ateco",
                          "col-3": "comune_istat"}),
    Row("POST", "/associations/{slug}/imports/{import_id}/check", CURATORS,
        target="association_import"),
    Row("POST", "/associations/{slug}/imports/{import_id}/confirm", CURATORS,
        target="association_preview"),
    Row("POST", "/associations/{slug}/shortlists", CURATORS, target="association",
        body=_shortlist_body),
    Row("POST", "/associations/{slug}/shortlists/{shortlist_id}/delete", CURATORS,
        target="association_shortlist"),
    Row("POST", "/associations/{slug}/shortlists/{shortlist_id}/network", CURATORS,
        target="association_shortlist", body=lambda ctx: {"name": "Rete Brianza Legno"}),
    Row("POST", "/associations/{slug}/shortlists/{shortlist_id}/invite", CURATORS,
        target="association_network"),
    Row("POST", "/associations/{slug}/shortlists/{shortlist_id}/facilitator", CURATORS,
        target="association_agreed_network",
        body=lambda ctx: {"email": ctx.target["facilitator"]}),
    Row("POST", "/associations/{slug}/campaigns", CURATORS, target="association",
        body=lambda ctx: {"name": "Completa il profilo", "message": "", "only_incomplete": ""}),
    Row("POST", "/associations/{slug}/campaigns/{campaign_id}/close", CURATORS,
        target="association_campaign"),
    Row("POST", "/campaign-links/{token}",
        {"anonymous": LOGIN, "own": OK, "owner": OK, "admin": OK, "*": FORBIDDEN},
        target="campaign_link"),
]
