"""The law checklist: each element present / missing / not applicable, with reference and why."""

from matchmaker.contracts import checklist
from matchmaker.contracts.schemas import ContractBody
from tests.contracts.helpers import cf

PIVAS = ["00743110157", "02876540150"]


def _body(**over) -> ContractBody:
    data = {"participants": [{"partita_iva": p, "name": f"Impresa {i}"}
                             for i, p in enumerate(PIVAS)], **over}
    return ContractBody.model_validate(data)


def test_every_element_of_the_law_table_is_listed_with_its_letter() -> None:
    check = checklist.build(ContractBody())
    keys = [i.key for i in check.items]
    assert keys[:13] == ["participants", "network_identity", "objectives", "progress_measures",
                         "programme", "common_fund", "duration", "accession", "withdrawal",
                         "common_body", "decision_rules", "programme_amendment",
                         "tax_registration"]
    assert check.item("objectives").reference == "art. 3, comma 4-ter, lett. b), DL 5/2009"
    assert check.item("common_body").reference == "art. 3, comma 4-ter, lett. e), DL 5/2009"
    assert not check.complete


def test_network_identity_applies_only_with_a_fund_and_says_why() -> None:
    without = checklist.build(_body()).item("network_identity")
    assert without.status == "not_applicable" and "no common fund" in without.reason
    with_fund = checklist.build(_body(common_fund={"present": True})).item("network_identity")
    assert with_fund.status == "missing"
    assert with_fund.reason == "required because a common fund is set up"
    assert with_fund.reference == "art. 3, comma 4-ter, lett. a), DL 5/2009"
    named = checklist.build(_body(common_fund={"present": True}, network={
        "name": "Rete", "seat_address": "Via Roma 1", "seat_comune": "Monza"}))
    assert named.item("network_identity").status == "present"


def test_missing_details_name_the_participant_and_the_field() -> None:
    item = checklist.build(_body()).item("participants")
    assert item.status == "missing"
    assert any(m.startswith("Impresa 0:") and "REA number" in m for m in item.missing)


def test_optional_elements_follow_the_answers() -> None:
    check = checklist.build(_body())
    for key in ("common_fund", "common_body", "withdrawal", "programme_amendment"):
        assert check.item(key).status == "not_applicable", key
    check = checklist.build(_body(withdrawal={"agreed": True},
                                  programme_amendment={"by_majority": True}))
    assert check.item("withdrawal").status == "missing"
    assert check.item("programme_amendment").status == "missing"


def test_rete_soggetto_without_fund_or_body_is_an_error() -> None:
    check = checklist.build(_body(kind="rete_soggetto"))
    messages = [p.message for p in check.errors]
    assert "A rete-soggetto must have a common fund." in messages
    assert "A rete-soggetto must have a common body." in messages
    assert check.item("network_identity").status == "missing"
    assert "rete-soggetto" in check.item("network_identity").reason


def test_the_kind_sets_the_allowed_forms() -> None:
    soggetto = _body(kind="rete_soggetto", form="digital_signatures",
                     common_fund={"present": True}, common_body={"present": True})
    assert [p.key for p in checklist.build(soggetto).errors] == ["form"]
    assert checklist.allowed_forms(soggetto) == (
        "notarial_deed", "authenticated_private_deed", "digital_signatures_authenticated")
    contratto = _body(form="digital_signatures")
    assert checklist.build(contratto).errors == []


def test_tax_undertaking_applies_with_the_standard_model_only() -> None:
    assert checklist.build(_body(form="digital_signatures")).item(
        "tax_registration").status == "missing"
    assert checklist.build(_body(form="notarial_deed")).item(
        "tax_registration").status == "not_applicable"
    done = _body(form="digital_signatures",
                 tax_registration={"name": "Anna Bianchi", "tax_code": cf(0)})
    assert checklist.build(done).item("tax_registration").status == "present"


def test_indicators_need_baseline_target_and_date() -> None:
    body = _body(objectives=[{"text": "Export", "indicators": [{"indicator": "Fatturato estero",
                                                                "target": "10%"}]}])
    item = checklist.build(body).item("progress_measures")
    assert item.status == "missing"
    assert item.missing == ["objective 1, indicator 1: baseline, date"]
