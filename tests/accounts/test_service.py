"""Accounts service: users, login and lockout, tokens, resets, memberships, audit."""

from datetime import timedelta

import pytest

from matchmaker.accounts import security, service
from matchmaker.accounts.models import ApiToken, PasswordResetToken, User
from matchmaker.db import utcnow
from tests.conftest import TEST_PASSWORD


def test_create_user_lowercases_email_and_hashes_password(db) -> None:
    user = service.create_user(
        db, email="  Maria.Rossi@Example.IT ", password="una password lunga", role="owner"
    )
    assert user.email == "maria.rossi@example.it"
    assert user.password_hash.startswith("$argon2id$")
    assert "una password lunga" not in user.password_hash
    assert service.get_user_by_email(db, "MARIA.ROSSI@example.it") is user


@pytest.mark.parametrize(
    ("email", "password", "role", "field"),
    [
        ("not-an-email", "long enough pw", "owner", "email"),
        ("a@b", "long enough pw", "owner", "email"),
        ("a b@example.it", "long enough pw", "owner", "email"),
        ("ok@example.it", "short", "owner", "password"),
        ("ok@example.it", "x" * 257, "owner", "password"),
        ("ok@example.it", "long enough pw", "superuser", "role"),
    ],
)
def test_create_user_rejects_bad_input(db, email, password, role, field) -> None:
    with pytest.raises(service.AccountError) as err:
        service.create_user(db, email=email, password=password, role=role)
    assert err.value.field == field


def test_duplicate_email_is_refused_whatever_the_case(db, make_user) -> None:
    make_user("owner", email="taken@example.it")
    with pytest.raises(service.AccountError) as err:
        service.create_user(db, email="TAKEN@example.it", password="long enough pw", role="owner")
    assert err.value.field == "email"


def test_authenticate_checks_password_and_resets_failures(db, make_user) -> None:
    user = make_user("owner")
    assert service.authenticate(db, email=user.email, password="wrong password") is None
    assert user.failed_logins == 1
    assert service.authenticate(db, email=user.email.upper(), password=TEST_PASSWORD) is user
    assert user.failed_logins == 0
    assert service.authenticate(db, email="nobody@example.it", password=TEST_PASSWORD) is None


def test_five_failures_lock_the_account_for_fifteen_minutes(db, make_user) -> None:
    user = make_user("owner")
    for _ in range(service.MAX_FAILED_LOGINS):
        assert service.authenticate(db, email=user.email, password="wrong password") is None
    assert service.is_locked(user)
    until = service.aware(user.locked_until)
    assert timedelta(minutes=14) < until - utcnow() <= timedelta(minutes=15)
    # Locked: even the right password fails, and looks exactly like a wrong one.
    assert service.authenticate(db, email=user.email, password=TEST_PASSWORD) is None
    # Time passes: the lock lifts by itself.
    user.locked_until = utcnow() - timedelta(seconds=1)
    assert service.authenticate(db, email=user.email, password=TEST_PASSWORD) is user


def test_admin_unlock_lifts_the_lock_and_is_audited(db, make_user) -> None:
    admin, user = make_user("admin"), make_user("owner")
    user.locked_until = utcnow() + timedelta(minutes=10)
    service.unlock_user(db, user=user, actor=admin, ip="10.0.0.1")
    assert not service.is_locked(user)
    events = service.audit_events(db, viewer=admin, everything=True, action="user.unlocked")
    assert [(e.actor_id, e.object_id, e.ip) for e in events.items] == [
        (admin.id, str(user.id), "10.0.0.1")
    ]


def test_inactive_users_cannot_log_in(db, make_user) -> None:
    user = make_user("owner", is_active=False)
    assert service.authenticate(db, email=user.email, password=TEST_PASSWORD) is None


def test_api_tokens_are_stored_hashed_and_can_expire_or_be_revoked(db, make_user) -> None:
    user = make_user("owner")
    plain, record = service.issue_api_token(db, user=user, name="script")
    assert plain.startswith("mm_") and len(plain) > 40
    stored = db.get(ApiToken, record.id)
    assert stored.token_hash == security.token_digest(plain) and plain not in stored.token_hash
    assert service.user_for_token(db, plain) is user
    assert service.user_for_token(db, plain + "x") is None
    record.expires_at = utcnow() - timedelta(seconds=1)
    assert service.user_for_token(db, plain) is None
    plain2, record2 = service.issue_api_token(db, user=user)
    assert service.revoke_api_token(db, user=user, token_id=record2.id)
    assert service.user_for_token(db, plain2) is None
    assert service.list_api_tokens(db, user=user) == []


def test_someone_elses_token_cannot_be_revoked(db, make_user) -> None:
    alice, bob = make_user("owner"), make_user("owner")
    plain, record = service.issue_api_token(db, user=alice)
    assert not service.revoke_api_token(db, user=bob, token_id=record.id)
    assert service.user_for_token(db, plain) is alice


def test_password_reset_is_single_use_and_expires(db, make_user, caplog) -> None:
    user = make_user("owner")
    caplog.set_level("WARNING", logger="matchmaker.accounts")
    token = service.request_password_reset(db, email=user.email.upper(), ip="1.2.3.4")
    assert token and token in caplog.text  # no mail server: the link goes to the log
    assert db.query(PasswordResetToken).filter_by(user_id=user.id).one().token_hash != token
    plain_api, _ = service.issue_api_token(db, user=user)
    service.reset_password(db, token=token, password="a whole new password")
    assert service.authenticate(db, email=user.email, password="a whole new password") is user
    assert service.user_for_token(db, plain_api) is None  # tokens die with the old password
    with pytest.raises(service.AccountError):
        service.reset_password(db, token=token, password="yet another password")
    second = service.issue_reset_token(db, user=user)
    record = db.query(PasswordResetToken).filter_by(used_at=None).one()
    record.expires_at = utcnow() - timedelta(seconds=1)
    assert not service.reset_token_is_valid(db, token=second)


