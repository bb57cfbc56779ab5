"""Suggested partners over HTTP: the API shape, the HTMX panel, "why not", exclusions."""

from bs4 import BeautifulSoup

from matchmaker.matching.model import COMPONENTS
from tests.matching.test_recommend import brianza  # noqa: F401  (fixture)


def _soup(resp):
    return BeautifulSoup(resp.text, "html.parser")


def test_api_recommendations_have_components_and_reasons(client, brianza, make_user, api_headers):  # noqa: F811
    seeker, _como, _monza, _sicily = brianza
    headers = api_headers(make_user("owner", firms=[seeker.id]))
    resp = client.get(f"/api/v1/firms/{seeker.partita_iva}/recommendations?limit=2", headers=headers)
    assert resp.status_code == 200, resp.text
    body = resp.json()
    assert len(body["items"]) == 2 and body["candidates"] == 3
    item = body["items"][0]
    assert set(item["components"]) == set(COMPONENTS) and item["reasons"]
    assert 0 < item["score"] <= 1
    resp = client.get(f"/api/v1/firms/{seeker.partita_iva}/recommendations?radius_km=-3",
                      headers=headers)
    assert resp.status_code == 422
    resp = client.get(f"/api/v1/firms/{seeker.partita_iva}/recommendations?goal=nope",
                      headers=headers)
    assert resp.status_code == 422 and "nope" in resp.json()["detail"][0]["msg"]


def test_api_recommendations_are_for_the_firms_people(client, brianza, make_user, api_headers):  # noqa: F811
    seeker, *_ = brianza
    stranger = api_headers(make_user("owner"))
    assert client.get(f"/api/v1/firms/{seeker.partita_iva}/recommendations",
                      headers=stranger).status_code == 403
    assert client.get(f"/api/v1/firms/{seeker.partita_iva}/recommendations").status_code == 401


def test_panel_filters_refresh_only_the_list(client, brianza, make_user, login):  # noqa: F811
    seeker, *_ = brianza
    login(client, make_user("owner", firms=[seeker.id]))
    page = _soup(client.get(f"/firms/{seeker.partita_iva}/suggestions"))
    cards = page.select("li.suggestion h2 a")
    assert [a.get_text() for a in cards][:2] and len(page.select("li.suggestion meter")) == 6 * len(cards)
    part = client.get(f"/firms/{seeker.partita_iva}/suggestions?radius_km=100",
                      headers={"HX-Request": "true"})
    psoup = _soup(part)
    assert psoup.find("form") is None
    names = [a.get_text() for a in psoup.select("li.suggestion h2 a")]
    assert "Mobili Palermitani" not in names and names
    detail = _soup(client.get(f"/firms/{seeker.partita_iva}"))
    panel = detail.find(id="partner-panel")
    assert panel.find(attrs={"hx-get": f"/firms/{seeker.partita_iva}/suggestions"}) is not None


def test_why_not_page_names_the_constraint(client, brianza, make_user, login):  # noqa: F811
    seeker, _como, _monza, sicily = brianza
    login(client, make_user("owner", firms=[seeker.id], language="en"))
    resp = client.get(f"/firms/{seeker.partita_iva}/why?other={sicily.partita_iva}&radius_km=50")
    soup = _soup(resp)
    assert "beyond your 50 km radius" in soup.select_one("ul.excluded").get_text()
    rows = soup.select("table.bars tbody tr")
    assert len(rows) == len(COMPONENTS)
    resp = client.get(f"/firms/{seeker.partita_iva}/why?other=12345678901")
    assert resp.status_code == 422


def test_exclusions_through_the_form_and_api(client, brianza, make_user, login, api_headers):  # noqa: F811
    seeker, como, _monza, _sicily = brianza
    owner = make_user("owner", firms=[seeker.id])
    token = login(client, owner)
    resp = client.post(f"/firms/{seeker.partita_iva}/exclusions",
                       data={"other": como.partita_iva, "kind": "competitor", "csrf_token": token},
                       follow_redirects=False)
    assert resp.status_code == 303
    page = _soup(client.get(resp.headers["location"]))
    assert "Finissaggio Lariano" not in [a.get_text() for a in page.select("li.suggestion h2 a")]
    headers = api_headers(owner)
    listed = client.get(f"/api/v1/firms/{seeker.partita_iva}/exclusions", headers=headers).json()
    assert [(e["partita_iva"], e["kind"]) for e in listed] == [(como.partita_iva, "competitor")]
    resp = client.delete(f"/api/v1/firms/{seeker.partita_iva}/exclusions/{listed[0]['id']}",
                         headers=headers)
    assert resp.status_code == 204
    resp = client.post(f"/api/v1/firms/{seeker.partita_iva}/exclusions",
                       json={"partita_iva": seeker.partita_iva}, headers=headers)
    assert resp.status_code == 422


def test_api_models_are_the_service_dataclasses(client):
    """The API's suggestion and explanation carry every field of the service's, in its order."""
    from dataclasses import fields

    from matchmaker.matching.service import Explanation, Suggestion

    schemas = client.get("/openapi.json").json()["components"]["schemas"]
    item = schemas["SuggestionsOut"]["properties"]["items"]["items"]["$ref"].rsplit("/", 1)[1]
    for name, source, internal in ((item, Suggestion, {"firm_id"}),
                                   ("ExplanationOut", Explanation, set())):
        want = [f.name for f in fields(source) if f.name not in internal]
        assert list(schemas[name]["properties"]) == want
        assert schemas[name]["required"] == want
    assert schemas[item]["properties"]["score"]["description"].startswith("0-1")
