"""Networks: suggestion around a seed, lifecycle, invitations, introductions, notifications.

Lifecycle: proposed -> forming (invitations out) -> agreed (no invitation pending, at least
two members) -> contract_drafting (the contracts domain takes over) -> registered; a network
can be cancelled before it is registered. Every change is written to the network's activity
log with who and when, and bumps the network's version: a change made on a stale copy fails
(409) instead of overwriting someone else's.
"""

import functools
import math
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, ParamSpec, TypeVar

import numpy as np
from sqlalchemy import func, or_, select
from sqlalchemy.exc import OperationalError
from sqlalchemy.orm import Session, selectinload
from sqlalchemy.orm.exc import StaleDataError

from matchmaker.accounts import service as accounts_service
from matchmaker.accounts.models import User
from matchmaker.db import utcnow
from matchmaker.firms.models import Firm
from matchmaker.firms.schemas import GOALS
from matchmaker.i18n import current_language
from matchmaker.i18n import gettext as _
from matchmaker.matching import index as index_mod
from matchmaker.matching import service as matching_service
from matchmaker.matching.features import SME_INDEX
from matchmaker.networks import suggest as planner
from matchmaker.networks.models import (
    Introduction,
    IntroductionMessage,
    Network,
    NetworkActivity,
    NetworkInvitation,
    NetworkMember,
    Notification,
    PartnerFeedback,
)
from matchmaker.refdata import ateco as ateco_ref
from matchmaker.refdata import chains as chains_ref
from matchmaker.refdata import places

P = ParamSpec("P")
R = TypeVar("R")
INVITATION_DAYS = 14
MAX_INVITATION_DAYS = 90
OPEN = ("proposed", "forming")
# Transitions a person may ask for; forming -> agreed also happens by itself when the last
# pending invitation is answered.
TRANSITIONS: dict[str, frozenset[str]] = {
    "proposed": frozenset({"forming", "cancelled"}),
    "forming": frozenset({"agreed", "cancelled"}),
    "agreed": frozenset({"forming", "contract_drafting", "cancelled"}),
    "contract_drafting": frozenset({"agreed", "registered"}),
    "registered": frozenset(),
    "cancelled": frozenset(),
}
STATUS_LABELS = {
    "proposed": "Proposed",
    "forming": "Forming",
    "agreed": "Agreed",
    "contract_drafting": "Contract drafting",
    "registered": "Registered",
    "cancelled": "Cancelled",
}
INVITATION_LABELS = {
    "draft": "Not sent yet",
    "pending": "Waiting for an answer",
    "accepted": "Accepted",
    "declined": "Declined",
    "expired": "Expired",
    "withdrawn": "Withdrawn",
}
# Notification kinds and their sentences (translated when shown).
NOTIFICATION_TEXT = {
    "interest_received": "%(firm)s is interested in working with %(to)s",
    "interest_accepted": "%(firm)s accepted the introduction from %(to)s",
    "interest_declined": "%(firm)s declined the introduction from %(to)s",
    "message_received": "New message from %(firm)s",
    "invitation_received": "%(firm)s is invited to join the network %(network)s",
    "invitation_accepted": "%(firm)s joined the network %(network)s",
    "invitation_declined": "%(firm)s declined to join the network %(network)s",
    "invitation_withdrawn": "The invitation of %(firm)s to the network %(network)s was withdrawn",
    "member_left": "%(firm)s left the network %(network)s",
    "network_status": "The network %(network)s is now: %(status)s",
}


class NetworkError(ValueError):
    """A request the rules refuse, with a message for the user (and the field it concerns)."""

    def __init__(self, message: str, field: str | None = None):
        super().__init__(message)
        self.field = field


class NetworkConflict(NetworkError):
    """Someone changed the network at the same moment: nothing was saved; try again."""


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


# ------------------------------------------------------------------------------ suggestion


@dataclass
class FirmCard:
    """A firm as a network page shows it."""

    firm_id: int
    partita_iva: str
    name: str
    comune: str
    province: str
    comune_istat: str
    lat: float
    lng: float
    ateco: str
    ateco_title: str | None
    sme_class: str | None
    distance_km: float


@dataclass
class SuggestedMember:
    firm: FirmCard
    role: str  # promoter (seed mode) | anchor (chain mode, chosen by the planner) | member
    roles: list[str]  # sentences: "covers stage: finishing", "offers: …"
    stages: list[str]  # stage keys it covers
    new_stages: list[str]
    fit: float
    score: float
    alternatives: list["SuggestedMember"] = field(default_factory=list)


@dataclass
class Suggestion:
    seed: FirmCard
    goal: str | None
    size: int
    radius_km: float | None
    chain_key: str | None
    chain_name: str | None
    members: list[SuggestedMember]
    covered: list[tuple[str, str]]  # (stage key, name)
    uncovered: list[tuple[str, str]]
    open_slots: list[tuple[str, str, list[SuggestedMember]]]
    needs_covered: list[str]
    needs_uncovered: list[str]
    candidates: int
    mean_fit: float
    seconds: float
    mode: str = "seed"  # seed: around the seeker's firm; chain: a value chain in an area
    region: str | None = None
    province: str | None = None
    area: str | None = None  # the area's name (chain mode)
    absent: list[tuple[str, str]] = field(default_factory=list)  # stages with no firm there


def _lang() -> str:
    return current_language.get()


def stage_name(chain_key: str | None, stage_key: str) -> str:
    """Return a stage's (or support function's) name in the current language."""
    if not chain_key:
        return stage_key
    try:
        return chains_ref.chain(chain_key).stage(stage_key).name(_lang())
    except (chains_ref.UnknownChain, KeyError):
        return stage_key


def chain_name(chain_key: str | None) -> str | None:
    """Return a value chain's name in the current language."""
    if not chain_key:
        return None
    try:
        return chains_ref.chain(chain_key).name(_lang())
    except chains_ref.UnknownChain:
        return chain_key


