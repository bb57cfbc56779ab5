"""Contract workflow: create from firms or a network, save versions, review and approve, sign,
file, record registrations; clause templates; documents; personal-data hooks.

Functions take a `Session` and keyword-only inputs; they `flush()`, never `commit()`.
"""

import difflib
import math
import re
import uuid
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date
from typing import Any

from sqlalchemy import func, or_, select
from sqlalchemy.orm import Session, selectinload

from matchmaker.accounts import service as accounts_service
from matchmaker.accounts.models import User
from matchmaker.contracts import checklist as checklist_mod
from matchmaker.contracts import documents
from matchmaker.contracts.models import (
    ClauseTemplate,
    Contract,
    ContractApproval,
    ContractFacilitator,
    ContractParty,
    ContractRegistration,
    ContractVersion,
)
from matchmaker.contracts.schemas import (
    ALLOWED_FORMS,
    FORMS,
    KINDS,
    SECTIONS,
    ContractBody,
    ContractInvalid,
    TransitionIn,
    dump_body,
    validate_body,
)
from matchmaker.db import utcnow
from matchmaker.firms import service as firms_service
from matchmaker.firms.schemas import GOALS, normalize_partita_iva
from matchmaker.i18n import gettext as _

EDITABLE = frozenset({"draft", "in_review", "approved"})
SIGNED_STATES = frozenset({"signed", "filed", "effective"})
# Manual moves; "approved" also follows the last approval, "effective" the last registration.
TRANSITIONS: dict[str, tuple[str, ...]] = {
    "draft": ("in_review",),
    "in_review": ("draft", "approved"),
    "approved": ("in_review", "signed"),
    "signed": ("filed",),
    "filed": ("effective",),
    "effective": (),
}
# Network statuses a contract may start from (networks domain).
NETWORK_READY = frozenset({"agreed", "contract_drafting"})
# Roles in the network (not in the value chain): they say nothing about the programme.
MEMBERSHIP_ROLES = frozenset({"promoter", "member", "invited", "owner", ""})
NOTARY_FORMS = frozenset({"notarial_deed", "authenticated_private_deed",
                          "digital_signatures_authenticated"})


class ContractError(Exception):
    """A contract operation that cannot be done; `message` says why."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class ContractConflict(ContractError):
    """The contract changed since the caller read it."""

    def __init__(self, current_version: int) -> None:
        super().__init__(
            _("The contract was saved by someone else in the meantime (now at version %(v)s).")
            % {"v": current_version}
        )
        self.current_version = current_version


class ContractLocked(ContractError):
    """The contract's state does not allow the operation (e.g. editing a signed contract)."""


class ContractIncomplete(ContractError):
    """Required elements are missing: nothing may go to signature yet."""

    def __init__(self, blocking: list[str]) -> None:
        super().__init__(_("Missing before signature: %(what)s") % {"what": "; ".join(blocking)})
        self.blocking = blocking


@dataclass
class Page:
    items: Sequence[Any]
    total: int
    page: int
    per_page: int

    @property
    def pages(self) -> int:
        """Return the number of pages (at least 1)."""
        return max(1, math.ceil(self.total / self.per_page)) if self.per_page else 1


# ---------------------------------------------------------------------- clause templates


def standard_template(session: Session) -> ClauseTemplate:
    """Return the shipped standard template, storing it (or its newer version) on first use."""
    data = documents.load_standard()
    tpl = session.scalars(
        select(ClauseTemplate).where(ClauseTemplate.key == data["key"],
                                     ClauseTemplate.number == data["number"])
    ).one_or_none()
    if tpl is None:
        tpl = ClauseTemplate(key=data["key"], number=data["number"], name=data["name"],
                             association="", status="published", clauses=data["clauses"],
                             published_at=utcnow())
        session.add(tpl)
        session.flush()
    return tpl


def get_template(session: Session, template_id: int) -> ClauseTemplate | None:
    """Return one clause template version."""
    return session.get(ClauseTemplate, template_id)


def list_templates(session: Session, *, user: User | None, see_all: bool = False
                   ) -> list[ClauseTemplate]:
    """Return the published templates and the user's own drafts, newest first per key."""
    standard_template(session)
    stmt = select(ClauseTemplate)
    if not see_all:
        own = ClauseTemplate.owner_id == user.id if user is not None else False
        stmt = stmt.where(or_(ClauseTemplate.status == "published", own))
    return list(session.scalars(stmt.order_by(ClauseTemplate.key, ClauseTemplate.number.desc())))


def published_templates(session: Session) -> list[ClauseTemplate]:
    """Return the templates a contract may use."""
    standard_template(session)
    return list(session.scalars(
        select(ClauseTemplate).where(ClauseTemplate.status == "published")
        .order_by(ClauseTemplate.key, ClauseTemplate.number.desc())
    ))


def _slug(name: str) -> str:
    slug = re.sub(r"[^a-z0-9]+", "-", name.lower()).strip("-")[:40] or "modello"
    return f"{slug}-{uuid.uuid4().hex[:6]}"


