"""Account pages over HTTP: sign-up, login, profile, tokens, data export, deletion, admin."""

import json

from matchmaker.accounts import service
from matchmaker.accounts.models import User
from matchmaker.firms import service as firms_service
from tests.accounts.conftest import soup
from tests.conftest import TEST_PASSWORD


def test_sign_up_logs_in_as_firm_owner(client, csrf, db) -> None:
    token = csrf(client)
    resp = client.post(
        "/register",
        data={
            "email": "Nuova@Example.it",
            "full_name": "Anna Neri",
            "password": TEST_PASSWORD,
            "password_confirm": TEST_PASSWORD,
            "privacy": "1",
            "csrf_token": token,
        },
        follow_redirects=False,
    )
    assert resp.status_code == 303 and resp.headers["location"] == "/firms/new"
    user = service.get_user_by_email(db, "nuova@example.it")
    assert user is not None and user.role == "owner" and user.full_name == "Anna Neri"
    page = soup(client.get("/account").text)
    assert page.select_one(".nav-right a[href='/account']").get_text() == "nuova@example.it"


def test_sign_up_errors_rerender_the_form_with_values(client, csrf) -> None:
    resp = client.post(
        "/register",
        data={
            "email": "x@example.it",
            "full_name": "Anna",
            "password": "short",
            "password_confirm": "different",
            "csrf_token": csrf(client),
        },
    )
    assert resp.status_code == 422
    page = soup(resp.text)
    assert page.select_one("#f-email")["value"] == "x@example.it"
    assert page.select_one("#e-password_confirm") is not None
    assert page.select_one("#e-privacy") is not None
    assert page.select_one("#f-password").get("value", "") == ""  # passwords never echo back


def test_login_logout(client, make_user, login) -> None:
    user = make_user("curator")
    token = login(client, user)
    assert client.get("/account", follow_redirects=False).status_code == 200
    resp = client.post("/logout", data={"csrf_token": token}, follow_redirects=False)
    assert resp.status_code == 303
    assert client.get("/account", follow_redirects=False).status_code == 303


def test_login_page_redirects_a_signed_in_user(client, make_user, login) -> None:
    login(client, make_user("owner"))
    resp = client.get("/login?next=/firms", follow_redirects=False)
    assert resp.headers["location"] == "/firms"


def test_profile_and_language_preference(client, make_user, login, db) -> None:
    user = make_user("owner")
    login(client, user)
    resp = client.post(
        "/account", data={"full_name": "Luca Bianchi", "language": "en"}, follow_redirects=False
    )
    assert resp.status_code == 303
    db.refresh(user)
    assert (user.full_name, user.language) == ("Luca Bianchi", "en")
    assert client.get("/account").headers["content-language"] == "en"
    client.post("/account", data={"full_name": "Luca Bianchi", "language": "it"})
    page = soup(client.get("/account").text)
    assert page.h1.get_text() == "Il mio account"


def test_api_token_is_shown_once_and_works(client, make_user, login) -> None:
    login(client, make_user("owner"))
    resp = client.post("/account/tokens", data={"name": "export script"})
    assert resp.status_code == 200
    plain = soup(resp.text).select_one("code.secret").get_text()
    assert client.get("/api/v1/me", headers={"Authorization": f"Bearer {plain}"}).status_code == 200
    page = soup(client.get("/account").text)
    assert page.select_one("code.secret") is None
    assert "export script" in page.select_one("#tokens table").get_text()
    # HTMX gets only the tokens block.
    frag = client.post("/account/tokens", data={"name": "another"}, headers={"HX-Request": "true"})
    assert "<html" not in frag.text and soup(frag.text).select_one("code.secret")


def test_revoking_a_token_from_the_account_page(client, make_user, login, api_headers, db):
    user = make_user("owner")
    headers = api_headers(user)
    login(client, user)
    token_id = service.list_api_tokens(db, user=user)[0].id
    resp = client.post(f"/account/tokens/{token_id}/revoke", follow_redirects=False)
    assert resp.status_code == 303
    assert client.get("/api/v1/me", headers=headers).status_code == 401


def test_export_my_data(client, make_user, login, make_firm) -> None:
    user = make_user("owner", full_name="Giulia Verdi")
    firm = make_firm(user)
    login(client, user)
    resp = client.get("/account/export.json")
    assert resp.status_code == 200
    assert resp.headers["content-type"].startswith("application/json")
    assert "attachment" in resp.headers["content-disposition"]
    data = json.loads(resp.content)
    assert data["account"]["email"] == user.email
    assert data["account"]["full_name"] == "Giulia Verdi"
    assert data["firm_memberships"] == [
        {"firm_id": firm.id, "partita_iva": firm.partita_iva, "name": firm.name, "role": "owner"}
    ]
    assert any(e["action"] == "user.login" for e in data["activity"])
    assert "password_hash" not in resp.text and user.password_hash not in resp.text