def _card(idx: index_mod.RecommenderIndex, row: int, seed_comune: int) -> FirmCard:
    a = idx.arrays
    info = a.codes.infos[a.code_row[row]]
    comune = places.all_comuni()[a.comune_idx[row]]
    seed_c = places.all_comuni()[seed_comune]
    code = ateco_ref.lookup(info.code, info.edition) if info.code else None
    sme = int(a.sme[row])
    return FirmCard(
        firm_id=int(a.ids[row]),
        partita_iva=str(a.piva[row]),
        name=a.names[row],
        comune=comune.name,
        province=comune.province,
        comune_istat=comune.istat,
        lat=comune.lat,
        lng=comune.lng,
        ateco=info.code,
        ateco_title=code.title if code else None,
        sme_class=next(k for k, v in SME_INDEX.items() if v == sme) if sme >= 0 else None,
        distance_km=round(
            float(places.haversine_km(seed_c.lat, seed_c.lng, comune.lat, comune.lng)), 1
        ),
    )


def role_sentences(
    role: planner.Role, chain_key: str | None, *, promoter: bool = False
) -> list[str]:
    """Say in words what a member brings: stages, support, offers."""
    out: list[str] = []
    if promoter:
        out.append(_("promoter of the network"))
    if role.new_stages:
        out.append(
            _("covers stage: %(s)s")
            % {"s": ", ".join(stage_name(chain_key, k) for k in role.new_stages)}
        )
    elif role.stages:
        out.append(
            _("strengthens stage: %(s)s")
            % {"s": ", ".join(stage_name(chain_key, k) for k in role.stages)}
        )
    if role.support:
        out.append(
            _("support: %(s)s") % {"s": ", ".join(stage_name(chain_key, k) for k in role.support)}
        )
    if role.offers:
        out.append(_("offers: %(t)s") % {"t": ", ".join(role.offers)})
    if not out:
        out.append(_("good overall fit with the other members"))
    return out


def _member(
    idx: index_mod.RecommenderIndex,
    role: planner.Role,
    plan: planner.Plan,
    seed_comune: int,
    *,
    promoter: bool = False,
) -> SuggestedMember:
    return SuggestedMember(
        firm=_card(idx, role.row, seed_comune),
        role="promoter" if promoter else "member",
        roles=role_sentences(role, plan.chain_key, promoter=promoter),
        stages=role.stages,
        new_stages=role.new_stages,
        fit=round(role.fit, 4),
        score=round(role.seed_score, 4),
    )


def _validate_plan_input(
    size: int, goal: str | None, chain_key: str | None, radius_km: float | None
) -> None:
    if not planner.MIN_SIZE <= size <= planner.MAX_SIZE:
        raise NetworkError(
            _("size must be between %(a)s and %(b)s firms")
            % {"a": planner.MIN_SIZE, "b": planner.MAX_SIZE},
            "size",
        )
    if goal is not None and goal not in GOALS:
        raise NetworkError(_("unknown goal %(g)s") % {"g": goal}, "goal")
    if chain_key is not None:
        try:
            chains_ref.chain(chain_key)
        except chains_ref.UnknownChain:
            raise NetworkError(_("unknown value chain %(c)s") % {"c": chain_key}, "chain") from None
    if radius_km is not None and not 0 < radius_km <= 2000:
        raise NetworkError(_("radius_km must be between 1 and 2000"), "radius_km")


def suggest(
    session: Session,
    *,
    seed: Firm,
    viewer: Any,
    size: int = 5,
    goal: str | None = None,
    radius_km: float | None = None,
    chain_key: str | None = None,
    exclude_firm_ids: Sequence[int] = (),
    fixed_firm_ids: Sequence[int] = (),
) -> Suggestion:
    """Propose a network of `size` firms around the seed, with roles and alternatives."""
    _validate_plan_input(size, goal, chain_key, radius_km)
    t0 = time.perf_counter()
    idx = index_mod.get_index(session)
    with idx.lock:
        a = idx.arrays
        try:
            q, _why = matching_service.build_query(
                session, idx, seed, viewer, radius_km=radius_km, goal=goal
            )
        except matching_service.MatchingError as exc:
            raise NetworkError(str(exc)) from None
        # The goal shapes the weights and the shared-goal score, but is no hard filter here:
        # most firms state no goals, and a network needs firms of every stage.
        q.goal_filter = 0
        extra = [a.row_of[f] for f in exclude_firm_ids if f in a.row_of]
        if extra:
            base = q.excluded_rows if q.excluded_rows is not None else np.empty(0, np.int64)
            q.excluded_rows = np.concatenate([base, np.array(extra, dtype=np.int64)])
        fixed = [a.row_of[f] for f in fixed_firm_ids if f in a.row_of and f != seed.id]
        plan = planner.plan_network(
            a,
            idx.model,
            idx.io_link,
            q,
            size=size,
            chain_key=chain_key,
            fixed_rows=fixed,
            goal=goal,
        )
        sc = q.comune_idx
        members = [_member(idx, plan.members[0], plan, sc, promoter=True)]
        for role in plan.members[1:]:
            m = _member(idx, role, plan, sc)
            m.alternatives = [
                _member(idx, alt, plan, sc) for alt in plan.alternatives.get(role.row, [])
            ]
            members.append(m)
        slots = [
            (k, stage_name(plan.chain_key, k), [_member(idx, r, plan, sc) for r in rs])
            for k, rs in plan.open_slots.items()
        ]
        seed_card = members[0].firm
    return Suggestion(
        seed=seed_card,
        goal=goal,
        size=size,
        radius_km=radius_km,
        chain_key=plan.chain_key,
        chain_name=chain_name(plan.chain_key),
        members=members,
        covered=[(k, stage_name(plan.chain_key, k)) for k in plan.covered],
        uncovered=[(k, stage_name(plan.chain_key, k)) for k in plan.uncovered],
        open_slots=slots,
        needs_covered=plan.needs_covered,
        needs_uncovered=plan.needs_uncovered,
        candidates=plan.candidates,
        mean_fit=round(plan.mean_fit, 4),
        seconds=round(time.perf_counter() - t0, 3),
    )


def resolve_area(
    region: str | None, province: str | None
) -> tuple[places.Region | None, places.Province | None]:
    """Return the region (name or ISTAT code) and province (sigla or name) asked for."""
    reg = prov = None
    if region:
        try:
            reg = places.region(region)
        except places.PlaceError:
            raise NetworkError(_("unknown region %(r)s") % {"r": region}, "region") from None
    if province:
        try:
            prov = places.province(province)
        except places.PlaceError:
            raise NetworkError(_("unknown province %(p)s") % {"p": province}, "province") from None
        if reg is not None and prov.region_code != reg.code:
            raise NetworkError(
                _("the province %(p)s is not in %(r)s") % {"p": prov.name, "r": reg.name},
                "province",
            )
    return reg, prov


