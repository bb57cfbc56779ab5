"""Contract pages (list, new, overview, guided drafting, versions and diff, clause templates)
and the /api/v1/contracts API."""

from dataclasses import dataclass
from datetime import date
from typing import Any
from urllib.parse import urlencode

from fastapi import APIRouter, Depends, HTTPException, Query, Request
from fastapi.responses import JSONResponse, Response
from sqlalchemy.orm import Session

from matchmaker.accounts import policy
from matchmaker.accounts import service as accounts_service
from matchmaker.accounts.deps import client_ip, require_user
from matchmaker.accounts.models import User
from matchmaker.contracts import checklist as checklist_mod
from matchmaker.contracts import documents, forms, service
from matchmaker.contracts.models import ClauseTemplate, Contract
from matchmaker.contracts.schemas import (
    ALLOWED_FORMS,
    BODY_KINDS,
    COLLABORATION_FORMS,
    CONTRIBUTION_KINDS,
    FORMS,
    KINDS,
    RENEWALS,
    RULES,
    STANDARD_MODEL_FORMS,
    STATUS_LABELS,
    VOTING,
    ApprovalIn,
    ChecklistOut,
    ContractCreate,
    ContractInvalid,
    ContractOut,
    ContractPageOut,
    ContractPatch,
    ContractSummaryOut,
    RegistrationIn,
    TemplateRef,
    TransitionIn,
    VersionOut,
)
from matchmaker.db import get_session
from matchmaker.firms.schemas import GOALS
from matchmaker.i18n import current_language
from matchmaker.i18n import gettext as _
from matchmaker.web import flash, is_htmx, redirect, render

router = APIRouter(include_in_schema=False)
api_router = APIRouter(tags=["contracts"])
SessionDep = Depends(get_session, scope="function")
UserDep = Depends(require_user)
FORMATS = ("docx", "pdf", "md")


@dataclass
class Access:
    contract: Contract
    memberships: dict[int, str]
    can_edit: bool
    approvable: list[str]  # partite IVA the user may approve for


def _access(session: Session, user: User, contract_id: int, *, edit: bool = False) -> Access:
    contract = service.get_contract(session, contract_id)
    memberships = accounts_service.memberships_for(session, user)
    if contract is None:
        raise HTTPException(404, _("No such contract"))
    parties = service.party_firm_ids(contract)
    facilitators = service.facilitator_ids(contract)
    if not policy.can_view_contract(user, party_firm_ids=parties, memberships=memberships,
                                    facilitator_ids=facilitators):
        raise HTTPException(404, _("No such contract"))
    can_edit = policy.can_edit_contract(user, party_firm_ids=parties, memberships=memberships,
                                        facilitator_ids=facilitators)
    if edit and not can_edit:
        raise HTTPException(403, _("You cannot change this contract"))
    approvable = [p.partita_iva for p in contract.parties if p.firm_id is not None
                  and policy.can_approve_contract(user, firm_id=p.firm_id,
                                                  memberships=memberships)]
    return Access(contract, memberships, can_edit, approvable)


def _audit(session: Session, request: Request, user: User, action: str, contract: Contract,
           detail: dict[str, Any] | None = None) -> None:
    accounts_service.audit(session, actor=user, action=action, object_type="contract",
                           object_id=contract.id, detail=detail, ip=client_ip(request))


def _audit_template(session: Session, request: Request, user: User, action: str,
                    template_id: int, detail: dict[str, Any] | None = None) -> None:
    accounts_service.audit(session, actor=user, action=action, object_type="clause_template",
                           object_id=template_id, detail=detail, ip=client_ip(request))


def _labels(vocab: dict[str, dict[str, str]]) -> dict[str, str]:
    return {k: _(v["en"]) for k, v in vocab.items()}


def _template_ref(tpl: ClauseTemplate | None) -> TemplateRef | None:
    if tpl is None:
        return None
    return TemplateRef(id=tpl.id, key=tpl.key, number=tpl.number, name=tpl.name)


def contract_out(contract: Contract) -> ContractOut:
    """Return the API shape of a contract."""
    current = contract.version
    return ContractOut(
        id=contract.id, title=contract.title, status=contract.status,  # type: ignore[arg-type]
        version=contract.version, kind=contract.body["kind"], network_id=contract.network_id,
        template=_template_ref(contract.template), body=contract.body,
        approvals=[{"partita_iva": a.partita_iva, "version": a.version,
                    "approver": a.approver_name, "approved_at": a.approved_at,
                    "current": a.version == current} for a in contract.approvals],
        registrations=[{"partita_iva": r.partita_iva, "registered_on": r.registered_on}
                       for r in contract.registrations],
        signature=contract.signature, filed_on=contract.filed_on,
        effective_on=contract.effective_on,
        checklist_complete=service.checklist_for(contract).complete,
        created_at=contract.created_at, updated_at=contract.updated_at,
    )