def test_export_hooks_add_sections(client, make_user, login) -> None:
    service.register_export_hook("networks", lambda session, u: [{"user": u.id}])
    try:
        user = make_user("owner")
        login(client, user)
        assert client.get("/account/export.json").json()["networks"] == [{"user": user.id}]
    finally:
        service._export_hooks.pop("networks")


def test_delete_account_transfers_or_deletes_sole_owned_firms(
    client, make_user, login, make_firm, db
) -> None:
    user, colleague, co_owner = make_user("owner"), make_user("owner"), make_user("owner")
    alone = make_firm(user)
    with_colleague = make_firm(user, colleague=[colleague])
    shared = make_firm(co_owner)
    service.add_firm_member(db, user=user, firm_id=shared.id, role="owner")
    alone_piva, user_id = alone.partita_iva, user.id
    called: list[int] = []
    service.register_delete_hook(lambda session, u: called.append(u.id))
    login(client, user)
    try:
        resp = client.post("/account/delete", data={"password": "wrong password"})
        assert resp.status_code == 422
        resp = client.post(
            "/account/delete", data={"password": TEST_PASSWORD}, follow_redirects=False
        )
        assert resp.status_code == 303
    finally:
        service._delete_hooks.clear()
    assert called == [user_id]
    db.expire_all()
    assert db.get(User, user_id) is None
    assert firms_service.get_firm(db, alone_piva) is None
    assert service.memberships_for(db, colleague) == {with_colleague.id: "owner"}
    assert service.memberships_for(db, co_owner) == {shared.id: "owner"}
    assert client.get("/account", follow_redirects=False).status_code == 303
    events = service.audit_events(db, viewer=co_owner, everything=True, action="user.deleted")
    assert [e.object_id for e in events.items] == [str(user_id)]
    assert not service.audit_events(db, viewer=co_owner, everything=True, actor=f"{user_id}@").items


def test_password_reset_flow(client, make_user, csrf, caplog, db) -> None:
    user = make_user("owner")
    caplog.set_level("WARNING", logger="matchmaker.accounts")
    token = csrf(client)
    client.post("/password-reset", data={"email": user.email, "csrf_token": token})
    reset = caplog.text.split("token=")[1].split()[0]
    page = client.get(f"/password-reset/confirm?token={reset}")
    assert page.status_code == 200 and soup(page.text).select_one("input[name=token]")
    assert client.get("/password-reset/confirm?token=forged").status_code == 400
    resp = client.post(
        "/password-reset/confirm",
        data={
            "token": reset,
            "password": "my new password!",
            "password_confirm": "my new password!",
            "csrf_token": token,
        },
        follow_redirects=False,
    )
    assert resp.status_code == 303 and resp.headers["location"] == "/login"
    db.expire_all()
    assert service.authenticate(db, email=user.email, password="my new password!") is not None
    again = client.post(
        "/password-reset/confirm",
        data={
            "token": reset,
            "password": "another password",
            "password_confirm": "another password",
            "csrf_token": csrf(client),
        },
    )
    assert again.status_code == 422


def test_admin_changes_roles_unlocks_and_issues_reset_links(client, make_user, login, db):
    admin, target = make_user("admin"), make_user("owner")
    target.failed_logins = 0
    for _ in range(5):
        service.authenticate(db, email=target.email, password="wrong password")
    assert service.is_locked(target)
    login(client, admin)
    page = soup(client.get("/admin/users").text)
    assert target.email in page.select_one("#user-results").get_text()
    client.post(f"/admin/users/{target.id}/role", data={"role": "facilitator"})
    client.post(f"/admin/users/{target.id}/unlock")
    resp = client.post(f"/admin/users/{target.id}/reset-link")
    link = soup(resp.text).select_one("code.secret").get_text()
    assert "/password-reset/confirm?token=" in link
    db.refresh(target)
    assert target.role == "facilitator" and not service.is_locked(target)
    audit = soup(client.get("/admin/audit?object_type=user&object_id=" + str(target.id)).text)
    actions = {c.get_text() for c in audit.select("#audit-results td code")}
    assert {
        "user.role_changed",
        "user.unlocked",
        "user.reset_link_issued",
        "user.locked",
    } <= actions
    assert client.get("/admin/audit?action=user.role").status_code == 200