def copy_template(session: Session, *, source: ClauseTemplate, owner: User, name: str,
                  association: str = "") -> ClauseTemplate:
    """Copy a template into a new draft owned by `owner`."""
    name = name.strip()
    if not name:
        raise ContractInvalid({"name": _("give the template a name")})
    tpl = ClauseTemplate(key=_slug(name), number=1, name=name[:200],
                         association=association.strip()[:200], status="draft",
                         clauses=[dict(c) for c in source.clauses], owner_id=owner.id,
                         based_on_id=source.id)
    session.add(tpl)
    session.flush()
    return tpl


def update_clause(session: Session, *, template: ClauseTemplate, key: str, title: str,
                  text: str, condition: str = "") -> ClauseTemplate:
    """Change one clause of a draft template, refusing text that does not render."""
    if template.status != "draft":
        raise ContractLocked(_("A published template cannot change: make a new version."))
    clauses = [dict(c) for c in template.clauses]
    target = next((c for c in clauses if c["key"] == key), None)
    if target is None:
        raise ContractInvalid({"key": _("no clause %(key)s") % {"key": key}})
    errors: dict[str, str] = {}
    if not title.strip():
        errors["title"] = _("give the clause a title")
    if not text.strip():
        errors["text"] = _("the clause has no text")
    if not errors:
        try:
            documents.check_clause(text, condition.strip())
        except documents.ClauseError as exc:
            errors["text"] = _("the clause does not render: %(error)s") % {"error": str(exc)}
    if errors:
        raise ContractInvalid(errors)
    target.update(title=title.strip()[:200], text=text.replace("\r\n", "\n"),
                  condition=condition.strip())
    template.clauses = clauses
    session.flush()
    return template


def publish_template(session: Session, *, template: ClauseTemplate) -> ClauseTemplate:
    """Publish a draft: from now on contracts may use it, and it never changes."""
    if template.status != "draft":
        raise ContractLocked(_("This template version is already published."))
    template.status = "published"
    template.published_at = utcnow()
    session.flush()
    return template


def revise_template(session: Session, *, template: ClauseTemplate, owner: User) -> ClauseTemplate:
    """Start the next version of a published template as a draft (or return the open one)."""
    latest = session.scalars(
        select(ClauseTemplate).where(ClauseTemplate.key == template.key)
        .order_by(ClauseTemplate.number.desc()).limit(1)
    ).one()
    if latest.status == "draft":
        return latest
    tpl = ClauseTemplate(key=template.key, number=latest.number + 1, name=latest.name,
                         association=latest.association, status="draft",
                         clauses=[dict(c) for c in latest.clauses], owner_id=owner.id,
                         based_on_id=latest.id)
    session.add(tpl)
    session.flush()
    return tpl


# -------------------------------------------------------------------------- contracts


def _loaded() -> Any:
    return (selectinload(Contract.parties), selectinload(Contract.approvals),
            selectinload(Contract.registrations), selectinload(Contract.facilitators),
            selectinload(Contract.template))


def get_contract(session: Session, contract_id: int) -> Contract | None:
    """Return a contract with its parties, approvals, registrations and facilitators."""
    return session.scalars(
        select(Contract).where(Contract.id == contract_id).options(*_loaded())
    ).one_or_none()


def body_of(contract: Contract) -> ContractBody:
    """Return the contract's body as the typed document."""
    return ContractBody.model_validate(contract.body)


def party_firm_ids(contract: Contract) -> list[int]:
    """Return the ids of the participants' firms still registered."""
    return [p.firm_id for p in contract.parties if p.firm_id is not None]


def facilitator_ids(contract: Contract) -> list[int]:
    """Return the ids of the facilitators assigned to the contract."""
    return [f.user_id for f in contract.facilitators]


def list_contracts(session: Session, *, user: User, memberships: dict[int, str],
                   see_all: bool = False, status: str | None = None, page: int = 1,
                   per_page: int = 25) -> Page:
    """Return a page of the contracts the user may see, most recently changed first."""
    stmt = select(Contract)
    if not see_all:
        party = select(ContractParty.contract_id).where(
            ContractParty.firm_id.in_(list(memberships) or [-1]))
        fac = select(ContractFacilitator.contract_id).where(ContractFacilitator.user_id == user.id)
        stmt = stmt.where(or_(Contract.id.in_(party), Contract.id.in_(fac)))
    if status:
        stmt = stmt.where(Contract.status == status)
    total = session.scalar(select(func.count()).select_from(stmt.subquery())) or 0
    page = max(1, page)
    items = session.scalars(
        stmt.options(selectinload(Contract.parties))
        .order_by(Contract.updated_at.desc(), Contract.id.desc())
        .offset((page - 1) * per_page).limit(per_page)
    ).all()
    return Page(list(items), total, page, per_page)


def participant_from_firm(firm: Any) -> dict[str, Any]:
    """Return a participant filled with what the registry knows about a firm."""
    return {
        "firm_id": firm.id,
        "partita_iva": firm.partita_iva,
        "name": firm.name,
        "legal_form": firm.legal_form or "",
        "comune": firm.comune_name,
        "province": firm.province,
    }


def firm_by_piva(session: Session, piva: str) -> Any:
    """Return the registered firm with this partita IVA (any spelling), or None."""
    try:
        piva = normalize_partita_iva(piva)
    except ValueError:
        return None
    return firms_service.get_firm(session, piva)


