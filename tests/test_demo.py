"""The demo dataset: the pure generator (reproducible, valid, realistic) and seed_demo."""

from collections import Counter

import pytest
from sqlalchemy import func, select
from stdnum.it import iva

from matchmaker import demo, demo_data
from matchmaker.firms.schemas import GOALS, LEGAL_FORMS, sme_class, validate_firm
from matchmaker.refdata import ateco, places


@pytest.fixture(scope="module")
def firms() -> list[dict]:
    """2,000 generated firm dicts (seed 42)."""
    return demo.generate_firms(2000, 42)


def test_vocabularies_are_valid():
    demo.check_vocabularies()


def test_same_seed_same_firms_other_seed_other_firms():
    a = demo.generate_firms(60, 7)
    b = demo.generate_firms(60, 7)
    c = demo.generate_firms(60, 8)
    assert [f["partita_iva"] for f in a] == [f["partita_iva"] for f in b]
    assert [f["name"] for f in a] == [f["name"] for f in b]
    assert a == b
    assert [f["partita_iva"] for f in a] != [f["partita_iva"] for f in c]


def test_partita_iva_valid_unique_with_provincial_office(firms):
    pivas = [f["partita_iva"] for f in firms]
    assert len(set(pivas)) == len(pivas)
    for f in firms:
        assert iva.validate(f["partita_iva"]) == f["partita_iva"]
        office = f["comune_istat"][:3]
        if office <= "100":
            assert f["partita_iva"][7:10] == office


def test_partita_iva_of_newer_provinces_uses_parent_office():
    monza = places.find("Lissone", "MB")
    piva = demo.partita_iva(1234567, monza.istat)
    assert piva[7:10] == "015"
    assert iva.validate(piva) == piva


def test_names_unique_and_legal_form_matches_name(firms):
    names = [f["name"].casefold() for f in firms]
    assert len(set(names)) == len(names)
    for f in firms:
        form = f["legal_form"]
        assert form in LEGAL_FORMS
        if form in ("S.r.l.", "S.r.l.s.", "S.p.A.", "S.n.c.", "S.a.s."):
            assert f["name"].endswith(form), f["name"]
        elif form == "Ditta individuale":
            assert " di " in f["name"]
        elif form == "Società semplice":
            assert "Agr" in f["name"]
        elif form == "Società cooperativa":
            assert "Coop" in f["name"] or "Cooperativ" in f["name"], f["name"]


def test_every_code_and_comune_exists(firms):
    for f in firms:
        assert f["ateco_edition"] == "2022"
        ateco.parse(f["ateco"], "2022")
        assert len(f["ateco_secondary"]) <= 2
        assert f["ateco"] not in f["ateco_secondary"]
        for code in f["ateco_secondary"]:
            ateco.parse(code, "2022")
        assert places.get(f["comune_istat"]) is not None


def test_every_generated_firm_passes_validation(firms):
    for f in firms[:300]:
        validate_firm({k: v for k, v in f.items() if not k.startswith("_")})


def test_ceramics_are_in_modena_and_reggio_emilia(firms):
    ceramics = [f for f in firms if f["_sector"] in ("ceramics", "ceramic_glazes",
                                                     "ceramic_machinery")]
    assert len(ceramics) >= 10
    tiles = [f for f in firms if f["ateco"].startswith("23.31")]
    assert tiles
    for f in ceramics + tiles:
        assert places.get(f["comune_istat"]).province in ("MO", "RE")


def test_name_description_and_offers_fit_the_code(firms):
    checked = 0
    for f in firms:
        profile = demo_data.PROFILES.get(f["_sector"], {}).get(f["ateco"])
        if not profile:
            continue
        checked += 1
        if "activities" in profile:
            assert any(a in f["description"] for a in profile["activities"]), f
    assert checked > len(firms) * 0.8
    kitchens = [f for f in firms if f["ateco"] == "31.02.00"]
    assert kitchens
    assert not any("materass" in f["offers"] or "divani" in f["offers"] for f in kitchens)
    bars = [f for f in firms if f["ateco"] == "56.30.00"]
    assert bars and all(f["name"].startswith(("Bar ", "Caffè ")) for f in bars)


def test_local_products_and_no_beach_clubs_inland(firms):
    langhe = [f for f in firms if f["_district"] == "langhe_wine"]
    assert langhe and not any(f["ateco"] == "93.29.20" for f in langhe)
    valpolicella_wine = [f["offers"] for f in firms
                         if f["_district"] == "valpolicella_wine" and f["_sector"] == "wine"]
    assert any("Amarone" in o or "Valpolicella" in o for o in valpolicella_wine)


