"""Firm pages and /api/v1/firms over real HTTP: forms keep values on error, API names fields."""

import io

from bs4 import BeautifulSoup

from matchmaker.firms import service
from matchmaker.firms.schemas import validate_firm
from tests.firms.helpers import firm_payload, piva


def _soup(resp) -> BeautifulSoup:
    return BeautifulSoup(resp.text, "html.parser")


def _form(serial=1, **over) -> dict:
    p = firm_payload(serial, **over)
    data = {k: ("" if v is None else v) for k, v in p.items() if k not in ("goals",)}
    data["goals"] = p["goals"]
    return data


def test_owner_registers_a_firm_through_the_form(client, make_user, login, db):
    user = make_user("owner")
    token = login(client, user)
    resp = client.post("/firms/new", data={**_form(1), "csrf_token": token}, follow_redirects=False)
    assert resp.status_code == 303 and resp.headers["location"] == f"/firms/{piva(1)}"
    page = client.get(resp.headers["location"])
    soup = _soup(page)
    assert soup.h1.get_text(" ", strip=True).startswith("Mobilificio Test 1 S.r.l.")
    assert "Lissone" in soup.get_text()
    assert soup.find("a", href=f"/firms/{piva(1)}/edit") is not None  # owner can edit


def test_bad_form_is_rerendered_with_values_and_errors_beside_fields(client, make_user, login, db):
    token = login(client, make_user("owner", language="en"))
    data = {**_form(1, partita_iva="00743110158", employees="-4", comune_istat="", comune="Castro"),
            "csrf_token": token}
    resp = client.post("/firms/new", data=data)
    assert resp.status_code == 422
    soup = _soup(resp)
    assert "check digit" in soup.find(id="e-partita_iva").get_text()
    assert soup.find(id="e-employees") is not None
    assert "BG" in soup.find(id="e-comune").get_text()
    assert soup.find(id="f-name")["value"] == "Mobilificio Test 1 S.r.l."
    assert soup.find(id="f-partita_iva")["value"] == "00743110158"
    assert soup.find("input", {"name": "goals", "value": "innovation"}).has_attr("checked")
    assert service.get_firm(db, "00743110158") is None


def test_anonymous_user_is_sent_to_login_and_api_gets_401(client):
    resp = client.get("/firms/new", follow_redirects=False)
    assert resp.status_code == 303 and resp.headers["location"].startswith("/login")
    assert client.get("/api/v1/firms").status_code == 401


def test_list_page_filters_and_htmx_returns_only_results(client, db):
    for i in range(1, 4):
        service.create_firm(db, data=validate_firm(firm_payload(i, name=f"Ditta {i} Srl")))
    service.create_firm(db, data=validate_firm(firm_payload(9, name="Segreta Srl", visibility="hidden")))
    full = client.get("/firms")
    soup = _soup(full)
    names = [a.get_text() for a in soup.select("#firm-results tbody a")]
    assert names == ["Ditta 1 Srl", "Ditta 2 Srl", "Ditta 3 Srl"]
    part = client.get("/firms?q=ditta 2", headers={"HX-Request": "true"})
    assert "HX-Request" in part.headers["Vary"]
    psoup = _soup(part)
    assert psoup.find("html") is None and psoup.find("form") is None
    assert [a.get_text() for a in psoup.select("tbody a")] == ["Ditta 2 Srl"]
    empty = _soup(client.get("/firms?q=nothing-like-this", headers={"Accept-Language": "en"}))
    assert "No firm matches" in empty.select_one(".empty-state").get_text()
    assert client.get(f"/firms/{piva(9)}").status_code == 404


def test_pickers_suggest_ateco_codes_and_comuni(client):
    soup = _soup(client.get("/firms/pickers/comune?comune=lisso", headers={"HX-Request": "true"}))
    values = [b["data-pick-value"] for b in soup.find_all("button")]
    assert "108028" in values
    soup = _soup(client.get("/firms/pickers/ateco?ateco=mobili&edition=2022",
                            headers={"HX-Request": "true"}))
    assert any(b["data-pick-value"].startswith("31") for b in soup.find_all("button"))


def test_api_create_read_patch_delete_with_conflict(client, make_user, api_headers):
    headers = api_headers(make_user("owner"))
    body = firm_payload(1)
    resp = client.post("/api/v1/firms", json=body, headers=headers)
    assert resp.status_code == 201, resp.text
    out = resp.json()
    assert out["partita_iva"] == piva(1) and out["sme_class"] == "small" and out["comune"] == "Lissone"
    resp = client.post("/api/v1/firms", json=body, headers=headers)
    assert resp.status_code == 422
    assert resp.json()["detail"][0]["loc"] == ["body", "partita_iva"]
    resp = client.patch(f"/api/v1/firms/{piva(1)}", json={"employees": 80, "version": 1},
                        headers=headers)
    assert resp.status_code == 200 and resp.json()["sme_class"] == "medium"
    resp = client.patch(f"/api/v1/firms/{piva(1)}", json={"employees": 3, "version": 1},
                        headers=headers)
    assert resp.status_code == 409
    assert client.get(f"/api/v1/firms/{piva(1)}", headers=headers).json()["employees"] == 80
    resp = client.patch(f"/api/v1/firms/{piva(1)}", json={"ateco": "99.99"}, headers=headers)
    assert resp.status_code == 422 and resp.json()["detail"][0]["loc"] == ["body", "ateco"]
    assert client.delete(f"/api/v1/firms/{piva(1)}", headers=headers).status_code == 204
    assert client.get(f"/api/v1/firms/{piva(1)}", headers=headers).status_code == 404