def _api_error(exc: Exception) -> JSONResponse:
    if isinstance(exc, ContractInvalid):
        return JSONResponse({"detail": exc.as_detail()}, status_code=422)
    if isinstance(exc, service.ContractConflict):
        return JSONResponse({"detail": exc.message, "current_version": exc.current_version},
                            status_code=409)
    if isinstance(exc, service.ContractIncomplete):
        return JSONResponse({"detail": exc.message, "missing": exc.blocking}, status_code=409)
    if isinstance(exc, service.ContractLocked):
        return JSONResponse({"detail": exc.message}, status_code=409)
    raise exc


# ------------------------------------------------------------------------- pages


def _network_choices(session: Session, user: User) -> list[tuple[int, str]]:
    """Return the networks the user may start a contract from, if the networks domain exists."""
    try:
        from matchmaker.networks import service as networks_service
    except ModuleNotFoundError:
        return []
    lister = getattr(networks_service, "list_networks", None)
    if lister is None:
        return []
    page = lister(session, user=user, see_all=policy.is_admin(user), page=1, per_page=100)
    return [(n.id, n.name) for n in page.items]


@router.get("/contracts")
def contracts_page(request: Request, status: str | None = None, page: int = Query(1, ge=1),
                   session: Session = SessionDep, user: User = UserDep) -> Response:
    """List the contracts the user may see."""
    status = status if status in STATUS_LABELS else None
    result = service.list_contracts(
        session, user=user, memberships=accounts_service.memberships_for(session, user),
        see_all=policy.is_admin(user), status=status, page=page, per_page=20)
    return render(request, "contracts/list.html", {
        "page": result, "status": status, "statuses": STATUS_LABELS,
        "query": urlencode({"status": status} if status else {}),
        "can_create": policy.can_create_contract(
            user, memberships=accounts_service.memberships_for(session, user)),
    }, block="results")


def _new_context(session: Session, user: User, values: dict[str, Any],
                 errors: dict[str, str]) -> dict[str, Any]:
    return {"values": values, "errors": errors, "kinds": _labels(KINDS),
            "networks": _network_choices(session, user),
            "templates": service.published_templates(session)}


@router.get("/contracts/new")
def new_contract_page(request: Request, network_id: int | None = None,
                      session: Session = SessionDep, user: User = UserDep) -> Response:
    """Show the form that starts a contract from firms or from a network."""
    memberships = accounts_service.memberships_for(session, user)
    if not policy.can_create_contract(user, party_firm_ids=list(memberships),
                                      memberships=memberships):
        raise HTTPException(403, _("Your role cannot start contracts"))
    values = {"kind": "rete_contratto", "network_id": str(network_id or "")}
    return render(request, "contracts/new.html", _new_context(session, user, values, {}))


@router.post("/contracts/new")
async def create_contract_form(request: Request, session: Session = SessionDep,
                               user: User = UserDep) -> Response:
    """Start a contract; on error re-render the form with the values and messages."""
    form = await request.form()
    values = {k: str(form.get(k) or "").strip() for k in
              ("title", "kind", "partite_iva", "network_id", "template_id")}
    memberships = accounts_service.memberships_for(session, user)
    pivas = [p for p in values["partite_iva"].replace(",", "\n").split() if p.strip()]
    try:
        template_id = int(values["template_id"]) if values["template_id"] else None
        network_id = int(values["network_id"]) if values["network_id"] else None
    except ValueError:
        return render(request, "contracts/new.html", _new_context(
            session, user, values, {"network_id": _("not a number")}), status_code=422)
    try:
        if network_id is not None:
            network = service.network_for_contract(session, network_id)
            party_ids = [int(m["firm_id"]) for m in network.get("members") or []
                         if m.get("firm_id") is not None]
        else:
            party_ids = [f.id for f in (service.firm_by_piva(session, p) for p in pivas) if f]
        if not policy.can_create_contract(user, party_firm_ids=party_ids, memberships=memberships):
            raise HTTPException(403, _("You may start contracts only for firms you represent"))
        if network_id is not None:
            contract = service.create_from_network(
                session, author=user, network_id=network_id, kind=values["kind"],
                title=values["title"], template_id=template_id)
        else:
            contract = service.create_contract(
                session, author=user, partite_iva=pivas, kind=values["kind"],
                title=values["title"], template_id=template_id)
    except ContractInvalid as exc:
        return render(request, "contracts/new.html",
                      _new_context(session, user, values, exc.errors), status_code=422)
    _audit(session, request, user, "contract.create", contract)
    flash(request, _("Contract started: fill in each step; the checklist shows what is missing."))
    return redirect(f"/contracts/{contract.id}/steps/participants")


