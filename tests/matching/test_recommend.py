"""Partner suggestions on hand-made firms: components, constraints, reciprocity, explanations."""

import numpy as np
import pytest

from matchmaker.firms import service as firms_service
from matchmaker.firms.schemas import validate_firm
from matchmaker.matching import service
from matchmaker.matching.features import FirmRecord, build_arrays
from matchmaker.matching.fit import seed_query
from matchmaker.matching.model import COMPONENTS, load_model
from matchmaker.matching.scoring import io_link_matrix, score_all, top_k
from tests.firms.helpers import firm_payload

_serial = iter(range(100, 10_000))


@pytest.fixture(autouse=True)
def _english():
    """These tests read the reasons in English."""
    from matchmaker.i18n import current_language

    token = current_language.set("en")
    yield
    current_language.reset(token)


def _firm(db, **over):
    base = {"ateco_edition": "2022", "goals": [], "offers": "", "needs": "", "employees": None,
            "turnover_eur": None}
    payload = firm_payload(next(_serial), **{**base, **over})
    return firms_service.create_firm(db, data=validate_firm(payload))


@pytest.fixture()
def brianza(db):
    """A furniture maker in Lissone that needs upholstery fabric and water-based varnish."""
    seeker = _firm(db, name="Mobilificio Brambilla", ateco="31.09.10", comune_istat="108028",
                   needs="Cerchiamo tessuti per imbottiti e vernici all'acqua per il legno",
                   offers="Divani e poltrone su misura")
    como = _firm(db, name="Finissaggio Lariano", ateco="13.30", comune=None, comune_istat="013075",
                 offers="Finissaggio e nobilitazione di tessuti per imbottiti e arredamento")
    monza = _firm(db, name="Colorificio Monzese", ateco="20.30", comune_istat="108033",
                  offers="Produzione di vernici all'acqua e impregnanti per il legno",
                  needs="Cerchiamo produttori di divani e poltrone come clienti")
    sicily = _firm(db, name="Mobili Palermitani", ateco="31.09.10", comune_istat="082053",
                   offers="Mobili in legno su misura")
    return seeker, como, monza, sicily


def test_complementary_suppliers_nearby_outrank_a_distant_same_sector_firm(db, brianza):
    seeker, _como, _monza, _sicily = brianza
    result = service.recommend(db, firm=seeker, viewer=None, limit=10)
    names = [s.name for s in result.items]
    assert names.index("Finissaggio Lariano") < names.index("Mobili Palermitani")
    assert names.index("Colorificio Monzese") < names.index("Mobili Palermitani")
    top = result.items[0]
    assert set(top.components) == set(COMPONENTS)
    assert all(0.0 <= v <= 1.0 for v in top.components.values())
    assert sum(top.contributions.values()) == pytest.approx(top.score, abs=2e-3)
    assert abs(sum(result.weights.values()) - 1.0) < 1e-6


def test_reasons_name_the_evidence(db, brianza):
    seeker, _como, _monza, _sicily = brianza
    items = {s.name: s for s in service.recommend(db, firm=seeker, viewer=None).items}
    monza_reasons = " ".join(items["Colorificio Monzese"].reasons)
    assert "vernici" in monza_reasons  # they offer what you need, in the owner's words
    assert "They need what you offer" in monza_reasons  # reciprocal
    assert "in your province" in monza_reasons
    sicily_reasons = " ".join(items["Mobili Palermitani"].reasons)
    assert "Same activity" in sicily_reasons and "km away" in sicily_reasons


def test_reciprocal_match_outranks_one_sided_match(db):
    seeker = _firm(db, ateco="25.62", needs="trattamenti galvanici", offers="lavorazioni cnc")
    one_way = _firm(db, ateco="25.61", offers="trattamenti galvanici")
    both = _firm(db, ateco="25.61", offers="trattamenti galvanici", needs="lavorazioni cnc")
    items = service.recommend(db, firm=seeker, viewer=None).items
    score = {s.partita_iva: s for s in items}
    assert score[both.partita_iva].components["needs_offers"] > score[one_way.partita_iva].components["needs_offers"]
    assert items[0].partita_iva == both.partita_iva


