"""Contract pages and /api/v1/contracts over HTTP: guided drafting, conflicts, review, API."""

from datetime import date, timedelta

from bs4 import BeautifulSoup

from matchmaker.contracts import service
from tests.contracts.helpers import cf, complete_changes, complete_contract, make_firms


def _soup(resp) -> BeautifulSoup:
    return BeautifulSoup(resp.text, "html.parser")


def test_facilitator_starts_a_contract_from_firms_and_sees_the_checklist(
        client, db, make_user, login) -> None:
    fac = make_user("facilitator")
    firms = make_firms(db, 2)
    token = login(client, fac)
    resp = client.post("/contracts/new", data={
        "csrf_token": token, "kind": "rete_contratto", "title": "Rete del mobile",
        "partite_iva": "\n".join(f.partita_iva for f in firms)}, follow_redirects=False)
    assert resp.status_code == 303
    assert resp.headers["location"].endswith("/steps/participants")
    page = _soup(client.get(resp.headers["location"]))
    assert page.h1.get_text(strip=True) == "Rete del mobile"
    panel = page.find("aside", id="checklist")
    assert panel["aria-live"] == "polite"
    assert panel.find(id="ck-participants").find(class_="ck-status").get_text() == "Missing"
    assert "lett. a)" in panel.find(id="ck-participants").get_text()
    assert page.find("input", {"name": "participants.0.rea"}) is not None
    assert page.select_one("nav.steps a[aria-current=step]").get_text() == "Participants"
    listing = _soup(client.get("/contracts"))
    assert [a.get_text() for a in listing.select("tbody a")] == ["Rete del mobile"]


def test_new_contract_form_keeps_values_and_names_the_unknown_firm(client, db, make_user,
                                                                  login) -> None:
    token = login(client, make_user("facilitator"))
    firm = make_firms(db, 1)[0]
    resp = client.post("/contracts/new", data={"csrf_token": token, "kind": "rete_contratto",
                                               "partite_iva": f"{firm.partita_iva}\n00743110157"})
    assert resp.status_code == 422
    soup = _soup(resp)
    assert "00743110157" in soup.find(id="e-partite_iva").get_text()
    assert "00743110157" in soup.find(id="f-partite_iva").get_text()


def _contract(db, make_user, n=2, **kw):
    fac = make_user("facilitator")
    firms = make_firms(db, n)
    c = service.create_contract(db, author=fac, partite_iva=[f.partita_iva for f in firms], **kw)
    return fac, firms, c


def test_step_shows_only_the_questions_that_apply(client, db, make_user, login) -> None:
    fac, _firms, c = _contract(db, make_user)
    token = login(client, fac)
    soup = _soup(client.get(f"/contracts/{c.id}/steps/fund"))
    assert soup.find("input", {"name": "common_fund.present", "value": "no"}).has_attr("checked")
    assert soup.find(id="f-common_fund.amount_eur") is None  # no fund: no fund questions
    resp = client.post(f"/contracts/{c.id}/steps/fund", data={
        "csrf_token": token, "version": "1", "common_fund.present": "yes", "action": "save"},
        follow_redirects=False)
    assert resp.status_code == 303
    soup = _soup(client.get(f"/contracts/{c.id}/steps/fund"))
    assert soup.find(id="f-common_fund.amount_eur") is not None
    assert soup.find(id="f-common_fund.dedicated_asset_terms") is None
    # The network step now asks for name and seat, required because of the fund.
    soup = _soup(client.get(f"/contracts/{c.id}/steps/network"))
    assert soup.find(id="f-network.seat_address") is not None
    item = soup.find(id="ck-network_identity")
    assert "required because a common fund is set up" in item.get_text()


def test_htmx_autosave_returns_the_step_and_the_new_checklist(client, db, make_user,
                                                             login) -> None:
    fac, _firms, c = _contract(db, make_user)
    login(client, fac)
    resp = client.post(f"/contracts/{c.id}/steps/duration", headers={"HX-Request": "true"},
                       data={"version": "1", "duration.years": "5", "duration.renewal": "none",
                             "withdrawal.agreed": "no", "action": "save"})
    assert resp.status_code == 200
    soup = _soup(resp)
    assert soup.find("html") is None
    assert soup.find("input", {"name": "version"})["value"] == "2"
    assert "version 2" in soup.find(class_="autosave-status").get_text()
    oob = soup.find(id="checklist")
    assert oob["hx-swap-oob"] == "innerHTML"
    assert oob.find(id="ck-duration").find(class_="ck-status").get_text() == "Present"
    db.expire_all()
    assert service.get_contract(db, c.id).body["duration"]["years"] == 5


