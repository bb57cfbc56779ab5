"""Network pages (suggest, my networks, network page, inbox, introductions) and the API."""

from typing import Any
from urllib.parse import urlencode

from fastapi import APIRouter, Depends, HTTPException, Query, Request
from fastapi.responses import JSONResponse, Response
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session

from matchmaker.accounts import policy
from matchmaker.accounts import service as accounts_service
from matchmaker.accounts.deps import require_user
from matchmaker.accounts.models import User
from matchmaker.db import get_session, request_session
from matchmaker.firms import service as firms_service
from matchmaker.firms.models import Firm
from matchmaker.firms.schemas import GOALS
from matchmaker.i18n import current_language
from matchmaker.i18n import gettext as _
from matchmaker.networks import service
from matchmaker.networks.models import Introduction, Network
from matchmaker.networks.schemas import (
    ActivityOut,
    AnswerIn,
    FirmCardOut,
    IntroductionIn,
    IntroductionOut,
    InvitationIn,
    InvitationOut,
    LeaveIn,
    MemberOut,
    MessageIn,
    MessageOut,
    NetworkIn,
    NetworkOut,
    NetworkPageOut,
    NetworkSummaryOut,
    NotificationOut,
    OpenSlotOut,
    StageOut,
    SuggestedMemberOut,
    SuggestIn,
    SuggestionOut,
    TransitionIn,
)
from matchmaker.refdata import chains as chains_ref
from matchmaker.refdata import places
from matchmaker.web import flash, is_htmx, redirect, render, templates

router = APIRouter(include_in_schema=False)
api_router = APIRouter(tags=["networks"])
SessionDep = Depends(get_session, scope="function")
UserDep = Depends(require_user)


def unread_notifications(request: Request) -> int:
    """Count the signed-in user's unread notifications (the nav badge)."""
    user = getattr(request.state, "user_view", None)
    if user is None:
        return 0
    # The page's own session when it is open: a second session would take a second pool
    # connection while the page holds one, and once every connection is held by a page
    # waiting for another, all of them wait out the pool timeout (30 s stalls under load).
    session = request_session(request)
    if session is not None:
        try:
            return service.unread_count(session, user_id=user.id)
        except SQLAlchemyError:
            return 0  # a badge must never break a page
    provider = request.app.dependency_overrides.get(get_session, get_session)
    gen = provider()
    try:
        session = next(gen)
        return service.unread_count(session, user_id=user.id)
    except SQLAlchemyError:
        return 0  # a badge must never break a page (error pages render after a failure too)
    finally:
        gen.close()


templates.env.globals["unread_notifications"] = unread_notifications


# ------------------------------------------------------------------------------ helpers


def _ip(request: Request) -> str | None:
    return request.client.host if request.client else None


def _memberships(session: Session, user: User) -> dict[int, str]:
    return accounts_service.memberships_for(session, user)


def _visible_firm(session: Session, user: User, piva: str, field: str = "partita_iva") -> Firm:
    firm = firms_service.get_firm(session, piva) if piva else None
    if firm is None or not policy.can_view_firm(
        user, firm, memberships=_memberships(session, user), session=session
    ):
        raise service.NetworkError(_("No firm with partita IVA %(piva)s") % {"piva": piva}, field)
    return firm


def _seed(session: Session, user: User, piva: str) -> Firm:
    firm = firms_service.get_firm(session, piva) if piva else None
    memberships = _memberships(session, user)
    if firm is None or not policy.can_view_firm(
        user, firm, memberships=memberships, session=session
    ):
        raise HTTPException(404, _("No firm with partita IVA %(piva)s") % {"piva": piva})
    if not policy.can_create_network(user, seed_firm_id=firm.id, memberships=memberships):
        raise HTTPException(403, _("Networks are proposed by the firm's own people"))
    return firm


def _chain_planner(user: User) -> None:
    if not policy.can_plan_chain_networks(user):
        raise HTTPException(
            403,
            _("Networks from a value chain and a region are planned by curators and facilitators"),
        )


def _network(session: Session, user: User, network_id: int) -> Network:
    network = service.get_network(session, network_id)
    if network is None or not policy.can_view_network(
        user,
        member_firm_ids=service.member_firm_ids(network),
        memberships=_memberships(session, user),
        facilitator_ids=[network.created_by] if network.created_by else [],
    ):
        raise HTTPException(404, _("No such network"))
    return network


def _can_manage(session: Session, user: User, network: Network) -> bool:
    return policy.can_manage_network(
        user,
        promoter_firm_id=network.promoter_firm_id,
        created_by=network.created_by,
        memberships=_memberships(session, user),
    )


def _managed(session: Session, user: User, network_id: int) -> Network:
    network = _network(session, user, network_id)
    if not _can_manage(session, user, network):
        raise HTTPException(403, _("Only the network's promoter can do this"))
    return network


def _invitation_firm(session: Session, user: User, network: Network, invitation_id: int) -> int:
    inv = next((i for i in network.invitations if i.id == invitation_id), None)
    if inv is None:
        raise HTTPException(404, _("No such invitation"))
    if not policy.can_answer_invitation(
        user, firm_id=inv.firm_id, memberships=_memberships(session, user)
    ):
        raise HTTPException(403, _("Only the invited firm's owners or representatives can answer"))
    return inv.firm_id


def _conflict(exc: service.NetworkConflict) -> HTTPException:
    return HTTPException(409, str(exc))