def _sync_parties(contract: Contract, body: ContractBody) -> None:
    current = {p.partita_iva: p for p in contract.parties}
    wanted = []
    for pos, part in enumerate(body.participants):
        row = current.get(part.partita_iva) or ContractParty(partita_iva=part.partita_iva)
        row.firm_id = part.firm_id
        row.position = pos
        wanted.append(row)
    contract.parties[:] = wanted


def _author_label(user: User | None) -> str:
    if user is None:
        return "system"
    return user.full_name or user.email


def _snapshot(session: Session, contract: Contract, *, author: User | None,
              changes: list[str]) -> ContractVersion:
    version = ContractVersion(
        contract_id=contract.id, number=contract.version, body=contract.body,
        title=contract.title, template_id=contract.template_id,
        author_id=author.id if author else None, author_label=_author_label(author),
        changes=changes, created_at=utcnow(),
    )
    session.add(version)
    return version


def create_contract(
    session: Session,
    *,
    author: User,
    partite_iva: list[str],
    kind: str = "rete_contratto",
    title: str = "",
    template_id: int | None = None,
    network_id: int | None = None,
    seed: dict[str, Any] | None = None,
) -> Contract:
    """Start a draft from registered firms (by partita IVA); the author, if a facilitator,
    is assigned to it."""
    errors: dict[str, str] = {}
    participants: list[dict[str, Any]] = []
    seen: set[str] = set()
    for raw in partite_iva:
        raw = raw.strip()
        if not raw:
            continue
        firm = firm_by_piva(session, raw)
        if firm is None:
            errors["partite_iva"] = _("no registered firm has partita IVA %(piva)s") % {"piva": raw}
            break
        if firm.partita_iva in seen:
            continue
        seen.add(firm.partita_iva)
        participants.append(participant_from_firm(firm))
    if not errors and len(participants) < 2:
        errors["partite_iva"] = _("a network contract needs at least two registered firms")
    if kind not in KINDS:
        errors["kind"] = _("choose rete-contratto or rete-soggetto")
    template = None
    if template_id is not None:
        template = get_template(session, template_id)
        if template is None or template.status != "published":
            errors["template_id"] = _("choose a published template")
    if errors:
        raise ContractInvalid(errors)
    template = template or standard_template(session)
    data: dict[str, Any] = {**(seed or {}), "kind": kind, "participants": participants}
    if kind == "rete_soggetto":
        data.setdefault("common_fund", {})["present"] = True
        data.setdefault("common_body", {})["present"] = True
    body = validate_body(data)
    names = [p["name"] for p in participants]
    contract = Contract(
        title=(title.strip() or _("Network contract: %(names)s") % {"names": ", ".join(names[:3])
                                                                   + ("…" if len(names) > 3 else "")})[:200],
        status="draft", version=1, body=dump_body(body), template_id=template.id,
        network_id=network_id, created_by_id=author.id,
    )
    contract.parties = []
    contract.approvals = []
    contract.registrations = []
    contract.facilitators = []
    _sync_parties(contract, body)
    if author.role == "facilitator":
        contract.facilitators.append(ContractFacilitator(user_id=author.id))
    session.add(contract)
    session.flush()
    _snapshot(session, contract, author=author, changes=["created"])
    session.flush()
    return contract


def network_for_contract(session: Session, network_id: int) -> dict[str, Any]:
    """Return the networks domain's view of a network, or raise ContractInvalid if the
    networks module is not installed or does not know the network."""
    try:
        from matchmaker.networks import service as networks_service
    except ModuleNotFoundError:
        raise ContractInvalid({"network_id": _(
            "Networks are not available on this installation yet: start the contract from a "
            "list of firms instead.")}) from None
    not_found = (LookupError, getattr(networks_service, "NetworkError", LookupError))
    try:
        network = networks_service.get_network_for_contract(session, network_id)
    except not_found:
        network = None
    if not network:
        raise ContractInvalid({"network_id": _("no network %(id)s") % {"id": network_id}})
    namer = getattr(networks_service, "stage_name", None)
    chain_key = network.get("chain_key")
    for m in network.get("members") or []:
        stage_keys = [m["stage_key"]] if m.get("stage_key") else list(m.get("stages") or [])
        m["stage_names"] = [namer(chain_key, k) if namer and chain_key else str(k)
                            for k in stage_keys]
    return network


def _member_piva(session: Session, member: dict[str, Any]) -> str | None:
    if member.get("partita_iva"):
        return str(member["partita_iva"])
    firm_id = member.get("firm_id")
    if firm_id is None:
        return None
    row = next((r for r in firms_service.firm_rows(session, [int(firm_id)])), None)
    return row["partita_iva"] if row else None


def create_from_network(session: Session, *, author: User, network_id: int,
                        kind: str = "rete_contratto", title: str = "",
                        template_id: int | None = None) -> Contract:
    """Start a draft from a network: its members become the participants, their roles the
    programme's skeleton and their goals the suggested objectives."""
    network = network_for_contract(session, network_id)
    status = network.get("status")
    if status is not None and status not in NETWORK_READY:
        raise ContractInvalid({"network_id": _(
            "The network is not agreed yet: every invited firm must answer first.")})
    members = list(network.get("members") or [])
    pivas = [p for p in (_member_piva(session, m) for m in members) if p]
    seed = {"programme": {"activities": programme_skeleton(network, pivas)}}
    if network.get("name"):
        seed["network"] = {"name": str(network["name"])[:300]}
    contract = create_contract(session, author=author, partite_iva=pivas, kind=kind,
                               title=title or str(network.get("name") or ""),
                               template_id=template_id, network_id=network_id, seed=seed)
    if status == "agreed":
        _tell_network(session, "start_contract_drafting", network_id, author)
    return contract


