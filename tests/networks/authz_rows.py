"""Authorization matrix rows for networks, invitations, introductions and notifications."""

from typing import Any

from matchmaker.networks import service
from tests.authz import (
    FORBIDDEN,
    LOGIN,
    NOTFOUND,
    OK,
    Ctx,
    Row,
    owner_or_admin,
    roles,
    signed_in,
    target,
)
from tests.firms.authz_rows import _firm


def _owner(ctx: Ctx, owner: Any) -> Any:
    return owner or ctx.make_user("owner")


def _partner(ctx: Ctx, owner: Any = None) -> dict[str, Any]:
    return _firm(ctx, owner, "public")


def _proposed(ctx: Ctx, owner: Any) -> dict[str, Any]:
    """A proposed network promoted by the actor's firm (when owned), one firm to invite."""
    boss = _owner(ctx, owner)
    promoter = _firm(ctx, boss, "public")
    partner = _partner(ctx)
    net = service.create_network(
        ctx.db,
        seed=promoter["firm"],
        user=boss,
        name="Rete Matrice",
        members=[(partner["firm"], None, "")],
    )
    return {
        "network_id": net.id,
        "network": net,
        "boss": boss,
        "partner": partner,
        "invitation_id": net.invitations[0].id,
    }


@target("network")
def network_target(ctx: Ctx, owner: Any) -> dict[str, Any]:
    """A proposed network whose promoter firm is the actor's (when owned)."""
    return _proposed(ctx, owner)


@target("network_forming")
def network_forming(ctx: Ctx, owner: Any) -> dict[str, Any]:
    """A forming network (promoter = actor's firm when owned) with one pending invitation."""
    out = _proposed(ctx, owner)
    service.transition(ctx.db, network=out["network"], to="forming", user=out["boss"])
    return out


@target("network_invited")
def network_invited(ctx: Ctx, owner: Any) -> dict[str, Any]:
    """A forming network that invites the actor's firm (when owned), someone else's otherwise."""
    boss = ctx.make_user("owner")
    promoter = _firm(ctx, boss, "public")
    invited = _partner(ctx, owner)
    net = service.create_network(
        ctx.db, seed=promoter["firm"], user=boss, members=[(invited["firm"], None, "")]
    )
    service.transition(ctx.db, network=net, to="forming", user=boss)
    return {
        "network_id": net.id,
        "invitation_id": net.invitations[0].id,
        "firm_piva": invited["piva"],
    }


@target("network_member")
def network_member(ctx: Ctx, owner: Any) -> dict[str, Any]:
    """A forming network the actor's firm (when owned) has joined; another invitation pending."""
    boss = ctx.make_user("owner")
    promoter = _firm(ctx, boss, "public")
    member = _partner(ctx, owner)
    member_owner = owner or ctx.make_user("owner")
    if owner is None:
        from matchmaker.accounts import service as accounts_service

        accounts_service.add_firm_member(
            ctx.db, user=member_owner, firm_id=member["firm"].id, role="representative"
        )
    other = _partner(ctx)
    net = service.create_network(
        ctx.db,
        seed=promoter["firm"],
        user=boss,
        members=[(member["firm"], None, ""), (other["firm"], None, "")],
    )
    service.transition(ctx.db, network=net, to="forming", user=boss)
    inv = next(i for i in net.invitations if i.firm_id == member["firm"].id)
    service.answer_invitation(
        ctx.db, network=net, invitation_id=inv.id, user=member_owner, accept=True
    )
    return {"network_id": net.id, "firm_piva": member["piva"]}


def _intro(ctx: Ctx, owner: Any, *, accept: bool) -> dict[str, Any]:
    sender = _firm(ctx, None, "public")
    receiver = _partner(ctx, owner)
    from matchmaker.accounts import service as accounts_service

    sender_user = accounts_service.firm_member_users(ctx.db, sender["firm"].id)[0][0]
    intro = service.express_interest(
        ctx.db,
        from_firm=sender["firm"],
        to_firm=receiver["firm"],
        user=sender_user,
        message="Lavoriamo insieme?",
    )
    if accept:
        receiver_user = (
            owner or accounts_service.firm_member_users(ctx.db, receiver["firm"].id)[0][0]
        )
        service.answer_introduction(ctx.db, introduction=intro, user=receiver_user, accept=True)
    return {"introduction_id": intro.id}


@target("introduction_received")
def introduction_received(ctx: Ctx, owner: Any) -> dict[str, Any]:
    """A pending introduction addressed to the actor's firm (when owned)."""
    return _intro(ctx, owner, accept=False)


@target("introduction_accepted")
def introduction_accepted(ctx: Ctx, owner: Any) -> dict[str, Any]:
    """An accepted introduction; the actor's firm (when owned) is the one that accepted."""
    return _intro(ctx, owner, accept=True)


def _new_partner_piva(ctx: Ctx) -> str:
    return _partner(ctx)["piva"]