def _overview_context(session: Session, access: Access) -> dict[str, Any]:
    c = access.contract
    body = service.body_of(c)
    check = checklist_mod.build(body)
    current = service.current_approvals(c)
    regs = {r.partita_iva: r for r in c.registrations}
    return {
        "contract": c, "body": body, "check": check, "access": access,
        "status_labels": STATUS_LABELS, "kind_label": _(KINDS[body.kind]["en"]),
        "form_labels": _labels(FORMS), "allowed_forms": ALLOWED_FORMS[body.kind],
        "next_states": service.TRANSITIONS[c.status],
        "approvals": current, "pending": service.pending_approvals(c), "registrations": regs,
        "participants": body.participants, "steps": forms.STEPS,
        "facilitators": [accounts_service.get_user(session, uid)
                         for uid in service.facilitator_ids(c)],
        "today": date.today().isoformat(),
    }


@router.get("/contracts/{contract_id}")
def contract_page(request: Request, contract_id: int, session: Session = SessionDep,
                  user: User = UserDep) -> Response:
    """Show a contract: state, checklist, approvals, signature, filing, documents."""
    access = _access(session, user, contract_id)
    ctx = _overview_context(session, access)
    ctx["can_assign"] = policy.can_assign_facilitator(user)
    return render(request, "contracts/detail.html", ctx)


def _step_context(session: Session, access: Access, step: str, data: dict[str, Any],
                  errors: dict[str, str], *, version: int, conflict: str = "",
                  saved: bool = False) -> dict[str, Any]:
    c = access.contract
    try:
        body = service.body_of(c)
    except Exception:  # noqa: BLE001 - a stored body always validates; be safe on display
        body = None
    check = checklist_mod.build(body) if body is not None else None
    lang = current_language.get()
    names = {p["partita_iva"]: p.get("name", p["partita_iva"]) for p in c.body["participants"]}
    idx = forms.STEP_KEYS.index(step)
    return {
        "contract": c, "step": step, "steps": forms.STEPS, "b": data,
        "values": forms.flatten(data), "errors": errors, "version": version,
        "conflict": conflict, "saved": saved, "check": check, "access": access,
        "prev_step": forms.STEP_KEYS[idx - 1] if idx else None,
        "next_step": forms.STEP_KEYS[idx + 1] if idx + 1 < len(forms.STEP_KEYS) else None,
        "names": names, "participant_options": list(names.items()),
        "kinds": _labels(KINDS), "forms_labels": _labels(FORMS),
        "allowed_forms": ALLOWED_FORMS[data.get("kind") or "rete_contratto"],
        "standard_model_forms": STANDARD_MODEL_FORMS,
        "rules": _labels(RULES), "contribution_kinds": _labels(CONTRIBUTION_KINDS),
        "collaboration_forms": _labels(COLLABORATION_FORMS), "body_kinds": _labels(BODY_KINDS),
        "renewals": _labels(RENEWALS), "voting": _labels(VOTING),
        "goal_labels": {k: v[lang] for k, v in GOALS.items()},
        "goal_suggestions": service.goal_suggestions(session, c) if step == "objectives" else [],
        "activity_suggestions": (service.activity_suggestions(session, c)
                                 if step == "programme" else []),
        "templates": service.published_templates(session) if step == "network" else [],
        "status_labels": STATUS_LABELS,
        "editable": access.can_edit and c.status in service.EDITABLE,
    }


@router.get("/contracts/{contract_id}/steps/{step}")
def step_page(request: Request, contract_id: int, step: str, session: Session = SessionDep,
              user: User = UserDep) -> Response:
    """Show one step of the guided drafting, with the checklist beside it."""
    if step not in forms.STEP_KEYS:
        raise HTTPException(404, _("No such step"))
    access = _access(session, user, contract_id)
    c = access.contract
    return render(request, "contracts/step.html", _step_context(
        session, access, step, dict(c.body), {}, version=c.version), block="step")


