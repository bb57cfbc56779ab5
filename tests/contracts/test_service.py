"""Contract workflow: versions, optimistic concurrency, approvals, signature, effect."""

import sys
import types
from datetime import date, timedelta

import pytest

from matchmaker.contracts import service
from matchmaker.contracts.models import ContractVersion
from matchmaker.contracts.schemas import ContractInvalid, TransitionIn
from tests.contracts.helpers import complete_changes, complete_contract, make_firms


def test_create_from_registered_firms(db, make_user) -> None:
    fac = make_user("facilitator")
    firms = make_firms(db, 3)
    c = service.create_contract(db, author=fac, partite_iva=[f"IT {f.partita_iva}" for f in firms])
    assert c.status == "draft" and c.version == 1
    assert [p["name"] for p in c.body["participants"]] == [f.name for f in firms]
    assert c.body["participants"][0]["comune"] == "Lissone"
    assert service.party_firm_ids(c) == [f.id for f in firms]
    assert service.facilitator_ids(c) == [fac.id]  # a facilitator is assigned to their contract
    assert c.template.key == "standard" and c.template.status == "published"
    assert [v.changes for v in service.versions(db, c)] == [["created"]]


def test_create_refuses_unknown_firms_and_single_participants(db, make_user) -> None:
    fac = make_user("facilitator")
    firms = make_firms(db, 1)
    with pytest.raises(ContractInvalid) as err:
        service.create_contract(db, author=fac, partite_iva=[firms[0].partita_iva])
    assert "at least two" in err.value.errors["partite_iva"]
    with pytest.raises(ContractInvalid) as err:
        service.create_contract(db, author=fac, partite_iva=[firms[0].partita_iva, "00743110157"])
    assert "00743110157" in err.value.errors["partite_iva"]


def test_every_save_is_a_version_and_a_stale_version_conflicts(db, make_user) -> None:
    fac, other = make_user("facilitator", full_name="Fabio Facilitatore"), make_user("admin")
    c = service.create_contract(db, author=fac, partite_iva=[f.partita_iva
                                                             for f in make_firms(db, 2)])
    changed = service.update_contract(db, contract=c, changes={"duration": {"years": 5}},
                                      expected_version=1, author=fac)
    assert changed == ["duration.years"] and c.version == 2
    with pytest.raises(service.ContractConflict) as err:
        service.update_contract(db, contract=c, changes={"duration": {"years": 7}},
                                expected_version=1, author=other)
    assert err.value.current_version == 2
    assert c.body["duration"]["years"] == 5
    # Saving the same values again is not a new version.
    assert service.update_contract(db, contract=c, changes={"duration": {"years": 5}},
                                   expected_version=2, author=fac) == []
    v2 = service.get_version(db, c, 2)
    assert isinstance(v2, ContractVersion)
    assert v2.author_label == "Fabio Facilitatore" and v2.body["duration"]["years"] == 5
    assert service.get_version(db, c, 1).body["duration"]["years"] is None


def test_a_new_participant_must_be_a_registered_firm(db, make_user) -> None:
    fac = make_user("facilitator")
    c = service.create_contract(db, author=fac, partite_iva=[f.partita_iva
                                                             for f in make_firms(db, 2)])
    with pytest.raises(ContractInvalid) as err:
        service.add_participant(db, contract=c, partita_iva="00743110157", expected_version=1,
                                author=fac)
    assert "no registered firm" in err.value.errors["add_partita_iva"]
    third = make_firms(db, 1)[0]
    service.add_participant(db, contract=c, partita_iva=third.partita_iva, expected_version=1,
                            author=fac)
    assert len(c.parties) == 3 and c.version == 2
    service.remove_participant(db, contract=c, partita_iva=third.partita_iva,
                               expected_version=2, author=fac)
    assert len(c.body["participants"]) == 2


def _review(db, c, user):
    service.transition(db, contract=c, data=TransitionIn(to="in_review"), actor=user)


def test_approvals_are_for_one_version_and_any_change_resets_them(db, make_user) -> None:
    fac = make_user("facilitator")
    firms = make_firms(db, 2)
    c = complete_contract(db, fac, firms)
    reps = [make_user("owner", firms=[f.id], firm_role="representative") for f in firms]
    _review(db, c, fac)
    p0, p1 = (f.partita_iva for f in firms)
    service.approve(db, contract=c, partita_iva=p0, version=c.version, user=reps[0])
    with pytest.raises(service.ContractLocked):
        service.transition(db, contract=c, data=TransitionIn(to="approved"), actor=fac)
    with pytest.raises(service.ContractConflict):
        service.approve(db, contract=c, partita_iva=p1, version=c.version - 1, user=reps[1])
    # A change withdraws the approval given so far.
    service.update_contract(db, contract=c, changes={"duration": {"years": 6}},
                            expected_version=c.version, author=fac)
    assert service.current_approvals(c) == {} and service.pending_approvals(c) == [p0, p1]
    for piva, rep in zip((p0, p1), reps, strict=True):
        service.approve(db, contract=c, partita_iva=piva, version=c.version, user=rep)
    assert c.status == "approved"
    # Changing an approved contract sends it back to review, without approvals.
    service.update_contract(db, contract=c, changes={"duration": {"years": 7}},
                            expected_version=c.version, author=fac)
    assert c.status == "in_review" and service.current_approvals(c) == {}