def test_api_validation_errors_name_the_field(client, make_user, api_headers):
    headers = api_headers(make_user("owner"))
    resp = client.post("/api/v1/firms", json={**firm_payload(1), "employees": -1, "colour": "red"},
                       headers=headers)
    assert resp.status_code == 422
    locs = {tuple(d["loc"]) for d in resp.json()["detail"]}
    assert ("body", "employees") in locs and ("body", "colour") in locs


def test_other_owner_cannot_edit(client, make_user, login, api_headers, db):
    firm = service.create_firm(db, data=validate_firm(firm_payload(1)))
    make_user("owner", firms=[firm.id])
    intruder = make_user("owner")
    resp = client.patch(f"/api/v1/firms/{piva(1)}", json={"name": "Mine now"},
                        headers=api_headers(intruder))
    assert resp.status_code == 403
    login(client, intruder)
    assert client.get(f"/firms/{piva(1)}/edit").status_code == 403


def test_edit_form_conflict_shows_message_and_keeps_newer_data(client, make_user, login, db):
    firm = service.create_firm(db, data=validate_firm(firm_payload(1)))
    token = login(client, make_user("owner", firms=[firm.id], language="en"))
    form = _soup(client.get(f"/firms/{piva(1)}/edit"))
    assert form.find("input", {"name": "version"})["value"] == "1"
    service.patch_firm(db, firm=firm, changes={"name": "Saved Elsewhere Srl"})
    db.flush()
    resp = client.post(f"/firms/{piva(1)}/edit",
                       data={**_form(1, name="My Stale Edit Srl"), "version": "1",
                             "csrf_token": token})
    assert resp.status_code == 409
    assert "Someone else saved this firm" in _soup(resp).get_text()
    assert _soup(resp).find(id="f-name")["value"] == "My Stale Edit Srl"
    db.expire_all()
    assert service.get_firm(db, piva(1)).name == "Saved Elsewhere Srl"


def test_csv_upload_preview_then_confirm(client, make_user, login, db):
    token = login(client, make_user("curator", language="en"))
    good = f"partita_iva,name,ateco,comune_istat\n{piva(1)},Uno Srl,31.09,108028\n"
    bad = good + f"{piva(2)[:-1]}0,Due Srl,31.09,108028\n"
    resp = client.post("/firms/import", data={"csrf_token": token},
                       files={"file": ("bad.csv", io.BytesIO(bad.encode()), "text/csv")})
    soup = _soup(resp)
    rows = [[td.get_text() for td in tr.find_all("td")] for tr in soup.select(".errors-table tbody tr")]
    assert rows == [["3", "partita_iva", "invalid check digit"]]
    assert soup.find("form", action=lambda a: a and a.endswith("/confirm")) is None
    resp = client.post("/firms/import", data={"csrf_token": token},
                       files={"file": ("good.csv", io.BytesIO(good.encode()), "text/csv")})
    confirm = _soup(resp).find("form", action=lambda a: a and a.endswith("/confirm"))
    assert service.get_firm(db, piva(1)) is None
    resp = client.post(confirm["action"], data={"csrf_token": token})
    assert resp.status_code == 200
    assert service.get_firm(db, piva(1)).name == "Uno Srl"
    again = client.post(confirm["action"], data={"csrf_token": token})
    assert again.status_code == 409


def test_import_cannot_overwrite_a_firm_the_importer_cannot_edit(db):
    firm = service.create_firm(db, data=validate_firm(firm_payload(1)))
    text = f"partita_iva,name,ateco,comune_istat\n{piva(1)},Hijacked Srl,31.09,108028\n"
    report = service.import_csv(db, content=text.encode(), can_update=lambda f: False)
    assert [(e.line, e.column) for e in report.errors] == [(2, "partita_iva")]
    assert not report.committed and firm.name == "Mobilificio Test 1 S.r.l."


def test_firm_page_links_to_its_sector_and_value_chain(client, db):
    service.create_firm(db, data=validate_firm(firm_payload(1)))  # 31.09.10 (2022)
    soup = _soup(client.get(f"/firms/{piva(1)}"))
    assert soup.find("a", href="/sectors/31.09.10?edition=2022") is not None
    chain_link = soup.find("a", href="/chains/wood_furniture")
    assert chain_link is not None
    assert client.get(chain_link["href"]).status_code == 200
