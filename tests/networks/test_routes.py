"""Network pages and API over HTTP: propose, invite, answer, introduce, notify."""

from datetime import timedelta

import pytest
from bs4 import BeautifulSoup

from matchmaker.db import utcnow
from matchmaker.networks import service
from tests.networks.helpers import make_firm


def _soup(resp) -> BeautifulSoup:
    return BeautifulSoup(resp.text, "html.parser")


def _at(comune: str, province: str) -> dict:
    return {"comune_istat": None, "comune": comune, "province": province}


@pytest.fixture(autouse=True)
def _english_client(client):
    """Pages in English (the default is Italian, tested in test_italian_pages)."""
    client.headers["Accept-Language"] = "en"


@pytest.fixture()
def pool(db, make_user):
    """A builder in Bergamo with partners for four construction stages, and their owners."""
    seed = make_firm(db, name="Edile Orobica", ateco="41.20.00", **_at("Bergamo", "BG"))
    others = [
        make_firm(db, name="Studio Tecnico Alfa", ateco="71.12.10", **_at("Seriate", "BG")),
        make_firm(db, name="Impianti Lombardi", ateco="43.21.01", **_at("Seriate", "BG")),
        make_firm(db, name="Finiture Treviglio", ateco="43.31.00", **_at("Treviglio", "BG")),
        make_firm(db, name="Scavi Bergamaschi", ateco="43.12.00", **_at("Dalmine", "BG")),
    ]
    boss = make_user("owner", firms=[seed.id], language="en")
    owners = [make_user("owner", firms=[f.id], language="en") for f in others]
    return seed, others, boss, owners


def test_propose_save_send_and_accept_through_the_pages(client, login, pool):
    seed, others, boss, owners = pool
    token = login(client, boss)
    page = client.get("/networks/new", params={"seed": seed.partita_iva, "size": 3})
    assert page.status_code == 200
    soup = _soup(page)
    groups = {i["name"] for i in soup.select("form[action='/networks/new'] input[type=radio]")}
    assert groups == {"slot_01", "slot_02"}
    chosen = [i["value"] for i in soup.select("input[type=radio][checked]")]
    assert len(chosen) == 2 and seed.partita_iva not in chosen
    roles = [li.get_text() for li in soup.select(".network-slots .reasons li")]
    assert any(r.startswith("covers stage") for r in roles)

    resp = client.post(
        "/networks/new",
        data={
            "csrf_token": token,
            "seed": seed.partita_iva,
            "chain": "construction",
            "slot_01": chosen[0],
            "slot_02": chosen[1],
            "name": "Rete Orobica",
        },
        follow_redirects=False,
    )
    assert resp.status_code == 303
    url = resp.headers["location"]
    soup = _soup(client.get(url))
    assert soup.h1.get_text(" ", strip=True).startswith("Rete Orobica")
    svg = soup.find("svg", class_="italy-map")
    assert svg.find("title").get_text() and len(svg.find_all("circle")) == 3
    assert len(svg.find_all("polygon")) == 20  # one outline per region
    assert len(soup.select("table caption")) >= 1
    rows = soup.find("caption", string=lambda s: s and "on the map" in s).find_parent("table")
    assert len(rows.select("tbody tr")) == 3

    resp = client.post(
        f"{url}/transitions", data={"csrf_token": token, "to": "forming"}, follow_redirects=False
    )
    assert resp.status_code == 303
    # The invited firm's owner: a badge in the nav, the invitation in the inbox, an answer form.
    invited_owner = next(
        o for f, o in zip(others, owners, strict=True) if f.partita_iva == chosen[0]
    )
    client.cookies.clear()
    token = login(client, invited_owner)
    badge = _soup(client.get("/inbox")).select_one("nav .badge.count")
    assert badge is not None and badge.get_text() == "1"
    soup = _soup(client.get(url))
    form = soup.select_one("form[action*='/answer']")
    assert form is not None
    resp = client.post(
        form["action"], data={"csrf_token": token, "decision": "accept"}, follow_redirects=False
    )
    assert resp.status_code == 303
    members = _soup(client.get(url)).find("caption", string=lambda s: s and "on the map" in s)
    assert "member" in members.find_parent("table").get_text()