def _api_error(exc: service.NetworkError, where: str = "body") -> JSONResponse:
    if isinstance(exc, service.NetworkConflict):
        return JSONResponse({"detail": str(exc)}, status_code=409)
    loc = [where, exc.field] if exc.field else [where]
    return JSONResponse(
        {"detail": [{"loc": loc, "msg": str(exc), "type": "value_error"}]}, status_code=422
    )


def _goal_options() -> list[tuple[str, str]]:
    lang = current_language.get()
    return [(k, v[lang]) for k, v in GOALS.items()]


def _chain_options() -> list[tuple[str, str]]:
    lang = current_language.get()
    return [(c.key, c.name(lang)) for c in chains_ref.chains()]


def _stage_out(network_or_chain: str | None, keys: list[str]) -> list[StageOut]:
    return [StageOut(key=k, name=service.stage_name(network_or_chain, k)) for k in keys]


# ------------------------------------------------------------------------------ API shapes


def _member_out(m: service.SuggestedMember) -> SuggestedMemberOut:
    f = m.firm
    return SuggestedMemberOut(
        firm=FirmCardOut(
            partita_iva=f.partita_iva,
            name=f.name,
            comune=f.comune,
            province=f.province,
            ateco=f.ateco,
            ateco_title=f.ateco_title,
            sme_class=f.sme_class,
            distance_km=f.distance_km,
        ),
        role=m.role,
        roles=m.roles,
        stages=m.stages,
        new_stages=m.new_stages,
        fit=m.fit,
        score=m.score,
        alternatives=[_member_out(a) for a in m.alternatives],
    )


def suggestion_out(s: service.Suggestion) -> SuggestionOut:
    """Return the API shape of a suggested network."""
    return SuggestionOut(
        seed=s.seed.partita_iva,
        goal=s.goal,
        size=s.size,
        radius_km=s.radius_km,
        chain=s.chain_key,
        chain_name=s.chain_name,
        members=[_member_out(m) for m in s.members],
        covered_stages=[StageOut(key=k, name=n) for k, n in s.covered],
        uncovered_stages=[StageOut(key=k, name=n) for k, n in s.uncovered],
        open_slots=[
            OpenSlotOut(stage=StageOut(key=k, name=n), candidates=[_member_out(c) for c in cands])
            for k, n, cands in s.open_slots
        ],
        needs_covered=s.needs_covered,
        needs_uncovered=s.needs_uncovered,
        candidates=s.candidates,
        mean_fit=s.mean_fit,
        seconds=s.seconds,
        mode=s.mode,
        region=s.region,
        province=s.province,
        area=s.area,
        absent_stages=[StageOut(key=k, name=n) for k, n in s.absent],
    )


def network_out(session: Session, network: Network) -> NetworkOut:
    """Return the API shape of a network."""
    firm_ids = (
        [m.firm_id for m in network.members]
        + [i.firm_id for i in network.invitations]
        + [a.firm_id for a in network.activity if a.firm_id]
    )
    firms = service.firms_by_id(session, firm_ids)
    piva = lambda fid: firms[fid].partita_iva if fid in firms else ""
    name = lambda fid: firms[fid].name if fid in firms else ""
    covered, uncovered = service.covered_stages(session, network)
    return NetworkOut(
        id=network.id,
        name=network.name,
        description=network.description,
        status=network.status,
        version=network.version,
        promoter=piva(network.promoter_firm_id) if network.promoter_firm_id else None,
        goal=network.goal,
        chain=network.chain_key,
        chain_name=service.chain_name(network.chain_key),
        radius_km=network.radius_km,
        members=[
            MemberOut(
                partita_iva=piva(m.firm_id),
                name=name(m.firm_id),
                role=m.role,
                role_text=m.role_text,
                stage=m.stage_key,
                status=m.status,
                joined_at=m.joined_at,
                left_at=m.left_at,
            )
            for m in network.members
        ],
        invitations=[
            InvitationOut(
                id=i.id,
                partita_iva=piva(i.firm_id),
                name=name(i.firm_id),
                status=service.effective_status(i),
                message=i.message,
                reason=i.reason,
                sent_at=i.sent_at,
                expires_at=i.expires_at,
                answered_at=i.answered_at,
            )
            for i in network.invitations
        ],
        covered_stages=_stage_out(network.chain_key, covered),
        uncovered_stages=_stage_out(network.chain_key, uncovered),
        allowed_transitions=service.allowed_transitions(network),
        activity=[
            ActivityOut(
                at=a.created_at,
                actor=a.actor_label,
                action=a.action,
                partita_iva=piva(a.firm_id) if a.firm_id else None,
                detail=a.detail,
            )
            for a in network.activity
        ],
        created_at=network.created_at,
        agreed_at=network.agreed_at,
    )


def _intro_out(session: Session, intro: Introduction, *, messages: bool = False) -> IntroductionOut:
    firms = service.firms_by_id(
        session,
        [intro.from_firm_id, intro.to_firm_id]
        + ([m.firm_id for m in intro.messages] if messages else []),
    )
    return IntroductionOut(
        id=intro.id,
        from_firm=firms[intro.from_firm_id].partita_iva,
        to_firm=firms[intro.to_firm_id].partita_iva,
        message=intro.message,
        status=intro.status,
        reason=intro.reason,
        created_at=intro.created_at,
        answered_at=intro.answered_at,
        messages=[
            MessageOut(
                id=m.id,
                partita_iva=firms[m.firm_id].partita_iva,
                body=m.body,
                created_at=m.created_at,
            )
            for m in intro.messages
        ]
        if messages
        else [],
    )