def _chain_body(ctx: Ctx) -> dict[str, Any]:
    """Two construction firms of Molise, so that a chain-and-region plan has something to do."""
    from tests.networks.helpers import make_firm

    for ateco, comune in (("41.20.00", "Campobasso"), ("43.21.01", "Termoli")):
        make_firm(ctx.db, ateco=ateco, comune_istat=None, comune=comune, province="CB")
    return {"chain": "construction", "region": "Molise", "size": 3}


PROPOSE = {"anonymous": LOGIN, "own": OK, "admin": OK, "facilitator": OK, "*": FORBIDDEN}
# The invited (or member) firm's people act; admins see the network but cannot act for a firm.
PARTY = {"anonymous": LOGIN, "own": OK, "admin": FORBIDDEN, "*": NOTFOUND}
MANAGER = owner_or_admin(NOTFOUND)

ROWS = [
    Row(
        "POST",
        "/networks/new",
        PROPOSE,
        target="firm",
        body=lambda ctx: {"seed": ctx.target["piva"], "slot_01": _new_partner_piva(ctx)},
    ),
    Row(
        "POST",
        "/networks/{network_id}/invitations",
        MANAGER,
        target="network",
        body=lambda ctx: {"partita_iva": _new_partner_piva(ctx), "message": "Ciao"},
    ),
    Row(
        "POST",
        "/networks/{network_id}/invitations/{invitation_id}/answer",
        PARTY,
        target="network_invited",
        body=lambda ctx: {"decision": "accept"},
    ),
    Row(
        "POST",
        "/networks/{network_id}/invitations/{invitation_id}/withdraw",
        MANAGER,
        target="network_forming",
    ),
    Row(
        "POST",
        "/networks/{network_id}/leave",
        PARTY,
        target="network_member",
        body=lambda ctx: {"firm": ctx.target["firm_piva"]},
    ),
    Row(
        "POST",
        "/networks/{network_id}/transitions",
        MANAGER,
        target="network",
        body=lambda ctx: {"to": "forming"},
    ),
    Row("POST", "/inbox/read", signed_in()),
    Row(
        "POST",
        "/introductions",
        {"anonymous": LOGIN, "own": OK, "*": FORBIDDEN},
        target="firm",
        body=lambda ctx: {
            "from_firm": ctx.target["piva"],
            "to_firm": _new_partner_piva(ctx),
            "message": "Ciao",
        },
    ),
    Row(
        "POST",
        "/introductions/{introduction_id}/answer",
        PARTY,
        target="introduction_received",
        body=lambda ctx: {"decision": "decline"},
    ),
    Row(
        "POST",
        "/introductions/{introduction_id}/messages",
        PARTY,
        target="introduction_accepted",
        body=lambda ctx: {"body": "Buongiorno"},
    ),
    Row(
        "POST",
        "/api/v1/networks/suggest",
        PROPOSE,
        target="firm",
        body=lambda ctx: {"seed": ctx.target["piva"], "size": 3},
    ),
    # Without a seed, from a value chain and a region: curators, facilitators and admins
    # (firm owners propose around their own firm; they cannot survey the others' firms).
    Row(
        "POST",
        "/api/v1/networks/suggest",
        roles("curator", "facilitator", "admin"),
        body=_chain_body,
        variant="chain and region",
    ),
    Row(
        "POST",
        "/api/v1/networks",
        PROPOSE,
        target="firm",
        body=lambda ctx: {
            "seed": ctx.target["piva"],
            "members": [{"partita_iva": _new_partner_piva(ctx)}],
        },
    ),
    Row(
        "POST",
        "/api/v1/networks/{network_id}/invitations",
        MANAGER,
        target="network",
        body=lambda ctx: {"partita_iva": _new_partner_piva(ctx)},
    ),
    Row(
        "POST",
        "/api/v1/networks/{network_id}/invitations/{invitation_id}/answer",
        PARTY,
        target="network_invited",
        body=lambda ctx: {"accept": False, "reason": "Non ora"},
    ),
    Row(
        "POST",
        "/api/v1/networks/{network_id}/invitations/{invitation_id}/withdraw",
        MANAGER,
        target="network_forming",
    ),
    Row(
        "POST",
        "/api/v1/networks/{network_id}/leave",
        PARTY,
        target="network_member",
        body=lambda ctx: {"partita_iva": ctx.target["firm_piva"]},
    ),
    Row(
        "POST",
        "/api/v1/networks/{network_id}/transitions",
        MANAGER,
        target="network",
        body=lambda ctx: {"to": "cancelled"},
    ),
    Row(
        "POST",
        "/api/v1/introductions",
        {"anonymous": LOGIN, "own": OK, "*": FORBIDDEN},
        target="firm",
        body=lambda ctx: {"from_firm": ctx.target["piva"], "to_firm": _new_partner_piva(ctx)},
    ),
    Row(
        "POST",
        "/api/v1/introductions/{introduction_id}/answer",
        PARTY,
        target="introduction_received",
        body=lambda ctx: {"accept": True},
    ),
    Row(
        "POST",
        "/api/v1/introductions/{introduction_id}/messages",
        PARTY,
        target="introduction_accepted",
        body=lambda ctx: {"body": "Buongiorno"},
    ),
    Row("POST", "/api/v1/notifications/read", signed_in()),
]