def _tell_network(session: Session, action: str, network_id: int, user: User | None) -> None:
    """Move the network along with its contract (drafting, registered), if the domain can."""
    try:
        from matchmaker.networks import service as networks_service
    except ModuleNotFoundError:
        return
    fn = getattr(networks_service, action, None)
    if fn is None:
        return
    try:
        fn(session, network_id=network_id, user=user)
    except getattr(networks_service, "NetworkError", LookupError):
        # The network moved on by itself (e.g. already registered): the contract stands.
        return


def programme_skeleton(network: dict[str, Any], pivas: list[str]) -> list[dict[str, Any]]:
    """Return one programme activity per member's value-chain role (lead: that member)."""
    out = []
    for member, piva in zip(network.get("members") or [], pivas, strict=False):
        # The promoter's role text only says it promotes the network: not a programme activity.
        role = "" if member.get("role") == "promoter" else str(member.get("role_text") or "").strip()
        if not role and member.get("role") not in MEMBERSHIP_ROLES:
            role = str(member.get("role") or "").strip()
        stages = ", ".join(member.get("stage_names") or [])
        if not (role or stages):
            continue
        title = role[:1].upper() + role[1:] if role else stages
        out.append({"title": title[:300], "lead": piva or None, "stage": stages[:300],
                    "description": ""})
    return out


def _changed_paths(old: Any, new: Any, prefix: str = "") -> list[str]:
    if isinstance(old, dict) and isinstance(new, dict):
        out: list[str] = []
        for key in list(old) + [k for k in new if k not in old]:
            out += _changed_paths(old.get(key), new.get(key), f"{prefix}.{key}" if prefix else key)
        return out
    if isinstance(old, list) and isinstance(new, list) and len(old) == len(new):
        out = []
        for i, (a, b) in enumerate(zip(old, new, strict=True)):
            out += _changed_paths(a, b, f"{prefix}.{i}")
        return out
    return [] if old == new else [prefix]


def _check_editable(contract: Contract, expected_version: int | None) -> None:
    if contract.status not in EDITABLE:
        raise ContractLocked(_("A %(status)s contract cannot change.")
                             % {"status": _(contract.status.replace("_", " "))})
    if expected_version is not None and expected_version != contract.version:
        raise ContractConflict(contract.version)


def _resolve_participants(session: Session, contract: Contract, data: dict[str, Any]) -> None:
    """Link participants to registered firms; a new participant must be a registered firm."""
    known = {p.partita_iva: p.firm_id for p in contract.parties}
    errors = {}
    for i, part in enumerate(data.get("participants") or []):
        if not isinstance(part, dict) or not part.get("partita_iva"):
            continue
        try:
            piva = normalize_partita_iva(str(part["partita_iva"]))
        except ValueError:
            continue  # validation names it
        if piva in known:
            part["firm_id"] = known[piva]
            continue
        firm = firms_service.get_firm(session, piva)
        if firm is None:
            errors[f"participants.{i}.partita_iva"] = (
                _("no registered firm has partita IVA %(piva)s") % {"piva": piva})
        else:
            part["firm_id"] = firm.id
            part.setdefault("name", firm.name)
    if errors:
        raise ContractInvalid(errors)


def update_contract(
    session: Session,
    *,
    contract: Contract,
    changes: dict[str, Any],
    expected_version: int | None,
    author: User | None,
) -> list[str]:
    """Save changed sections (each replaced whole) as a new version; return the changed paths.

    A stale `expected_version` raises ContractConflict; any change withdraws the approvals
    (an approved contract goes back to review). Nothing changed: no new version.
    """
    # Re-read under a row lock (PostgreSQL; SQLite's writing requests hold the database lock):
    # racing saves queue, and the later one sees the earlier one's version instead of writing
    # over it.
    session.refresh(contract, with_for_update=True)
    _check_editable(contract, expected_version)
    data = dict(contract.body)
    unknown = [k for k in changes if k not in SECTIONS and k not in ("title", "template_id")]
    if unknown:
        raise ContractInvalid({k: _("unknown field") for k in unknown})
    for key in SECTIONS:
        if key in changes:
            data[key] = changes[key]
    if "participants" in changes:
        _resolve_participants(session, contract, data)
    body = validate_body(data)
    new = dump_body(body)
    changed = _changed_paths(contract.body, new)
    new_title = contract.title
    if changes.get("title") is not None:
        new_title = str(changes["title"]).strip()[:200] or contract.title
        if new_title != contract.title:
            changed.append("title")
    new_template = contract.template_id
    if changes.get("template_id") is not None and changes["template_id"] != contract.template_id:
        tpl = get_template(session, int(changes["template_id"]))
        if tpl is None or tpl.status != "published":
            raise ContractInvalid({"template_id": _("choose a published template")})
        new_template = tpl.id
        changed.append("template")
    if not changed:
        return []
    contract.body = new
    contract.title = new_title
    contract.template_id = new_template
    contract.version += 1
    contract.updated_at = utcnow()
    _sync_parties(contract, body)
    contract.approvals.clear()
    if contract.status == "approved":
        contract.status = "in_review"
    session.flush()
    _snapshot(session, contract, author=author, changes=changed)
    session.flush()
    return changed


