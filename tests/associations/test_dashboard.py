"""Dashboard numbers match a hand count on a small fixture."""

from bs4 import BeautifulSoup

from matchmaker.associations import service
from tests.associations.helpers import association, firm, members


def _fixture(db, make_user):
    """Four visible members, one hidden, one invited, one registered non-member (Lombardia).

    Hand count: sectors 31 x2, 16 x1, 25 x1; provinces MB 2, MI 1, BG 1; comuni Lissone 2,
    Milano 1, Bergamo 1; wood & furniture chain 3 (furniture stage 2, components 1), the
    sawmill stage has no member but one other firm of the region.
    """
    curator = make_user("curator")
    a = association(db, curator=curator)
    f1 = firm(db, 1, ateco="31.09.10", comune_istat="108028")
    f2 = firm(db, 2, ateco="31.09.10", comune_istat="108028")
    f3 = firm(db, 3, ateco="16.23.10", comune_istat="015146", visibility="association")
    f4 = firm(db, 4, ateco="25.62.00", comune_istat="016024")
    hidden = firm(db, 5, ateco="31.09.10", comune_istat="108028", visibility="hidden")
    invited = firm(db, 6, ateco="31.01.10", comune_istat="108028")
    firm(db, 7, ateco="16.10.00", comune_istat="108028")  # a sawmill, not a member
    firm(db, 8, ateco="16.10.00", comune_istat="001272")  # a sawmill in Torino: other region
    members(db, a, [f1, f2, f3, f4, hidden])
    service.invite_firm(db, association=a, partita_iva=invited.partita_iva, user=curator)
    db.flush()
    return curator, a


def _rows(chart) -> dict[str, int]:
    return {r.key: int(r.value) for r in chart.rows}


def test_dashboard_counts_match_a_hand_count(db, make_user):
    curator, a = _fixture(db, make_user)
    board = service.dashboard(db, association=a, viewer=curator)
    assert (board.members, board.hidden, board.invited) == (4, 1, 1)
    assert _rows(board.charts["sectors"]) == {"31": 2, "16": 1, "25": 1}
    assert _rows(board.charts["provinces"]) == {"MB": 2, "MI": 1, "BG": 1}
    assert _rows(board.charts["map"]) == {"108028": 2, "015146": 1, "016024": 1}
    chains = _rows(board.charts["chains"])
    assert chains["wood_furniture"] == 3
    assert chains["metalworking"] == 1 and chains["construction"] == 1
    wood = next(g for g in board.chains if g.key == "wood_furniture")
    stages = {s.key: (s.members, s.level, s.region_firms) for s in wood.stages}
    assert stages["furniture"] == (2, "thin", 1)  # the invited firm is not a member yet
    assert stages["components"] == (1, "thin", 0)
    assert stages["sawmills"] == (0, "missing", 1)
    assert stages["forestry"][:2] == (0, "missing")
    assert {s.key for s in wood.gaps} == set(stages)


def test_province_scope_and_the_api_agree_with_the_page(client, db, make_user, login,
                                                        api_headers):
    curator, a = _fixture(db, make_user)
    board = service.dashboard(db, association=a, viewer=curator, province="MB")
    assert board.members == 2 and _rows(board.charts["sectors"]) == {"31": 2}
    data = client.get(f"/api/v1/associations/{a.slug}/dashboard",
                      headers=api_headers(curator)).json()
    assert data["members"] == 4 and data["hidden_members"] == 1
    assert {r["division"]: r["members"] for r in data["by_sector"]} == {"31": 2, "16": 1, "25": 1}
    assert {r["province"]: r["members"] for r in data["by_province"]} == {"MB": 2, "MI": 1, "BG": 1}
    gaps = next(g for g in data["chain_gaps"] if g["chain"] == "wood_furniture")
    assert {s["stage"]: s["level"] for s in gaps["stages"]}["sawmills"] == "missing"
    login(client, curator)
    soup = BeautifulSoup(client.get(f"/associations/{a.slug}").text, "html.parser")
    assert soup.select_one(".stats .stat").get_text(strip=True) == "4"
    table = soup.select_one("#chart-provinces table")
    cells = {tr.select("td")[0].get_text(strip=True): tr.select("td")[1].get_text(strip=True)
             for tr in table.select("tbody tr")}
    assert cells == {"Monza e della Brianza (MB)": "2", "Milano (MI)": "1", "Bergamo (BG)": "1"}
    missing = [tr.select_one("td").get_text(strip=True)
               for tr in soup.select("#gaps tr.level-missing")]
    assert missing  # the missing stages are listed
    csv_text = client.get(f"/associations/{a.slug}/charts/provinces.csv").text
    assert csv_text.splitlines()[1:] == ["MB,Monza e della Brianza (MB),2", "BG,Bergamo (BG),1",
                                         "MI,Milano (MI),1"]
    scoped = BeautifulSoup(client.get(f"/associations/{a.slug}?province=MB").text, "html.parser")
    assert scoped.select_one(".stats .stat").get_text(strip=True) == "2"


def test_empty_association_says_what_to_do(client, db, make_user, login):
    curator = make_user("curator")
    a = association(db, curator=curator)
    db.flush()
    login(client, curator)
    soup = BeautifulSoup(client.get(f"/associations/{a.slug}").text, "html.parser")
    links = [x["href"] for x in soup.select(".empty-state a")]
    assert f"/associations/{a.slug}/imports" in links
