"""Chain-and-region suggestion over HTTP (API and page) and on the command line."""

import json

import pytest
from bs4 import BeautifulSoup

from matchmaker.cli import main
from matchmaker.networks import cli as networks_cli
from tests.networks.helpers import make_firm


def _at(comune: str, province: str) -> dict:
    return {"comune_istat": None, "comune": comune, "province": province}


@pytest.fixture(autouse=True)
def _english_client(client):
    client.headers["Accept-Language"] = "en"


@pytest.fixture()
def molise(db):
    """Three construction firms in Molise (three stages), one just outside in Abruzzo."""
    firms = [
        make_firm(db, name="Edile Sannita", ateco="41.20.00", **_at("Campobasso", "CB")),
        make_firm(db, name="Impianti Frentani", ateco="43.21.01", **_at("Termoli", "CB")),
        make_firm(db, name="Studio Pentro", ateco="71.12.10", **_at("Isernia", "IS")),
        make_firm(db, name="Finiture Vastesi", ateco="43.31.00", **_at("Vasto", "CH")),
    ]
    db.flush()
    return firms


def _soup(resp) -> BeautifulSoup:
    return BeautifulSoup(resp.text, "html.parser")


def test_api_chain_and_region(client, api_headers, make_user, molise):
    h = api_headers(make_user("facilitator", language="en"))
    resp = client.post(
        "/api/v1/networks/suggest",
        headers=h,
        json={"chain": "construction", "region": "Molise", "size": 4},
    )
    assert resp.status_code == 200, resp.text
    body = resp.json()
    assert body["mode"] == "chain" and body["region"] == "Molise" and body["area"] == "Molise"
    names = {m["firm"]["name"] for m in body["members"]}
    assert names == {"Edile Sannita", "Impianti Frentani", "Studio Pentro"}
    assert body["members"][0]["role"] == "anchor"
    assert body["members"][0]["roles"][0].startswith("anchor chosen by the planner")
    assert body["seed"] == body["members"][0]["firm"]["partita_iva"]
    absent = {s["key"] for s in body["absent_stages"]}
    assert "finishing" in absent and "finishing" in {s["key"] for s in body["uncovered_stages"]}
    assert len(body["covered_stages"]) == 3


@pytest.mark.parametrize(
    ("payload", "field"),
    [
        ({"size": 3}, "seed"),  # neither seed nor chain
        ({"chain": "construction"}, "region"),  # chain without an area
        ({"seed": "01234567897", "region": "Molise"}, "region"),  # both modes at once
        ({"seed": "01234567897", "province": "CB"}, "province"),
        ({"chain": "construction", "region": "Molise", "radius_km": 30}, "radius_km"),
        ({"chain": "nope", "region": "Molise"}, "chain"),
        ({"chain": "construction", "region": "Atlantide"}, "region"),
        ({"chain": "construction", "province": "ZZ"}, "province"),
        ({"chain": "eyewear", "region": "Molise"}, "region"),  # no firm there
    ],
)
def test_api_errors_name_the_field(client, api_headers, make_user, molise, payload, field):
    h = api_headers(make_user("curator", language="en"))
    resp = client.post("/api/v1/networks/suggest", headers=h, json=payload)
    assert resp.status_code == 422, resp.text
    assert resp.json()["detail"][0]["loc"] == ["body", field]


def test_api_chain_mode_is_for_curators_facilitators_admins(client, api_headers, make_user, molise):
    body = {"chain": "construction", "region": "Molise"}
    owner = make_user("owner", firms=[molise[0].id])
    resp = client.post("/api/v1/networks/suggest", headers=api_headers(owner), json=body)
    assert resp.status_code == 403
    for role in ("curator", "admin"):
        resp = client.post(
            "/api/v1/networks/suggest", headers=api_headers(make_user(role)), json=body
        )
        assert resp.status_code == 200, (role, resp.text)


