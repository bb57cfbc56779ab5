"""Potential networks among the members: one per main value chain, planned with no seed.

Only the members the curator may see, in the dashboard's scope, are candidates; every stage
that has such a member is covered, and the stages with none are shown as gaps.
"""

import pytest
from bs4 import BeautifulSoup

from matchmaker.associations import service
from matchmaker.networks import service as networks
from matchmaker.refdata import chains as chains_ref
from tests.associations.helpers import association, firm, members

FINISHING = "Posa di pavimenti, intonaci e finiture interne"
NEEDS = "Cerchiamo posa di pavimenti, intonaci e finiture interne"


def _stage_keys(names: list[str], lang: str = "en") -> set[str]:
    by_name = {s.name(lang): s.key for s in chains_ref.chain("construction").stages}
    return {by_name[n] for n in names}


@pytest.fixture()
def brianza(db, make_user):
    """Construction members of an association in Lombardy: four of them in Monza e Brianza
    (design, site preparation, building, installation — the installer's profile is shown to
    the association only), a materials maker in Bergamo, and a finisher in Monza whose
    profile is hidden.

    Around them, finishers that would fit the builder better: a registered firm that is not a
    member, and a member of another association whose profile only that association sees.
    """
    curator = make_user("curator")
    a = association(db, curator=curator)
    f = {
        "building": firm(db, 1, name="Edile Monzese", ateco="41.20.00", comune_istat="108033",
                         needs=NEEDS),
        "design": firm(db, 2, name="Studio Tecnico Brianza", ateco="71.12.10",
                       comune_istat="108028"),
        "site": firm(db, 3, name="Scavi Seregno", ateco="43.12.00", comune_istat="108039"),
        "install": firm(db, 4, name="Impianti Desio", ateco="43.21.01", comune_istat="108023",
                        visibility="association"),
        "materials": firm(db, 5, name="Prefabbricati Orobici", ateco="23.61.00",
                          comune_istat="016024"),
        "hidden": firm(db, 6, name="Finiture Riservate", ateco="43.31.00", comune_istat="108033",
                       visibility="hidden", offers=FINISHING),
        "outsider": firm(db, 7, name="Finiture Monza", ateco="43.31.00", comune_istat="108033",
                         offers=FINISHING),
        "other_assoc": firm(db, 8, name="Finiture Vimercate", ateco="43.31.00",
                            comune_istat="108050", visibility="association", offers=FINISHING),
        "other_assoc_2": firm(db, 9, name="Edile Vimercate", ateco="41.20.00",
                              comune_istat="108050", visibility="association"),
    }
    members(db, a, [f[k] for k in ("building", "design", "site", "install", "materials",
                                   "hidden")])
    other = association(db, slug="cna-vimercate", name="CNA Vimercate",
                        curator=make_user("curator"))
    members(db, other, [f["other_assoc"], f["other_assoc_2"]])
    db.flush()
    return curator, a, f


def _construction(found: list[service.PotentialNetwork]) -> service.PotentialNetwork:
    return next(n for n in found if n.chain_key == "construction")


def test_the_network_covers_every_stage_with_a_member_in_the_province(db, brianza):
    curator, a, f = brianza
    found = service.potential_networks(db, association=a, viewer=curator, province="MB")
    net = _construction(found)
    assert _stage_keys(net.covered) == {"development_design", "site_preparation", "building",
                                        "installation"}
    # The rest are gaps: no member the curator sees is there (Bergamo's maker is out of scope).
    assert _stage_keys(net.absent) == {"materials", "finishing", "real_estate"}
    assert net.uncovered == net.absent and net.left_out == []
    mb_members = {f[k].id for k in ("building", "design", "site", "install")}
    assert set(net.firm_ids) == mb_members  # the association-only member included
    assert net.members[0].roles[0].startswith("anchor chosen by the planner")
    # The whole area: the Bergamo member's stage is covered too.
    whole = _construction(service.potential_networks(db, association=a, viewer=curator,
                                                     province=None))
    assert "materials" in _stage_keys(whole.covered)
    assert f["materials"].id in whole.firm_ids


def test_only_visible_members_are_proposed(db, brianza):
    curator, a, f = brianza
    forbidden = {f[k].id for k in ("hidden", "outsider", "other_assoc", "other_assoc_2")}
    # Without the members' limit, the planner would take the outside finisher: it completes
    # the chain and offers what the builder needs.
    free = networks.suggest_for_chain(db, chain_key="construction", province="MB",
                                      viewer=curator, size=5)
    assert f["outsider"].id in {m.firm.firm_id for m in free.members}
    for province in ("MB", None):
        for net in service.potential_networks(db, association=a, viewer=curator,
                                              province=province):
            assert not set(net.firm_ids) & forbidden, (province, net)


def test_an_association_covering_all_of_italy_gets_networks_too(db, make_user):
    curator = make_user("curator")
    a = association(db, slug="rete-italia", name="Rete Italia", region=None, curator=curator)
    firms = [firm(db, 1, ateco="41.20.00", comune_istat="108033"),
             firm(db, 2, ateco="43.21.01", comune_istat="001272"),  # Torino
             firm(db, 3, ateco="71.12.10", comune_istat="016024")]
    members(db, a, firms)
    db.flush()
    net = _construction(service.potential_networks(db, association=a, viewer=curator,
                                                   province=None))
    assert set(net.firm_ids) == {x.id for x in firms}
    assert _stage_keys(net.covered) == {"building", "installation", "development_design"}


def test_the_page_shows_the_gaps_and_shortlists_the_network(client, db, brianza, login):
    curator, a, f = brianza
    login(client, curator)
    resp = client.get(f"/associations/{a.slug}/potential?province=MB",
                      headers={"HX-Request": "true"})
    block = BeautifulSoup(resp.text, "html.parser")
    chain = chains_ref.chain("construction")
    offer = next(li for li in block.select("li.potential-network")
                 if chain.name("it") in li.h3.get_text())
    stage = {s.key: s.name("it") for s in chain.stages}
    covered = offer.select_one(".stages-covered").get_text()
    missing = offer.select_one(".stages-missing").get_text()
    for key in ("development_design", "site_preparation", "building", "installation"):
        assert stage[key] in covered and stage[key] not in missing
    for key in ("materials", "finishing", "real_estate"):
        assert stage[key] in missing and stage[key] not in covered
    text = block.get_text()
    for name in ("Finiture Riservate", "Finiture Monza", "Finiture Vimercate",
                 "Edile Vimercate"):
        assert name not in text
    assert "Impianti Desio" in offer.get_text()
    # One click: the shortlist holds the proposed firms, the planner's anchor first.
    form = offer.select_one("form")
    ids = [int(i["value"]) for i in form.select("input[name=firm_id]")]
    assert set(ids) == {f[k].id for k in ("building", "design", "site", "install")}
    data: dict = {}
    for i in form.select("input"):
        if i["name"] != "csrf_token":
            data.setdefault(i["name"], []).append(i["value"])
    resp = client.post(form["action"], data=data, follow_redirects=False)
    assert resp.status_code == 303
    shortlist = service.list_shortlists(db, association=a)[0]
    assert [x.firm_id for x in shortlist.firms] == ids and shortlist.note == "construction"
    page = BeautifulSoup(client.get(resp.headers["location"]).text, "html.parser")
    listed = page.select_one("table tbody").get_text()
    for k in ("building", "design", "site", "install"):
        assert f[k].name in listed
