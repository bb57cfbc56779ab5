"""Personal data: a user's part in contracts is exported; deleting the account keeps the
text of signed contracts and drops the person's name from the records."""

from datetime import date

from matchmaker.accounts import service as accounts_service
from matchmaker.contracts import service
from matchmaker.contracts.schemas import TransitionIn
from tests.contracts.helpers import complete_contract, make_firms


def test_export_and_deletion_keep_signed_contract_text(db, make_user) -> None:
    service.install_account_hooks()  # other tests may have cleared the registry
    fac = make_user("facilitator", full_name="Fabio Facilitatore")
    firms = make_firms(db, 2)
    c = complete_contract(db, fac, firms)
    rep = make_user("owner", firms=[firms[0].id], firm_role="representative",
                    full_name="Anna Bianchi")
    other = make_user("owner", firms=[firms[1].id], firm_role="representative")
    service.transition(db, contract=c, data=TransitionIn(to="in_review"), actor=fac)
    service.approve(db, contract=c, partita_iva=firms[0].partita_iva, version=c.version, user=rep)
    service.approve(db, contract=c, partita_iva=firms[1].partita_iva, version=c.version,
                    user=other)
    service.transition(db, contract=c, data=TransitionIn(
        to="signed", signed_on=date.today(), notary="Notaio Conti"), actor=fac)

    exported = accounts_service.export_user_data(db, user=fac)["contracts"]
    assert exported[0]["id"] == c.id and exported[0]["roles"] == ["author", "creator",
                                                                  "facilitator"]
    assert exported[0]["versions_authored"] == [1, 2]
    mine = accounts_service.export_user_data(db, user=rep)["contracts"]
    assert mine[0]["approvals"][0]["partita_iva"] == firms[0].partita_iva

    before = service.export_document(db, contract=c, fmt="md", draft=False)
    fac_id = fac.id
    accounts_service.delete_account(db, user=fac)
    accounts_service.delete_account(db, user=rep)
    db.expire_all()
    kept = service.get_contract(db, c.id)
    assert kept is not None and kept.status == "signed"
    assert service.export_document(db, contract=kept, fmt="md", draft=False) == before
    assert {v.author_label for v in service.versions(db, kept)} == {f"deleted user #{fac_id}"}
    assert kept.created_by_id is None and service.facilitator_ids(kept) == []
    # The approval of a signed contract is part of its record: the name stays.
    assert "Anna Bianchi" in {a.approver_name for a in kept.approvals}
