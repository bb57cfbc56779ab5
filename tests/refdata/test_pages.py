"""Public reference pages (sectors, value chains) and the /api/v1/refdata JSON API."""

from pathlib import Path

import pytest
from bs4 import BeautifulSoup
from sqlalchemy.orm import Session

from matchmaker.firms import service as firms_service
from matchmaker.firms.models import Firm
from matchmaker.firms.schemas import validate_firm
from matchmaker.refdata import chains, io
from tests.firms.helpers import firm_payload

SHARED_TABLE = Path("data/io/italy_use_table_basic_prices_2010_2016.csv")


def _firm(db: Session, serial: int, ateco: str, comune: str, **over: object) -> Firm:
    payload = firm_payload(
        serial,
        ateco=ateco,
        ateco_edition="2022",
        comune_istat=comune,
        name=f"Impresa {serial} S.r.l.",
        **over,
    )
    return firms_service.create_firm(db, data=validate_firm(payload))


def _soup(html: str) -> BeautifulSoup:
    return BeautifulSoup(html, "html.parser")


@pytest.fixture()
def wood_firms(db: Session) -> dict[str, Firm]:
    return {
        "furniture_lombardy": _firm(db, 1, "31.09.10", "108028"),  # Lissone, Lombardia
        "sawmill_veneto": _firm(db, 2, "16.10.00", "026086"),  # Treviso, Veneto
        "hidden": _firm(db, 3, "31.02.00", "108028", visibility="hidden"),
    }


def test_chain_page_shows_stages_in_order_with_their_firms(client, wood_firms) -> None:
    resp = client.get("/chains/wood_furniture?lang=en")
    assert resp.status_code == 200
    soup = _soup(resp.text)
    names = [el.get_text(strip=True) for el in soup.select("ol.stages li .stage-name")]
    assert names == [s.name_en for s in chains.chain("wood_furniture").stages]
    assert names.index("Sawmills") < names.index("Furniture and lighting")
    furniture = soup.select_one("#stage-furniture")
    assert furniture.select_one(".count strong").get_text(strip=True) == "1"
    assert [a.get_text(strip=True) for a in furniture.select("ul.firms a")] == ["Impresa 1 S.r.l."]
    sawmills = soup.select_one("#stage-sawmills")
    assert sawmills.select_one(".count strong").get_text(strip=True) == "1"
    assert "FederlegnoArredo" in soup.select_one("#sources").get_text()


def test_chain_page_filters_by_region(client, wood_firms) -> None:
    soup = _soup(client.get("/chains/wood_furniture?region=03&lang=en").text)
    assert soup.select_one("#stage-furniture .count strong").get_text(strip=True) == "1"
    assert soup.select_one("#stage-sawmills .count strong").get_text(strip=True) == "0"
    assert soup.select_one("#region option[selected]")["value"] == "03"


def test_chain_page_fragment_for_htmx(client, wood_firms) -> None:
    resp = client.get("/chains/wood_furniture?region=05", headers={"HX-Request": "true"})
    assert resp.status_code == 200
    assert "<html" not in resp.text
    soup = _soup(resp.text)
    assert soup.select_one("#stage-sawmills .count strong").get_text(strip=True) == "1"
    assert "HX-Request" in resp.headers["Vary"]


def test_chains_list_page_links_every_chain(client, wood_firms) -> None:
    resp = client.get("/chains?lang=en")
    assert resp.status_code == 200
    soup = _soup(resp.text)
    links = {a["href"] for a in soup.select("#chain-list h2 a")}
    assert links == {f"/chains/{c.key}" for c in chains.chains()}
    wood = soup.select_one("#chain-wood_furniture")
    assert "Sawmills" in [li.get_text(strip=True) for li in wood.select("ol.stage-line li")]
    assert "2 firms" in wood.get_text()
    assert soup.select_one('nav a[href="/chains"]') is not None


def test_unknown_chain_and_sector_are_404(client) -> None:
    assert client.get("/chains/nope").status_code == 404
    assert client.get("/sectors/99.99.99").status_code == 404
    assert client.get("/sectors/25?edition=1999").status_code == 404