def _new_network(session: Session, user: User, body: NetworkIn) -> Network:
    seed = _seed(session, user, body.seed)
    members = []
    for i, m in enumerate(body.members):
        firm = _visible_firm(session, user, m.partita_iva, f"members.{i}.partita_iva")
        members.append((firm, m.stage, m.role_text))
    return service.create_network(
        session,
        seed=seed,
        user=user,
        name=body.name,
        goal=body.goal,
        chain_key=body.chain or None,
        radius_km=body.radius_km,
        description=body.description,
        members=members,
    )


def _intro(session: Session, user: User, introduction_id: int) -> Introduction:
    intro = service.get_introduction(session, introduction_id)
    if intro is None or not policy.can_view_introduction(
        user,
        firm_ids=(intro.from_firm_id, intro.to_firm_id),
        memberships=_memberships(session, user),
    ):
        raise HTTPException(404, _("No such introduction"))
    return intro


def _acting_firm(session: Session, user: User, firm_ids: tuple[int, ...]) -> int:
    """Return the user's firm among the given ones (the side they act for), or refuse."""
    memberships = _memberships(session, user)
    for fid in firm_ids:
        if policy.can_act_for_firm(user, fid, memberships=memberships):
            return fid
    raise HTTPException(403, _("Only the people of the firm concerned can do this"))


# ------------------------------------------------------------------------------ pages


@router.get("/networks")
def networks_page(
    request: Request,
    page: int = Query(1, ge=1),
    session: Session = SessionDep,
    user: User = UserDep,
) -> Response:
    """List the networks the user's firms are in or invited to."""
    result = service.list_networks(session, user=user, page=page)
    my_firms = service.firms_by_id(session, list(_memberships(session, user)))
    return render(
        request,
        "networks/list.html",
        {
            "page": result,
            "status_labels": service.STATUS_LABELS,
            "my_firms": sorted(my_firms.values(), key=lambda f: f.name),
        },
    )


@router.get("/networks/new")
def suggest_page(
    request: Request,
    mode: str = "",
    seed: str = "",
    size: int = Query(5, ge=2, le=10),
    goal: str = "",
    radius_km: str = "",
    chain: str = "",
    region: str = "",
    province: str = "",
    session: Session = SessionDep,
    user: User = UserDep,
) -> Response:
    """Propose a network around one of your firms, or (curators, facilitators, admins) from a
    value chain and a region: members, roles, coverage, alternatives."""
    memberships = _memberships(session, user)
    my_firms = sorted(
        service.firms_by_id(session, list(memberships)).values(), key=lambda f: f.name
    )
    can_chain = policy.can_plan_chain_networks(user)
    if mode not in ("seed", "chain"):
        mode = "chain" if can_chain and not my_firms and not seed else "seed"
    if mode == "chain":
        _chain_planner(user)
    values = {
        "mode": mode,
        "seed": seed or (my_firms[0].partita_iva if len(my_firms) == 1 else ""),
        "size": size,
        "goal": goal,
        "radius_km": radius_km,
        "chain": chain,
        "region": region,
        "province": province,
    }
    errors: dict[str, str] = {}
    suggestion = None
    can_save = False
    if mode == "chain" and (chain or region or province):
        try:
            suggestion = service.suggest_for_chain(
                session,
                chain_key=chain,
                region=region or None,
                province=province or None,
                viewer=user,
                size=size,
                goal=goal or None,
            )
        except service.NetworkError as exc:
            errors[exc.field or "chain"] = str(exc)
        if suggestion is not None:
            anchor = firms_service.get_firm(session, suggestion.seed.partita_iva)
            can_save = anchor is not None and policy.can_create_network(
                user, seed_firm_id=anchor.id, memberships=memberships
            )
    elif mode == "seed" and values["seed"]:
        firm = _seed(session, user, values["seed"])
        can_save = True
        try:
            radius = float(radius_km) if radius_km else None
        except ValueError:
            radius = None
            errors["radius_km"] = _("radius_km must be a number of km")
        if not errors:
            try:
                suggestion = service.suggest(
                    session,
                    seed=firm,
                    viewer=user,
                    size=size,
                    goal=goal or None,
                    radius_km=radius,
                    chain_key=chain or None,
                )
            except service.NetworkError as exc:
                errors[exc.field or "seed"] = str(exc)
    return render(
        request,
        "networks/new.html",
        {
            "values": values,
            "errors": errors,
            "suggestion": suggestion,
            "can_save": can_save,
            "can_chain": can_chain,
            "fragment": is_htmx(request),
            "my_firms": my_firms,
            "goals": _goal_options(),
            "chains": _chain_options(),
            "regions": places.regions(),
            "provinces": places.provinces(),
            "radii": [25, 50, 100, 200, 500],
        },
        block="result",
        status_code=422 if errors else 200,
    )


