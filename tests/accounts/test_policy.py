"""The policy functions, decision by decision; anything not listed is denied."""

from types import SimpleNamespace

import pytest

from matchmaker.accounts import policy
from matchmaker.accounts.models import User

FIRM_ID = 7


def user(role: str, *, uid: int = 1, active: bool = True) -> User:
    return User(id=uid, email=f"{role}@example.it", role=role, is_active=active)


def firm(visibility: str = "public") -> SimpleNamespace:
    return SimpleNamespace(id=FIRM_ID, visibility=visibility)


ROLES = ["owner", "curator", "facilitator", "admin"]


@pytest.mark.parametrize(
    ("visibility", "who", "membership", "in_association", "allowed"),
    [
        ("public", None, None, False, True),
        ("public", "facilitator", None, False, True),
        ("association", None, None, True, False),
        ("association", "owner", None, False, False),
        ("association", "owner", None, True, True),
        ("association", "curator", None, False, False),
        ("association", "curator", None, True, True),
        ("association", "owner", "colleague", False, True),
        ("association", "admin", None, False, True),
        ("hidden", None, None, False, False),
        ("hidden", "owner", None, True, False),
        ("hidden", "curator", None, True, False),
        ("hidden", "facilitator", None, False, False),
        ("hidden", "owner", "representative", False, True),
        ("hidden", "admin", None, False, True),
        ("bogus", "owner", None, True, False),
    ],
)
def test_can_view_firm(visibility, who, membership, in_association, allowed) -> None:
    u = user(who) if who else None
    memberships = {FIRM_ID: membership} if membership else {}
    assert (
        policy.can_view_firm(
            u, firm(visibility), memberships=memberships, in_association=in_association
        )
        is allowed
    )


def test_association_visibility_asks_the_installed_provider(db) -> None:
    curator = user("curator", uid=99)
    hidden_from = firm("association")
    assert not policy.can_view_firm(curator, hidden_from, memberships={}, session=db)
    installed = list(policy._association_firms)  # the associations domain's provider
    try:
        policy.set_association_firms_provider(lambda session, u: {FIRM_ID} if u.id == 99 else ())
        assert policy.can_view_firm(curator, hidden_from, memberships={}, session=db)
        assert not policy.can_view_firm(
            user("curator", uid=5), hidden_from, memberships={}, session=db
        )
    finally:
        policy._association_firms[:] = installed


# (function, {membership role or platform role: allowed}); unlisted combinations are denied.
FIRM_DECISIONS = {
    "can_edit_firm": {"m:owner", "m:colleague", "admin"},
    "can_delete_firm": {"m:owner", "admin"},
    "can_manage_firm_members": {"m:owner", "admin"},
    "can_view_firm_members": {"m:owner", "m:colleague", "m:representative", "admin"},
    "can_recommend_for_firm": {
        "m:owner",
        "m:colleague",
        "m:representative",
        "admin",
        "curator",
        "facilitator",
    },
}


@pytest.mark.parametrize("decision", sorted(FIRM_DECISIONS))
@pytest.mark.parametrize("role", ROLES)
@pytest.mark.parametrize("membership", [None, "owner", "colleague", "representative"])
def test_firm_decisions(decision, role, membership) -> None:
    fn = getattr(policy, decision)
    allowed = FIRM_DECISIONS[decision]
    expected = role in allowed or (membership is not None and f"m:{membership}" in allowed)
    memberships = {FIRM_ID: membership} if membership else {}
    assert fn(user(role), firm(), memberships=memberships) is expected
    # Nobody anonymous or disabled, whatever the memberships say.
    assert fn(None, firm(), memberships=memberships) is False
    assert fn(user(role, active=False), firm(), memberships=memberships) is False


@pytest.mark.parametrize(
    ("decision", "allowed_roles"),
    [
        ("can_create_firm", {"owner", "curator", "admin"}),
        ("can_import_firms", {"curator", "admin"}),
        ("can_view_all_firms", {"admin"}),
        ("can_view_audit", {"admin"}),
        ("can_manage_users", {"admin"}),
        ("can_assign_facilitator", {"admin"}),
        ("can_view_own_audit", set(ROLES)),
    ],
)
def test_platform_decisions(decision, allowed_roles) -> None:
    fn = getattr(policy, decision)
    for role in ROLES:
        assert fn(user(role)) is (role in allowed_roles), role
        assert fn(user(role, active=False)) is False
    assert fn(None) is False


def test_admins_cannot_change_their_own_role() -> None:
    admin = user("admin", uid=1)
    assert policy.can_change_role(admin, user("owner", uid=2), "curator")
    assert not policy.can_change_role(admin, admin, "owner")
    assert not policy.can_change_role(user("curator", uid=3), user("owner", uid=2), "admin")


def test_contract_decisions() -> None:
    parties = [FIRM_ID, 8]
    rep, owner, colleague = {FIRM_ID: "representative"}, {FIRM_ID: "owner"}, {8: "colleague"}
    facilitator = user("facilitator", uid=40)
    assert policy.can_approve_contract(user("owner"), firm_id=FIRM_ID, memberships=rep)
    assert policy.can_approve_contract(user("owner"), firm_id=FIRM_ID, memberships=owner)
    assert not policy.can_approve_contract(user("owner"), firm_id=8, memberships=colleague)
    assert not policy.can_approve_contract(user("admin"), firm_id=FIRM_ID, memberships={})
    assert not policy.can_approve_contract(facilitator, firm_id=FIRM_ID, memberships={})
    kw = {"party_firm_ids": parties, "facilitator_ids": [40]}
    assert policy.can_view_contract(facilitator, memberships={}, **kw)
    assert policy.can_edit_contract(facilitator, memberships={}, **kw)
    other_facilitator = user("facilitator", uid=41)
    assert not policy.can_view_contract(other_facilitator, memberships={}, **kw)
    assert not policy.can_edit_contract(other_facilitator, memberships={}, **kw)
    assert policy.can_view_contract(user("owner"), memberships=colleague, **kw)
    assert not policy.can_edit_contract(user("owner"), memberships=colleague, **kw)
    assert policy.can_edit_contract(user("owner"), memberships=rep, **kw)
    assert policy.can_view_contract(user("admin"), memberships={}, **kw)
    assert not policy.can_view_contract(None, memberships=rep, **kw)
    assert not policy.can_view_contract(user("curator"), memberships={}, **kw)


def test_network_and_association_decisions() -> None:
    assert policy.can_create_network(
        user("owner"), seed_firm_id=FIRM_ID, memberships={FIRM_ID: "colleague"}
    )
    assert not policy.can_create_network(user("owner"), seed_firm_id=FIRM_ID, memberships={})
    assert policy.can_create_network(user("facilitator"), seed_firm_id=FIRM_ID, memberships={})
    assert policy.can_answer_invitation(
        user("owner"), firm_id=FIRM_ID, memberships={FIRM_ID: "representative"}
    )
    assert not policy.can_answer_invitation(
        user("owner"), firm_id=FIRM_ID, memberships={FIRM_ID: "colleague"}
    )
    assert policy.can_act_for_firm(user("owner"), FIRM_ID, memberships={FIRM_ID: "colleague"})
    assert not policy.can_act_for_firm(user("admin"), FIRM_ID, memberships={})
    assert policy.can_curate_association(user("curator", uid=3), curator_ids=[3])
    assert not policy.can_curate_association(user("curator", uid=4), curator_ids=[3])
    assert policy.can_curate_association(user("admin"), curator_ids=[])