def test_invite_form_error_is_shown_beside_the_field(client, login, pool, db):
    seed, others, boss, _owners = pool
    net = service.create_network(db, seed=seed, user=boss, members=[(others[0], None, "")])
    token = login(client, boss)
    resp = client.post(
        f"/networks/{net.id}/invitations",
        data={
            "csrf_token": token,
            "partita_iva": others[0].partita_iva,
            "message": "Di nuovo",
            "days": "14",
        },
    )
    assert resp.status_code == 422
    soup = _soup(resp)
    assert "already invited" in soup.select_one("#e-partita_iva").get_text()
    assert soup.select_one("#f-message").get_text() == "Di nuovo"


def test_api_suggest_create_and_lifecycle_errors(client, api_headers, pool, db):
    seed, others, boss, owners = pool
    h = api_headers(boss)
    assert (
        client.post("/api/v1/networks/suggest", json={"seed": seed.partita_iva}).status_code == 401
    )
    resp = client.post(
        "/api/v1/networks/suggest",
        headers=h,
        json={"seed": seed.partita_iva, "size": 4, "goal": "innovation"},
    )
    assert resp.status_code == 200, resp.text
    body = resp.json()
    assert body["chain"] == "construction" and len(body["members"]) == 4
    assert body["members"][0]["role"] == "promoter"
    assert all(m["roles"] for m in body["members"])
    bad = client.post(
        "/api/v1/networks/suggest", headers=h, json={"seed": seed.partita_iva, "size": 11}
    )
    assert bad.status_code == 422 and bad.json()["detail"][0]["loc"] == ["body", "size"]

    resp = client.post(
        "/api/v1/networks",
        headers=h,
        json={
            "seed": seed.partita_iva,
            "name": "Rete API",
            "chain": "construction",
            "members": [{"partita_iva": others[0].partita_iva}],
        },
    )
    assert resp.status_code == 201, resp.text
    net = resp.json()
    assert net["status"] == "proposed" and net["invitations"][0]["status"] == "draft"
    nid = net["id"]
    again = client.post(
        f"/api/v1/networks/{nid}/invitations",
        headers=h,
        json={"partita_iva": others[0].partita_iva},
    )
    assert again.status_code == 422
    assert again.json()["detail"][0]["loc"] == ["body", "partita_iva"]
    refused = client.post(f"/api/v1/networks/{nid}/transitions", headers=h, json={"to": "agreed"})
    assert refused.status_code == 422 and "cannot become" in refused.json()["detail"][0]["msg"]
    sent = client.post(
        f"/api/v1/networks/{nid}/transitions", headers=h, json={"to": "forming", "days": 5}
    )
    assert sent.status_code == 200 and sent.json()["status"] == "forming"
    inv_id = sent.json()["invitations"][0]["id"]
    # Someone else's network: not found; the promoter cannot answer for the invited firm.
    stranger = api_headers(owners[1])
    assert client.get(f"/api/v1/networks/{nid}", headers=stranger).status_code == 404
    assert (
        client.post(
            f"/api/v1/networks/{nid}/invitations/{inv_id}/answer", headers=h, json={"accept": True}
        ).status_code
        == 403
    )
    # Expired: a clear error, nothing changes.
    inv = next(i for i in service.get_network(db, nid).invitations if i.id == inv_id)
    inv.expires_at = utcnow() - timedelta(hours=1)
    db.flush()
    invited = api_headers(owners[0])
    late = client.post(
        f"/api/v1/networks/{nid}/invitations/{inv_id}/answer",
        headers=invited,
        json={"accept": True},
    )
    assert late.status_code == 422 and "expired" in late.json()["detail"][0]["msg"]
    assert client.get(f"/api/v1/networks/{nid}", headers=invited).json()["status"] == "forming"