@router.post("/networks/new")
async def create_network_form(
    request: Request, session: Session = SessionDep, user: User = UserDep
) -> Response:
    """Save a proposed network: the chosen firm of each slot becomes a draft invitation."""
    form = await request.form()
    seed_piva = str(form.get("seed") or "")
    seed = _seed(session, user, seed_piva)
    slots = sorted(k for k in form if k.startswith("slot_"))
    members = []
    try:
        for key in slots:
            piva = str(form.get(key) or "")
            if not piva:
                continue
            firm = _visible_firm(session, user, piva)
            stage = str(form.get(f"stage_{piva}") or "") or None
            role_text = str(form.get(f"role_{piva}") or "")
            members.append((firm, stage, role_text))
        radius = str(form.get("radius_km") or "")
        network = service.create_network(
            session,
            seed=seed,
            user=user,
            name=str(form.get("name") or ""),
            goal=str(form.get("goal") or "") or None,
            chain_key=str(form.get("chain") or "") or None,
            radius_km=float(radius) if radius else None,
            members=members,
        )
    except (service.NetworkError, ValueError) as exc:
        flash(request, str(exc), "error")
        return redirect("/networks/new?" + urlencode({"seed": seed.partita_iva}))
    accounts_service.audit(
        session,
        actor=user,
        action="network.create",
        object_type="network",
        object_id=network.id,
        firm_id=seed.id,
        ip=_ip(request),
    )
    flash(request, _("Network proposed. Review it and send the invitations."))
    return redirect(f"/networks/{network.id}")


def _network_context(
    session: Session, user: User, network: Network, **extra: Any
) -> dict[str, Any]:
    memberships = _memberships(session, user)
    can_manage = _can_manage(session, user, network)
    firm_ids = (
        [m.firm_id for m in network.members]
        + [i.firm_id for i in network.invitations]
        + [a.firm_id for a in network.activity if a.firm_id]
    )
    firms = service.firms_by_id(session, firm_ids)
    covered, uncovered = service.covered_stages(session, network)
    slots = (
        service.open_slots(session, network=network, viewer=user)
        if can_manage and network.status in service.OPEN and network.chain_key
        else None
    )
    my_invitations = [
        i
        for i in network.invitations
        if service.effective_status(i) == "pending"
        and policy.can_answer_invitation(user, firm_id=i.firm_id, memberships=memberships)
    ]
    my_member_firms = [
        m.firm_id
        for m in service.active_members(network)
        if m.role != "promoter"
        and policy.can_leave_network(user, firm_id=m.firm_id, memberships=memberships)
    ]
    return {
        "network": network,
        "firms": firms,
        "can_manage": can_manage,
        "status_labels": service.STATUS_LABELS,
        "invitation_labels": service.INVITATION_LABELS,
        "effective_status": service.effective_status,
        "covered": [(k, service.stage_name(network.chain_key, k)) for k in covered],
        "uncovered": [(k, service.stage_name(network.chain_key, k)) for k in uncovered],
        "chain_name": service.chain_name(network.chain_key),
        "goal_label": GOALS.get(network.goal or "", {}).get(current_language.get()),
        "slots": slots,
        "transitions": service.allowed_transitions(network) if can_manage else [],
        "my_invitations": my_invitations,
        "my_member_firms": my_member_firms,
        "outline": service.italy_outline(),
        "points": service.map_points(session, network),
        "map_width": service.MAP_WIDTH,
        "map_height": service.MAP_HEIGHT,
        "stage_name": service.stage_name,
        "values": {},
        "errors": {},
        **extra,
    }


@router.get("/networks/{network_id}")
def network_page(
    request: Request, network_id: int, session: Session = SessionDep, user: User = UserDep
) -> Response:
    """Show a network: map, members and roles, stages, open slots, invitations, activity."""
    network = _network(session, user, network_id)
    return render(request, "networks/detail.html", _network_context(session, user, network))


@router.post("/networks/{network_id}/invitations")
async def invite_form(
    request: Request, network_id: int, session: Session = SessionDep, user: User = UserDep
) -> Response:
    """Invite a firm by partita IVA; errors re-render the page beside the field."""
    network = _managed(session, user, network_id)
    form = await request.form()
    values = {k: str(form.get(k) or "") for k in ("partita_iva", "message", "days", "stage")}
    try:
        firm = _visible_firm(session, user, values["partita_iva"])
        days = int(values["days"]) if values["days"] else None
        service.invite(
            session,
            network=network,
            firm=firm,
            user=user,
            message=values["message"],
            days=days,
            stage_key=values["stage"] or None,
            role_text=str(form.get("role_text") or ""),
        )
    except service.NetworkConflict as exc:
        raise _conflict(exc) from None
    except (service.NetworkError, ValueError) as exc:
        field = getattr(exc, "field", None) or "partita_iva"
        if isinstance(exc, ValueError) and not isinstance(exc, service.NetworkError):
            field, exc = "days", service.NetworkError(_("give a number of days"), "days")
        network = _network(session, user, network_id)
        return render(
            request,
            "networks/detail.html",
            _network_context(session, user, network, values=values, errors={field: str(exc)}),
            status_code=422,
        )
    accounts_service.audit(
        session,
        actor=user,
        action="network.invite",
        object_type="network",
        object_id=network.id,
        detail={"firm": firm.partita_iva},
        ip=_ip(request),
    )
    flash(request, _("%(firm)s invited") % {"firm": firm.name})
    return redirect(f"/networks/{network.id}")