def area_name(region: places.Region | None, province: places.Province | None) -> str:
    """Return the name of the area a chain network is limited to."""
    if province is not None:
        return f"{province.name} ({province.sigla})"
    return region.name if region is not None else _("the selected firms")


def suggest_for_chain(
    session: Session,
    *,
    chain_key: str,
    region: str | None = None,
    province: str | None = None,
    viewer: Any,
    size: int = 5,
    goal: str | None = None,
    exclude_firm_ids: Sequence[int] = (),
    restrict_firm_ids: Sequence[int] | None = None,
) -> Suggestion:
    """Propose a network of a value chain's firms in a region or province, with no seed firm.

    Only firms the viewer may see, sitting in the chain, inside the area (and among
    `restrict_firm_ids` when given, e.g. an association's members) are considered. The planner
    picks the anchor: the best-connected firm whose plan covers the most stages.
    """
    if not chain_key:
        raise NetworkError(_("choose a value chain"), "chain")
    _validate_plan_input(size, goal, chain_key, None)
    reg, prov = resolve_area(region, province)
    if reg is None and prov is None and restrict_firm_ids is None:
        raise NetworkError(_("choose a region or a province"), "region")
    area_field = "province" if prov is not None else "region"
    where = area_name(reg, prov)
    t0 = time.perf_counter()
    idx = index_mod.get_index(session)
    with idx.lock:
        a = idx.arrays
        ok = a.alive & matching_service.visible_rows(session, idx, viewer)
        comuni = places.all_comuni()
        if prov is not None:
            in_area = np.array([c.province == prov.sigla for c in comuni], dtype=bool)
        elif reg is not None:
            in_area = np.array([c.region_code == reg.code for c in comuni], dtype=bool)
        else:
            in_area = np.ones(len(comuni), dtype=bool)
        ok &= in_area[a.comune_idx]
        if restrict_firm_ids is not None:
            only = np.zeros(a.size, dtype=bool)
            only[[a.row_of[f] for f in restrict_firm_ids if f in a.row_of]] = True
            ok &= only
        drop = [a.row_of[f] for f in exclude_firm_ids if f in a.row_of]
        ok[drop] = False
        try:
            cp = planner.plan_chain_network(
                a, idx.model, idx.io_link, chain_key=chain_key, candidates=ok, size=size, goal=goal
            )
        except ValueError:
            raise NetworkError(
                _("fewer than two firms of the %(chain)s chain in %(area)s: no network to propose")
                % {"chain": chain_name(chain_key), "area": where},
                area_field,
            ) from None
        plan = cp.plan
        sc = int(a.comune_idx[plan.seed_row])
        anchor = _member(idx, plan.members[0], plan, sc)
        anchor.role = "anchor"
        anchor.roles = anchor_sentences(plan.members[0], chain_key) + anchor.roles
        members = [anchor]
        for role in plan.members[1:]:
            m = _member(idx, role, plan, sc)
            m.alternatives = [
                _member(idx, alt, plan, sc) for alt in plan.alternatives.get(role.row, [])
            ]
            members.append(m)
        slots = [
            (k, stage_name(chain_key, k), [_member(idx, r, plan, sc) for r in rs])
            for k, rs in plan.open_slots.items()
            if k not in cp.absent
        ]
        seed_card = anchor.firm
    return Suggestion(
        seed=seed_card,
        goal=goal,
        size=size,
        radius_km=None,
        chain_key=chain_key,
        chain_name=chain_name(chain_key),
        members=members,
        covered=[(k, stage_name(chain_key, k)) for k in plan.covered],
        uncovered=[(k, stage_name(chain_key, k)) for k in plan.uncovered],
        open_slots=slots,
        needs_covered=plan.needs_covered,
        needs_uncovered=plan.needs_uncovered,
        candidates=plan.candidates,
        mean_fit=round(plan.mean_fit, 4),
        seconds=round(time.perf_counter() - t0, 3),
        mode="chain",
        region=reg.name if reg else None,
        province=prov.sigla if prov else None,
        area=where,
        absent=[(k, stage_name(chain_key, k)) for k in cp.absent],
    )


def anchor_sentences(role: planner.Role, chain_key: str | None) -> list[str]:
    """Say why the planner chose this firm as the anchor of a network without a seed."""
    if role.stages:
        return [
            _("anchor chosen by the planner: covers %(s)s and fits best with the others")
            % {"s": ", ".join(stage_name(chain_key, k) for k in role.stages)}
        ]
    return [_("anchor chosen by the planner: the best fit with the others")]


def open_slots(session: Session, *, network: Network, viewer: Any) -> Suggestion | None:
    """Suggest firms for the stages the network does not cover yet (None without a promoter)."""
    seed = session.get(Firm, network.promoter_firm_id) if network.promoter_firm_id else None
    if seed is None:
        return None
    inside = {m.firm_id for m in network.members if m.status == "active"}
    inside |= {i.firm_id for i in network.invitations if i.status in ("draft", "pending")}
    declined = {i.firm_id for i in network.invitations if i.status == "declined"}
    left = {m.firm_id for m in network.members if m.status == "left"}
    try:
        return suggest(
            session,
            seed=seed,
            viewer=viewer,
            size=max(2, min(len(inside), 10)),
            goal=network.goal,
            radius_km=network.radius_km,
            chain_key=network.chain_key,
            fixed_firm_ids=sorted(inside - {seed.id}),
            exclude_firm_ids=sorted(declined | left),
        )
    except NetworkError:
        return None


# ------------------------------------------------------------------------------ networks


def get_network(session: Session, network_id: int) -> Network | None:
    """Return a network with its members, invitations and activity loaded."""
    return session.scalar(
        select(Network)
        .where(Network.id == network_id)
        .options(
            selectinload(Network.members),
            selectinload(Network.invitations),
            selectinload(Network.activity),
        )
    )