def test_an_incomplete_contract_cannot_be_approved(db, make_user) -> None:
    fac = make_user("facilitator")
    firms = make_firms(db, 2)
    c = service.create_contract(db, author=fac, partite_iva=[f.partita_iva for f in firms])
    _review(db, c, fac)
    with pytest.raises(service.ContractIncomplete) as err:
        service.approve(db, contract=c, partita_iva=firms[0].partita_iva, version=c.version,
                        user=fac)
    assert any("Duration" in line for line in err.value.blocking)


def _approve_all(db, c, firms, make_user) -> None:
    _review(db, c, None)
    for f in firms:
        rep = make_user("owner", firms=[f.id], firm_role="representative")
        service.approve(db, contract=c, partita_iva=f.partita_iva, version=c.version, user=rep)


def test_sign_file_register_and_the_last_registration_makes_it_effective(db, make_user) -> None:
    fac = make_user("facilitator")
    firms = make_firms(db, 3)
    c = complete_contract(db, fac, firms, soggetto=True)
    _approve_all(db, c, firms, make_user)
    today = date.today()
    with pytest.raises(ContractInvalid) as err:
        service.transition(db, contract=c, data=TransitionIn(
            to="signed", form="notarial_deed", signed_on=today), actor=fac)
    assert "notary" in err.value.errors
    with pytest.raises(ContractInvalid) as err:
        service.transition(db, contract=c, data=TransitionIn(
            to="signed", form="digital_signatures", signed_on=today), actor=fac)
    assert "form" in err.value.errors  # the contract says notarial deed
    service.transition(db, contract=c, data=TransitionIn(
        to="signed", signed_on=today - timedelta(days=20), notary="Notaio Maria Conti"),
        actor=fac)
    assert c.signature["form"] == "notarial_deed" and c.signature["version"] == c.version
    assert c.signature["signers"] == ["Anna Bianchi", "Marco Rossi", "Giuseppe Verdi"]
    with pytest.raises(service.ContractLocked):
        service.update_contract(db, contract=c, changes={"duration": {"years": 9}},
                                expected_version=c.version, author=fac)
    service.transition(db, contract=c, data=TransitionIn(
        to="filed", filed_on=today - timedelta(days=15), filed_by=firms[0].partita_iva),
        actor=fac)
    dates = [today - timedelta(days=d) for d in (12, 3, 9)]
    for f, d in zip(firms[:2], dates[:2], strict=True):
        service.record_registration(db, contract=c, partita_iva=f.partita_iva, registered_on=d,
                                    user=fac)
    assert c.status == "filed" and c.effective_on is None
    with pytest.raises(service.ContractLocked) as err:
        service.transition(db, contract=c, data=TransitionIn(to="effective"), actor=fac)
    assert firms[2].name in err.value.message
    service.record_registration(db, contract=c, partita_iva=firms[2].partita_iva,
                                registered_on=dates[2], user=fac)
    assert c.status == "effective" and c.effective_on == max(dates) == today - timedelta(days=3)


def test_registration_before_filing_or_in_the_future_is_refused(db, make_user) -> None:
    fac = make_user("facilitator")
    firms = make_firms(db, 2)
    c = complete_contract(db, fac, firms)
    with pytest.raises(service.ContractLocked):
        service.record_registration(db, contract=c, partita_iva=firms[0].partita_iva,
                                    registered_on=date.today(), user=fac)
    _approve_all(db, c, firms, make_user)
    today = date.today()
    service.transition(db, contract=c, data=TransitionIn(to="signed", signed_on=today,
                                                         notary="Notaio Rossi"), actor=fac)
    service.transition(db, contract=c, data=TransitionIn(to="filed", filed_on=today), actor=fac)
    with pytest.raises(ContractInvalid):
        service.record_registration(db, contract=c, partita_iva=firms[0].partita_iva,
                                    registered_on=today + timedelta(days=1), user=fac)
    with pytest.raises(ContractInvalid):
        service.record_registration(db, contract=c, partita_iva=firms[0].partita_iva,
                                    registered_on=today - timedelta(days=1), user=fac)