def _apply_action(session: Session, contract: Contract, action: str, merged: dict[str, Any],
                  form: Any, user: User) -> dict[str, Any]:
    """Apply a step's extra button (add a suggestion) to the merged data before saving."""
    if action.startswith("add_goal:"):
        goal = action.split(":", 1)[1]
        if goal in service.GOAL_OBJECTIVES:
            merged["objectives"] = [*merged.get("objectives", []),
                                    service.objective_for_goal(goal)]
    elif action.startswith("add_activity:"):
        suggestions = service.activity_suggestions(session, contract)
        index = action.split(":", 1)[1]
        if index.isdigit() and int(index) < len(suggestions):
            programme = dict(merged.get("programme") or {})
            programme["activities"] = [*programme.get("activities", []),
                                       suggestions[int(index)]]
            merged["programme"] = programme
    return merged


@router.post("/contracts/{contract_id}/steps/{step}")
async def save_step(request: Request, contract_id: int, step: str,
                    session: Session = SessionDep, user: User = UserDep) -> Response:
    """Save a step (autosave under HTMX); a stale version shows the conflict, not an overwrite."""
    if step not in forms.STEP_KEYS:
        raise HTTPException(404, _("No such step"))
    access = _access(session, user, contract_id, edit=True)
    c = access.contract
    form = await request.form()
    action = str(form.get("action") or "save")
    try:
        expected = int(str(form.get("version") or "0"))
    except ValueError:
        expected = 0
    posted = forms.parse(step, form, forms.field_names(form))
    merged = _apply_action(session, c, action, forms.merge(dict(c.body), posted), form, user)
    block = "step"
    try:
        changes = forms.changes_for(step, merged)
        if step == "network":
            tpl = str(form.get("template_id") or "")
            changes.update(title=str(form.get("title") or ""),
                           template_id=int(tpl) if tpl.isdigit() else None)
        changed = service.update_contract(session, contract=c, changes=changes,
                                          expected_version=expected, author=user)
        if action == "add_participant":
            changed += service.add_participant(
                session, contract=c, partita_iva=str(form.get("add_partita_iva") or ""),
                expected_version=c.version, author=user)
        elif action.startswith("remove:"):
            changed += service.remove_participant(
                session, contract=c, partita_iva=action.split(":", 1)[1],
                expected_version=c.version, author=user)
    except ContractInvalid as exc:
        values = dict(merged)
        ctx = _step_context(session, access, step, values, exc.errors, version=expected)
        ctx["add_value"] = str(form.get("add_partita_iva") or "")
        return render(request, "contracts/step.html", ctx, block=block, status_code=422)
    except service.ContractConflict as exc:
        ctx = _step_context(session, access, step, merged, {}, version=c.version,
                            conflict=exc.message)
        return render(request, "contracts/step.html", ctx, block=block, status_code=409)
    except service.ContractLocked as exc:
        raise HTTPException(409, exc.message) from None
    if changed:
        _audit(session, request, user, "contract.update", c,
               {"version": c.version, "changes": changed[:50]})
    if is_htmx(request) and action == "save":
        return render(request, "contracts/step.html", _step_context(
            session, access, step, dict(c.body), {}, version=c.version, saved=True),
            block=block)
    if action == "next":
        nxt = forms.STEP_KEYS.index(step) + 1
        target = (f"/contracts/{c.id}/steps/{forms.STEP_KEYS[nxt]}"
                  if nxt < len(forms.STEP_KEYS) else f"/contracts/{c.id}")
    else:
        target = f"/contracts/{c.id}/steps/{step}"
    flash(request, _("Saved as version %(v)s") % {"v": c.version} if changed
          else _("Nothing changed"))
    return redirect(target)


def _transition_in(form: Any) -> TransitionIn:
    signers = [s for s in str(form.get("signers") or "").splitlines() if s.strip()]
    raw = {"to": str(form.get("to") or ""), "form": str(form.get("form") or "") or None,
           "signed_on": str(form.get("signed_on") or "") or None,
           "notary": str(form.get("notary") or ""), "signers": signers,
           "filed_on": str(form.get("filed_on") or "") or None,
           "filed_by": str(form.get("filed_by") or "") or None}
    from pydantic import ValidationError

    from matchmaker.contracts.schemas import errors_from
    try:
        return TransitionIn.model_validate(raw)
    except ValidationError as exc:
        raise ContractInvalid(errors_from(exc)) from None