def _lock(session: Session, network: Network) -> Network:
    """Re-read the network, locking its row on PostgreSQL so concurrent writers queue up."""
    return session.execute(
        select(Network)
        .where(Network.id == network.id)
        .with_for_update()
        .execution_options(populate_existing=True)
    ).scalar_one()


CONFLICT_MESSAGE = (
    "Someone else changed this network at the same moment; nothing was saved. "
    "Reload the page and try again."
)


def _is_conflict(exc: Exception) -> bool:
    if isinstance(exc, StaleDataError):
        return True
    # SQLite: a writer whose snapshot another connection has moved past is refused.
    return isinstance(exc, OperationalError) and "locked" in str(exc).lower()


def guarded(fn: Callable[P, R]) -> Callable[P, R]:
    """Turn a concurrent change detected anywhere in `fn` (flush or autoflush) into a conflict."""

    @functools.wraps(fn)
    def wrapper(*args: P.args, **kwargs: P.kwargs) -> R:
        try:
            return fn(*args, **kwargs)
        except (StaleDataError, OperationalError) as exc:
            if not _is_conflict(exc):
                raise
            raise NetworkConflict(_(CONFLICT_MESSAGE)) from None

    return wrapper


def _flush(session: Session) -> None:
    session.flush()


def _touch(network: Network) -> None:
    # Every change bumps the version, so a concurrent change on a stale copy is refused.
    network.updated_at = utcnow()


def _log(
    session: Session,
    network: Network,
    user: User | None,
    action: str,
    *,
    firm_id: int | None = None,
    **detail: Any,
) -> None:
    network.activity.append(
        NetworkActivity(
            actor_id=user.id if user else None,
            actor_label=user.email if user else "system",
            action=action,
            firm_id=firm_id,
            detail=detail or None,
            created_at=utcnow(),
        )
    )


def member_firm_ids(network: Network, *, include_invited: bool = True) -> set[int]:
    """Return the firms that see the network: active members and (sent) invitations."""
    ids = {m.firm_id for m in network.members if m.status == "active"}
    if include_invited:
        ids |= {i.firm_id for i in network.invitations if i.status != "draft"}
    return ids


def active_members(network: Network) -> list[NetworkMember]:
    """Return the members that have not left."""
    return [m for m in network.members if m.status == "active"]


def effective_status(inv: NetworkInvitation, now: datetime | None = None) -> str:
    """Return an invitation's status, counting a pending one past its deadline as expired."""
    now = now or utcnow()
    if (
        inv.status == "pending"
        and inv.expires_at is not None
        and accounts_service.aware(inv.expires_at) <= now
    ):
        return "expired"
    return inv.status


@guarded
def create_network(
    session: Session,
    *,
    seed: Firm,
    user: User,
    name: str = "",
    goal: str | None = None,
    chain_key: str | None = None,
    radius_km: float | None = None,
    description: str = "",
    members: Sequence[tuple[Firm, str | None, str]] = (),
) -> Network:
    """Propose a network: the seed as promoter and the chosen firms as invitations not yet sent."""
    _validate_plan_input(max(2, len(members) + 1), goal, chain_key, radius_km)
    name = (name or "").strip() or _("Network of %(firm)s") % {"firm": seed.name}
    if len(name) > 200:
        raise NetworkError(_("the name is too long (200 characters at most)"), "name")
    seen: set[int] = {seed.id}
    for firm, _stage, _text in members:
        if firm.id in seen:
            raise NetworkError(_("%(firm)s is listed twice") % {"firm": firm.name}, "members")
        seen.add(firm.id)
    network = Network(
        name=name,
        description=description.strip(),
        promoter_firm_id=seed.id,
        created_by=user.id,
        goal=goal,
        chain_key=chain_key,
        radius_km=radius_km,
        target_size=max(2, len(members) + 1),
        status="proposed",
    )
    session.add(network)
    _flush(session)
    network.members.append(
        NetworkMember(firm_id=seed.id, role="promoter", role_text=_("promoter of the network"))
    )
    _log(session, network, user, "created", firm_id=seed.id, name=name)
    for firm, stage_key, role_text in members:
        network.invitations.append(
            NetworkInvitation(
                firm_id=firm.id,
                status="draft",
                stage_key=stage_key,
                role_text=role_text[:500],
                invited_by=user.id,
            )
        )
        _log(session, network, user, "invitation_drafted", firm_id=firm.id)
    _flush(session)
    session.refresh(network)
    return network


def _deadline(days: int | None) -> datetime:
    days = INVITATION_DAYS if days is None else days
    if not 1 <= days <= MAX_INVITATION_DAYS:
        raise NetworkError(
            _("an invitation lasts between 1 and %(n)s days") % {"n": MAX_INVITATION_DAYS}, "days"
        )
    return utcnow() + timedelta(days=days)


def _sweep_expired(session: Session, network: Network) -> None:
    now = utcnow()
    for inv in network.invitations:
        if inv.status == "pending" and effective_status(inv, now) == "expired":
            inv.status = "expired"
            _log(session, network, None, "invitation_expired", firm_id=inv.firm_id)


@guarded
def invite(
    session: Session,
    *,
    network: Network,
    firm: Firm,
    user: User,
    message: str = "",
    days: int | None = None,
    stage_key: str | None = None,
    role_text: str = "",
) -> NetworkInvitation:
    """Invite a firm: a draft while the network is proposed, sent while it is forming."""
    network = _lock(session, network)
    session.refresh(network, ["members", "invitations"])
    _sweep_expired(session, network)
    if network.status not in OPEN:
        raise NetworkError(
            _("Invitations can be sent only while the network is proposed or forming (it is %(s)s)")
            % {"s": _(STATUS_LABELS[network.status])}
        )
    if firm.id in {m.firm_id for m in active_members(network)}:
        raise NetworkError(_("%(firm)s is already a member") % {"firm": firm.name}, "partita_iva")
    if any(i.firm_id == firm.id and i.status in ("draft", "pending") for i in network.invitations):
        raise NetworkError(_("%(firm)s is already invited") % {"firm": firm.name}, "partita_iva")
    if len(message) > 2000:
        raise NetworkError(_("the message is too long (2000 characters at most)"), "message")
    sending = network.status == "forming"
    inv = NetworkInvitation(
        firm_id=firm.id,
        status="pending" if sending else "draft",
        stage_key=stage_key,
        role_text=role_text[:500],
        message=message.strip(),
        invited_by=user.id,
        sent_at=utcnow() if sending else None,
        expires_at=_deadline(days) if sending else None,
    )
    network.invitations.append(inv)
    _touch(network)
    _log(session, network, user, "invited" if sending else "invitation_drafted", firm_id=firm.id)
    _flush(session)
    if sending:
        _notify_firm(
            session,
            firm.id,
            "invitation_received",
            {"firm": firm.name, "network": network.name},
            f"/networks/{network.id}",
        )
    return inv