def test_start_from_a_network_uses_members_roles_and_name(db, make_user, monkeypatch) -> None:
    fac = make_user("facilitator")
    firms = make_firms(db, 3)
    network = {"id": 7, "name": "Filiera del mobile", "chain_key": None, "members": [
        {"firm_id": firms[0].id, "partita_iva": firms[0].partita_iva, "role": "member",
         "role_text": "produzione di mobili", "stages": []},
        {"firm_id": firms[1].id, "role": "member", "role_text": "fornitura di tessuti",
         "stages": []},
        {"firm_id": firms[2].id, "partita_iva": firms[2].partita_iva, "role": "member",
         "role_text": "", "stages": []},
    ]}
    fake = types.ModuleType("matchmaker.networks")
    fake.service = types.SimpleNamespace(get_network_for_contract=lambda s, nid: network
                                         if nid == 7 else None)
    monkeypatch.setitem(sys.modules, "matchmaker.networks", fake)
    c = service.create_from_network(db, author=fac, network_id=7)
    assert c.network_id == 7 and c.title == "Filiera del mobile"
    assert c.body["network"]["name"] == "Filiera del mobile"
    assert [p["partita_iva"] for p in c.body["participants"]] == [f.partita_iva for f in firms]
    acts = c.body["programme"]["activities"]
    assert [(a["title"], a["lead"]) for a in acts] == [
        ("Produzione di mobili", firms[0].partita_iva), ("Fornitura di tessuti",
                                                         firms[1].partita_iva)]
    with pytest.raises(ContractInvalid) as err:
        service.create_from_network(db, author=fac, network_id=8)
    assert "no network 8" in err.value.errors["network_id"]
    network["status"] = "forming"
    with pytest.raises(ContractInvalid) as err:
        service.create_from_network(db, author=fac, network_id=7)
    assert "not agreed yet" in err.value.errors["network_id"]


def test_without_the_networks_module_the_error_says_to_use_firms(db, make_user,
                                                                 monkeypatch) -> None:
    monkeypatch.setitem(sys.modules, "matchmaker.networks", None)
    with pytest.raises(ContractInvalid) as err:
        service.create_from_network(db, author=make_user("facilitator"), network_id=1)
    assert "list of firms" in err.value.errors["network_id"]


def test_goal_suggestions_come_from_the_members_goals(db, make_user) -> None:
    fac = make_user("facilitator")
    firms = make_firms(db, 3, goals=(("innovation", "internationalisation"),
                                     ("internationalisation",), ("sustainability",)))
    c = service.create_contract(db, author=fac, partite_iva=[f.partita_iva for f in firms])
    sugg = service.goal_suggestions(db, c)
    assert next((s["goal"], s["count"]) for s in sugg) == ("internationalisation", 2)
    assert {s["goal"] for s in sugg} == {"internationalisation", "innovation", "sustainability"}
    obj = sugg[0]["objective"]
    service.update_contract(db, contract=c, changes={"objectives": [obj]}, expected_version=1,
                            author=fac)
    assert "internationalisation" not in {s["goal"] for s in service.goal_suggestions(db, c)}


def test_diff_shows_changed_lines_side_by_side(db, make_user) -> None:
    fac = make_user("facilitator")
    firms = make_firms(db, 2)
    c = complete_contract(db, fac, firms)
    service.update_contract(db, contract=c, changes={"duration": {"years": 8}},
                            expected_version=c.version, author=fac)
    diff = service.diff_versions(db, c, c.version - 1, c.version)
    changed = [s for s in diff if s.changed]
    assert [s.title for s in changed] == ["Durata, adesione e recesso"]
    row = next(r for r in changed[0].rows if r.tag == "replace")
    assert "5 anni" in row.left and "8 anni" in row.right


def test_clause_templates_copy_edit_publish_and_contracts_record_the_version(db, make_user) -> None:
    fac = make_user("facilitator")
    std = service.standard_template(db)
    tpl = service.copy_template(db, source=std, owner=fac, name="Confartigianato Brianza")
    assert tpl.status == "draft" and tpl.number == 1 and tpl.based_on_id == std.id
    with pytest.raises(ContractInvalid) as err:
        service.update_clause(db, template=tpl, key="durata", title="Durata",
                              text="Durata: {{ c.duration.years ")
    assert "does not render" in err.value.errors["text"]
    service.update_clause(db, template=tpl, key="durata", title="Durata del contratto",
                          text="La rete dura {{ c.duration.years }} anni, salvo proroga.")
    service.publish_template(db, template=tpl)
    with pytest.raises(service.ContractLocked):
        service.update_clause(db, template=tpl, key="durata", title="x", text="y")
    firms = make_firms(db, 2)
    c = service.create_contract(db, author=fac, partite_iva=[f.partita_iva for f in firms],
                                template_id=tpl.id)
    service.update_contract(db, contract=c, changes=complete_changes(c), expected_version=1,
                            author=fac)
    text = service.export_document(db, contract=c, fmt="md", draft=False).decode()
    assert "Art. " in text and "Durata del contratto" in text
    assert "La rete dura 5 anni, salvo proroga." in text
    nxt = service.revise_template(db, template=tpl, owner=fac)
    assert (nxt.key, nxt.number, nxt.status) == (tpl.key, 2, "draft")
    assert c.template_id == tpl.id  # the contract keeps the version it used