def test_admin_disables_an_account(client, make_user, login, db) -> None:
    admin, target = make_user("admin"), make_user("owner")
    login(client, admin)
    client.post(f"/admin/users/{target.id}/active", data={"active": "0"})
    db.refresh(target)
    assert not target.is_active
    resp = client.post(f"/admin/users/{admin.id}/active", data={"active": "0"})
    assert resp.status_code == 403


def test_admin_nav_links_only_for_admins(client, make_user, login) -> None:
    login(client, make_user("owner"))
    assert soup(client.get("/privacy").text).select_one("a[href='/admin/users']") is None
    login(client, make_user("admin"))
    assert soup(client.get("/privacy").text).select_one("a[href='/admin/users']") is not None


def test_owner_sees_activity_on_own_firms_only(client, make_user, login, make_firm, db):
    alice, bob = make_user("owner"), make_user("owner")
    mine, theirs = make_firm(alice), make_firm(bob)
    service.audit(db, actor=bob, action="firm.update", object_type="firm", object_id=mine.id)
    service.audit(db, actor=bob, action="firm.update", object_type="firm", object_id=theirs.id)
    login(client, alice)
    rows = soup(client.get("/account/activity?action=firm.").text).select("#audit-results tbody tr")
    assert [r.select("td")[3].get_text(strip=True) for r in rows] == [f"firm {mine.id}"]
    assert client.get("/admin/audit", follow_redirects=False).status_code == 403


def test_firm_members_page_add_and_remove(client, make_user, login, make_firm, db) -> None:
    owner, colleague = make_user("owner"), make_user("owner", email="collega@example.it")
    firm = make_firm(owner)
    login(client, owner)
    page = soup(client.get(f"/firms/{firm.partita_iva}/members").text)
    assert page.select_one("form[action$='/members']") is not None
    resp = client.post(
        f"/firms/{firm.partita_iva}/members",
        data={"email": "nobody@example.it", "role": "colleague"},
    )
    assert resp.status_code == 422 and soup(resp.text).select_one("#e-email")
    resp = client.post(
        f"/firms/{firm.partita_iva}/members",
        data={"email": "COLLEGA@example.it", "role": "representative"},
        follow_redirects=False,
    )
    assert resp.status_code == 303
    assert service.memberships_for(db, colleague) == {firm.id: "representative"}
    client.post(f"/firms/{firm.partita_iva}/members/{colleague.id}/remove")
    assert service.memberships_for(db, colleague) == {}
    resp = client.post(f"/firms/{firm.partita_iva}/members/{owner.id}/remove")
    assert resp.status_code == 422  # the last owner cannot leave
    events = service.audit_events(db, viewer=owner, action="firm.member")
    assert {e.action for e in events.items} == {"firm.member_set", "firm.member_removed"}


def test_colleague_sees_members_but_cannot_manage(client, make_user, login, make_firm) -> None:
    owner, colleague = make_user("owner"), make_user("owner")
    firm = make_firm(owner, colleague=[colleague])
    login(client, colleague)
    page = soup(client.get(f"/firms/{firm.partita_iva}/members").text)
    assert owner.email in page.get_text()
    assert page.select_one("form[action$='/members']") is None


def test_privacy_notice_in_both_languages(client) -> None:
    it = soup(client.get("/privacy", headers={"Accept-Language": "it"}).text)
    en = soup(client.get("/privacy?lang=en").text)
    assert it.h1.get_text() == "Informativa sulla privacy"
    assert en.h1.get_text() == "Privacy notice"
    assert "Garante per la protezione dei dati personali" in it.get_text()
    assert "Garante per la protezione dei dati personali" in en.get_text()
    assert "Regolamento (UE) 2016/679" in it.get_text()
    assert "Regulation (EU) 2016/679" in en.get_text()


def test_htmx_gets_fragments_of_admin_and_members_pages(client, make_user, login, make_firm):
    admin = make_user("admin")
    firm = make_firm(admin)
    login(client, admin)
    frag = client.get("/admin/users?q=admin", headers={"HX-Request": "true"})
    assert frag.status_code == 200 and "<html" not in frag.text
    assert soup(frag.text).select_one("input[name=csrf_token]") is not None
    frag = client.post(
        f"/firms/{firm.partita_iva}/members",
        data={"email": "", "role": "x"},
        headers={"HX-Request": "true"},
    )
    assert frag.status_code == 422 and "<html" not in frag.text
    assert soup(frag.text).select_one("#e-email") is not None