def _get_invitation(network: Network, invitation_id: int) -> NetworkInvitation:
    for inv in network.invitations:
        if inv.id == invitation_id:
            return inv
    raise LookupError(invitation_id)


@guarded
def answer_invitation(
    session: Session,
    *,
    network: Network,
    invitation_id: int,
    user: User,
    accept: bool,
    reason: str = "",
) -> NetworkInvitation:
    """Accept or decline an invitation; the last answer may make the network agreed."""
    network = _lock(session, network)
    session.refresh(network, ["members", "invitations"])
    inv = _get_invitation(network, invitation_id)
    session.refresh(inv)
    status = effective_status(inv)
    if status == "expired":
        raise NetworkError(
            _("This invitation expired on %(d)s; ask the promoter for a new one")
            % {"d": accounts_service.aware(inv.expires_at).date().isoformat()}
        )
    if status == "withdrawn":
        raise NetworkError(_("This invitation was withdrawn by the promoter"))
    if status == "draft":
        raise NetworkError(_("This invitation has not been sent yet"))
    if status in ("accepted", "declined"):
        raise NetworkError(
            _("This invitation was already answered (%(s)s)") % {"s": _(INVITATION_LABELS[status])}
        )
    if network.status != "forming":
        raise NetworkError(
            _("The network is %(s)s: invitations cannot be answered now")
            % {"s": _(STATUS_LABELS[network.status])}
        )
    if len(reason) > 2000:
        raise NetworkError(_("the reason is too long (2000 characters at most)"), "reason")
    _sweep_expired(session, network)
    inv.status = "accepted" if accept else "declined"
    inv.reason = reason.strip()
    inv.answered_by = user.id
    inv.answered_at = utcnow()
    firm = session.get(Firm, inv.firm_id)
    if accept:
        existing = next((m for m in network.members if m.firm_id == inv.firm_id), None)
        if existing is None:
            network.members.append(
                NetworkMember(
                    firm_id=inv.firm_id,
                    role="member",
                    stage_key=inv.stage_key,
                    role_text=inv.role_text,
                )
            )
        else:  # a firm that left and is invited again comes back
            existing.status, existing.left_at, existing.joined_at = "active", None, utcnow()
            existing.stage_key, existing.role_text = inv.stage_key, inv.role_text
    if network.promoter_firm_id is not None:
        session.add(
            PartnerFeedback(
                seeker_firm_id=network.promoter_firm_id,
                candidate_firm_id=inv.firm_id,
                accepted=accept,
                reason=inv.reason,
                source="invitation",
            )
        )
    _touch(network)
    _log(
        session,
        network,
        user,
        "accepted" if accept else "declined",
        firm_id=inv.firm_id,
        **({"reason": inv.reason} if inv.reason else {}),
    )
    _flush(session)
    session.refresh(network, ["members", "invitations"])
    if network.promoter_firm_id is not None and firm is not None:
        _notify_firm(
            session,
            network.promoter_firm_id,
            "invitation_accepted" if accept else "invitation_declined",
            {"firm": firm.name, "network": network.name},
            f"/networks/{network.id}",
        )
    _maybe_agree(session, network, user)
    return inv


def _pending_count(session: Session, network: Network) -> int:
    # Counted in SQL, not from loaded objects: what other sessions committed counts too.
    return int(
        session.scalar(
            select(func.count())
            .select_from(NetworkInvitation)
            .where(
                NetworkInvitation.network_id == network.id,
                NetworkInvitation.status == "pending",
                or_(
                    NetworkInvitation.expires_at.is_(None), NetworkInvitation.expires_at > utcnow()
                ),
            )
        )
        or 0
    )


def _active_count(session: Session, network: Network) -> int:
    return int(
        session.scalar(
            select(func.count())
            .select_from(NetworkMember)
            .where(NetworkMember.network_id == network.id, NetworkMember.status == "active")
        )
        or 0
    )


def _maybe_agree(session: Session, network: Network, user: User | None) -> None:
    if network.status != "forming":
        return
    if _pending_count(session, network) == 0 and _active_count(session, network) >= 2:
        _set_status(session, network, "agreed", user)


def _set_status(session: Session, network: Network, to: str, user: User | None) -> None:
    before = network.status
    network.status = to
    if to == "agreed":
        network.agreed_at = utcnow()
    _touch(network)
    _log(session, network, user, "status", **{"from": before, "to": to})
    _flush(session)
    for m in active_members(network):
        _notify_firm(
            session,
            m.firm_id,
            "network_status",
            {"network": network.name, "status": to},
            f"/networks/{network.id}",
            exclude_user=user,
        )


@guarded
def withdraw_invitation(
    session: Session, *, network: Network, invitation_id: int, user: User
) -> NetworkInvitation:
    """Take back an invitation that is not answered yet."""
    network = _lock(session, network)
    session.refresh(network, ["members", "invitations"])
    inv = _get_invitation(network, invitation_id)
    session.refresh(inv)
    status = effective_status(inv)
    if status not in ("draft", "pending"):
        raise NetworkError(
            _("Only an invitation waiting for an answer can be withdrawn (this one is: %(s)s)")
            % {"s": _(INVITATION_LABELS[status])}
        )
    was_sent = inv.status == "pending"
    inv.status = "withdrawn"
    inv.answered_at = utcnow()
    _touch(network)
    _log(session, network, user, "withdrawn", firm_id=inv.firm_id)
    _flush(session)
    if was_sent:
        firm = session.get(Firm, inv.firm_id)
        _notify_firm(
            session,
            inv.firm_id,
            "invitation_withdrawn",
            {"firm": firm.name if firm else "", "network": network.name},
            f"/networks/{network.id}",
        )
        session.refresh(network, ["invitations"])
        _maybe_agree(session, network, user)
    return inv