def add_participant(session: Session, *, contract: Contract, partita_iva: str,
                    expected_version: int | None, author: User | None) -> list[str]:
    """Add a registered firm as a participant."""
    firm = firm_by_piva(session, partita_iva)
    if firm is None:
        raise ContractInvalid({"add_partita_iva": _("no registered firm has partita IVA %(piva)s")
                               % {"piva": partita_iva.strip()}})
    body = body_of(contract)
    if body.participant(firm.partita_iva) is not None:
        raise ContractInvalid({"add_partita_iva": _("%(name)s already takes part")
                               % {"name": firm.name}})
    joined = "original" if contract.status == "draft" else "later"
    participants = [*contract.body["participants"], {**participant_from_firm(firm),
                                                      "joined": joined}]
    return update_contract(session, contract=contract, changes={"participants": participants},
                           expected_version=expected_version, author=author)


def remove_participant(session: Session, *, contract: Contract, partita_iva: str,
                       expected_version: int | None, author: User | None) -> list[str]:
    """Remove a participant and every reference to it (roles, leads, contributions)."""
    data = body_of(contract).model_dump(mode="json")
    data["participants"] = [p for p in data["participants"] if p["partita_iva"] != partita_iva]
    pr = data["programme"]
    pr["parties"] = [r for r in pr["parties"] if r["partita_iva"] != partita_iva]
    for a in pr["activities"]:
        if a["lead"] == partita_iva:
            a["lead"] = None
    fund = data["common_fund"]
    fund["contributions"] = [c for c in fund["contributions"] if c["partita_iva"] != partita_iva]
    if data["common_body"]["participant"] == partita_iva:
        data["common_body"]["participant"] = None
    if data["staff"]["unirete_sender"] == partita_iva:
        data["staff"]["unirete_sender"] = None
    changes = {k: data[k] for k in ("participants", "programme", "common_fund", "common_body",
                                    "staff")}
    return update_contract(session, contract=contract, changes=changes,
                           expected_version=expected_version, author=author)


def checklist_for(contract: Contract) -> checklist_mod.Checklist:
    """Return the law checklist of the contract's current body."""
    return checklist_mod.build(body_of(contract))


# ------------------------------------------------------------------------- workflow


def current_approvals(contract: Contract) -> dict[str, ContractApproval]:
    """Return partita IVA -> approval, for approvals of the current version."""
    return {a.partita_iva: a for a in contract.approvals if a.version == contract.version}


def pending_approvals(contract: Contract) -> list[str]:
    """Return the partite IVA of participants who have not approved the current version."""
    done = current_approvals(contract)
    return [p["partita_iva"] for p in contract.body["participants"]
            if p["partita_iva"] not in done]


def approve(session: Session, *, contract: Contract, partita_iva: str, version: int,
            user: User) -> ContractApproval:
    """Record that a participant's representative approves this exact version.

    When the last participant approves, the contract becomes approved.
    """
    if contract.status != "in_review":
        raise ContractLocked(_("Only a contract in review can be approved."))
    if version != contract.version:
        raise ContractConflict(contract.version)
    body = body_of(contract)
    if body.participant(partita_iva) is None:
        raise ContractInvalid({"partita_iva": _("not a participant")})
    check = checklist_mod.build(body)
    if not check.complete:
        raise ContractIncomplete(check.blocking())
    existing = next((a for a in contract.approvals if a.partita_iva == partita_iva), None)
    if existing is not None:
        contract.approvals.remove(existing)
        session.flush()
    approval = ContractApproval(partita_iva=partita_iva, version=version, user_id=user.id,
                                approver_name=_author_label(user), approved_at=utcnow())
    contract.approvals.append(approval)
    if not pending_approvals(contract):
        contract.status = "approved"
    session.flush()
    return approval


def _validate_signature(body: ContractBody, data: TransitionIn) -> dict[str, Any]:
    errors: dict[str, str] = {}
    form = data.form or body.form
    if form is None:
        errors["form"] = _("choose the form of the deed")
    elif body.form and form != body.form:
        errors["form"] = _("the contract provides for %(form)s") % {"form": _(FORMS[body.form]["en"])}
    elif form not in ALLOWED_FORMS[body.kind]:
        errors["form"] = _("a %(kind)s cannot be signed this way") % {"kind": _(KINDS[body.kind]["en"])}
    if data.signed_on is None:
        errors["signed_on"] = _("give the date of signature")
    elif data.signed_on > date.today():
        errors["signed_on"] = _("the date of signature cannot be in the future")
    signers = [s.strip() for s in data.signers if s.strip()] or [
        p.representative.name for p in body.originals() if p.representative.name]
    if form in NOTARY_FORMS and not data.notary.strip():
        errors["notary"] = _("give the notary's name")
    if errors:
        raise ContractInvalid(errors)
    return {"form": form, "signed_on": data.signed_on.isoformat(),  # type: ignore[union-attr]
            "notary": data.notary.strip(), "signers": signers}