def test_unknown_email_reset_returns_nothing(db) -> None:
    assert service.request_password_reset(db, email="ghost@example.it") is None


def test_a_new_reset_link_cancels_the_previous_one(db, make_user) -> None:
    user = make_user("owner")
    first = service.issue_reset_token(db, user=user)
    second = service.issue_reset_token(db, user=user)
    assert not service.reset_token_is_valid(db, token=first)
    assert service.reset_token_is_valid(db, token=second)


def test_change_password_needs_the_current_one(db, make_user) -> None:
    user = make_user("owner")
    with pytest.raises(service.AccountError) as err:
        service.change_password(db, user=user, current="nope nope nope", new="new long password")
    assert err.value.field == "current_password"
    service.change_password(db, user=user, current=TEST_PASSWORD, new="new long password")
    assert security.verify_password("new long password", user.password_hash)


def test_memberships_roles_and_last_owner(db, make_user, make_firm) -> None:
    owner, colleague = make_user("owner"), make_user("owner")
    firm = make_firm(owner, colleague=[colleague])
    assert service.memberships_for(db, owner) == {firm.id: "owner"}
    assert service.memberships_for(db, None) == {}
    assert [(u.id, r) for u, r in service.firm_member_users(db, firm.id)] == [
        (owner.id, "owner"),
        (colleague.id, "colleague"),
    ]
    service.add_firm_member(db, user=colleague, firm_id=firm.id, role="representative")
    assert service.memberships_for(db, colleague) == {firm.id: "representative"}
    with pytest.raises(service.AccountError):
        service.remove_firm_member(db, user_id=owner.id, firm_id=firm.id)
    with pytest.raises(service.AccountError):
        service.add_firm_member(db, user=colleague, firm_id=firm.id, role="boss")
    service.remove_firm_member(db, user_id=colleague.id, firm_id=firm.id)
    assert service.memberships_for(db, colleague) == {}


def test_last_admin_keeps_the_role(db, make_user) -> None:
    admin = make_user("admin")
    with pytest.raises(service.AccountError):
        service.set_role(db, user=admin, role="owner", actor=admin)
    with pytest.raises(service.AccountError):
        service.set_active(db, user=admin, active=False, actor=admin)
    other = make_user("admin")
    service.set_role(db, user=admin, role="owner", actor=other)
    assert admin.role == "owner"


def test_audit_records_firm_by_partita_iva_and_owners_see_only_their_firms(
    db, make_user, make_firm
) -> None:
    alice, bob, admin = make_user("owner"), make_user("owner"), make_user("admin")
    firm_a, firm_b = make_firm(alice), make_firm(bob)
    service.audit(
        db,
        actor=alice,
        action="firm.update",
        object_type="firm",
        object_id=firm_a.partita_iva,
        ip="192.0.2.1",
    )
    service.audit(
        db,
        actor=admin,
        action="firm.update",
        object_type="firm",
        object_id=firm_a.id,
        detail="fixed the name",
    )
    service.audit(db, actor=bob, action="firm.update", object_type="firm", object_id=firm_b.id)
    seen_by_alice = service.audit_events(db, viewer=alice)
    assert {e.firm_id for e in seen_by_alice.items} == {firm_a.id}
    assert seen_by_alice.total == 2
    assert any(e.detail == {"message": "fixed the name"} for e in seen_by_alice.items)
    everything = service.audit_events(db, viewer=admin, everything=True, object_type="firm")
    assert everything.total == 3
    by_actor = service.audit_events(db, viewer=admin, everything=True, actor=bob.email.upper())
    assert [e.actor_id for e in by_actor.items] == [bob.id]


def test_audit_paging_is_newest_first(db, make_user) -> None:
    admin = make_user("admin")
    for i in range(7):
        service.audit(db, actor=admin, action="test.event", object_type="user", object_id=i)
    page1 = service.audit_events(db, viewer=admin, everything=True, per_page=3, action="test.")
    page3 = service.audit_events(
        db, viewer=admin, everything=True, per_page=3, page=3, action="test."
    )
    assert page1.pages == 3 and page1.total == 7
    assert [e.object_id for e in page1.items] == ["6", "5", "4"]
    assert [e.object_id for e in page3.items] == ["0"]


def test_list_users_filters_and_pages(db, make_user) -> None:
    for i in range(3):
        make_user("owner", email=f"rossi{i}@example.it")
    make_user("curator", email="bianchi@example.it")
    assert service.list_users(db, q="rossi").total == 3
    assert [u.email for u in service.list_users(db, q="bianchi").items] == ["bianchi@example.it"]
    assert len(service.list_users(db, q="rossi", per_page=2).items) == 2


def test_user_model_rejects_unknown_roles_in_the_database(db) -> None:
    from sqlalchemy.exc import IntegrityError

    db.add(User(email="x@example.it", password_hash="h", role="root"))
    with pytest.raises(IntegrityError):
        db.flush()
    db.rollback()