@guarded
def leave(session: Session, *, network: Network, firm_id: int, user: User) -> None:
    """Take a member firm out of the network; only before the network is agreed."""
    network = _lock(session, network)
    session.refresh(network, ["members", "invitations"])
    member = next((m for m in active_members(network) if m.firm_id == firm_id), None)
    if member is None:
        raise NetworkError(_("This firm is not a member of the network"))
    if member.role == "promoter":
        raise NetworkError(_("The promoter cannot leave; cancel the network instead"))
    if network.status not in OPEN:
        raise NetworkError(
            _("The network is %(s)s: members can leave only before the agreement")
            % {"s": _(STATUS_LABELS[network.status])}
        )
    member.status = "left"
    member.left_at = utcnow()
    _touch(network)
    _log(session, network, user, "left", firm_id=firm_id)
    _flush(session)
    firm = session.get(Firm, firm_id)
    if network.promoter_firm_id is not None:
        _notify_firm(
            session,
            network.promoter_firm_id,
            "member_left",
            {"firm": firm.name if firm else "", "network": network.name},
            f"/networks/{network.id}",
        )


def allowed_transitions(network: Network) -> list[str]:
    """Return the statuses a person may move the network to now."""
    return sorted(TRANSITIONS.get(network.status, frozenset()))


@guarded
def transition(
    session: Session, *, network: Network, to: str, user: User | None, days: int | None = None
) -> Network:
    """Move the network along its lifecycle, or refuse with the reason."""
    network = _lock(session, network)
    session.refresh(network, ["members", "invitations"])
    _sweep_expired(session, network)
    if to not in STATUS_LABELS:
        raise NetworkError(_("unknown status %(s)s") % {"s": to}, "to")
    if to not in TRANSITIONS.get(network.status, frozenset()):
        raise NetworkError(
            _("A network that is %(a)s cannot become %(b)s")
            % {"a": _(STATUS_LABELS[network.status]), "b": _(STATUS_LABELS[to])},
            "to",
        )
    if to == "forming" and network.status == "proposed":
        drafts = [i for i in network.invitations if i.status == "draft"]
        if not drafts:
            raise NetworkError(_("Invite at least one firm before sending the invitations"), "to")
        deadline = _deadline(days)
        for inv in drafts:
            inv.status, inv.sent_at, inv.expires_at = "pending", utcnow(), deadline
            _log(session, network, user, "invited", firm_id=inv.firm_id)
        _set_status(session, network, "forming", user)
        for inv in drafts:
            firm = session.get(Firm, inv.firm_id)
            _notify_firm(
                session,
                inv.firm_id,
                "invitation_received",
                {"firm": firm.name if firm else "", "network": network.name},
                f"/networks/{network.id}",
            )
        return network
    if to == "agreed":
        if _pending_count(session, network) > 0:
            raise NetworkError(
                _("Some invitations are still waiting for an answer: withdraw them or wait"), "to"
            )
        if _active_count(session, network) < 2:
            raise NetworkError(_("A network needs at least two member firms"), "to")
    _set_status(session, network, to, user)
    return network


def start_contract_drafting(session: Session, *, network_id: int, user: User | None) -> Network:
    """Hand an agreed network over to the contract workflow (called by the contracts domain)."""
    network = session.get(Network, network_id)
    if network is None:
        raise NetworkError(_("No such network"))
    return transition(session, network=network, to="contract_drafting", user=user)


def mark_registered(session: Session, *, network_id: int, user: User | None) -> Network:
    """Record that the network's contract is registered (called by the contracts domain)."""
    network = session.get(Network, network_id)
    if network is None:
        raise NetworkError(_("No such network"))
    return transition(session, network=network, to="registered", user=user)


def covered_stages(session: Session, network: Network) -> tuple[list[str], list[str]]:
    """Return the chain stages the active members cover and those nobody covers."""
    if not network.chain_key:
        return [], []
    chain = chains_ref.chain(network.chain_key)
    have: set[str] = set()
    for m in active_members(network):
        have |= _firm_stages(session, m.firm_id, network.chain_key)
    order = [s.key for s in chain.stages]
    return [k for k in order if k in have], [k for k in order if k not in have]


def _firm_stages(session: Session, firm_id: int, chain_key: str) -> set[str]:
    firm = session.get(Firm, firm_id)
    if firm is None:
        return set()
    codes = [(firm.ateco_code, firm.ateco_edition)] + [
        (s.code, s.edition) for s in firm.secondary_codes
    ]
    out: set[str] = set()
    for code, edition in codes:
        try:
            found = chains_ref.positions(code, edition)
        except (KeyError, ValueError):
            continue
        out |= {
            p.stage_key for p in found if p.chain_key == chain_key and p.stage_index is not None
        }
    return out


def get_network_for_contract(session: Session, network_id: int) -> dict[str, Any]:
    """Return what a contract needs of a network: members, roles, goals, stages covered."""
    network = get_network(session, network_id)
    if network is None:
        raise NetworkError(_("No such network"))
    covered, uncovered = covered_stages(session, network)
    members = []
    for m in active_members(network):
        firm = session.get(Firm, m.firm_id)
        if firm is None:
            continue
        members.append(
            {
                "firm_id": firm.id,
                "partita_iva": firm.partita_iva,
                "name": firm.name,
                "role": m.role,
                "role_text": m.role_text,
                "stage_key": m.stage_key,
                "stages": sorted(_firm_stages(session, firm.id, network.chain_key))
                if network.chain_key
                else [],
                "goals": firm.goals,
                "comune": firm.comune_name,
                "province": firm.province,
                "joined_at": m.joined_at,
            }
        )
    return {
        "id": network.id,
        "name": network.name,
        "description": network.description,
        "status": network.status,
        "version": network.version,
        "goal": network.goal,
        "goals": sorted({network.goal} if network.goal else set()),
        "chain_key": network.chain_key,
        "chain_name": chain_name(network.chain_key),
        "promoter_firm_id": network.promoter_firm_id,
        "members": members,
        "covered_stages": covered,
        "uncovered_stages": uncovered,
        "agreed_at": network.agreed_at,
    }