def transition(session: Session, *, contract: Contract, data: TransitionIn,
               actor: User | None) -> Contract:
    """Move the contract to `data.to` if its state and contents allow it."""
    to = data.to
    if to not in TRANSITIONS[contract.status]:
        raise ContractLocked(_("A contract cannot go from %(a)s to %(b)s.")
                             % {"a": _(contract.status.replace("_", " ")),
                                "b": _(to.replace("_", " "))})
    body = body_of(contract)
    if to == "approved":
        check = checklist_mod.build(body)
        if not check.complete:
            raise ContractIncomplete(check.blocking())
        pending = pending_approvals(contract)
        if pending:
            names = [body.participant(p).name for p in pending]  # type: ignore[union-attr]
            raise ContractLocked(_("Still to approve version %(v)s: %(names)s")
                                 % {"v": contract.version, "names": ", ".join(names)})
    elif to == "signed":
        check = checklist_mod.build(body)
        if not check.complete:
            raise ContractIncomplete(check.blocking())
        contract.signature = {**_validate_signature(body, data), "version": contract.version}
    elif to == "filed":
        errors = {}
        if data.filed_on is None:
            errors["filed_on"] = _("give the date of filing")
        elif contract.signature and data.filed_on < date.fromisoformat(
                contract.signature["signed_on"]):
            errors["filed_on"] = _("the contract cannot be filed before it was signed")
        filed_by = None
        if data.filed_by:
            try:
                filed_by = normalize_partita_iva(data.filed_by)
            except ValueError as exc:
                errors["filed_by"] = str(exc)
            if filed_by and body.participant(filed_by) is None:
                errors["filed_by"] = _("not a participant")
        if errors:
            raise ContractInvalid(errors)
        contract.filed_on = data.filed_on
        contract.filed_by = filed_by
    elif to == "effective":
        missing = [p.name for p in body.originals()
                   if p.partita_iva not in {r.partita_iva for r in contract.registrations}]
        if missing:
            raise ContractLocked(_("Registration still to record for: %(names)s")
                                 % {"names": ", ".join(missing)})
        contract.effective_on = effective_date(contract)
        if contract.network_id is not None:
            _tell_network(session, "mark_registered", contract.network_id, actor)
    elif to == "in_review" and contract.status == "approved":
        contract.approvals.clear()
    contract.status = to
    contract.updated_at = utcnow()
    session.flush()
    return contract


def effective_date(contract: Contract) -> date | None:
    """Return the date of the last registration of the original signatories, once all exist."""
    originals = [p["partita_iva"] for p in contract.body["participants"]
                 if p.get("joined", "original") == "original"]
    dates = {r.partita_iva: r.registered_on for r in contract.registrations}
    if not originals or any(p not in dates for p in originals):
        return None
    return max(dates[p] for p in originals)


def record_registration(session: Session, *, contract: Contract, partita_iva: str,
                        registered_on: date, user: User | None) -> Contract:
    """Record the date the register recorded the contract for one participant; the contract
    becomes effective on the last original signatory's date."""
    if contract.status not in ("filed", "effective"):
        raise ContractLocked(_("Registrations are recorded once the contract is filed."))
    try:
        piva = normalize_partita_iva(partita_iva)
    except ValueError as exc:
        raise ContractInvalid({"partita_iva": str(exc)}) from None
    if body_of(contract).participant(piva) is None:
        raise ContractInvalid({"partita_iva": _("not a participant")})
    if contract.filed_on and registered_on < contract.filed_on:
        raise ContractInvalid({"registered_on": _("a registration cannot precede the filing")})
    if registered_on > date.today():
        raise ContractInvalid({"registered_on": _("the date cannot be in the future")})
    row = next((r for r in contract.registrations if r.partita_iva == piva), None)
    if row is None:
        contract.registrations.append(ContractRegistration(
            partita_iva=piva, registered_on=registered_on,
            recorded_by_id=user.id if user else None, created_at=utcnow()))
    else:
        row.registered_on = registered_on
    session.flush()
    eff = effective_date(contract)
    contract.effective_on = eff
    if eff is not None and contract.status != "effective":
        contract.status = "effective"
        if contract.network_id is not None:
            _tell_network(session, "mark_registered", contract.network_id, user)
    contract.updated_at = utcnow()
    session.flush()
    return contract


def assign_facilitator(session: Session, *, contract: Contract, email: str) -> User:
    """Assign a facilitator (by e-mail) to the contract."""
    user = accounts_service.get_user_by_email(session, email)
    if user is None or user.role != "facilitator" or not user.is_active:
        raise ContractInvalid({"email": _("no active facilitator has this e-mail address")})
    if user.id not in facilitator_ids(contract):
        contract.facilitators.append(ContractFacilitator(user_id=user.id, created_at=utcnow()))
        session.flush()
    return user


# ------------------------------------------------------------------ versions and diffs


def versions(session: Session, contract: Contract) -> list[ContractVersion]:
    """Return every saved version, newest first."""
    return list(session.scalars(
        select(ContractVersion).where(ContractVersion.contract_id == contract.id)
        .order_by(ContractVersion.number.desc())
    ))


