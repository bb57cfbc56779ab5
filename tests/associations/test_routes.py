"""Association pages over HTTP: registering one, suggested networks to a contract, campaigns."""

from bs4 import BeautifulSoup

from matchmaker.accounts import service as accounts_service
from matchmaker.associations import service
from matchmaker.firms import service as firms_service
from tests.associations.helpers import association, firm, members, owner_of
from tests.firms.helpers import piva


def _soup(resp) -> BeautifulSoup:
    return BeautifulSoup(resp.text, "html.parser")


def test_admin_registers_an_association_and_its_curator(client, db, make_user, login):
    admin = make_user("admin")
    curator = make_user("curator")
    login(client, admin)
    resp = client.post("/associations", data={"slug": "Bad Slug!", "name": "CNA Bergamo",
                                              "kind": "trade", "region_code": "03",
                                              "province": "TO"})
    assert resp.status_code == 422
    soup = _soup(resp)
    assert soup.select_one("#e-slug") is not None and soup.select_one("#e-province") is not None
    assert soup.select_one("#f-name")["value"] == "CNA Bergamo"
    resp = client.post("/associations", data={"slug": "cna-bergamo", "name": "CNA Bergamo",
                                              "kind": "trade", "region_code": "",
                                              "province": "BG"}, follow_redirects=False)
    assert resp.headers["location"] == "/associations/cna-bergamo/members"
    a = service.get_association(db, "cna-bergamo")
    assert (a.region_code, a.province) == ("03", "BG")
    resp = client.post("/associations/cna-bergamo/curators", data={"email": "nobody@x.it"})
    assert resp.status_code == 422
    client.post("/associations/cna-bergamo/curators", data={"email": curator.email})
    assert service.curator_ids(db, a) == {curator.id}
    login(client, curator)
    index = _soup(client.get("/associations"))
    assert next(x.get_text() for x in index.select("tbody a")) == "CNA Bergamo"
    assert index.select_one("form[action='/associations']") is None  # curators do not create


def test_one_click_shortlist_becomes_a_network_with_invitations(client, db, make_user, login):
    curator = make_user("curator")
    a = association(db, curator=curator)
    firms = [firm(db, 1, ateco="31.09.10", comune_istat="108028"),
             firm(db, 2, ateco="16.23.10", comune_istat="108028"),
             firm(db, 3, ateco="31.09.10", comune_istat="015146"),
             firm(db, 4, ateco="16.10.00", comune_istat="108028")]
    outsider = firm(db, 9, ateco="16.10.00", comune_istat="108028")
    members(db, a, firms)
    people = {f.id: owner_of(db, make_user, f) for f in firms}
    db.flush()
    login(client, curator)
    block = _soup(client.get(f"/associations/{a.slug}/potential",
                             headers={"HX-Request": "true"}))
    assert block.find("html") is None
    offers = block.select("li.potential-network")
    assert offers, block
    for offer in offers:
        ids = {int(i["value"]) for i in offer.select("input[name=firm_id]")}
        assert outsider.id not in ids and ids <= {f.id for f in firms}
    form = offers[0].select_one("form")
    data: dict = {}
    for i in form.select("input"):
        if i["name"] != "csrf_token":
            data.setdefault(i["name"], []).append(i["value"])
    resp = client.post(form["action"], data=data, follow_redirects=False)
    assert resp.status_code == 303, BeautifulSoup(resp.text, "html.parser").main.get_text()
    page = client.get(resp.headers["location"])
    soup = _soup(page)
    shortlist = service.list_shortlists(db, association=a)[0]
    assert len(soup.select("table tbody tr")) == len(shortlist.firms)
    build = soup.select_one("form[action$='/network']")
    resp = client.post(build["action"], data={"name": "Rete Legno Brianza"},
                       follow_redirects=False)
    assert resp.status_code == 303, _soup(resp).select_one("main").get_text(" ", strip=True)
    db.refresh(shortlist)
    assert shortlist.network_id is not None
    soup = _soup(client.get(resp.headers["location"]))
    assert soup.select_one(f"a[href='/networks/{shortlist.network_id}']") is not None
    client.post(soup.select_one("form[action$='/invite']")["action"])
    from matchmaker.networks import service as networks

    network = networks.get_network(db, shortlist.network_id)
    assert network.status == "forming"
    assert {i.firm_id for i in network.invitations} == {f.firm_id for f in shortlist.firms[1:]}
    # The association's list follows the network's state.
    listing = _soup(client.get(f"/associations/{a.slug}/networks"))
    assert "Rete Legno Brianza" in listing.select_one("tbody").get_text()
    # Everyone accepts; the curator hands it to a facilitator for the contract.
    for inv in list(network.invitations):
        networks.answer_invitation(db, network=network, invitation_id=inv.id,
                                   user=people[inv.firm_id], accept=True)
    assert network.status == "agreed"
    facilitator = make_user("facilitator")
    url = f"/associations/{a.slug}/shortlists/{shortlist.id}/facilitator"
    resp = client.post(url, data={"email": "owner@nowhere.it"})
    assert resp.status_code == 422 and _soup(resp).select_one("#e-email") is not None
    resp = client.post(url, data={"email": facilitator.email}, follow_redirects=False)
    assert resp.status_code == 303
    from sqlalchemy import select

    from matchmaker.contracts.models import Contract

    contract = db.scalar(select(Contract).where(Contract.network_id == network.id))
    assert contract is not None


