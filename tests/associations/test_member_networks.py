"""Existing networks of member firms and their state: hand count, visibility, pages."""

from bs4 import BeautifulSoup

from matchmaker.associations import service
from matchmaker.networks.models import Network, NetworkMember
from tests.associations.helpers import association, firm, members


def _network(db, name: str, status: str, firms, *, left=()):
    n = Network(name=name, status=status, promoter_firm_id=firms[0].id)
    db.add(n)
    db.flush()
    for i, f in enumerate(firms):
        db.add(NetworkMember(network_id=n.id, firm_id=f.id, role="promoter" if i == 0 else "member",
                             status="left" if f in left else "active"))
    db.flush()
    return n


def _fixture(db, make_user):
    """Members: f1 (MB), f2 (MI), f5 (associations-only, BG), hidden (MB); f4, f6 are not.

    Hand count of the networks the curator sees: "Rete Legno" forming (3 firms, 2 members),
    "Rete Metallo" agreed (2, 1), "Rete Soci Riservati" contract drafting (2, 1). Not listed:
    the hidden member's network, one without members, a cancelled one, one f1 left.
    """
    curator = make_user("curator", language="en")
    a = association(db, curator=curator)
    f1 = firm(db, 1, ateco="31.09.10", comune_istat="108028")
    f2 = firm(db, 2, ateco="31.09.10", comune_istat="015146")
    hidden = firm(db, 3, ateco="16.23.10", comune_istat="108028", visibility="hidden")
    f4 = firm(db, 4, ateco="25.62.00", comune_istat="016024")
    f5 = firm(db, 5, ateco="25.62.00", comune_istat="016024", visibility="association")
    f6 = firm(db, 6, ateco="25.62.00", comune_istat="016024")
    members(db, a, [f1, f2, hidden, f5])
    nets = {
        "legno": _network(db, "Rete Legno", "forming", [f1, f2, f4]),
        "metallo": _network(db, "Rete Metallo", "agreed", [f4, f2]),
        "riservati": _network(db, "Rete Soci Riservati", "contract_drafting", [f5, f6]),
        "nascosta": _network(db, "Rete Nascosta", "registered", [hidden, f4]),
        "esterna": _network(db, "Rete Esterna", "proposed", [f4, f6]),
        "annullata": _network(db, "Rete Annullata", "cancelled", [f1, f2]),
        "lasciata": _network(db, "Rete Lasciata", "registered", [f4, f1], left=[f1]),
    }
    return curator, a, nets


def test_member_networks_match_a_hand_count(db, make_user):
    curator, a, _nets = _fixture(db, make_user)
    found = service.member_networks(db, association=a, viewer=curator)
    rows = {n.name: (n.status, n.members, n.association_members) for n in found.page.items}
    assert rows == {"Rete Legno": ("forming", 3, 2), "Rete Metallo": ("agreed", 2, 1),
                    "Rete Soci Riservati": ("contract_drafting", 2, 1)}
    assert found.total == 3
    assert {s: n for s, _label, n in found.by_state} == {
        "proposed": 0, "forming": 1, "agreed": 1, "contract_drafting": 1, "registered": 0}
    # The province scope keeps the networks of the members there (f1 is in MB).
    mb = service.member_networks(db, association=a, viewer=curator, province="MB")
    assert [n.name for n in mb.page.items] == ["Rete Legno"]
    only = service.member_networks(db, association=a, viewer=curator, status="agreed")
    assert [n.name for n in only.page.items] == ["Rete Metallo"]
    assert only.total == 1 and found.by_state == only.by_state


def test_hidden_members_networks_stay_unknown_to_the_curator(db, make_user):
    curator, a, nets = _fixture(db, make_user)
    names = {n.name for n in service.member_networks(db, association=a,
                                                     viewer=curator).page.items}
    assert "Rete Nascosta" not in names
    assert service.member_network(db, association=a, viewer=curator,
                                  network_id=nets["nascosta"].id) is None
    # An administrator sees the hidden member, so its network too.
    admin = make_user("admin")
    seen = service.member_networks(db, association=a, viewer=admin)
    assert "Rete Nascosta" in {n.name for n in seen.page.items} and seen.total == 4


