"""Every access decision, one function each; anything not explicitly allowed is denied.

Routes and services both call these. `memberships` is `service.memberships_for(session, user)`:
firm_id -> membership role ("owner", "colleague" or "representative").

Platform roles: "owner" (runs one or more firms), "curator" (an association's curator),
"facilitator" (helps draft the contracts they are assigned to), "admin" (runs the platform).
Within a firm: an owner manages it and its members, a colleague edits its profile, a
representative approves contracts on its behalf (an owner may too).
"""

from collections.abc import Callable, Collection, Mapping
from typing import Protocol

from sqlalchemy.orm import Session

from matchmaker.accounts.models import User

Memberships = Mapping[int, str]

FIRM_EDITOR_ROLES = frozenset({"owner", "colleague"})
FIRM_APPROVER_ROLES = frozenset({"owner", "representative"})


class FirmLike(Protocol):
    """What a policy needs to know about a firm."""

    id: int
    visibility: str


def _active(user: User | None) -> bool:
    return user is not None and bool(user.is_active)


def is_admin(user: User | None) -> bool:
    """Tell whether the user is an active platform administrator."""
    return _active(user) and user.role == "admin"  # type: ignore[union-attr]


def has_role(user: User | None, *roles: str) -> bool:
    """Tell whether the user is active and has one of the platform roles."""
    return _active(user) and user.role in roles  # type: ignore[union-attr]


# --- firms ---------------------------------------------------------------------------------

AssociationFirms = Callable[[Session, User], Collection[int]]
# The associations domain installs the function that answers "which firms share an
# association with this user" (as a curator or through a member firm); until then none do.
_association_firms: list[AssociationFirms] = []


def set_association_firms_provider(provider: AssociationFirms) -> None:
    """Install the function that lists the firm ids sharing an association with a user."""
    _association_firms[:] = [provider]


def association_firm_ids(session: Session, user: User | None) -> set[int]:
    """Return the ids of firms that share an association with the user."""
    if not _active(user) or not _association_firms:
        return set()
    return set(_association_firms[0](session, user))  # type: ignore[arg-type]


def can_view_all_firms(user: User | None) -> bool:
    """Admins see every firm, whatever its visibility."""
    return is_admin(user)


def can_view_firm(
    user: User | None,
    firm: FirmLike,
    *,
    memberships: Memberships,
    in_association: bool | None = None,
    session: Session | None = None,
) -> bool:
    """Public firms: anyone. Association-only: its members, admins, and users who share one
    of its associations (pass `in_association`, or a `session` to look it up). Hidden: its
    members and admins."""
    if firm.visibility == "public":
        return True
    if not _active(user):
        return False
    if is_admin(user) or firm.id in memberships:
        return True
    if firm.visibility != "association":
        return False
    if in_association is None:
        in_association = session is not None and firm.id in association_firm_ids(session, user)
    return in_association


def can_create_firm(user: User | None) -> bool:
    """Firm owners, curators (for their members) and admins may register firms."""
    return has_role(user, "owner", "curator", "admin")


def can_import_firms(user: User | None) -> bool:
    """Curators and admins may import firms in bulk."""
    return has_role(user, "curator", "admin")


def can_edit_firm(user: User | None, firm: FirmLike, *, memberships: Memberships) -> bool:
    """The firm's owners and colleagues, and admins, may edit its profile."""
    return _active(user) and (is_admin(user) or memberships.get(firm.id) in FIRM_EDITOR_ROLES)


def can_delete_firm(user: User | None, firm: FirmLike, *, memberships: Memberships) -> bool:
    """The firm's owners and admins may delete it."""
    return _active(user) and (is_admin(user) or memberships.get(firm.id) == "owner")


def can_manage_firm_members(user: User | None, firm: FirmLike, *, memberships: Memberships) -> bool:
    """The firm's owners and admins may invite, change and remove its members."""
    return can_delete_firm(user, firm, memberships=memberships)


def can_view_firm_members(user: User | None, firm: FirmLike, *, memberships: Memberships) -> bool:
    """The firm's members and admins may see who else belongs to it."""
    return _active(user) and (is_admin(user) or firm.id in memberships)


def can_act_for_firm(user: User | None, firm_id: int, *, memberships: Memberships) -> bool:
    """Members of a firm (any role) may act for it: request a partner, answer an invitation."""
    return _active(user) and firm_id in memberships


def can_recommend_for_firm(user: User | None, firm: FirmLike, *, memberships: Memberships) -> bool:
    """Partner suggestions for a firm are for its members, facilitators, curators and admins."""
    if not _active(user):
        return False
    return firm.id in memberships or has_role(user, "facilitator", "curator", "admin")


# --- networks and contracts ----------------------------------------------------------------


def can_view_network(
    user: User | None,
    *,
    member_firm_ids: Collection[int],
    memberships: Memberships,
    facilitator_ids: Collection[int] = (),
) -> bool:
    """A network is seen by its member firms' people, its facilitators and admins."""
    if not _active(user):
        return False
    return (
        is_admin(user)
        or user.id in facilitator_ids  # type: ignore[union-attr]
        or any(fid in memberships for fid in member_firm_ids)
    )


def can_create_network(user: User | None, *, seed_firm_id: int, memberships: Memberships) -> bool:
    """People of the seed firm, facilitators and admins may propose a network."""
    return _active(user) and (seed_firm_id in memberships or has_role(user, "facilitator", "admin"))


def can_plan_chain_networks(user: User | None) -> bool:
    """Curators, facilitators and admins may plan networks from a value chain and an area:
    firms of others, with no seed firm of their own (firm people propose around their firm)."""
    return has_role(user, "curator", "facilitator", "admin")