def test_campaign_links_open_the_edit_page_and_let_an_owner_take_over_an_imported_firm(
        client, db, make_user, login):
    curator = make_user("curator")
    a = association(db, curator=curator)
    run = firm(db, 1, offers="", needs="", goals=[])
    unrun = firm(db, 2, offers="", needs="", goals=[])
    done = firm(db, 3)  # offers, needs and goals filled
    members(db, a, [run, unrun, done])
    boss = owner_of(db, make_user, run)
    db.flush()
    login(client, curator)
    resp = client.post(f"/associations/{a.slug}/campaigns",
                       data={"name": "", "message": "", "only_incomplete": "1"})
    assert resp.status_code == 422 and _soup(resp).select_one("#e-name") is not None
    resp = client.post(f"/associations/{a.slug}/campaigns",
                       data={"name": "Profili completi", "message": "Aggiornate il profilo",
                             "only_incomplete": "1"}, follow_redirects=False)
    page = _soup(client.get(resp.headers["location"]))
    links = {tr.select_one("td a").get_text(): tr.select_one("input.link-field")["value"]
             for tr in page.select("table.campaign-firms tbody tr")}
    assert set(links) == {run.name, unrun.name}  # the complete profile is not invited
    bar = page.select_one("#campaign-progress")
    assert (bar["value"], bar["max"]) == ("0", "2")
    csv_rows = client.get(resp.headers["location"] + "/links.csv").text.splitlines()
    assert csv_rows[0] == "partita_iva,name,email,link,opened,complete" and len(csv_rows) == 3

    path = lambda url: url.split("testserver", 1)[1]
    # The owner of the firm lands on its edit page.
    login(client, boss)
    resp = client.get(path(links[run.name]), follow_redirects=False)
    assert resp.headers["location"] == f"/firms/{piva(1)}/edit"
    # Another firm's link: a signed-in owner account takes over the firm nobody runs.
    newcomer = make_user("owner")
    login(client, newcomer)
    page = _soup(client.get(path(links[unrun.name])))
    form = page.select_one("main form[method=post]")
    resp = client.post(form["action"], follow_redirects=False)
    assert resp.headers["location"] == f"/firms/{piva(2)}/edit"
    assert accounts_service.memberships_for(db, newcomer) == {unrun.id: "owner"}
    # Now that someone runs it, the same link does not let a third account in.
    login(client, make_user("owner"))
    assert client.post(path(links[unrun.name])).status_code == 403
    # Progress follows the profiles.
    firms_service.patch_firm(db, firm=unrun, changes={"offers": "Verniciatura a polvere",
                                                      "needs": "Trasporti", "goals": ["training"]})
    campaign = service.list_campaigns(db, association=a)[0]
    progress = service.campaign_progress(db, campaign=campaign)
    assert (progress.invited, progress.opened, progress.complete) == (2, 2, 1)
    assert progress.share == 0.5
    service.close_campaign(db, campaign=campaign)
    login(client, boss)
    assert client.get(path(links[run.name])).status_code == 404


def test_firm_owner_sees_and_leaves_its_associations(client, db, make_user, login):
    a = association(db)
    f = firm(db, 1)
    members(db, a, [f])
    boss = owner_of(db, make_user, f)
    db.flush()
    login(client, boss)
    soup = _soup(client.get("/associations"))
    assert a.name in soup.select_one("tbody").get_text()
    leave = soup.select_one(f"form[action='/associations/{a.slug}/leave/{piva(1)}']")
    assert client.post(leave["action"], follow_redirects=False).status_code == 303
    assert service.member_status(db, a, f.id) is None


def test_demo_seeds_the_curators_association(db):
    from sqlalchemy import select

    from matchmaker import demo, demo_data
    from matchmaker.accounts.models import User

    demo.seed_demo(db, firms=150, seed=3)
    a = service.get_association(db, service.DEMO_SLUG)
    curator = db.scalar(select(User).where(User.role == "curator",
                                           User.email.like(f"%@{demo_data.DEMO_DOMAIN}")))
    assert service.curator_ids(db, a) == {curator.id}
    lombardy = firms_service.firm_ids(db, where=firms_service.scope_clause(region="03"))
    assert 0 < service.member_count(db, a) < len(lombardy)
    board = service.dashboard(db, association=a, viewer=curator)
    assert board.members > 0 and board.chains