def list_networks(
    session: Session, *, user: User, see_all: bool = False, page: int = 1, per_page: int = 20
) -> Page:
    """Return the networks the user's firms belong to or are invited to, or created by them."""
    page = max(1, page)
    stmt = select(Network)
    if not see_all:
        firms = list(accounts_service.memberships_for(session, user))
        members = select(NetworkMember.network_id).where(
            NetworkMember.firm_id.in_(firms), NetworkMember.status == "active"
        )
        invited = select(NetworkInvitation.network_id).where(
            NetworkInvitation.firm_id.in_(firms), NetworkInvitation.status != "draft"
        )
        stmt = stmt.where(
            or_(Network.created_by == user.id, Network.id.in_(members), Network.id.in_(invited))
        )
    total = int(session.scalar(select(func.count()).select_from(stmt.subquery())) or 0)
    items = session.scalars(
        stmt.options(selectinload(Network.members), selectinload(Network.invitations))
        .order_by(Network.updated_at.desc(), Network.id.desc())
        .offset((page - 1) * per_page)
        .limit(per_page)
    ).all()
    return Page(items=items, total=total, page=page, per_page=per_page)


def firms_by_id(session: Session, ids: Sequence[int]) -> dict[int, Firm]:
    """Return firms by id (for pages that show members and invitations)."""
    if not ids:
        return {}
    return {f.id: f for f in session.scalars(select(Firm).where(Firm.id.in_(set(ids))))}


def pending_invitations_for(
    session: Session, *, user: User
) -> list[tuple[NetworkInvitation, Network, Firm]]:
    """Return the sent, unexpired invitations addressed to the user's firms."""
    firms = list(accounts_service.memberships_for(session, user))
    if not firms:
        return []
    rows = session.execute(
        select(NetworkInvitation, Network, Firm)
        .join(Network, Network.id == NetworkInvitation.network_id)
        .join(Firm, Firm.id == NetworkInvitation.firm_id)
        .where(NetworkInvitation.firm_id.in_(firms), NetworkInvitation.status == "pending")
        .order_by(NetworkInvitation.id.desc())
    ).all()
    return [(i, n, f) for i, n, f in rows if effective_status(i) == "pending"]


# ------------------------------------------------------------------------------ introductions


def express_interest(
    session: Session, *, from_firm: Firm, to_firm: Firm, user: User, message: str = ""
) -> Introduction:
    """Tell a firm that yours would like to work with it."""
    if from_firm.id == to_firm.id:
        raise NetworkError(_("A firm cannot introduce itself to itself"), "partita_iva")
    message = (message or "").strip()
    if len(message) > 2000:
        raise NetworkError(_("the message is too long (2000 characters at most)"), "message")
    open_ = session.scalar(
        select(Introduction).where(
            Introduction.status.in_(("pending", "accepted")),
            or_(
                (Introduction.from_firm_id == from_firm.id)
                & (Introduction.to_firm_id == to_firm.id),
                (Introduction.from_firm_id == to_firm.id)
                & (Introduction.to_firm_id == from_firm.id),
            ),
        )
    )
    if open_ is not None:
        raise NetworkError(
            _("%(a)s and %(b)s are already in touch (introduction %(s)s)")
            % {"a": from_firm.name, "b": to_firm.name, "s": _(open_.status)},
            "partita_iva",
        )
    intro = Introduction(
        from_firm_id=from_firm.id, to_firm_id=to_firm.id, message=message, created_by=user.id
    )
    session.add(intro)
    session.flush()
    _notify_firm(
        session,
        to_firm.id,
        "interest_received",
        {"firm": from_firm.name, "to": to_firm.name},
        f"/introductions/{intro.id}",
    )
    return intro


def get_introduction(session: Session, introduction_id: int) -> Introduction | None:
    """Return an introduction with its messages."""
    return session.scalar(
        select(Introduction)
        .where(Introduction.id == introduction_id)
        .options(selectinload(Introduction.messages))
    )


@guarded
def answer_introduction(
    session: Session, *, introduction: Introduction, user: User, accept: bool, reason: str = ""
) -> Introduction:
    """Accept or decline an introduction; the decision is kept as recommender feedback."""
    session.refresh(introduction)
    if introduction.status != "pending":
        raise NetworkError(
            _("This introduction was already answered (%(s)s)") % {"s": _(introduction.status)}
        )
    if len(reason) > 2000:
        raise NetworkError(_("the reason is too long (2000 characters at most)"), "reason")
    introduction.status = "accepted" if accept else "declined"
    introduction.reason = reason.strip()
    introduction.answered_by = user.id
    introduction.answered_at = utcnow()
    session.add(
        PartnerFeedback(
            seeker_firm_id=introduction.from_firm_id,
            candidate_firm_id=introduction.to_firm_id,
            accepted=accept,
            reason=introduction.reason,
            source="introduction",
        )
    )
    session.flush()
    names = firms_by_id(session, [introduction.from_firm_id, introduction.to_firm_id])
    _notify_firm(
        session,
        introduction.from_firm_id,
        "interest_accepted" if accept else "interest_declined",
        {"firm": names[introduction.to_firm_id].name, "to": names[introduction.from_firm_id].name},
        f"/introductions/{introduction.id}",
    )
    return introduction


def withdraw_introduction(session: Session, *, introduction: Introduction) -> Introduction:
    """Take back an introduction that is not answered yet."""
    if introduction.status != "pending":
        raise NetworkError(
            _("This introduction was already answered (%(s)s)") % {"s": _(introduction.status)}
        )
    introduction.status = "withdrawn"
    session.flush()
    return introduction


def post_message(
    session: Session, *, introduction: Introduction, firm_id: int, user: User, body: str
) -> IntroductionMessage:
    """Send a message to the other firm of an accepted introduction."""
    body = (body or "").strip()
    if introduction.status != "accepted":
        raise NetworkError(_("Messages can be exchanged once the introduction is accepted"))
    if firm_id not in (introduction.from_firm_id, introduction.to_firm_id):
        raise NetworkError(_("This firm is not part of the conversation"))
    if not body:
        raise NetworkError(_("Write a message first"), "body")
    if len(body) > 4000:
        raise NetworkError(_("the message is too long (4000 characters at most)"), "body")
    msg = IntroductionMessage(
        introduction_id=introduction.id, firm_id=firm_id, user_id=user.id, body=body
    )
    session.add(msg)
    session.flush()
    other = (
        introduction.to_firm_id
        if firm_id == introduction.from_firm_id
        else introduction.from_firm_id
    )
    sender = session.get(Firm, firm_id)
    _notify_firm(
        session,
        other,
        "message_received",
        {"firm": sender.name if sender else ""},
        f"/introductions/{introduction.id}",
        exclude_user=user,
    )
    return msg