def test_sector_page_without_input_output_table(client, wood_firms) -> None:
    resp = client.get("/sectors/31.09?edition=2022&lang=en")
    assert resp.status_code == 200
    soup = _soup(resp.text)
    assert "31.09" in soup.h1.get_text()
    chains_text = soup.select_one("#chains").get_text(" ", strip=True)
    assert "Wood and furniture" in chains_text and "Furniture and lighting" in chains_text
    assert "no input-output table loaded" in soup.select_one("#no-io").get_text().lower()
    assert soup.select_one("#firms .count strong").get_text(strip=True) == "1"
    crumbs = [a.get_text(strip=True) for a in soup.select("nav.breadcrumb a")]
    assert crumbs[:3] == ["Sectors", "C", "31"]


def test_sector_page_explains_codes_outside_every_chain(client) -> None:
    soup = _soup(client.get("/sectors/84.11?edition=2022&lang=en").text)
    assert "Outside every value chain" in soup.select_one("#chains").get_text()


def test_sector_page_with_the_shared_table(client, db: Session, shared_dir: Path) -> None:
    path = shared_dir / SHARED_TABLE
    if not path.exists():
        pytest.skip(f"shared data {path} is absent")
    io.load_io_file(db, path, source="Eurostat naio_10_cp1610, Italy 2016")
    soup = _soup(client.get("/sectors/28?lang=en").text)
    section = soup.select_one("#io")
    assert "Eurostat naio_10_cp1610, Italy 2016" in section.get_text()
    suppliers = [
        tr.select_one("td a").get_text(strip=True) for tr in section.select("#suppliers tbody tr")
    ]
    assert len(suppliers) == 5 and "25" in suppliers[:3]
    assert len(section.select("#customers tbody tr")) == 5
    assert soup.select_one("#no-io") is None


def test_sectors_search_page(client) -> None:
    soup = _soup(client.get("/sectors?q=mobili&edition=2022").text)
    codes = [a.get_text(strip=True) for a in soup.select("ul.sector-list a")]
    assert "31" in codes
    fragment = client.get("/sectors?q=segherie", headers={"HX-Request": "true"}).text
    assert "<html" not in fragment


# --------------------------------------------------------------------------- JSON API


def test_api_ateco_and_comuni_search(client) -> None:
    hits = client.get("/api/v1/refdata/ateco", params={"q": "25.62", "edition": "2022"}).json()
    assert hits[0]["code"] == "25.62" and hits[0]["edition"] == "2022"
    assert client.get("/api/v1/refdata/ateco", params={"q": ""}).json() == []
    assert (
        client.get("/api/v1/refdata/ateco", params={"q": "x", "edition": "1999"}).status_code == 422
    )
    comuni = client.get("/api/v1/refdata/comuni", params={"q": "Lissone"}).json()
    assert comuni[0]["istat"] == "108028" and comuni[0]["province"] == "MB"
    bad = client.get("/api/v1/refdata/comuni", params={"q": "a", "province": "ZZ"})
    assert bad.status_code == 422 and "detail" in bad.json()


def test_api_chains(client) -> None:
    data = client.get("/api/v1/refdata/chains").json()
    assert data["version"] and data["ateco_edition"] == "2022"
    wood = next(c for c in data["chains"] if c["key"] == "wood_furniture")
    assert [s["key"] for s in wood["stages"]][:2] == ["forestry", "sawmills"]
    assert wood["sources"]
    assert client.get("/api/v1/refdata/chains/wine").json()["key"] == "wine"
    assert client.get("/api/v1/refdata/chains/nope").status_code == 404


def test_api_sector(client, wood_firms) -> None:
    data = client.get("/api/v1/refdata/sectors/31.09.10", params={"edition": "2022"}).json()
    assert data["code"]["sector_division"] == "31"
    assert {"chain_key": "wood_furniture", "stage_key": "furniture"}.items() <= next(
        p for p in data["positions"] if p["chain_key"] == "wood_furniture"
    ).items()
    assert data["io"] is None
    assert data["firm_count"] == 1