def test_districts_and_background_split(firms):
    in_district = sum(1 for f in firms if f["_district"])
    assert 0.52 <= in_district / len(firms) <= 0.68
    brianza = [f for f in firms if f["_district"] == "brianza_furniture"]
    assert Counter(f["_sector"] for f in brianza).most_common(1)[0][0] == "furniture"
    assert {places.get(f["comune_istat"]).province for f in brianza} <= {"MB", "CO"}
    background = Counter(f["_sector"] for f in firms if not f["_district"])
    assert set(background) <= set(demo_data.BACKGROUND_MIX)
    regions = {places.get(f["comune_istat"]).region_code for f in firms if not f["_district"]}
    assert len(regions) >= 18


def test_size_mix_and_turnover_consistent(firms):
    classes = Counter(sme_class(f["employees"], f["turnover_eur"]) for f in firms)
    share = {k: v / len(firms) for k, v in classes.items()}
    assert 0.70 <= share["micro"] <= 0.90
    assert 0.10 <= share["small"] <= 0.25
    assert classes["medium"] > 0
    without = sum(1 for f in firms if f["turnover_eur"] is None)
    assert 0.03 <= without / len(firms) <= 0.25
    for f in firms:
        assert f["employees"] >= 1
        if f["turnover_eur"] is not None:
            per_head = f["turnover_eur"] / f["employees"]
            assert 10_000 <= per_head <= 2_000_000, f


def test_texts_goals_contacts_visibility(firms):
    with_texts = sum(1 for f in firms if f["offers"] and f["needs"])
    assert with_texts / len(firms) >= 0.85
    assert all(f["description"] for f in firms)
    offers = {f["offers"] for f in firms if f["offers"]}
    assert len(offers) > len(firms) * 0.6  # varied, not a handful of fixed texts
    for f in firms:
        assert 1 <= len(f["goals"]) <= 4 and set(f["goals"]) <= set(GOALS)
    vis = Counter(f["visibility"] for f in firms)
    assert 0.85 <= vis["public"] / len(firms) <= 0.95
    assert vis["association"] and vis["hidden"]
    assert sum(1 for f in firms if f["email"]) / len(firms) > 0.9


def test_needs_name_what_other_sectors_offer(firms):
    offered = {p for s in demo_data.SECTORS.values() for p in s["offers"]}
    furniture_needs = demo_data.SECTORS["furniture"]["needs"]
    assert "fornitore di tessuti per imbottiti" in furniture_needs
    assert "tessuti per imbottiti e rivestimenti d'arredo" in offered
    matched = sum(1 for s in demo_data.SECTORS.values() for n in s["needs"] if n in offered)
    assert matched >= 40


def test_seed_demo_writes_firms_users_and_memberships(db):
    from matchmaker.accounts.models import FirmMembership, User
    from matchmaker.firms.models import Firm

    calls: list[tuple[int, int]] = []
    summary = demo.seed_demo(db, firms=150, seed=3, progress=lambda d, t: calls.append((d, t)))
    assert db.scalar(select(func.count()).select_from(Firm)) == 150
    assert calls[-1] == (150, 150)
    assert summary.firms == 150
    text = summary.describe()
    assert "150 firms" in text and "titolare@demo.matchmaker.it" in text

    emails = set(db.scalars(select(User.email)))
    for email, _role, _name in demo_data.DEMO_ACCOUNTS:
        assert email in emails
    owner = db.scalar(select(User).where(User.email == demo_data.DEMO_OWNER_EMAIL))
    assert owner.role == "owner"
    owned = db.scalars(
        select(Firm).join(FirmMembership, FirmMembership.firm_id == Firm.id)
        .where(FirmMembership.user_id == owner.id, FirmMembership.role == "owner")
    ).all()
    assert len(owned) == demo_data.DEMO_OWNER_FIRMS
    assert all(f.province in ("MB", "CO") for f in owned)
    extra = db.scalars(select(User).where(User.email.in_(summary.owners))).all()
    assert len(extra) == len(summary.owners) >= 1
    for user in extra:
        assert user.role == "owner"
        provinces = db.scalars(
            select(Firm.province).join(FirmMembership, FirmMembership.firm_id == Firm.id)
            .where(FirmMembership.user_id == user.id)
        ).all()
        assert 1 <= len(provinces) <= 3 and len(set(provinces)) == 1

    with pytest.raises(ValueError, match="already has firms"):
        demo.seed_demo(db, firms=10, seed=3)
