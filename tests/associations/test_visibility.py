"""Who sees which members: curators see their own association's members, including profiles
set to "associations only", and nothing of another association's."""

from bs4 import BeautifulSoup

from matchmaker.accounts import policy
from tests.associations.helpers import association, firm, members, owner_of
from tests.firms.helpers import piva


def _names(resp) -> list[str]:
    soup = BeautifulSoup(resp.text, "html.parser")
    return sorted(a.get_text(strip=True) for a in soup.select("tbody td:first-child a"))


def _setup(db, make_user):
    cur_a, cur_b = make_user("curator"), make_user("curator")
    a = association(db, slug="cna-monza", curator=cur_a)
    b = association(db, slug="confa-bergamo", curator=cur_b, name="Confartigianato Bergamo")
    a_public = firm(db, 1, name="Alfa Pubblica Srl")
    a_assoc = firm(db, 2, name="Alfa Riservata Srl", visibility="association")
    a_hidden = firm(db, 3, name="Alfa Nascosta Srl", visibility="hidden")
    b_assoc = firm(db, 4, name="Beta Riservata Srl", visibility="association")
    outsider = firm(db, 5, name="Esterna Riservata Srl", visibility="association")
    members(db, a, [a_public, a_assoc, a_hidden])
    members(db, b, [b_assoc])
    db.flush()
    return cur_a, cur_b, a, b, (a_public, a_assoc, a_hidden, b_assoc, outsider)


def test_curator_sees_own_members_and_association_only_profiles(client, db, make_user, login):
    cur_a, _cur_b, _a, _b, _firms = _setup(db, make_user)
    login(client, cur_a)
    page = client.get("/associations/cna-monza/members")
    assert page.status_code == 200
    assert _names(page) == ["Alfa Pubblica Srl", "Alfa Riservata Srl"]
    summary = BeautifulSoup(page.text, "html.parser").select_one("#member-results p.muted")
    assert summary.get_text().split()[0] == "2" and " 1 " in summary.get_text()
    # The association-only profile opens for this curator; the other association's does not.
    assert client.get(f"/firms/{piva(2)}").status_code == 200
    assert client.get(f"/firms/{piva(4)}").status_code == 404
    assert client.get(f"/firms/{piva(3)}").status_code == 404
    assert client.get(f"/firms/{piva(5)}").status_code == 404
    # The firm registry shows the member's association-only profile to its curator only.
    listed = _names(client.get("/firms"))
    assert "Alfa Riservata Srl" in listed
    assert "Beta Riservata Srl" not in listed and "Esterna Riservata Srl" not in listed


def test_curator_cannot_open_another_associations_pages(client, db, make_user, login,
                                                        api_headers):
    cur_a, _cur_b, _a, _b, _firms = _setup(db, make_user)
    login(client, cur_a)
    for url in ("/associations/confa-bergamo", "/associations/confa-bergamo/members",
                "/associations/confa-bergamo/imports", "/associations/confa-bergamo/campaigns",
                "/associations/confa-bergamo/charts/sectors.csv"):
        assert client.get(url).status_code == 403, url
    headers = api_headers(cur_a)
    assert client.get("/api/v1/associations/confa-bergamo/members",
                      headers=headers).status_code == 403
    own = client.get("/api/v1/associations/cna-monza/members", headers=headers).json()
    assert sorted(m["name"] for m in own["items"]) == ["Alfa Pubblica Srl", "Alfa Riservata Srl"]
    assert [a["slug"] for a in client.get("/api/v1/associations", headers=headers).json()] == [
        "cna-monza"]


def test_people_of_a_member_firm_see_the_associations_reserved_profiles(db, make_user):
    _cur_a, _cur_b, _a, _b, firms = _setup(db, make_user)
    a_public, a_assoc, a_hidden, b_assoc, _outsider = firms
    person = owner_of(db, make_user, a_public)
    stranger = make_user("owner")
    assert policy.association_firm_ids(db, person) == {a_assoc.id}
    assert policy.association_firm_ids(db, stranger) == set()
    assert policy.can_view_firm(person, a_assoc, memberships={a_public.id: "owner"}, session=db)
    assert not policy.can_view_firm(person, a_hidden, memberships={a_public.id: "owner"},
                                    session=db)
    assert not policy.can_view_firm(person, b_assoc, memberships={a_public.id: "owner"},
                                    session=db)


def test_owner_and_anonymous_cannot_open_the_dashboard(client, db, make_user, login):
    _setup(db, make_user)
    assert client.get("/associations/cna-monza", follow_redirects=False).headers[
        "location"].startswith("/login")
    login(client, make_user("owner"))
    assert client.get("/associations/cna-monza").status_code == 403
    assert client.get("/associations/nope").status_code == 404


def test_invited_firm_joins_when_its_owner_accepts(client, db, make_user, login):
    cur_a, _cur_b, _a, _b, firms = _setup(db, make_user)
    login(client, cur_a)
    resp = client.post("/associations/cna-monza/members", data={"partita_iva": piva(1)})
    assert resp.status_code == 422  # already a member
    assert "Alfa Pubblica Srl" in BeautifulSoup(resp.text, "html.parser").select_one(
        "#e-partita_iva").get_text()
    # The curator cannot see the outsider's reserved profile, so cannot invite it by number.
    resp = client.post("/associations/cna-monza/members", data={"partita_iva": piva(5)})
    assert resp.status_code == 422
    public = firm(db, 6, name="Gamma Pubblica Srl")
    boss2 = owner_of(db, make_user, public)
    db.flush()
    resp = client.post("/associations/cna-monza/members", data={"partita_iva": piva(6)},
                       follow_redirects=False)
    assert resp.status_code == 303
    assert policy.association_firm_ids(db, boss2) == set()  # invited is not a member yet
    login(client, boss2)
    index = BeautifulSoup(client.get("/associations").text, "html.parser")
    forms = [f["action"] for f in index.select("form")]
    assert f"/associations/cna-monza/invitations/{piva(6)}/accept" in forms
    resp = client.post(f"/associations/cna-monza/invitations/{piva(6)}/accept",
                       follow_redirects=False)
    assert resp.status_code == 303
    assert policy.association_firm_ids(db, boss2) == {firms[1].id}
