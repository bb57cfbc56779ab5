"""Firm registry services: validation against reference data, SME class, updates, search."""

import pytest
from sqlalchemy import func, select

from matchmaker.firms import service
from matchmaker.firms.models import Firm
from matchmaker.firms.schemas import FirmInvalid, sme_class, validate_firm
from tests.firms.helpers import firm_payload, piva


def _create(db, serial=1, **over):
    return service.create_firm(db, data=validate_firm(firm_payload(serial, **over)))


def test_register_firm_resolves_comune_sector_and_size(db):
    firm = _create(db, partita_iva="IT " + piva(1))
    assert firm.partita_iva == piva(1)
    assert (firm.comune_name, firm.province, firm.region_code) == ("Lissone", "MB", "03")
    assert firm.sector_division == "31"
    assert firm.sme_class == "small"
    assert sorted(firm.goals) == ["innovation", "joint_purchasing"]


@pytest.mark.parametrize(
    ("employees", "turnover", "expected"),
    [(0, 0, "micro"), (9, 2_000_000, "micro"), (9, 2_000_001, "small"), (10, 0, "small"),
     (49, 10_000_000, "small"), (50, 1, "medium"), (249, 50_000_000, "medium"),
     (250, 0, "large"), (5, 60_000_000, "large"), (None, None, None)],
)
def test_sme_class_follows_eu_recommendation(employees, turnover, expected):
    assert sme_class(employees, turnover) == expected


@pytest.mark.parametrize(
    ("field", "value", "expected_in_message"),
    [
        ("partita_iva", "00743110158", "check digit"),
        ("partita_iva", "123", "11 digits"),
        ("ateco", "99.99.99", "99.99.99"),
        ("ateco", "C", "division"),
        ("ateco", "", "required"),
        ("comune_istat", "999999", "999999"),
        ("employees", -3, "greater than or equal"),
        ("name", "x" * 201, "200"),
        ("goals", ["world_domination"], "innovation"),
        ("email", "not-an-email", "e-mail"),
    ],
)
def test_bad_input_is_rejected_naming_the_field(db, field, value, expected_in_message):
    with pytest.raises(FirmInvalid) as exc:
        validate_firm(firm_payload(**{field: value}))
    assert field in exc.value.errors
    assert expected_in_message in exc.value.errors[field]


def test_unknown_comune_name_and_homonyms_need_a_province(db):
    payload = firm_payload(comune_istat=None, comune="Castro")
    with pytest.raises(FirmInvalid) as exc:
        validate_firm(payload)
    assert "BG" in exc.value.errors["comune"] and "LE" in exc.value.errors["comune"]
    firm = service.create_firm(db, data=validate_firm({**payload, "province": "LE"}))
    assert firm.province == "LE"
    with pytest.raises(FirmInvalid) as exc:
        validate_firm(firm_payload(comune_istat=None, comune="Atlantide"))
    assert "comune" in exc.value.errors


def test_duplicate_partita_iva_is_refused_and_nothing_is_written(db):
    _create(db, 1)
    with pytest.raises(FirmInvalid) as exc:
        _create(db, 1, name="Another name")
    assert "already registered" in exc.value.errors["partita_iva"]
    assert db.scalar(select(func.count()).select_from(Firm)) == 1


def test_ateco_editions_are_kept_apart(db):
    # 25.62.00 is general machining in 2022 but locks and hinges in 2025.
    a = validate_firm(firm_payload(ateco="256200", ateco_edition="2022"))
    b = validate_firm(firm_payload(ateco="25.62.00", ateco_edition=None))
    assert (a.ateco.code, a.ateco.edition) == ("25.62.00", "2022")
    assert b.ateco.edition == "2025"
    assert "meccanica" in a.ateco.title.lower()


def test_stale_version_is_a_conflict_not_an_overwrite(db):
    firm = _create(db)
    service.patch_firm(db, firm=firm, changes={"name": "Nuovo Nome S.r.l.", "version": 1})
    assert firm.version == 2
    with pytest.raises(service.FirmConflict):
        service.patch_firm(db, firm=firm, changes={"name": "Old Tab Edit", "version": 1})
    assert firm.name == "Nuovo Nome S.r.l."


def test_patch_changes_only_what_is_sent(db):
    firm = _create(db, ateco_secondary=["16.23.10"])
    service.patch_firm(db, firm=firm, changes={"employees": 300})
    assert firm.sme_class == "large"
    assert [s.code for s in firm.secondary_codes] == ["16.23.10"]
    assert firm.comune_name == "Lissone"


def test_search_filters_and_paging(db):
    for i in range(1, 31):
        _create(db, i, goals=["training"] if i % 2 else ["innovation"],
                comune_istat="108028" if i <= 20 else "037006")
    f = service.FirmFilters(province="MB", goal="training")
    page = service.list_firms(db, filters=f, page=1, per_page=4)
    assert page.total == 10 and page.pages == 3 and len(page.items) == 4
    assert all(x.province == "MB" and "training" in x.goals for x in page.items)
    assert service.list_firms(db, filters=service.FirmFilters(region="08")).total == 10
    assert service.list_firms(db, filters=service.FirmFilters(q="test 7 s.r.l")).total == 1
    assert service.list_firms(db, filters=service.FirmFilters(ateco="31.09")).total == 30
    assert service.list_firms(db, filters=service.FirmFilters(ateco="25")).total == 0


def test_hidden_firms_are_not_listed_except_to_their_owners(db):
    public = _create(db, 1)
    hidden = _create(db, 2, visibility="hidden")
    anon = service.list_firms(db, filters=service.FirmFilters(),
                              visible=service.visibility_clause(see_all=False))
    assert [f.id for f in anon.items] == [public.id]
    owner = service.list_firms(db, filters=service.FirmFilters(),
                               visible=service.visibility_clause(see_all=False,
                                                                 own_firm_ids=[hidden.id]))
    assert {f.id for f in owner.items} == {public.id, hidden.id}


def test_outdated_istat_code_falls_back_to_name_and_province(db):
    # Corigliano-Rossano was created in 2018 with a new code; old files carry 078108.
    data = validate_firm(firm_payload(comune_istat="078108", comune="CORIGLIANO-ROSSANO",
                                      province="CS"))
    assert (data.comune.istat, data.comune.name) == ("078157", "Corigliano-Rossano")
    with pytest.raises(FirmInvalid) as exc:
        validate_firm(firm_payload(comune_istat="078108"))
    assert "078108" in exc.value.errors["comune_istat"]
