"""First-run checklist for firm owners: register, complete the profile, see suggestions, reach out."""

from dataclasses import dataclass, field

from fastapi import Request
from sqlalchemy.orm import Session

from matchmaker.accounts import service as accounts_service
from matchmaker.accounts.models import User
from matchmaker.firms.models import Firm
from matchmaker.i18n import gettext as _

SEEN_KEY = "onboarding_seen"


@dataclass
class Step:
    key: str
    title: str
    text: str
    href: str
    action: str
    done: bool = False


@dataclass
class Checklist:
    firm: Firm | None
    steps: list[Step] = field(default_factory=list)

    @property
    def done_count(self) -> int:
        """Return how many steps are done."""
        return sum(1 for s in self.steps if s.done)

    @property
    def complete(self) -> bool:
        """Tell whether every step is done."""
        return all(s.done for s in self.steps)

    @property
    def current(self) -> Step | None:
        """Return the first step still to do."""
        return next((s for s in self.steps if not s.done), None)


def mark_seen(request: Request, what: str) -> None:
    """Remember in the session that the user has seen a page the checklist asks for."""
    if "session" not in request.scope:
        return
    seen = request.session.get(SEEN_KEY) or []
    if what not in seen:
        request.session[SEEN_KEY] = [*seen, what]


def _profile_complete(firm: Firm) -> bool:
    return bool((firm.offers or "").strip() and (firm.needs or "").strip() and firm.goals)


def _has_introductions(session: Session, firm_ids: list[int]) -> bool:
    from matchmaker.networks import service as networks_service

    return networks_service.list_introductions(session, firm_ids=firm_ids, per_page=1).total > 0


def checklist(session: Session, request: Request, user: User) -> Checklist | None:
    """Return the owner's first-run checklist, or None for roles that do not register firms."""
    if user.role != "owner":
        return None
    memberships = accounts_service.memberships_for(session, user)
    firms = [f for f in (session.get(Firm, fid) for fid in sorted(memberships)) if f is not None]
    firm = firms[0] if firms else None
    seen = set(request.session.get(SEEN_KEY) or []) if "session" in request.scope else set()
    reached_out = bool(firms) and _has_introductions(session, [f.id for f in firms])
    base = f"/firms/{firm.partita_iva}" if firm else "/firms/new"
    steps = [
        Step("register", _("Register your firm"),
             _("Partita IVA, ATECO code and comune: two minutes."),
             "/firms/new", _("Register your firm"), done=firm is not None),
        Step("profile", _("Complete the profile"),
             _("Say what you offer, what you need and your goals: suggestions get much better."),
             f"{base}/edit" if firm else "/firms/new", _("Complete the profile"),
             done=firm is not None and _profile_complete(firm)),
        Step("suggestions", _("See your suggested partners"),
             _("Complementary firms ranked by sector links, supply chain, distance and needs."),
             f"{base}/suggestions" if firm else "/firms/new", _("See suggestions"),
             done=firm is not None and ("suggestions" in seen or reached_out)),
        Step("interest", _("Express interest in a partner"),
             _("Open a suggestion and tell the firm you would like to work together."),
             f"{base}/suggestions" if firm else "/firms/new", _("Choose a partner"),
             done=reached_out),
    ]
    return Checklist(firm=firm, steps=steps)


def public_facts(session: Session) -> dict[str, int]:
    """Return the figures the landing page shows: public firms and value chains."""
    from matchmaker.firms import service as firms_service
    from matchmaker.refdata import chains

    page = firms_service.list_firms(
        session, filters=firms_service.FirmFilters(), per_page=1,
        visible=firms_service.visibility_clause(see_all=False),
    )
    return {"firms": page.total, "chains": len(chains.chains())}