def _detail_error(request: Request, session: Session, user: User, access: Access,
                  message: str, errors: dict[str, str], status: int) -> Response:
    ctx = _overview_context(session, access)
    ctx.update(can_assign=policy.can_assign_facilitator(user), action_error=message,
               action_errors=errors)
    return render(request, "contracts/detail.html", ctx, status_code=status)


@router.post("/contracts/{contract_id}/transitions")
async def transition_form(request: Request, contract_id: int, session: Session = SessionDep,
                          user: User = UserDep) -> Response:
    """Move the contract to another state (review, signature, filing)."""
    access = _access(session, user, contract_id, edit=True)
    form = await request.form()
    try:
        data = _transition_in(form)
        service.transition(session, contract=access.contract, data=data, actor=user)
    except ContractInvalid as exc:
        return _detail_error(request, session, user, access, _("Check the fields below."),
                             exc.errors, 422)
    except service.ContractError as exc:
        return _detail_error(request, session, user, access, exc.message, {}, 409)
    _audit(session, request, user, "contract.transition", access.contract, {"to": data.to})
    flash(request, _("The contract is now: %(status)s")
          % {"status": _(STATUS_LABELS[access.contract.status])})
    return redirect(f"/contracts/{contract_id}")


@router.post("/contracts/{contract_id}/approvals")
async def approve_form(request: Request, contract_id: int, session: Session = SessionDep,
                       user: User = UserDep) -> Response:
    """Approve the current version for one participant the user represents."""
    access = _access(session, user, contract_id)
    form = await request.form()
    piva = str(form.get("partita_iva") or "")
    if piva not in access.approvable:
        raise HTTPException(403, _("You do not represent this participant"))
    try:
        version = int(str(form.get("version") or "0"))
        service.approve(session, contract=access.contract, partita_iva=piva, version=version,
                        user=user)
    except (ValueError, service.ContractConflict):
        return _detail_error(request, session, user, access, _(
            "The contract changed since you read it: read the new version and approve it."),
            {}, 409)
    except ContractInvalid as exc:
        return _detail_error(request, session, user, access, "; ".join(exc.errors.values()),
                             exc.errors, 422)
    except service.ContractError as exc:
        return _detail_error(request, session, user, access, exc.message, {}, 409)
    _audit(session, request, user, "contract.approve", access.contract,
           {"partita_iva": piva, "version": access.contract.version})
    flash(request, _("Approved version %(v)s") % {"v": access.contract.version})
    return redirect(f"/contracts/{contract_id}")


@router.post("/contracts/{contract_id}/registrations")
async def registration_form(request: Request, contract_id: int, session: Session = SessionDep,
                            user: User = UserDep) -> Response:
    """Record the date the register recorded the contract for one participant."""
    access = _access(session, user, contract_id, edit=True)
    form = await request.form()
    try:
        when = date.fromisoformat(str(form.get("registered_on") or ""))
    except ValueError:
        return _detail_error(request, session, user, access, _("Give a valid date."),
                             {"registered_on": _("give a valid date")}, 422)
    try:
        service.record_registration(session, contract=access.contract,
                                    partita_iva=str(form.get("partita_iva") or ""),
                                    registered_on=when, user=user)
    except ContractInvalid as exc:
        return _detail_error(request, session, user, access, "; ".join(exc.errors.values()),
                             exc.errors, 422)
    except service.ContractError as exc:
        return _detail_error(request, session, user, access, exc.message, {}, 409)
    _audit(session, request, user, "contract.registration", access.contract,
           {"partita_iva": str(form.get("partita_iva")), "registered_on": when.isoformat()})
    flash(request, _("Registration recorded"))
    return redirect(f"/contracts/{contract_id}")


@router.post("/contracts/{contract_id}/facilitators")
async def assign_facilitator_form(request: Request, contract_id: int,
                                  session: Session = SessionDep, user: User = UserDep) -> Response:
    """Assign a facilitator to the contract (admins)."""
    access = _access(session, user, contract_id)
    if not policy.can_assign_facilitator(user):
        raise HTTPException(403, _("Only administrators assign facilitators"))
    form = await request.form()
    try:
        assigned = service.assign_facilitator(session, contract=access.contract,
                                              email=str(form.get("email") or ""))
    except ContractInvalid as exc:
        return _detail_error(request, session, user, access, "; ".join(exc.errors.values()),
                             exc.errors, 422)
    _audit(session, request, user, "contract.facilitator_assign", access.contract,
           {"user_id": assigned.id})
    flash(request, _("%(email)s is now a facilitator of this contract") % {"email": assigned.email})
    return redirect(f"/contracts/{contract_id}")