def _form_action(
    request: Request,
    network_id: int,
    action: str,
    fn: Any,
    message: str,
    session: Session,
    user: User,
    detail: dict | None = None,
) -> Response:
    try:
        fn()
    except service.NetworkConflict as exc:
        raise _conflict(exc) from None
    except service.NetworkError as exc:
        flash(request, str(exc), "error")
        return redirect(f"/networks/{network_id}")
    accounts_service.audit(
        session,
        actor=user,
        action=f"network.{action}",
        object_type="network",
        object_id=network_id,
        detail=detail,
        ip=_ip(request),
    )
    flash(request, message)
    return redirect(f"/networks/{network_id}")


@router.post("/networks/{network_id}/invitations/{invitation_id}/answer")
async def answer_form(
    request: Request,
    network_id: int,
    invitation_id: int,
    session: Session = SessionDep,
    user: User = UserDep,
) -> Response:
    """Accept or decline an invitation for your firm."""
    network = _network(session, user, network_id)
    _invitation_firm(session, user, network, invitation_id)
    form = await request.form()
    accept = str(form.get("decision") or "") == "accept"
    reason = str(form.get("reason") or "")
    return _form_action(
        request,
        network_id,
        "answer",
        lambda: service.answer_invitation(
            session,
            network=network,
            invitation_id=invitation_id,
            user=user,
            accept=accept,
            reason=reason,
        ),
        _("Welcome to the network") if accept else _("Invitation declined"),
        session,
        user,
        {"invitation": invitation_id, "accept": accept},
    )


@router.post("/networks/{network_id}/invitations/{invitation_id}/withdraw")
def withdraw_form(
    request: Request,
    network_id: int,
    invitation_id: int,
    session: Session = SessionDep,
    user: User = UserDep,
) -> Response:
    """Take back an invitation not answered yet."""
    network = _managed(session, user, network_id)
    if not any(i.id == invitation_id for i in network.invitations):
        raise HTTPException(404, _("No such invitation"))
    return _form_action(
        request,
        network_id,
        "withdraw",
        lambda: service.withdraw_invitation(
            session, network=network, invitation_id=invitation_id, user=user
        ),
        _("Invitation withdrawn"),
        session,
        user,
        {"invitation": invitation_id},
    )


@router.post("/networks/{network_id}/leave")
async def leave_form(
    request: Request, network_id: int, session: Session = SessionDep, user: User = UserDep
) -> Response:
    """Take your firm out of a network that is not agreed yet."""
    network = _network(session, user, network_id)
    form = await request.form()
    firm = firms_service.get_firm(session, str(form.get("firm") or ""))
    if firm is None or not policy.can_leave_network(
        user, firm_id=firm.id, memberships=_memberships(session, user)
    ):
        raise HTTPException(403, _("Only a member firm's owners or representatives can do this"))
    return _form_action(
        request,
        network_id,
        "leave",
        lambda: service.leave(session, network=network, firm_id=firm.id, user=user),
        _("%(firm)s left the network") % {"firm": firm.name},
        session,
        user,
        {"firm": firm.partita_iva},
    )


@router.post("/networks/{network_id}/transitions")
async def transition_form(
    request: Request, network_id: int, session: Session = SessionDep, user: User = UserDep
) -> Response:
    """Move the network to its next status (send invitations, agree, cancel, …)."""
    network = _managed(session, user, network_id)
    form = await request.form()
    to = str(form.get("to") or "")
    return _form_action(
        request,
        network_id,
        "transition",
        lambda: service.transition(session, network=network, to=to, user=user),
        _("The network is now: %(s)s") % {"s": _(service.STATUS_LABELS.get(to, to))},
        session,
        user,
        {"to": to},
    )


@router.get("/inbox")
def inbox_page(
    request: Request,
    page: int = Query(1, ge=1),
    session: Session = SessionDep,
    user: User = UserDep,
) -> Response:
    """Show invitations and introductions waiting for you, and your notifications."""
    memberships = _memberships(session, user)
    intros = service.list_introductions(session, firm_ids=list(memberships), per_page=50)
    firm_ids = [i.from_firm_id for i in intros.items] + [i.to_firm_id for i in intros.items]
    return render(
        request,
        "networks/inbox.html",
        {
            "invitations": service.pending_invitations_for(session, user=user),
            "introductions": intros.items,
            "firms": service.firms_by_id(session, firm_ids),
            "my_firm_ids": set(memberships),
            "notifications": service.list_notifications(session, user=user, page=page),
            "notification_text": service.notification_text,
        },
    )


@router.post("/inbox/read")
def mark_read_form(
    request: Request, session: Session = SessionDep, user: User = UserDep
) -> Response:
    """Mark every notification read."""
    service.mark_read(session, user=user)
    flash(request, _("All notifications marked as read"))
    return redirect("/inbox")


def _interest_parties(
    session: Session, user: User, from_piva: str, to_piva: str
) -> tuple[Firm, Firm]:
    from_firm = firms_service.get_firm(session, from_piva)
    if from_firm is None or not policy.can_act_for_firm(
        user, from_firm.id, memberships=_memberships(session, user)
    ):
        raise HTTPException(403, _("Only the people of the firm concerned can do this"))
    to_firm = firms_service.get_firm(session, to_piva)
    if to_firm is None or not policy.can_view_firm(
        user, to_firm, memberships=_memberships(session, user), session=session
    ):
        raise HTTPException(404, _("No firm with partita IVA %(piva)s") % {"piva": to_piva})
    return from_firm, to_firm