def can_answer_invitation(user: User | None, *, firm_id: int, memberships: Memberships) -> bool:
    """An invitation is answered by the invited firm's owners or representatives."""
    return _active(user) and memberships.get(firm_id) in FIRM_APPROVER_ROLES


def can_manage_network(
    user: User | None, *, promoter_firm_id: int | None, created_by: int | None,
    memberships: Memberships,
) -> bool:
    """The promoter firm's owners, colleagues and representatives, the network's creator
    (a facilitator who proposed it) and admins invite firms and move the network along."""
    if not _active(user):
        return False
    return (
        is_admin(user)
        or (created_by is not None and user.id == created_by)  # type: ignore[union-attr]
        or (promoter_firm_id is not None and promoter_firm_id in memberships)
    )


def can_leave_network(user: User | None, *, firm_id: int, memberships: Memberships) -> bool:
    """A member firm's owners or representatives take it out of a network."""
    return can_answer_invitation(user, firm_id=firm_id, memberships=memberships)


def can_view_introduction(
    user: User | None, *, firm_ids: Collection[int], memberships: Memberships
) -> bool:
    """An introduction is seen by the people of its two firms and by admins."""
    return _active(user) and (is_admin(user) or any(f in memberships for f in firm_ids))


def can_view_contract(
    user: User | None,
    *,
    party_firm_ids: Collection[int],
    memberships: Memberships,
    facilitator_ids: Collection[int] = (),
) -> bool:
    """A contract is seen by its parties' people, its assigned facilitators and admins."""
    return can_view_network(
        user,
        member_firm_ids=party_firm_ids,
        memberships=memberships,
        facilitator_ids=facilitator_ids,
    )


def can_edit_contract(
    user: User | None,
    *,
    party_firm_ids: Collection[int],
    memberships: Memberships,
    facilitator_ids: Collection[int] = (),
) -> bool:
    """Assigned facilitators, the parties' owners and representatives, and admins may edit."""
    if not _active(user):
        return False
    return (
        is_admin(user)
        or (user.role == "facilitator" and user.id in facilitator_ids)  # type: ignore[union-attr]
        or any(memberships.get(fid) in FIRM_APPROVER_ROLES for fid in party_firm_ids)
    )


def can_approve_contract(user: User | None, *, firm_id: int, memberships: Memberships) -> bool:
    """Only a firm's representative (or owner) approves a contract on that firm's behalf."""
    return _active(user) and memberships.get(firm_id) in FIRM_APPROVER_ROLES


def can_assign_facilitator(user: User | None) -> bool:
    """Admins assign facilitators to contracts."""
    return is_admin(user)


def can_create_contract(
    user: User | None, *, party_firm_ids: Collection[int] = (), memberships: Memberships
) -> bool:
    """Facilitators and admins start contracts; a firm's owners and representatives may start
    one their firm takes part in."""
    if not _active(user):
        return False
    if has_role(user, "facilitator", "admin"):
        return True
    return any(memberships.get(fid) in FIRM_APPROVER_ROLES for fid in party_firm_ids)


def can_manage_clause_templates(user: User | None) -> bool:
    """Facilitators and admins copy clause templates and publish their own."""
    return has_role(user, "facilitator", "admin")


def can_edit_clause_template(user: User | None, *, owner_id: int | None) -> bool:
    """A clause template is edited by the facilitator who owns it, or by an admin."""
    if not can_manage_clause_templates(user):
        return False
    return is_admin(user) or (owner_id is not None and user.id == owner_id)  # type: ignore[union-attr]


# --- associations --------------------------------------------------------------------------


def can_curate_association(user: User | None, *, curator_ids: Collection[int]) -> bool:
    """An association's curators and admins manage its members and see its dashboard."""
    return _active(user) and (is_admin(user) or user.id in curator_ids)  # type: ignore[union-attr]


def can_manage_associations(user: User | None) -> bool:
    """Admins register associations and choose their curators."""
    return is_admin(user)


def can_import_update_firm(
    user: User | None,
    firm: FirmLike,
    *,
    memberships: Memberships,
    member_firm_ids: Collection[int],
    curator_ids: Collection[int],
) -> bool:
    """A members import may change a registered firm its user may edit, or, for the
    association's curators, a firm that already is a member of that association."""
    if can_edit_firm(user, firm, memberships=memberships):
        return True
    return firm.id in member_firm_ids and can_curate_association(user, curator_ids=curator_ids)


def can_answer_association_invitation(
    user: User | None, *, firm_id: int, memberships: Memberships
) -> bool:
    """A firm's owners and representatives accept or decline joining an association."""
    return _active(user) and memberships.get(firm_id) in FIRM_APPROVER_ROLES


def can_leave_association(user: User | None, *, firm_id: int, memberships: Memberships) -> bool:
    """A firm's owners and representatives take it out of an association."""
    return can_answer_association_invitation(user, firm_id=firm_id, memberships=memberships)


def can_claim_firm(user: User | None, *, firm_has_people: bool) -> bool:
    """A signed-in owner account may take over a firm nobody runs yet (an imported member),
    through the link its association sent it."""
    return has_role(user, "owner") and not firm_has_people


# --- platform ------------------------------------------------------------------------------


def can_view_audit(user: User | None) -> bool:
    """Admins read the whole audit log."""
    return is_admin(user)


def can_view_own_audit(user: User | None) -> bool:
    """Any signed-in user reads the events about their own account and the firms they own."""
    return _active(user)


def can_manage_users(user: User | None) -> bool:
    """Admins list users, change roles, unlock and disable accounts."""
    return is_admin(user)


def can_change_role(actor: User | None, target: User, role: str) -> bool:
    """Admins change roles, but not their own (so one cannot lock oneself out by mistake)."""
    return is_admin(actor) and actor.id != target.id  # type: ignore[union-attr]
