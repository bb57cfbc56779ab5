"""The whole run on the real networks domain: an agreed network -> a contract drafted from it
-> approvals -> signature -> registrations -> DOCX; the network follows the contract."""

import io
from datetime import date, timedelta

from docx import Document as Docx

from matchmaker.contracts import service
from matchmaker.networks import service as networks_service
from tests.contracts.helpers import complete_changes
from tests.networks.helpers import make_firm


def _agreed_network(db, make_user):
    promoter = make_firm(db, name="Costruzioni Adda S.r.l.", ateco="41.20.00",
                         goals=["public_tenders"])
    partners = [make_firm(db, name=name, ateco=code, goals=goals) for name, code, goals in (
        ("Impianti Elettrici Brianza S.r.l.", "43.21.01", ["public_tenders", "innovation"]),
        ("Studio Tecnico Lecco S.r.l.", "71.12.10", ["innovation"]))]
    boss = make_user("owner", firms=[promoter.id])
    owners = [make_user("owner", firms=[p.id]) for p in partners]
    net = networks_service.create_network(
        db, seed=promoter, user=boss, name="Rete Costruire Insieme", chain_key="construction",
        members=[(partners[0], None, "impianti elettrici"),
                 (partners[1], None, "progettazione")])
    networks_service.transition(db, network=net, to="forming", user=boss)
    for firm, owner in zip(partners, owners, strict=True):
        inv = next(i for i in net.invitations if i.firm_id == firm.id)
        networks_service.answer_invitation(db, network=net, invitation_id=inv.id, user=owner,
                                           accept=True)
    db.refresh(net)
    assert net.status == "agreed"
    return net, [promoter, *partners], [boss, *owners]


def test_network_to_contract_to_docx(client, db, make_user, login, api_headers) -> None:
    net, firms, owners = _agreed_network(db, make_user)
    fac = make_user("facilitator")
    token = login(client, fac)
    resp = client.post("/contracts/new", data={"csrf_token": token, "kind": "rete_contratto",
                                               "network_id": str(net.id)},
                       follow_redirects=False)
    assert resp.status_code == 303, resp.text[:300]
    cid = int(resp.headers["location"].split("/")[2])
    c = service.get_contract(db, cid)
    assert c.title == "Rete Costruire Insieme" and c.network_id == net.id
    assert [p["name"] for p in c.body["participants"]] == [f.name for f in firms]
    acts = [(a["title"], a["lead"]) for a in c.body["programme"]["activities"]]
    # The promoter's activity is its value-chain stage; the others' the role they were invited for.
    assert acts == [("Buildings and civil engineering", firms[0].partita_iva),
                    ("Impianti elettrici", firms[1].partita_iva),
                    ("Progettazione", firms[2].partita_iva)]
    db.refresh(net)
    assert net.status == "contract_drafting"
    # The objectives step suggests the goals the members share, most shared first.
    soup_buttons = client.get(f"/contracts/{cid}/steps/objectives").text
    assert soup_buttons.index("add_goal:public_tenders") < soup_buttons.index("add_goal:innovation")

    changes = complete_changes(c, fund=False, body=False)
    changes["programme"]["activities"] = c.body["programme"]["activities"]
    h = api_headers(fac)
    resp = client.patch(f"/api/v1/contracts/{cid}", headers=h,
                        json={"version": c.version, **changes})
    assert resp.status_code == 200 and resp.json()["checklist_complete"], resp.text[:500]
    version = resp.json()["version"]
    client.post(f"/api/v1/contracts/{cid}/transitions", headers=h, json={"to": "in_review"})
    for firm, owner in zip(firms, owners, strict=True):
        resp = client.post(f"/api/v1/contracts/{cid}/approvals", headers=api_headers(owner),
                           json={"partita_iva": firm.partita_iva, "version": version})
        assert resp.status_code == 200, resp.text
    signed = date.today() - timedelta(days=30)
    for body in ({"to": "signed", "signed_on": signed.isoformat(), "notary": "Notaio Bassi"},
                 {"to": "filed", "filed_on": (signed + timedelta(days=3)).isoformat(),
                  "filed_by": firms[0].partita_iva}):
        assert client.post(f"/api/v1/contracts/{cid}/transitions", headers=h,
                           json=body).status_code == 200
    for i, firm in enumerate(firms):
        out = client.post(f"/api/v1/contracts/{cid}/registrations", headers=h, json={
            "partita_iva": firm.partita_iva,
            "registered_on": (signed + timedelta(days=5 + i)).isoformat()}).json()
    assert out["status"] == "effective"
    assert out["effective_on"] == (signed + timedelta(days=7)).isoformat()
    db.refresh(net)
    assert net.status == "registered"

    resp = client.get(f"/api/v1/contracts/{cid}/document.docx", headers=h)
    assert resp.status_code == 200
    doc = Docx(io.BytesIO(resp.content))
    text = "\n".join(p.text for p in doc.paragraphs)
    for firm in firms:
        assert firm.name in text and firm.partita_iva in text
    assert "Progettazione (capofila: Studio Tecnico Lecco S.r.l.)" in text
    assert "Sottoscritto il" in text and "Notaio Bassi" in text