@router.get("/contracts/{contract_id}/versions")
def versions_page(request: Request, contract_id: int, a: int | None = None,
                  b: int | None = None, session: Session = SessionDep,
                  user: User = UserDep) -> Response:
    """List the saved versions; with `a` and `b`, show them side by side."""
    access = _access(session, user, contract_id)
    c = access.contract
    rows = service.versions(session, c)
    diff = None
    error = ""
    if a is not None and b is not None:
        try:
            diff = service.diff_versions(session, c, a, b)
        except ContractInvalid as exc:
            error = "; ".join(exc.errors.values())
    return render(request, "contracts/versions.html", {
        "contract": c, "versions": rows, "a": a, "b": b, "diff": diff, "error": error,
    }, block="diff", status_code=422 if error else 200)


# ---------------------------------------------------------------- clause templates


def _template_or_404(session: Session, template_id: int, user: User) -> ClauseTemplate:
    tpl = service.get_template(session, template_id)
    if tpl is None or (tpl.status != "published" and tpl.owner_id != user.id
                       and not policy.is_admin(user)):
        raise HTTPException(404, _("No such template"))
    return tpl


@router.get("/contract-templates")
def templates_page(request: Request, session: Session = SessionDep,
                   user: User = UserDep) -> Response:
    """List clause templates: the standard one, published ones and the user's drafts."""
    return render(request, "contracts/templates.html", {
        "templates": service.list_templates(session, user=user, see_all=policy.is_admin(user)),
        "can_manage": policy.can_manage_clause_templates(user), "errors": {}, "values": {},
    })


@router.post("/contract-templates/copy")
async def copy_template_form(request: Request, session: Session = SessionDep,
                             user: User = UserDep) -> Response:
    """Copy a template into a new draft the facilitator can edit."""
    if not policy.can_manage_clause_templates(user):
        raise HTTPException(403, _("Only facilitators edit clause templates"))
    form = await request.form()
    values = {k: str(form.get(k) or "") for k in ("source_id", "name", "association")}
    source = (service.get_template(session, int(values["source_id"]))
              if values["source_id"].isdigit() else None)
    try:
        if source is None:
            raise ContractInvalid({"source_id": _("choose a template to copy")})
        tpl = service.copy_template(session, source=source, owner=user, name=values["name"],
                                    association=values["association"])
    except ContractInvalid as exc:
        return render(request, "contracts/templates.html", {
            "templates": service.list_templates(session, user=user,
                                                see_all=policy.is_admin(user)),
            "can_manage": True, "errors": exc.errors, "values": values}, status_code=422)
    _audit_template(session, request, user, "clause_template.copy", tpl.id, {"from": source.id})
    flash(request, _("Template copied: edit its clauses, then publish it."))
    return redirect(f"/contract-templates/{tpl.id}")


@router.get("/contract-templates/{template_id}")
def template_page(request: Request, template_id: int, session: Session = SessionDep,
                  user: User = UserDep) -> Response:
    """Show a template's clauses; its owner edits them while it is a draft."""
    tpl = _template_or_404(session, template_id, user)
    return render(request, "contracts/template.html", {
        "tpl": tpl, "can_edit": policy.can_edit_clause_template(user, owner_id=tpl.owner_id),
        "can_manage": policy.can_manage_clause_templates(user), "errors": {}, "edited": None,
    })


@router.post("/contract-templates/{template_id}/clauses/{key}")
async def clause_form(request: Request, template_id: int, key: str,
                      session: Session = SessionDep, user: User = UserDep) -> Response:
    """Save one clause of a draft template; a clause that does not render is refused."""
    tpl = _template_or_404(session, template_id, user)
    if not policy.can_edit_clause_template(user, owner_id=tpl.owner_id):
        raise HTTPException(403, _("Only the template's owner edits it"))
    form = await request.form()
    values = {k: str(form.get(k) or "") for k in ("title", "text", "condition")}
    try:
        service.update_clause(session, template=tpl, key=key, **values)
    except ContractInvalid as exc:
        return render(request, "contracts/template.html", {
            "tpl": tpl, "can_edit": True, "can_manage": True, "errors": exc.errors,
            "edited": {"key": key, **values}}, status_code=422)
    except service.ContractLocked as exc:
        raise HTTPException(409, exc.message) from None
    _audit_template(session, request, user, "clause_template.update", tpl.id, {"clause": key})
    flash(request, _("Clause saved"))
    return redirect(f"/contract-templates/{tpl.id}#clause-{key}")