def list_introductions(
    session: Session, *, firm_ids: Sequence[int], page: int = 1, per_page: int = 20
) -> Page:
    """Return the introductions sent or received by these firms, newest first."""
    page = max(1, page)
    ids = list(firm_ids)
    stmt = select(Introduction).where(
        or_(Introduction.from_firm_id.in_(ids), Introduction.to_firm_id.in_(ids))
    )
    total = int(session.scalar(select(func.count()).select_from(stmt.subquery())) or 0)
    items = session.scalars(
        stmt.order_by(Introduction.id.desc()).offset((page - 1) * per_page).limit(per_page)
    ).all()
    return Page(items=items, total=total, page=page, per_page=per_page)


def feedback_pairs(session: Session) -> list[tuple[int, int, bool]]:
    """Return every (seeker firm id, candidate firm id, accepted) decision, oldest first."""
    rows = session.execute(
        select(
            PartnerFeedback.seeker_firm_id,
            PartnerFeedback.candidate_firm_id,
            PartnerFeedback.accepted,
        ).order_by(PartnerFeedback.id)
    )
    return [(int(s), int(c), bool(a)) for s, c, a in rows]


# ------------------------------------------------------------------------------ notifications


def _notify_firm(
    session: Session,
    firm_id: int,
    kind: str,
    params: dict[str, Any],
    link: str,
    *,
    exclude_user: User | None = None,
) -> None:
    for u, _role in accounts_service.firm_member_users(session, firm_id):
        if exclude_user is not None and u.id == exclude_user.id:
            continue
        session.add(
            Notification(user_id=u.id, kind=kind, params=params, link=link, created_at=utcnow())
        )
    session.flush()


def notification_text(n: Notification) -> str:
    """Return a notification's sentence in the current language."""
    params = dict(n.params or {})
    if "status" in params:
        params["status"] = _(STATUS_LABELS.get(params["status"], params["status"]))
    template = _(NOTIFICATION_TEXT.get(n.kind, n.kind))
    try:
        return template % params
    except (KeyError, TypeError, ValueError):
        return template


def unread_count(session: Session, *, user_id: int) -> int:
    """Return how many notifications the user has not read."""
    return int(
        session.scalar(
            select(func.count())
            .select_from(Notification)
            .where(Notification.user_id == user_id, Notification.read_at.is_(None))
        )
        or 0
    )


def list_notifications(session: Session, *, user: User, page: int = 1, per_page: int = 20) -> Page:
    """Return the user's notifications, newest first."""
    page = max(1, page)
    stmt = select(Notification).where(Notification.user_id == user.id)
    total = int(session.scalar(select(func.count()).select_from(stmt.subquery())) or 0)
    items = session.scalars(
        stmt.order_by(Notification.id.desc()).offset((page - 1) * per_page).limit(per_page)
    ).all()
    return Page(items=items, total=total, page=page, per_page=per_page)


def mark_read(session: Session, *, user: User) -> int:
    """Mark all the user's notifications read; return how many were unread."""
    items = session.scalars(
        select(Notification).where(Notification.user_id == user.id, Notification.read_at.is_(None))
    ).all()
    now = utcnow()
    for n in items:
        n.read_at = now
    session.flush()
    return len(items)


# ------------------------------------------------------------------------------ map

MAP_WIDTH, MAP_HEIGHT = 400.0, 460.0
_LAT_MAX, _LAT_MIN, _LNG_MIN, _LNG_MAX = 47.2, 35.4, 6.5, 18.7
_COS = math.cos(math.radians(42.0))


def project(lat: float, lng: float) -> tuple[float, float]:
    """Project a point of Italy onto the SVG map (equirectangular at 42°N)."""
    kx = MAP_WIDTH / ((_LNG_MAX - _LNG_MIN) * _COS)
    ky = MAP_HEIGHT / (_LAT_MAX - _LAT_MIN)
    k = min(kx, ky)
    return round((lng - _LNG_MIN) * _COS * k, 1), round((_LAT_MAX - lat) * k, 1)


@functools.lru_cache(maxsize=1)
def italy_outline() -> tuple[str, ...]:
    """Return one SVG polygon (points attribute) per region: the hull of its comuni."""
    from scipy.spatial import ConvexHull

    by_region: dict[str, list[tuple[float, float]]] = {}
    for c in places.all_comuni():
        by_region.setdefault(c.region_code, []).append(project(c.lat, c.lng))
    out = []
    for _code, pts in sorted(by_region.items()):
        arr = np.array(pts)
        if len(arr) < 3:
            continue
        hull = ConvexHull(arr)
        out.append(" ".join(f"{arr[i, 0]},{arr[i, 1]}" for i in hull.vertices))
    return tuple(out)


@dataclass
class MapPoint:
    x: float
    y: float
    number: int
    name: str
    comune: str
    province: str
    status: str  # member | invited | promoter
    role_text: str = ""


def map_points(session: Session, network: Network) -> list[MapPoint]:
    """Return the network's firms as numbered dots on the map (members, then invited firms)."""
    entries: list[tuple[int, str, str]] = [
        (m.firm_id, "promoter" if m.role == "promoter" else "member", m.role_text)
        for m in active_members(network)
    ]
    seen = {f for f, _s, _t in entries}
    entries += [
        (i.firm_id, "invited", i.role_text)
        for i in network.invitations
        if effective_status(i) in ("draft", "pending") and i.firm_id not in seen
    ]
    firms = firms_by_id(session, [f for f, _s, _t in entries])
    out = []
    for n, (fid, status, role_text) in enumerate(entries, start=1):
        f = firms.get(fid)
        if f is None:
            continue
        x, y = project(f.lat, f.lng)
        out.append(
            MapPoint(
                x=x,
                y=y,
                number=n,
                name=f.name,
                comune=f.comune_name,
                province=f.province,
                status=status,
                role_text=role_text,
            )
        )
    return out