@router.get("/introductions/new")
def interest_page(
    request: Request,
    from_firm: str = "",
    to_firm: str = "",
    session: Session = SessionDep,
    user: User = UserDep,
) -> Response:
    """Show the form that tells a suggested partner your firm is interested."""
    a, b = _interest_parties(session, user, from_firm, to_firm)
    return render(
        request,
        "networks/introduction_new.html",
        {"from_firm": a, "to_firm": b, "values": {}, "errors": {}},
    )


@router.post("/introductions")
async def interest_form(
    request: Request, session: Session = SessionDep, user: User = UserDep
) -> Response:
    """Tell a suggested partner that your firm is interested, with a short message."""
    form = await request.form()
    a, b = _interest_parties(
        session, user, str(form.get("from_firm") or ""), str(form.get("to_firm") or "")
    )
    message = str(form.get("message") or "")
    try:
        intro = service.express_interest(
            session, from_firm=a, to_firm=b, user=user, message=message
        )
    except service.NetworkError as exc:
        field = "message" if exc.field == "message" else "to_firm"
        return render(
            request,
            "networks/introduction_new.html",
            {
                "from_firm": a,
                "to_firm": b,
                "values": {"message": message},
                "errors": {field: str(exc)},
            },
            status_code=422,
        )
    accounts_service.audit(
        session,
        actor=user,
        action="introduction.create",
        object_type="firm",
        object_id=a.partita_iva,
        detail={"to": b.partita_iva},
        ip=_ip(request),
    )
    flash(request, _("%(firm)s will see your interest in its inbox") % {"firm": b.name})
    return redirect(f"/introductions/{intro.id}")


@router.get("/introductions/{introduction_id}")
def introduction_page(
    request: Request, introduction_id: int, session: Session = SessionDep, user: User = UserDep
) -> Response:
    """Show an introduction, its answer, and the conversation once accepted."""
    intro = _intro(session, user, introduction_id)
    memberships = _memberships(session, user)
    firms = service.firms_by_id(session, [intro.from_firm_id, intro.to_firm_id])
    return render(
        request,
        "networks/introduction.html",
        {
            "intro": intro,
            "firms": firms,
            "can_answer": intro.status == "pending"
            and policy.can_act_for_firm(user, intro.to_firm_id, memberships=memberships),
            "my_side": next(
                (f for f in (intro.from_firm_id, intro.to_firm_id) if f in memberships), None
            ),
            "values": {},
            "errors": {},
        },
    )


@router.post("/introductions/{introduction_id}/answer")
async def answer_introduction_form(
    request: Request, introduction_id: int, session: Session = SessionDep, user: User = UserDep
) -> Response:
    """Accept or decline an introduction for your firm (the reason helps the recommender)."""
    intro = _intro(session, user, introduction_id)
    if not policy.can_act_for_firm(user, intro.to_firm_id, memberships=_memberships(session, user)):
        raise HTTPException(403, _("Only the people of the firm concerned can do this"))
    form = await request.form()
    accept = str(form.get("decision") or "") == "accept"
    try:
        service.answer_introduction(
            session,
            introduction=intro,
            user=user,
            accept=accept,
            reason=str(form.get("reason") or ""),
        )
    except service.NetworkConflict as exc:
        raise _conflict(exc) from None
    except service.NetworkError as exc:
        flash(request, str(exc), "error")
        return redirect(f"/introductions/{intro.id}")
    accounts_service.audit(
        session,
        actor=user,
        action="introduction.answer",
        object_type="introduction",
        object_id=intro.id,
        detail={"accept": accept},
        ip=_ip(request),
    )
    flash(
        request,
        _("Introduction accepted: you can now write to each other")
        if accept
        else _("Introduction declined"),
    )
    return redirect(f"/introductions/{intro.id}")


@router.post("/introductions/{introduction_id}/messages")
async def message_form(
    request: Request, introduction_id: int, session: Session = SessionDep, user: User = UserDep
) -> Response:
    """Write to the other firm of an accepted introduction."""
    intro = _intro(session, user, introduction_id)
    firm_id = _acting_firm(session, user, (intro.from_firm_id, intro.to_firm_id))
    form = await request.form()
    body = str(form.get("body") or "")
    try:
        service.post_message(session, introduction=intro, firm_id=firm_id, user=user, body=body)
    except service.NetworkError as exc:
        memberships = _memberships(session, user)
        return render(
            request,
            "networks/introduction.html",
            {
                "intro": intro,
                "firms": service.firms_by_id(session, [intro.from_firm_id, intro.to_firm_id]),
                "can_answer": False,
                "my_side": firm_id if firm_id in memberships else None,
                "values": {"body": body},
                "errors": {"body": str(exc)},
            },
            status_code=422,
        )
    return redirect(f"/introductions/{intro.id}#messages")


# ------------------------------------------------------------------------------ API


@api_router.post("/networks/suggest", response_model=SuggestionOut)
def api_suggest(
    body: SuggestIn, session: Session = SessionDep, user: User = UserDep
) -> Response | SuggestionOut:
    """A proposed network: around a seed firm, or (curators, facilitators, admins) from a value
    chain and a region or province, with an anchor the planner chooses. Members, roles,
    stages covered and missing, alternatives per slot."""
    try:
        if body.seed:
            seed = _seed(session, user, body.seed)
            s = service.suggest(
                session,
                seed=seed,
                viewer=user,
                size=body.size,
                goal=body.goal,
                radius_km=body.radius_km,
                chain_key=body.chain,
            )
        else:
            _chain_planner(user)
            s = service.suggest_for_chain(
                session,
                chain_key=body.chain or "",
                region=body.region,
                province=body.province,
                viewer=user,
                size=body.size,
                goal=body.goal,
            )
    except service.NetworkError as exc:
        return _api_error(exc)
    return suggestion_out(s)