@router.post("/contract-templates/{template_id}/publish")
def publish_template_form(request: Request, template_id: int, session: Session = SessionDep,
                          user: User = UserDep) -> Response:
    """Publish a draft template so contracts can use it."""
    tpl = _template_or_404(session, template_id, user)
    if not policy.can_edit_clause_template(user, owner_id=tpl.owner_id):
        raise HTTPException(403, _("Only the template's owner publishes it"))
    try:
        service.publish_template(session, template=tpl)
    except service.ContractLocked as exc:
        raise HTTPException(409, exc.message) from None
    _audit_template(session, request, user, "clause_template.publish", tpl.id)
    flash(request, _("Template published: contracts can now use %(label)s") % {"label": tpl.label})
    return redirect(f"/contract-templates/{tpl.id}")


@router.post("/contract-templates/{template_id}/revise")
def revise_template_form(request: Request, template_id: int, session: Session = SessionDep,
                         user: User = UserDep) -> Response:
    """Start the next version of a published template."""
    tpl = _template_or_404(session, template_id, user)
    if not policy.can_edit_clause_template(user, owner_id=tpl.owner_id):
        raise HTTPException(403, _("Only the template's owner revises it"))
    new = service.revise_template(session, template=tpl, owner=user)
    _audit_template(session, request, user, "clause_template.revise", new.id)
    flash(request, _("New draft version %(n)s") % {"n": new.number})
    return redirect(f"/contract-templates/{new.id}")


# ------------------------------------------------------------------------- JSON API


@api_router.get("/contracts", response_model=ContractPageOut)
def api_list_contracts(status: str | None = None, page: int = Query(1, ge=1),
                       per_page: int = Query(25, ge=1, le=200), session: Session = SessionDep,
                       user: User = UserDep) -> ContractPageOut:
    """List the contracts the caller may see, most recently changed first."""
    result = service.list_contracts(
        session, user=user, memberships=accounts_service.memberships_for(session, user),
        see_all=policy.is_admin(user), status=status if status in STATUS_LABELS else None,
        page=page, per_page=per_page)
    return ContractPageOut(
        items=[ContractSummaryOut(id=c.id, title=c.title, status=c.status, version=c.version,
                                  kind=c.body["kind"], participants=len(c.parties),
                                  updated_at=c.updated_at) for c in result.items],
        total=result.total, page=result.page, per_page=result.per_page, pages=result.pages)


@api_router.post("/contracts", response_model=ContractOut, status_code=201)
def api_create_contract(request: Request, body: ContractCreate, session: Session = SessionDep,
                        user: User = UserDep) -> Response | ContractOut:
    """Start a contract from registered firms (`partite_iva`) or from a network (`network_id`)."""
    memberships = accounts_service.memberships_for(session, user)
    try:
        if body.network_id is not None:
            network = service.network_for_contract(session, body.network_id)
            party_ids = [int(m["firm_id"]) for m in network.get("members") or []
                         if m.get("firm_id") is not None]
        else:
            party_ids = [f.id for f in (service.firm_by_piva(session, p)
                                        for p in body.partite_iva) if f]
        if not policy.can_create_contract(user, party_firm_ids=party_ids, memberships=memberships):
            raise HTTPException(403, _("You may start contracts only for firms you represent"))
        if body.network_id is not None:
            contract = service.create_from_network(
                session, author=user, network_id=body.network_id, kind=body.kind,
                title=body.title, template_id=body.template_id)
        else:
            contract = service.create_contract(
                session, author=user, partite_iva=body.partite_iva, kind=body.kind,
                title=body.title, template_id=body.template_id)
    except ContractInvalid as exc:
        return _api_error(exc)
    _audit(session, request, user, "contract.create", contract)
    return contract_out(service.get_contract(session, contract.id))  # type: ignore[arg-type]


@api_router.get("/contracts/{contract_id}", response_model=ContractOut)
def api_get_contract(contract_id: int, session: Session = SessionDep,
                     user: User = UserDep) -> ContractOut:
    """Return one contract with its body, approvals, registrations and signature."""
    return contract_out(_access(session, user, contract_id).contract)