def get_version(session: Session, contract: Contract, number: int) -> ContractVersion | None:
    """Return one saved version."""
    return session.scalars(
        select(ContractVersion).where(ContractVersion.contract_id == contract.id,
                                      ContractVersion.number == number)
    ).one_or_none()


@dataclass
class DiffRow:
    tag: str  # "equal", "replace", "delete", "insert"
    left: str
    right: str


@dataclass
class SectionDiff:
    title: str
    rows: list[DiffRow] = field(default_factory=list)

    @property
    def changed(self) -> bool:
        """Tell whether anything differs in this section."""
        return any(r.tag != "equal" for r in self.rows)


def _document_from(session: Session, *, body: ContractBody, title: str,
                   template_id: int | None, version: int, draft: bool,
                   signed: dict[str, Any] | None = None,
                   missing: list[str] | None = None) -> documents.Document:
    tpl = get_template(session, template_id) if template_id else None
    tpl = tpl or standard_template(session)
    return documents.build_document(body=body, clauses=tpl.clauses, title=title, draft=draft,
                                    version=version, template_label=tpl.label, signed=signed,
                                    missing=missing)


def diff_versions(session: Session, contract: Contract, a: int, b: int) -> list[SectionDiff]:
    """Compare two versions' rendered texts, section by section, line by line."""
    va, vb = get_version(session, contract, a), get_version(session, contract, b)
    if va is None or vb is None:
        raise ContractInvalid({"version": _("no such version")})
    docs = [
        _document_from(session, body=ContractBody.model_validate(v.body), title=v.title,
                       template_id=v.template_id, version=v.number, draft=False)
        for v in (va, vb)
    ]
    left, right = (dict(d.text_sections()) for d in docs)
    titles = list(left) + [t for t in right if t not in left]
    out = []
    for title in titles:
        la, lb = left.get(title, []), right.get(title, [])
        sd = SectionDiff(title)
        for tag, i1, i2, j1, j2 in difflib.SequenceMatcher(a=la, b=lb,
                                                           autojunk=False).get_opcodes():
            if tag == "equal":
                sd.rows += [DiffRow("equal", x, x) for x in la[i1:i2]]
                continue
            olds, news = la[i1:i2], lb[j1:j2]
            for k in range(max(len(olds), len(news))):
                o = olds[k] if k < len(olds) else ""
                n = news[k] if k < len(news) else ""
                sd.rows.append(DiffRow("replace" if o and n else "delete" if o else "insert", o, n))
        out.append(sd)
    return out


# ------------------------------------------------------------------------- documents


def document_for(session: Session, *, contract: Contract, draft: bool) -> documents.Document:
    """Build the document of the contract's current text; for signature (not draft) every
    required element must be present, else ContractIncomplete names what is missing."""
    body = body_of(contract)
    check = checklist_mod.build(body)
    if not draft and not check.complete:
        raise ContractIncomplete(check.blocking())
    return _document_from(
        session, body=body, title=contract.title, template_id=contract.template_id,
        version=contract.version, draft=draft,
        signed=contract.signature if contract.status in SIGNED_STATES else None,
        missing=check.blocking() if draft else None,
    )


def export_document(session: Session, *, contract: Contract, fmt: str, draft: bool) -> bytes:
    """Return the contract's document in `fmt` (docx, pdf, md)."""
    return documents.render(document_for(session, contract=contract, draft=draft), fmt)


def filename(contract: Contract, fmt: str, *, draft: bool) -> str:
    """Return a download file name for the contract's document."""
    stem = re.sub(r"[^A-Za-z0-9]+", "-", contract.title).strip("-")[:60] or "contratto"
    return f"contratto-{contract.id}-{stem}-v{contract.version}{'-bozza' if draft else ''}.{fmt}"


# ----------------------------------------------------------------------- suggestions

GOAL_OBJECTIVES: dict[str, tuple[str, str, str]] = {
    # goal key: (objective, indicator, target) in Italian, for the guided drafting.
    "innovation": ("Sviluppare insieme nuovi prodotti e processi innovativi",
                   "Nuovi prodotti o processi introdotti", "2"),
    "internationalisation": ("Aumentare la presenza delle Parti sui mercati esteri",
                             "Quota di fatturato estero", "+10 punti percentuali"),
    "joint_rnd": ("Svolgere progetti comuni di ricerca e sviluppo",
                  "Progetti di R&S avviati in comune", "2"),
    "joint_purchasing": ("Ridurre i costi di approvvigionamento con acquisti comuni",
                         "Risparmio sugli acquisti comuni", "8%"),
    "shared_logistics": ("Condividere la logistica per ridurre costi e tempi di consegna",
                         "Costo logistico per unità spedita", "-10%"),
    "joint_marketing": ("Promuovere un marchio e un'offerta comuni",
                        "Contatti commerciali generati dalla rete", "100"),
    "training": ("Formare insieme il personale delle Parti",
                 "Ore di formazione comune per addetto", "16"),
    "sustainability": ("Ridurre l'impatto ambientale delle attività delle Parti",
                       "Emissioni di CO2 per unità prodotta", "-15%"),
    "digitalisation": ("Digitalizzare i processi condivisi tra le Parti",
                       "Processi comuni gestiti su piattaforma digitale", "3"),
    "public_tenders": ("Partecipare insieme a gare e appalti pubblici",
                       "Gare a cui la rete partecipa", "4"),
    "access_to_credit": ("Migliorare l'accesso al credito delle Parti",
                         "Finanziamenti ottenuti come rete", "1"),
    "production_capacity": ("Aumentare la capacità produttiva condividendo impianti e commesse",
                            "Commesse eseguite in comune", "5"),
}