@api_router.get("/networks", response_model=NetworkPageOut)
def api_list_networks(
    page: int = Query(1, ge=1),
    per_page: int = Query(20, ge=1, le=100),
    session: Session = SessionDep,
    user: User = UserDep,
) -> NetworkPageOut:
    """The networks your firms are in or invited to (all of them for admins)."""
    result = service.list_networks(
        session, user=user, see_all=policy.is_admin(user), page=page, per_page=per_page
    )
    return NetworkPageOut(
        items=[
            NetworkSummaryOut(
                id=n.id,
                name=n.name,
                status=n.status,
                members=len(service.active_members(n)),
                pending_invitations=sum(
                    service.effective_status(i) == "pending" for i in n.invitations
                ),
                updated_at=n.updated_at,
            )
            for n in result.items
        ],
        total=result.total,
        page=result.page,
        per_page=result.per_page,
        pages=result.pages,
    )


@api_router.post("/networks", response_model=NetworkOut, status_code=201)
def api_create_network(
    request: Request, body: NetworkIn, session: Session = SessionDep, user: User = UserDep
) -> Response | NetworkOut:
    """Propose a network; its members become invitations to send with a transition to forming."""
    try:
        network = _new_network(session, user, body)
    except service.NetworkError as exc:
        return _api_error(exc)
    accounts_service.audit(
        session,
        actor=user,
        action="network.create",
        object_type="network",
        object_id=network.id,
        firm_id=network.promoter_firm_id,
        ip=_ip(request),
    )
    return network_out(session, service.get_network(session, network.id))


@api_router.get("/networks/{network_id}", response_model=NetworkOut)
def api_get_network(
    network_id: int, session: Session = SessionDep, user: User = UserDep
) -> NetworkOut:
    """One network with members, invitations, stages and its activity log."""
    return network_out(session, _network(session, user, network_id))


def _api_done(
    request: Request,
    session: Session,
    user: User,
    network_id: int,
    action: str,
    detail: dict | None = None,
) -> NetworkOut:
    accounts_service.audit(
        session,
        actor=user,
        action=f"network.{action}",
        object_type="network",
        object_id=network_id,
        detail=detail,
        ip=_ip(request),
    )
    session.expire_all()
    return network_out(session, service.get_network(session, network_id))


@api_router.post("/networks/{network_id}/invitations", response_model=NetworkOut, status_code=201)
def api_invite(
    request: Request,
    network_id: int,
    body: InvitationIn,
    session: Session = SessionDep,
    user: User = UserDep,
) -> Response | NetworkOut:
    """Invite a firm (a draft while proposed, sent at once while forming)."""
    network = _managed(session, user, network_id)
    try:
        firm = _visible_firm(session, user, body.partita_iva)
        service.invite(
            session,
            network=network,
            firm=firm,
            user=user,
            message=body.message,
            days=body.days,
            stage_key=body.stage,
        )
    except service.NetworkError as exc:
        return _api_error(exc)
    return _api_done(request, session, user, network_id, "invite", {"firm": firm.partita_iva})


@api_router.post(
    "/networks/{network_id}/invitations/{invitation_id}/answer", response_model=NetworkOut
)
def api_answer(
    request: Request,
    network_id: int,
    invitation_id: int,
    body: AnswerIn,
    session: Session = SessionDep,
    user: User = UserDep,
) -> Response | NetworkOut:
    """Accept or decline an invitation for your firm; expired or withdrawn ones are refused."""
    network = _network(session, user, network_id)
    _invitation_firm(session, user, network, invitation_id)
    try:
        service.answer_invitation(
            session,
            network=network,
            invitation_id=invitation_id,
            user=user,
            accept=body.accept,
            reason=body.reason,
        )
    except service.NetworkError as exc:
        return _api_error(exc)
    return _api_done(
        request,
        session,
        user,
        network_id,
        "answer",
        {"invitation": invitation_id, "accept": body.accept},
    )


@api_router.post(
    "/networks/{network_id}/invitations/{invitation_id}/withdraw", response_model=NetworkOut
)
def api_withdraw(
    request: Request,
    network_id: int,
    invitation_id: int,
    session: Session = SessionDep,
    user: User = UserDep,
) -> Response | NetworkOut:
    """Take back an invitation not answered yet."""
    network = _managed(session, user, network_id)
    if not any(i.id == invitation_id for i in network.invitations):
        raise HTTPException(404, _("No such invitation"))
    try:
        service.withdraw_invitation(
            session, network=network, invitation_id=invitation_id, user=user
        )
    except service.NetworkError as exc:
        return _api_error(exc)
    return _api_done(request, session, user, network_id, "withdraw", {"invitation": invitation_id})