def test_stale_save_shows_the_conflict_and_keeps_the_users_values(client, db, make_user,
                                                                 login) -> None:
    fac, _firms, c = _contract(db, make_user)
    service.update_contract(db, contract=c, changes={"duration": {"years": 3}},
                            expected_version=1, author=fac)
    token = login(client, fac)
    resp = client.post(f"/contracts/{c.id}/steps/duration", data={
        "csrf_token": token, "version": "1", "duration.years": "9", "action": "save"})
    assert resp.status_code == 409
    soup = _soup(resp)
    assert "version 2" in soup.find(id="conflict").get_text()
    assert soup.find(id="f-duration.years")["value"] == "9"  # what the user typed
    assert soup.find("input", {"name": "version"})["value"] == "2"  # saving again is explicit
    db.expire_all()
    assert service.get_contract(db, c.id).body["duration"]["years"] == 3


def test_invalid_value_is_shown_beside_its_field(client, db, make_user, login) -> None:
    fac, _firms, c = _contract(db, make_user)
    token = login(client, fac)
    resp = client.post(f"/contracts/{c.id}/steps/participants", data={
        "csrf_token": token, "version": "1",
        "participants.0.partita_iva": c.body["participants"][0]["partita_iva"],
        "participants.0.name": c.body["participants"][0]["name"],
        "participants.0.rea": "1234", "participants.0.representative.tax_code": "XYZ",
        "participants.1.partita_iva": c.body["participants"][1]["partita_iva"],
        "participants.1.name": c.body["participants"][1]["name"], "action": "save"})
    assert resp.status_code == 422
    soup = _soup(resp)
    assert "MI-1234567" in soup.find(id="e-participants.0.rea").get_text()
    assert "codice fiscale" in soup.find(id="e-participants.0.representative.tax_code").get_text()
    assert soup.find(id="f-participants.0.rea")["value"] == "1234"


def test_objective_suggested_from_goals_is_added_with_a_click(client, db, make_user,
                                                             login) -> None:
    fac, _firms, c = _contract(db, make_user)
    token = login(client, fac)
    soup = _soup(client.get(f"/contracts/{c.id}/steps/objectives"))
    buttons = [b["value"] for b in soup.select(".suggestions-box button")]
    assert "add_goal:innovation" in buttons
    resp = client.post(f"/contracts/{c.id}/steps/objectives", data={
        "csrf_token": token, "version": "1", "action": "add_goal:innovation"},
        follow_redirects=False)
    assert resp.status_code == 303
    db.expire_all()
    objectives = service.get_contract(db, c.id).body["objectives"]
    assert objectives[0]["goal"] == "innovation"
    assert objectives[0]["indicators"][0]["indicator"] == "Nuovi prodotti o processi introdotti"


def test_review_approval_signature_and_effect_through_the_pages(client, db, make_user,
                                                                login) -> None:
    fac = make_user("facilitator")
    firms = make_firms(db, 2)
    c = complete_contract(db, fac, firms)
    reps = [make_user("owner", firms=[f.id], firm_role="representative") for f in firms]
    token = login(client, fac)
    assert client.post(f"/contracts/{c.id}/transitions", data={
        "csrf_token": token, "to": "in_review"}, follow_redirects=False).status_code == 303
    for rep, firm in zip(reps, firms, strict=True):
        token = login(client, rep)
        page = _soup(client.get(f"/contracts/{c.id}"))
        forms = page.select("form[action$='/approvals']")
        assert len(forms) == 1  # only for the firm this person represents
        assert forms[0].find("input", {"name": "partita_iva"})["value"] == firm.partita_iva
        resp = client.post(f"/contracts/{c.id}/approvals", data={
            "csrf_token": token, "partita_iva": firm.partita_iva, "version": str(c.version)},
            follow_redirects=False)
        assert resp.status_code == 303
    db.expire_all()
    assert service.get_contract(db, c.id).status == "approved"
    token = login(client, fac)
    signed_on = date.today() - timedelta(days=10)
    resp = client.post(f"/contracts/{c.id}/transitions", data={
        "csrf_token": token, "to": "signed", "form": "notarial_deed",
        "signed_on": signed_on.isoformat(), "notary": ""})
    assert resp.status_code == 422
    assert "notary" in _soup(resp).find(id="action-error").get_text()
    client.post(f"/contracts/{c.id}/transitions", data={
        "csrf_token": token, "to": "signed", "form": "notarial_deed",
        "signed_on": signed_on.isoformat(), "notary": "Notaio Maria Conti"})
    client.post(f"/contracts/{c.id}/transitions", data={
        "csrf_token": token, "to": "filed", "filed_on": signed_on.isoformat()})
    for firm, days in zip(firms, (5, 2), strict=True):
        client.post(f"/contracts/{c.id}/registrations", data={
            "csrf_token": token, "partita_iva": firm.partita_iva,
            "registered_on": (date.today() - timedelta(days=days)).isoformat()})
    db.expire_all()
    done = service.get_contract(db, c.id)
    assert done.status == "effective" and done.effective_on == date.today() - timedelta(days=2)
    page = _soup(client.get(f"/contracts/{c.id}"))
    assert page.select_one("ol.workflow li.current").get_text() == "Effective"
    assert "Notaio Maria Conti" in page.get_text()