def test_constraints_self_hidden_radius_exclusions_and_same_owner(db, brianza, make_user):
    seeker, como, monza, sicily = brianza
    _firm(db, name="Nascosta", ateco="13.30", comune_istat="108028", visibility="hidden")
    owner = make_user("owner", firms=[seeker.id])
    sister = _firm(db, name="Sorella", ateco="13.30", comune_istat="108028")
    from matchmaker.accounts import service as accounts_service

    accounts_service.add_firm_member(db, user=owner, firm_id=sister.id, role="owner")
    service.add_exclusion(db, firm=seeker, other=monza, kind="competitor", user=owner)
    db.flush()
    names = [s.name for s in service.recommend(db, firm=seeker, viewer=owner, limit=50).items]
    assert seeker.name not in names and "Nascosta" not in names and "Sorella" not in names
    assert "Colorificio Monzese" not in names and "Finissaggio Lariano" in names
    near = [s.name for s in service.recommend(db, firm=seeker, viewer=owner, radius_km=100).items]
    assert "Mobili Palermitani" not in near and "Finissaggio Lariano" in near
    why = service.explain(db, firm=seeker, other=sicily, viewer=owner, radius_km=100)
    assert why.rank is None and any("beyond your 100 km" in e for e in why.excluded_because)
    why = service.explain(db, firm=seeker, other=monza, viewer=owner)
    assert any("competitor" in e for e in why.excluded_because) and why.score > 0
    why = service.explain(db, firm=seeker, other=sister, viewer=owner)
    assert any("same owner" in e for e in why.excluded_because)
    why = service.explain(db, firm=seeker, other=como, viewer=owner)
    assert why.excluded_because == [] and why.rank == 1


def test_filters_goal_sector_size(db, brianza):
    seeker, _como, _monza, _sicily = brianza
    _firm(db, name="Con obiettivo", ateco="16.23", comune_istat="108028", goals=["training"],
          employees=60, turnover_eur=12_000_000)
    by_goal = service.recommend(db, firm=seeker, viewer=None, goal="training").items
    assert [s.name for s in by_goal] == ["Con obiettivo"]
    by_sector = service.recommend(db, firm=seeker, viewer=None, sector="20").items
    assert [s.name for s in by_sector] == ["Colorificio Monzese"]
    by_size = service.recommend(db, firm=seeker, viewer=None, size="medium").items
    assert [s.name for s in by_size] == ["Con obiettivo"]
    with pytest.raises(service.MatchingError):
        service.recommend(db, firm=seeker, viewer=None, goal="world_domination")


def test_index_follows_changes_without_restart(db, brianza):
    seeker, _como, _monza, sicily = brianza
    assert any(s.name == "Mobili Palermitani" for s in service.recommend(db, firm=seeker, viewer=None).items)
    firms_service.delete_firm(db, firm=sicily)
    newcomer = _firm(db, name="Nuova Tappezzeria", ateco="13.92", comune_istat="108028",
                     offers="tessuti per imbottiti")
    names = [s.name for s in service.recommend(db, firm=seeker, viewer=None).items]
    assert "Mobili Palermitani" not in names and "Nuova Tappezzeria" in names
    firms_service.patch_firm(db, firm=newcomer, changes={"comune_istat": "082053"})
    item = next(s for s in service.recommend(db, firm=seeker, viewer=None).items
                if s.name == "Nuova Tappezzeria")
    assert item.comune == "Palermo"


def test_empty_texts_score_zero_without_error():
    recs = [FirmRecord(id=i, partita_iva=f"{i:011d}", name=f"F{i}", ateco_code="25.62",
                       ateco_edition="2022", comune_istat="015146") for i in range(1, 6)]
    a = build_arrays(recs)
    model = load_model()
    scored = score_all(a, seed_query(a, 0), model,
                       io_link_matrix(None, None, model.io_scale, len(model.divisions)))
    assert np.all(scored.components["needs_offers"] == 0)
    assert np.isneginf(scored.total[0])  # never itself
    assert list(top_k(scored, 10, a.tiebreak)) != [] and 0 not in top_k(scored, 10, a.tiebreak)


def test_batch_gives_an_error_for_unknown_seeds(db, brianza):
    seeker, *_ = brianza
    rows = service.recommend_batch(db, pivas=[seeker.partita_iva, "00000000000"], top=2)
    assert rows[0]["seed"] == seeker.partita_iva and len(rows[0]["partners"]) == 2
    assert rows[0]["scores"] == sorted(rows[0]["scores"], reverse=True)
    assert rows[1] == {"seed": "00000000000", "error": "not registered"}