@api_router.patch("/contracts/{contract_id}", response_model=ContractOut)
def api_patch_contract(request: Request, contract_id: int, body: ContractPatch,
                       session: Session = SessionDep, user: User = UserDep
                       ) -> Response | ContractOut:
    """Replace some sections; `version` is the one you edited (a stale one gets 409)."""
    access = _access(session, user, contract_id, edit=True)
    changes = body.model_dump(exclude_unset=True)
    version = changes.pop("version")
    try:
        changed = service.update_contract(session, contract=access.contract, changes=changes,
                                          expected_version=version, author=user)
    except service.ContractError as exc:
        return _api_error(exc)
    except ContractInvalid as exc:
        return _api_error(exc)
    if changed:
        _audit(session, request, user, "contract.update", access.contract,
               {"version": access.contract.version, "changes": changed[:50]})
    return contract_out(access.contract)


@api_router.post("/contracts/{contract_id}/transitions", response_model=ContractOut)
def api_transition(request: Request, contract_id: int, body: TransitionIn,
                   session: Session = SessionDep, user: User = UserDep) -> Response | ContractOut:
    """Move the contract to another state: in_review, draft, approved, signed, filed."""
    access = _access(session, user, contract_id, edit=True)
    try:
        service.transition(session, contract=access.contract, data=body, actor=user)
    except (service.ContractError, ContractInvalid) as exc:
        return _api_error(exc)
    _audit(session, request, user, "contract.transition", access.contract, {"to": body.to})
    return contract_out(access.contract)


@api_router.post("/contracts/{contract_id}/approvals", response_model=ContractOut)
def api_approve(request: Request, contract_id: int, body: ApprovalIn,
                session: Session = SessionDep, user: User = UserDep) -> Response | ContractOut:
    """Approve `version` for one participant the caller represents."""
    access = _access(session, user, contract_id)
    if body.partita_iva not in access.approvable:
        raise HTTPException(403, _("You do not represent this participant"))
    try:
        service.approve(session, contract=access.contract, partita_iva=body.partita_iva,
                        version=body.version, user=user)
    except (service.ContractError, ContractInvalid) as exc:
        return _api_error(exc)
    _audit(session, request, user, "contract.approve", access.contract,
           {"partita_iva": body.partita_iva, "version": body.version})
    return contract_out(access.contract)


@api_router.post("/contracts/{contract_id}/registrations", response_model=ContractOut)
def api_registration(request: Request, contract_id: int, body: RegistrationIn,
                     session: Session = SessionDep, user: User = UserDep
                     ) -> Response | ContractOut:
    """Record a participant's registration date; the last original one makes it effective."""
    access = _access(session, user, contract_id, edit=True)
    try:
        service.record_registration(session, contract=access.contract,
                                    partita_iva=body.partita_iva,
                                    registered_on=body.registered_on, user=user)
    except (service.ContractError, ContractInvalid) as exc:
        return _api_error(exc)
    _audit(session, request, user, "contract.registration", access.contract,
           {"partita_iva": body.partita_iva, "registered_on": body.registered_on.isoformat()})
    return contract_out(access.contract)


@api_router.get("/contracts/{contract_id}/checklist", response_model=ChecklistOut)
def api_checklist(contract_id: int, session: Session = SessionDep,
                  user: User = UserDep) -> dict[str, Any]:
    """Each element the law requires: present / missing / not applicable, with its reference."""
    return service.checklist_for(_access(session, user, contract_id).contract).as_dict()


@api_router.get("/contracts/{contract_id}/versions", response_model=list[VersionOut])
def api_versions(contract_id: int, session: Session = SessionDep,
                 user: User = UserDep) -> list[VersionOut]:
    """Every saved version, newest first: who, when, what changed."""
    c = _access(session, user, contract_id).contract
    return [VersionOut(number=v.number, author=v.author_label, created_at=v.created_at,
                       changes=v.changes, title=v.title, template_id=v.template_id)
            for v in service.versions(session, c)]


@api_router.get("/contracts/{contract_id}/document.{fmt}")
def api_document(contract_id: int, fmt: str, draft: bool = False,
                 session: Session = SessionDep, user: User = UserDep) -> Response:
    """The contract as DOCX, PDF or Markdown; `draft=true` for a watermarked draft (always
    possible), otherwise every required element must be present (409 names what is missing)."""
    if fmt not in FORMATS:
        raise HTTPException(404, _("Formats: docx, pdf, md"))
    c = _access(session, user, contract_id).contract
    try:
        content = service.export_document(session, contract=c, fmt=fmt, draft=draft)
    except service.ContractIncomplete as exc:
        return _api_error(exc)
    except documents.DocumentUnavailable as exc:
        raise HTTPException(503, str(exc)) from None
    name = service.filename(c, fmt, draft=draft)
    return Response(content, media_type=documents.MEDIA_TYPES[fmt],
                    headers={"Content-Disposition": f'attachment; filename="{name}"'})