def test_people_of_other_firms_do_not_see_the_contract(client, db, make_user, login,
                                                       api_headers) -> None:
    _fac, _firms, c = _contract(db, make_user)
    stranger = make_user("owner", firms=[make_firms(db, 1)[0].id])
    login(client, stranger)
    assert client.get(f"/contracts/{c.id}").status_code == 404
    assert client.get(f"/api/v1/contracts/{c.id}", headers=api_headers(stranger)
                      ).status_code == 404
    assert client.get("/api/v1/contracts", headers=api_headers(stranger)).json()["total"] == 0


def test_api_create_patch_conflict_checklist_versions(client, db, make_user,
                                                      api_headers) -> None:
    fac = make_user("facilitator")
    headers = api_headers(fac)
    firms = make_firms(db, 2)
    resp = client.post("/api/v1/contracts", headers=headers, json={
        "partite_iva": [f.partita_iva for f in firms], "kind": "rete_soggetto"})
    assert resp.status_code == 201, resp.text
    out = resp.json()
    cid = out["id"]
    assert out["version"] == 1 and out["template"]["key"] == "standard"
    assert out["body"]["common_fund"]["present"] and out["body"]["common_body"]["present"]
    resp = client.patch(f"/api/v1/contracts/{cid}", headers=headers,
                        json={"version": 1, "duration": {"years": 4}})
    assert resp.status_code == 200 and resp.json()["version"] == 2
    resp = client.patch(f"/api/v1/contracts/{cid}", headers=headers,
                        json={"version": 1, "duration": {"years": 6}})
    assert resp.status_code == 409 and resp.json()["current_version"] == 2
    resp = client.patch(f"/api/v1/contracts/{cid}", headers=headers,
                        json={"version": 2, "participants": [
                            {**firms_p, "rea": "bad"} for firms_p in out["body"]["participants"]]})
    assert resp.status_code == 422
    assert resp.json()["detail"][0]["loc"] == ["body", "participants", "0", "rea"]
    check = client.get(f"/api/v1/contracts/{cid}/checklist", headers=headers).json()
    assert check["complete"] is False and "participants" in check["missing"]
    duration = next(i for i in check["items"] if i["key"] == "duration")
    assert duration == {**duration, "status": "present",
                        "reference": "art. 3, comma 4-ter, lett. d), DL 5/2009"}
    versions = client.get(f"/api/v1/contracts/{cid}/versions", headers=headers).json()
    assert [v["number"] for v in versions] == [2, 1]
    assert versions[0]["changes"] == ["duration.years"]


def test_api_final_document_is_blocked_naming_the_missing_elements(client, db, make_user,
                                                                   api_headers) -> None:
    fac, _firms, c = _contract(db, make_user)
    headers = api_headers(fac)
    changes = complete_changes(c, fund=False, body=False)
    changes.pop("duration")
    service.update_contract(db, contract=c, changes=changes, expected_version=1, author=fac)
    resp = client.get(f"/api/v1/contracts/{c.id}/document.docx", headers=headers)
    assert resp.status_code == 409
    assert resp.json()["missing"] == ["Duration (art. 3, comma 4-ter, lett. d), DL 5/2009)"]
    draft = client.get(f"/api/v1/contracts/{c.id}/document.md?draft=true", headers=headers)
    assert draft.status_code == 200 and draft.text.startswith("> **BOZZA**")
    assert "bozza" in draft.headers["content-disposition"]
    assert client.get(f"/api/v1/contracts/{c.id}/document.odt", headers=headers
                      ).status_code == 404


