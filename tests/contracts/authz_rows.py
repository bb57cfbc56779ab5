"""Authorization matrix rows for contracts and clause templates.

"Own" means: the actor's firm takes part in the contract (as its owner), or the actor is the
facilitator assigned to it; for a clause template, the actor owns the template.
"""

from datetime import date
from typing import Any

from matchmaker.accounts import service as accounts_service
from matchmaker.contracts import service
from matchmaker.contracts.models import ContractFacilitator
from matchmaker.contracts.schemas import TransitionIn
from tests.authz import FORBIDDEN, LOGIN, NOTFOUND, OK, Ctx, Row, owner_or_admin, roles, target
from tests.contracts.helpers import complete_contract, make_firms


def _contract(ctx: Ctx, owner: Any, state: str = "draft") -> dict[str, Any]:
    firms = make_firms(ctx.db, 2)
    author = ctx.make_user("facilitator")
    c = complete_contract(ctx.db, author, firms)
    if owner is not None:
        if owner.role == "facilitator":
            c.facilitators.append(ContractFacilitator(user_id=owner.id))
        else:
            accounts_service.add_firm_member(ctx.db, user=owner, firm_id=firms[0].id,
                                             role="owner")
    if state in ("in_review", "filed"):
        service.transition(ctx.db, contract=c, data=TransitionIn(to="in_review"), actor=author)
    if state == "filed":
        for f in firms:
            rep = ctx.make_user("owner", firms=[f.id], firm_role="representative")
            service.approve(ctx.db, contract=c, partita_iva=f.partita_iva, version=c.version,
                            user=rep)
        today = date.today()
        service.transition(ctx.db, contract=c, data=TransitionIn(
            to="signed", signed_on=today, notary="Notaio Rossi"), actor=author)
        service.transition(ctx.db, contract=c, data=TransitionIn(to="filed", filed_on=today),
                           actor=author)
    ctx.db.flush()
    return {"contract_id": c.id, "contract": c, "piva": firms[0].partita_iva,
            "step": "duration"}


@target("contract")
def draft_contract(ctx: Ctx, owner: Any) -> dict[str, Any]:
    """A complete draft contract between two firms."""
    return _contract(ctx, owner)


@target("contract_in_review")
def contract_in_review(ctx: Ctx, owner: Any) -> dict[str, Any]:
    """A complete contract in review: its participants' representatives may approve it."""
    return _contract(ctx, owner, "in_review")


@target("contract_filed")
def contract_filed(ctx: Ctx, owner: Any) -> dict[str, Any]:
    """A signed contract filed with the register, awaiting registration dates."""
    return _contract(ctx, owner, "filed")


def _template(ctx: Ctx, owner: Any, publish: bool) -> dict[str, Any]:
    who = owner or ctx.make_user("facilitator")
    tpl = service.copy_template(ctx.db, source=service.standard_template(ctx.db), owner=who,
                                name="Modello dell'associazione")
    if publish:
        service.publish_template(ctx.db, template=tpl)
    return {"template_id": tpl.id, "key": "durata"}


@target("clause_template")
def draft_template(ctx: Ctx, owner: Any) -> dict[str, Any]:
    """A draft clause template owned by the actor (when owned) or by a facilitator."""
    return _template(ctx, owner, False)


@target("clause_template_published")
def published_template(ctx: Ctx, owner: Any) -> dict[str, Any]:
    """A published clause template owned by the actor (when owned) or by a facilitator."""
    return _template(ctx, owner, True)


def _new_form(ctx: Ctx) -> dict[str, Any]:
    firms = make_firms(ctx.db, 2)
    return {"kind": "rete_contratto", "partite_iva": "\n".join(f.partita_iva for f in firms)}


def _step_form(ctx: Ctx) -> dict[str, Any]:
    return {"version": str(ctx.target["contract"].version), "duration.years": "4",
            "action": "save"}


def _approval(ctx: Ctx) -> dict[str, Any]:
    return {"partita_iva": ctx.target["piva"], "version": ctx.target["contract"].version}


def _registration(ctx: Ctx) -> dict[str, Any]:
    return {"partita_iva": ctx.target["piva"], "registered_on": date.today().isoformat()}


EDITORS = owner_or_admin(NOTFOUND)
APPROVERS = {"anonymous": LOGIN, "own": OK, "facilitator+own": FORBIDDEN, "admin": FORBIDDEN,
             "*": NOTFOUND}
TEMPLATE_OWNER = {"anonymous": LOGIN, "facilitator+own": OK, "admin+own": OK, "admin": OK,
                  "own": FORBIDDEN,
                  "*": NOTFOUND}

ROWS = [
    Row("POST", "/contracts/new", roles("facilitator", "admin"), body=_new_form),
    Row("POST", "/contracts/{contract_id}/steps/{step}", EDITORS, target="contract",
        body=_step_form),
    Row("POST", "/contracts/{contract_id}/transitions", EDITORS, target="contract",
        body=lambda ctx: {"to": "in_review"}),
    Row("POST", "/contracts/{contract_id}/approvals", APPROVERS, target="contract_in_review",
        body=_approval),
    Row("POST", "/contracts/{contract_id}/registrations", EDITORS, target="contract_filed",
        body=_registration),
    Row("POST", "/contracts/{contract_id}/facilitators",
        {"anonymous": LOGIN, "admin+own": OK, "admin": OK, "own": FORBIDDEN, "*": NOTFOUND},
        target="contract",
        body=lambda ctx: {"email": ctx.make_user("facilitator").email}),
    Row("POST", "/contract-templates/copy", roles("facilitator", "admin"),
        body=lambda ctx: {"source_id": str(service.standard_template(ctx.db).id),
                          "name": "Il nostro modello"}),
    Row("POST", "/contract-templates/{template_id}/clauses/{key}", TEMPLATE_OWNER,
        target="clause_template",
        body=lambda ctx: {"title": "Durata", "text": "Dura {{ c.duration.years }} anni.",
                          "condition": ""}),
    Row("POST", "/contract-templates/{template_id}/publish", TEMPLATE_OWNER,
        target="clause_template"),
    Row("POST", "/contract-templates/{template_id}/revise",
        {"anonymous": LOGIN, "facilitator+own": OK, "admin": OK, "*": FORBIDDEN},
        target="clause_template_published"),
    Row("POST", "/api/v1/contracts", roles("facilitator", "admin"),
        body=lambda ctx: {"partite_iva": [f.partita_iva for f in make_firms(ctx.db, 2)]}),
    Row("PATCH", "/api/v1/contracts/{contract_id}", EDITORS, target="contract",
        body=lambda ctx: {"version": ctx.target["contract"].version,
                          "duration": {"years": 4}}),
    Row("POST", "/api/v1/contracts/{contract_id}/transitions", EDITORS, target="contract",
        body=lambda ctx: {"to": "in_review"}),
    Row("POST", "/api/v1/contracts/{contract_id}/approvals", APPROVERS,
        target="contract_in_review", body=_approval),
    Row("POST", "/api/v1/contracts/{contract_id}/registrations", EDITORS,
        target="contract_filed", body=_registration),
]