def test_introduction_answer_and_messages(client, login, pool, api_headers):
    seed, others, boss, owners = pool
    token = login(client, boss)
    resp = client.post(
        "/introductions",
        data={
            "csrf_token": token,
            "from_firm": seed.partita_iva,
            "to_firm": others[2].partita_iva,
            "message": "Vi piacerebbe collaborare sulle finiture?",
        },
        follow_redirects=False,
    )
    assert resp.status_code == 303
    url = resp.headers["location"]
    early = client.post(f"{url}/messages", data={"csrf_token": token, "body": "Ciao"})
    assert early.status_code == 422
    assert "once the introduction is accepted" in _soup(early).select_one("#e-body").get_text()
    dup = client.post(
        "/api/v1/introductions",
        headers=api_headers(boss),
        json={"from_firm": seed.partita_iva, "to_firm": others[2].partita_iva},
    )
    assert dup.status_code == 422 and "already in touch" in dup.json()["detail"][0]["msg"]

    client.cookies.clear()
    token = login(client, owners[2])
    inbox = _soup(client.get("/inbox"))
    assert any("Edile Orobica" in li.get_text() for li in inbox.select(".notifications li"))
    resp = client.post(
        f"{url}/answer",
        data={"csrf_token": token, "decision": "accept", "reason": "Buona idea"},
        follow_redirects=False,
    )
    assert resp.status_code == 303
    client.post(f"{url}/messages", data={"csrf_token": token, "body": "Sentiamoci lunedì"})
    page = _soup(client.get(url))
    assert "Sentiamoci lunedì" in page.select_one(".messages").get_text()
    # The promoter's side reads it over the API and is notified.
    h = api_headers(boss)
    intro_id = int(url.rsplit("/", 1)[1])
    data = client.get(f"/api/v1/introductions/{intro_id}", headers=h).json()
    assert data["status"] == "accepted" and data["messages"][0]["body"] == "Sentiamoci lunedì"
    kinds = [n["kind"] for n in client.get("/api/v1/notifications", headers=h).json()]
    assert "interest_accepted" in kinds and "message_received" in kinds
    assert client.post("/api/v1/notifications/read", headers=h).json()["marked"] >= 2
    assert all(n["read"] for n in client.get("/api/v1/notifications", headers=h).json())


def test_my_networks_empty_state_and_list(client, login, pool, db):
    seed, _others, boss, owners = pool
    login(client, owners[3])
    soup = _soup(client.get("/networks"))
    assert soup.select_one(".empty-state a[href='/networks/new']") is not None
    client.cookies.clear()
    service.create_network(db, seed=seed, user=boss, name="Rete Elencata")
    login(client, boss)
    soup = _soup(client.get("/networks"))
    assert [a.get_text() for a in soup.select("table a")] == ["Rete Elencata"]


def test_italian_pages(client, login, pool, db, make_user):
    seed, others, boss, _owners = pool
    net = service.create_network(
        db,
        seed=seed,
        user=boss,
        name="Rete Italiana",
        chain_key="construction",
        members=[(others[0], None, "")],
    )
    login(client, make_user("owner", firms=[seed.id], language="it"))
    client.headers["Accept-Language"] = "it"
    soup = _soup(client.get(f"/networks/{net.id}"))
    assert soup.find("svg").find("title").get_text() == "Mappa d'Italia con le imprese della rete"
    assert "Proposta" in soup.h1.get_text()
    buttons = [b.get_text() for b in soup.select("form[action$='/transitions'] button")]
    assert "Invia gli inviti" in buttons


def test_interest_from_the_suggestions_page(client, login, pool):
    seed, _others, boss, _owners = pool
    token = login(client, boss)
    firm_page = _soup(client.get(f"/firms/{seed.partita_iva}"))
    assert firm_page.select_one(f"a[href='/networks/new?seed={seed.partita_iva}']") is not None
    soup = _soup(client.get(f"/firms/{seed.partita_iva}/suggestions"))
    link = soup.select_one("a.interest")
    assert link is not None
    form = _soup(client.get(link["href"])).select_one("form[action='/introductions']")
    fields = {i["name"]: i.get("value", "") for i in form.select("input")}
    fields.update(csrf_token=token, message="x" * 2001)
    too_long = client.post("/introductions", data=fields)
    assert too_long.status_code == 422
    assert "too long" in _soup(too_long).select_one("#e-message").get_text()
    fields["message"] = "Collaboriamo?"
    resp = client.post("/introductions", data=fields, follow_redirects=False)
    assert resp.status_code == 303 and resp.headers["location"].startswith("/introductions/")
    page = _soup(client.get(resp.headers["location"]))
    assert "Collaboriamo?" in page.find("blockquote").get_text()