@api_router.post("/networks/{network_id}/leave", response_model=NetworkOut)
def api_leave(
    request: Request,
    network_id: int,
    body: LeaveIn,
    session: Session = SessionDep,
    user: User = UserDep,
) -> Response | NetworkOut:
    """Take your firm out of a network that is not agreed yet."""
    network = _network(session, user, network_id)
    firm = firms_service.get_firm(session, body.partita_iva)
    if firm is None or not policy.can_leave_network(
        user, firm_id=firm.id, memberships=_memberships(session, user)
    ):
        raise HTTPException(403, _("Only a member firm's owners or representatives can do this"))
    try:
        service.leave(session, network=network, firm_id=firm.id, user=user)
    except service.NetworkError as exc:
        return _api_error(exc)
    return _api_done(request, session, user, network_id, "leave", {"firm": firm.partita_iva})


@api_router.post("/networks/{network_id}/transitions", response_model=NetworkOut)
def api_transition(
    request: Request,
    network_id: int,
    body: TransitionIn,
    session: Session = SessionDep,
    user: User = UserDep,
) -> Response | NetworkOut:
    """Move the network along: forming (sends invitations), agreed, cancelled, …"""
    network = _managed(session, user, network_id)
    try:
        service.transition(session, network=network, to=body.to, user=user, days=body.days)
    except service.NetworkError as exc:
        return _api_error(exc)
    return _api_done(request, session, user, network_id, "transition", {"to": body.to})


@api_router.get("/introductions", response_model=list[IntroductionOut])
def api_introductions(
    page: int = Query(1, ge=1), session: Session = SessionDep, user: User = UserDep
) -> list[IntroductionOut]:
    """Introductions your firms sent or received, newest first (50 a page)."""
    result = service.list_introductions(
        session, firm_ids=list(_memberships(session, user)), page=page, per_page=50
    )
    return [_intro_out(session, i) for i in result.items]


@api_router.post("/introductions", response_model=IntroductionOut, status_code=201)
def api_interest(
    request: Request, body: IntroductionIn, session: Session = SessionDep, user: User = UserDep
) -> Response | IntroductionOut:
    """Express your firm's interest in a partner, with a short message."""
    from_firm = firms_service.get_firm(session, body.from_firm)
    if from_firm is None or not policy.can_act_for_firm(
        user, from_firm.id, memberships=_memberships(session, user)
    ):
        raise HTTPException(403, _("Only the people of the firm concerned can do this"))
    try:
        to_firm = _visible_firm(session, user, body.to_firm, "to_firm")
        intro = service.express_interest(
            session, from_firm=from_firm, to_firm=to_firm, user=user, message=body.message
        )
    except service.NetworkError as exc:
        return _api_error(exc)
    accounts_service.audit(
        session,
        actor=user,
        action="introduction.create",
        object_type="firm",
        object_id=from_firm.partita_iva,
        detail={"to": to_firm.partita_iva},
        ip=_ip(request),
    )
    return _intro_out(session, intro)


@api_router.get("/introductions/{introduction_id}", response_model=IntroductionOut)
def api_introduction(
    introduction_id: int, session: Session = SessionDep, user: User = UserDep
) -> IntroductionOut:
    """One introduction with its messages."""
    return _intro_out(session, _intro(session, user, introduction_id), messages=True)


@api_router.post("/introductions/{introduction_id}/answer", response_model=IntroductionOut)
def api_answer_introduction(
    request: Request,
    introduction_id: int,
    body: AnswerIn,
    session: Session = SessionDep,
    user: User = UserDep,
) -> Response | IntroductionOut:
    """Accept or decline an introduction addressed to your firm."""
    intro = _intro(session, user, introduction_id)
    if not policy.can_act_for_firm(user, intro.to_firm_id, memberships=_memberships(session, user)):
        raise HTTPException(403, _("Only the people of the firm concerned can do this"))
    try:
        service.answer_introduction(
            session, introduction=intro, user=user, accept=body.accept, reason=body.reason
        )
    except service.NetworkError as exc:
        return _api_error(exc)
    accounts_service.audit(
        session,
        actor=user,
        action="introduction.answer",
        object_type="introduction",
        object_id=intro.id,
        detail={"accept": body.accept},
        ip=_ip(request),
    )
    return _intro_out(session, intro, messages=True)


@api_router.post(
    "/introductions/{introduction_id}/messages", response_model=IntroductionOut, status_code=201
)
def api_message(
    introduction_id: int, body: MessageIn, session: Session = SessionDep, user: User = UserDep
) -> Response | IntroductionOut:
    """Write to the other firm of an accepted introduction."""
    intro = _intro(session, user, introduction_id)
    firm_id = _acting_firm(session, user, (intro.from_firm_id, intro.to_firm_id))
    try:
        service.post_message(
            session, introduction=intro, firm_id=firm_id, user=user, body=body.body
        )
    except service.NetworkError as exc:
        return _api_error(exc)
    session.refresh(intro, ["messages"])
    return _intro_out(session, intro, messages=True)


@api_router.get("/notifications", response_model=list[NotificationOut])
def api_notifications(
    page: int = Query(1, ge=1), session: Session = SessionDep, user: User = UserDep
) -> list[NotificationOut]:
    """Your notifications, newest first (20 a page)."""
    result = service.list_notifications(session, user=user, page=page)
    return [
        NotificationOut(
            id=n.id,
            kind=n.kind,
            text=service.notification_text(n),
            link=n.link,
            created_at=n.created_at,
            read=n.read_at is not None,
        )
        for n in result.items
    ]


@api_router.post("/notifications/read")
def api_mark_read(session: Session = SessionDep, user: User = UserDep) -> dict[str, int]:
    """Mark all your notifications read."""
    return {"marked": service.mark_read(session, user=user)}