def test_page_chain_mode_proposes_and_saves(client, login, make_user, molise, db):
    token = login(client, make_user("facilitator", language="en"))
    page = client.get("/networks/new", params={"mode": "chain"})
    assert page.status_code == 200
    soup = _soup(page)
    assert soup.select_one("#f-chain") is not None and soup.select_one("#f-region") is not None
    assert soup.select_one("nav.tabs a[aria-current=page]")["href"] == "/networks/new?mode=chain"
    page = client.get(
        "/networks/new",
        params={"mode": "chain", "chain": "construction", "region": "Molise", "size": 3},
    )
    assert page.status_code == 200, page.text[:500]
    soup = _soup(page)
    assert "Molise" in soup.h2.get_text()
    anchor = soup.select_one(".network-slots h3")
    assert "chosen by the planner" in anchor.get_text()
    assert soup.select_one(".anchor-reasons li").get_text().startswith("anchor chosen")
    radios = soup.select("form[action='/networks/new'] input[type=radio][checked]")
    chosen = [r["value"] for r in radios]
    assert len(chosen) == 2
    seed = soup.select_one("form[action='/networks/new'] input[name=seed]")["value"]
    resp = client.post(
        "/networks/new",
        data={
            "csrf_token": token,
            "seed": seed,
            "chain": "construction",
            "slot_01": chosen[0],
            "slot_02": chosen[1],
        },
        follow_redirects=False,
    )
    assert resp.status_code == 303 and resp.headers["location"].startswith("/networks/")


def test_page_chain_mode_error_beside_the_field(client, login, make_user, molise):
    login(client, make_user("curator", language="en"))
    resp = client.get(
        "/networks/new",
        params={"mode": "chain", "chain": "construction", "region": "Atlantide", "size": 4},
    )
    assert resp.status_code == 422
    soup = _soup(resp)
    assert "unknown region" in soup.select_one("#e-region").get_text()
    assert soup.select_one("#f-region")["aria-invalid"] == "true"
    assert soup.select_one("#f-chain option[selected]")["value"] == "construction"
    assert soup.select_one("#f-size option[selected]")["value"] == "4"
    assert soup.select_one("#f-region option[selected]")["value"] == "Atlantide"
    # A curator sees the proposal but is told to hand it to a facilitator to save it.
    ok = client.get(
        "/networks/new", params={"mode": "chain", "chain": "construction", "region": "Molise"}
    )
    assert ok.status_code == 200
    soup = _soup(ok)
    assert soup.find("button", string="Save this proposal") is None
    assert "hand it to a facilitator" in soup.get_text()


def test_page_chain_mode_refused_to_owners(client, login, make_user, molise):
    login(client, make_user("owner", firms=[molise[0].id], language="en"))
    assert client.get("/networks/new", params={"mode": "chain"}).status_code == 403
    page = client.get("/networks/new")
    assert page.status_code == 200 and _soup(page).select_one("nav.tabs") is None


def test_page_chain_mode_in_italian(client, login, make_user, molise):
    client.headers["Accept-Language"] = "it"
    login(client, make_user("facilitator", language="it"))
    page = client.get(
        "/networks/new", params={"mode": "chain", "chain": "construction", "region": "Molise"}
    )
    assert page.status_code == 200
    soup = _soup(page)
    assert soup.find("label", attrs={"for": "f-region"}).get_text() == "Regione"
    assert "scelta dal pianificatore" in soup.select_one(".network-slots h3").get_text()


@pytest.fixture()
def cli_db(db, monkeypatch):
    monkeypatch.setattr(networks_cli, "open_session", db.info["test_factory"])
    return db


def test_cli_chain_and_region(cli_db, molise, capsys):
    args = ["network", "suggest", "--chain", "construction", "--region", "Molise", "--size", "3"]
    assert main(args) == 0
    out = capsys.readouterr().out
    assert "Network of 3 in the Construction chain in Molise" in out
    assert "chosen by the planner" in out and "covers stage:" in out
    assert "Finiture Vastesi" not in out
    assert "no firm at all in Molise:" in out
    assert main([*args, "--json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["mode"] == "chain" and data["members"][0]["role"] == "anchor"
    assert main(["network", "suggest", "--chain", "construction", "--province", "IS"]) == 2
    assert "(province)" in capsys.readouterr().err


def test_cli_errors(cli_db, molise, capsys):
    assert main(["network", "suggest"]) == 2
    assert main(["network", "suggest", "--chain", "construction", "--region", "Atlantide"]) == 2
    err = capsys.readouterr().err
    assert "give a partita IVA" in err and "error (region): unknown region Atlantide" in err
    piva = molise[0].partita_iva
    assert main(["network", "suggest", piva, "--region", "Molise"]) == 2