def objective_for_goal(goal: str) -> dict[str, Any]:
    """Return a suggested objective, with one indicator, for a goal key."""
    text, indicator, target = GOAL_OBJECTIVES[goal]
    return {"text": text, "goal": goal,
            "indicators": [{"indicator": indicator, "baseline": "", "target": target,
                            "due_date": None}]}


def goal_suggestions(session: Session, contract: Contract) -> list[dict[str, Any]]:
    """Return the participants' goals not yet covered by an objective, most shared first."""
    counts: Counter[str] = Counter()
    holders: dict[str, list[str]] = {}
    for part in contract.body["participants"]:
        firm = firms_service.get_firm(session, part["partita_iva"])
        for g in (firm.goals if firm else []):
            counts[g] += 1
            holders.setdefault(g, []).append(part["name"])
    used = {o.get("goal") for o in contract.body["objectives"]}
    return [
        {"goal": g, "labels": GOALS.get(g, {}), "count": n, "firms": holders[g],
         "objective": objective_for_goal(g)}
        for g, n in counts.most_common() if g in GOAL_OBJECTIVES and g not in used
    ]


def activity_suggestions(session: Session, contract: Contract) -> list[dict[str, Any]]:
    """Return programme activities suggested by the network's value-chain roles."""
    if contract.network_id is None:
        return []
    try:
        network = network_for_contract(session, contract.network_id)
    except ContractInvalid:
        return []
    members = list(network.get("members") or [])
    pivas = [_member_piva(session, m) or "" for m in members]
    titles = {a.get("title") for a in contract.body["programme"]["activities"]}
    known = {p["partita_iva"] for p in contract.body["participants"]}
    return [a for a in programme_skeleton(network, pivas)
            if a["title"] not in titles and a["lead"] in known]


# ------------------------------------------------------------ personal data (accounts)


def export_user_contracts(session: Session, user: User) -> list[dict[str, Any]]:
    """Return the user's part in contracts: created, assigned, approved, versions authored."""
    ids: dict[int, set[str]] = {}

    def mark(rows: Any, role: str) -> None:
        for cid in rows:
            ids.setdefault(cid, set()).add(role)

    mark(session.scalars(select(Contract.id).where(Contract.created_by_id == user.id)), "creator")
    mark(session.scalars(select(ContractFacilitator.contract_id)
                         .where(ContractFacilitator.user_id == user.id)), "facilitator")
    mark(session.scalars(select(ContractApproval.contract_id)
                         .where(ContractApproval.user_id == user.id)), "approver")
    mark(session.scalars(select(ContractVersion.contract_id)
                         .where(ContractVersion.author_id == user.id)), "author")
    out = []
    for cid in sorted(ids):
        c = get_contract(session, cid)
        if c is None:
            continue
        authored = session.scalars(
            select(ContractVersion.number).where(ContractVersion.contract_id == cid,
                                                 ContractVersion.author_id == user.id)
            .order_by(ContractVersion.number)).all()
        out.append({
            "id": c.id, "title": c.title, "status": c.status, "version": c.version,
            "roles": sorted(ids[cid]),
            "versions_authored": list(authored),
            "approvals": [{"partita_iva": a.partita_iva, "version": a.version,
                           "approved_at": a.approved_at.isoformat()}
                          for a in c.approvals if a.user_id == user.id],
        })
    return out


def forget_user(session: Session, user: User) -> None:
    """Before an account is deleted: drop the person's name from contract records, keeping
    every contract's text (signed ones above all) and the approvals of signed contracts."""
    label = f"deleted user #{user.id}"
    for v in session.scalars(select(ContractVersion).where(ContractVersion.author_id == user.id)):
        v.author_label = label
        v.author_id = None
    for a in session.scalars(select(ContractApproval).where(ContractApproval.user_id == user.id)
                             .options(selectinload(ContractApproval.contract))):
        if a.contract.status not in SIGNED_STATES:
            a.approver_name = label
        a.user_id = None
    for c in session.scalars(select(Contract).where(Contract.created_by_id == user.id)):
        c.created_by_id = None
    for r in session.scalars(select(ContractRegistration)
                             .where(ContractRegistration.recorded_by_id == user.id)):
        r.recorded_by_id = None
    for f in session.scalars(select(ContractFacilitator)
                             .where(ContractFacilitator.user_id == user.id)):
        session.delete(f)
    for t in session.scalars(select(ClauseTemplate).where(ClauseTemplate.owner_id == user.id)):
        t.owner_id = None
    session.flush()


def install_account_hooks() -> None:
    """Register the contracts' sections of the personal-data export and deletion."""
    accounts_service.register_export_hook("contracts", export_user_contracts)
    accounts_service.register_delete_hook(forget_user)


install_account_hooks()