def test_api_approvals_transitions_registrations(client, db, make_user, api_headers) -> None:
    fac = make_user("facilitator")
    firms = make_firms(db, 2)
    c = complete_contract(db, fac, firms, form="digital_signatures")
    reps = [make_user("owner", firms=[f.id], firm_role="representative") for f in firms]
    h = api_headers(fac)
    assert client.post(f"/api/v1/contracts/{c.id}/transitions", headers=h,
                       json={"to": "in_review"}).json()["status"] == "in_review"
    resp = client.post(f"/api/v1/contracts/{c.id}/approvals", headers=h,
                       json={"partita_iva": firms[0].partita_iva, "version": c.version})
    assert resp.status_code == 403  # a facilitator does not approve for a firm
    for rep, firm in zip(reps, firms, strict=True):
        resp = client.post(f"/api/v1/contracts/{c.id}/approvals", headers=api_headers(rep),
                           json={"partita_iva": firm.partita_iva, "version": c.version})
        assert resp.status_code == 200, resp.text
    assert resp.json()["status"] == "approved"
    assert all(a["current"] for a in resp.json()["approvals"])
    today = date.today().isoformat()
    resp = client.post(f"/api/v1/contracts/{c.id}/transitions", headers=h, json={
        "to": "signed", "signed_on": today, "signers": ["Anna Bianchi", "Marco Rossi"]})
    assert resp.status_code == 200, resp.text
    assert resp.json()["signature"]["form"] == "digital_signatures"
    client.post(f"/api/v1/contracts/{c.id}/transitions", headers=h,
                json={"to": "filed", "filed_on": today})
    resp = client.post(f"/api/v1/contracts/{c.id}/transitions", headers=h,
                       json={"to": "effective"})
    assert resp.status_code == 409 and "Registration still to record" in resp.json()["detail"]
    for f in firms:
        resp = client.post(f"/api/v1/contracts/{c.id}/registrations", headers=h,
                           json={"partita_iva": f.partita_iva, "registered_on": today})
    assert resp.json()["status"] == "effective" and resp.json()["effective_on"] == today


def test_versions_page_shows_a_side_by_side_diff(client, db, make_user, login) -> None:
    fac = make_user("facilitator")
    c = complete_contract(db, fac, make_firms(db, 2))
    service.update_contract(db, contract=c, changes={"accession": {
        "procedure": "Domanda via PEC all'organo comune", "decided_by": "unanimity"}},
        expected_version=c.version, author=fac)
    login(client, fac)
    soup = _soup(client.get(f"/contracts/{c.id}/versions?a={c.version - 1}&b={c.version}"))
    rows = soup.select("table.diff tr.diff-replace")
    assert rows, soup.get_text()[:500]
    left, right = rows[0].find_all("td")
    assert "Domanda scritta" in left.get_text() and "via PEC" in right.get_text()
    assert [h.get_text() for h in soup.select("#diff h3")] == ["Durata, adesione e recesso"]


def test_facilitator_copies_edits_and_publishes_a_template(client, db, make_user,
                                                           login) -> None:
    fac = make_user("facilitator")
    token = login(client, fac)
    std = service.standard_template(db)
    resp = client.post("/contract-templates/copy", data={
        "csrf_token": token, "source_id": str(std.id), "name": "Modello CNA Monza"},
        follow_redirects=False)
    assert resp.status_code == 303
    url = resp.headers["location"]
    tid = int(url.rsplit("/", 1)[1])
    resp = client.post(f"/contract-templates/{tid}/clauses/durata", data={
        "csrf_token": token, "title": "Durata", "text": "{% if %}", "condition": ""})
    assert resp.status_code == 422
    assert "does not render" in _soup(resp).find(id="e-durata").get_text()
    resp = client.post(f"/contract-templates/{tid}/clauses/durata", data={
        "csrf_token": token, "title": "Durata", "condition": "",
        "text": "Il contratto dura {{ c.duration.years }} anni."}, follow_redirects=False)
    assert resp.status_code == 303
    client.post(f"/contract-templates/{tid}/publish", data={"csrf_token": token})
    soup = _soup(client.get(url))
    assert "Published" in soup.select_one(".badge").get_text()
    assert soup.find("textarea") is None  # a published version is read-only
    from sqlalchemy import select

    from matchmaker.accounts.models import AuditEvent

    events = db.scalars(select(AuditEvent).where(AuditEvent.object_type == "clause_template")
                        .order_by(AuditEvent.id)).all()
    assert [(e.action, e.object_id, e.actor_id, e.detail) for e in events] == [
        ("clause_template.copy", str(tid), fac.id, {"from": std.id}),
        ("clause_template.update", str(tid), fac.id, {"clause": "durata"}),
        ("clause_template.publish", str(tid), fac.id, None),
    ]
    assert all(e.ip for e in events)
    # A different facilitator cannot edit it, and does not see drafts of others.
    other = make_user("facilitator")
    token = login(client, other)
    assert client.post(f"/contract-templates/{tid}/revise", data={"csrf_token": token}
                       ).status_code == 403


def test_cf_helper_builds_valid_codes() -> None:
    from stdnum.it import codicefiscale

    assert all(codicefiscale.is_valid(cf(i)) for i in range(6))


def test_the_checklist_speaks_italian(client, db, make_user, login) -> None:
    _fac, _firms, c = _contract(db, make_user)
    login(client, make_user("admin", language="it"))
    soup = _soup(client.get(f"/contracts/{c.id}/steps/fund"))
    item = soup.find(id="ck-common_fund")
    assert item.find(class_="ck-status").get_text() == "Non applicabile"
    assert "nessun fondo comune" in item.get_text()
    assert soup.find(id="f-common_fund.present").legend.get_text() == "La rete avrà un fondo comune?"