def test_pages_of_member_networks(db, make_user):
    curator, a, _nets = _fixture(db, make_user)
    first = service.member_networks(db, association=a, viewer=curator, per_page=2)
    second = service.member_networks(db, association=a, viewer=curator, per_page=2, page=2)
    assert (first.page.pages, len(first.page.items), len(second.page.items)) == (2, 2, 1)
    assert {n.id for n in first.page.items}.isdisjoint({n.id for n in second.page.items})
    beyond = service.member_networks(db, association=a, viewer=curator, per_page=2, page=9)
    assert beyond.page.page == 2 and len(beyond.page.items) == 1


def _table(html: str) -> dict[str, list[str]]:
    soup = BeautifulSoup(html, "html.parser")
    out = {}
    for tr in soup.select("#member-networks-table tbody tr"):
        cells = [td.get_text(" ", strip=True) for td in tr.select("td")]
        out[tr.select_one("a").get_text(strip=True)] = cells[1:4]
    return out


def test_dashboard_and_networks_page_show_member_networks(client, db, make_user, login):
    curator, a, _nets = _fixture(db, make_user)
    login(client, curator)
    page = client.get(f"/associations/{a.slug}")
    assert page.status_code == 200
    assert _table(page.text) == {"Rete Legno": ["Forming", "3", "2"],
                                 "Rete Metallo": ["Agreed", "2", "1"],
                                 "Rete Soci Riservati": ["Contract drafting", "2", "1"]}
    soup = BeautifulSoup(page.text, "html.parser")
    states = {li["data-state"]: li.select_one("strong").get_text(strip=True)
              for li in soup.select(".network-states li")}
    assert states == {"proposed": "0", "forming": "1", "agreed": "1", "contract_drafting": "1",
                      "registered": "0"}
    assert "Rete Nascosta" not in page.text and "Rete Annullata" not in page.text
    listing = client.get(f"/associations/{a.slug}/networks?state=forming")
    assert list(_table(listing.text)) == ["Rete Legno"]
    scoped = client.get(f"/associations/{a.slug}/networks?province=MI")
    assert set(_table(scoped.text)) == {"Rete Legno", "Rete Metallo"}


def test_member_network_page_names_only_visible_members(client, db, make_user, login):
    curator, a, nets = _fixture(db, make_user)
    login(client, curator)
    r = client.get(f"/associations/{a.slug}/networks/{nets['legno'].id}")
    assert r.status_code == 200
    soup = BeautifulSoup(r.text, "html.parser")
    named = [td.get_text(strip=True) for td in soup.select("tbody tr td:first-child")]
    assert len(named) == 2 and "1 other firm takes part" in r.text
    # The curator is not in the network: no link to a network page they could not open.
    assert f'href="/networks/{nets["legno"].id}"' not in r.text
    for key in ("nascosta", "esterna", "annullata", "lasciata"):
        assert client.get(f"/associations/{a.slug}/networks/{nets[key].id}").status_code == 404
    other = make_user("curator")
    login(client, other)
    assert client.get(f"/associations/{a.slug}/networks/{nets['legno'].id}").status_code == 403


def test_networks_list_pages_through_many_networks(client, db, make_user, login):
    curator = make_user("curator", language="en")
    a = association(db, curator=curator)
    f1, f2 = firm(db, 1), firm(db, 2)
    members(db, a, [f1])
    for i in range(23):
        _network(db, f"Rete {i:02d}", "proposed", [f1, f2])
    login(client, curator)
    first = client.get(f"/associations/{a.slug}/networks")
    assert len(_table(first.text)) == 20 and "Page 1 of 2" in first.text
    second = client.get(f"/associations/{a.slug}/networks?page=2")
    assert len(_table(second.text)) == 3
    assert set(_table(first.text)).isdisjoint(_table(second.text))


def test_the_dashboard_api_counts_member_networks_by_state(client, db, make_user, api_headers):
    curator, a, _nets = _fixture(db, make_user)
    data = client.get(f"/api/v1/associations/{a.slug}/dashboard",
                      headers=api_headers(curator)).json()
    assert {r["state"]: r["networks"] for r in data["networks_by_state"]} == {
        "proposed": 0, "forming": 1, "agreed": 1, "contract_drafting": 1, "registered": 0}
    mb = client.get(f"/api/v1/associations/{a.slug}/dashboard?province=MB",
                    headers=api_headers(curator)).json()
    assert sum(r["networks"] for r in mb["networks_by_state"]) == 1
