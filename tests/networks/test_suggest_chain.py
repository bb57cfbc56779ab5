"""Network suggestion from a value chain and a region, with no seed firm (for associations)."""

import numpy as np
import pytest

from matchmaker.matching import index as index_mod
from matchmaker.matching.fit import seed_query
from matchmaker.matching.scoring import score_all
from matchmaker.networks import service
from matchmaker.networks import suggest as planner
from tests.networks.helpers import make_firm

LOMBARD_STAGES = ["development_design", "materials", "site_preparation", "building", "installation"]


def _at(comune: str, province: str) -> dict:
    return {"comune_istat": None, "comune": comune, "province": province}


@pytest.fixture()
def lombardy(db):
    """Construction firms in Lombardy for five of the six stages (no finishing there).

    Just over the border, in Piacenza, a finishing firm that would complete the chain and
    that offers exactly what the builders need; a hidden installer; a far finishing firm.
    """
    needs = "Cerchiamo posa di pavimenti, intonaci e finiture interne"
    firms = {
        "building": make_firm(
            db, name="Edile Orobica", ateco="41.20.00", **_at("Bergamo", "BG"), needs=needs
        ),
        "building_2": make_firm(
            db, name="Costruzioni Gemelle", ateco="41.20.00", **_at("Bergamo", "BG"), needs=needs
        ),
        "development_design": make_firm(
            db, name="Studio Tecnico Alfa", ateco="71.12.10", **_at("Seriate", "BG")
        ),
        "site_preparation": make_firm(
            db, name="Scavi Bergamaschi", ateco="43.12.00", **_at("Dalmine", "BG")
        ),
        "installation": make_firm(
            db, name="Impianti Lombardi", ateco="43.21.01", **_at("Seriate", "BG")
        ),
        "materials": make_firm(
            db, name="Prefabbricati Brescia", ateco="23.61.00", **_at("Brescia", "BS")
        ),
        "outside": make_firm(
            db,
            name="Finiture Piacentine",
            ateco="43.31.00",
            **_at("Piacenza", "PC"),
            offers="Posa di pavimenti, intonaci e finiture interne",
        ),
        "far": make_firm(db, name="Finiture Palermo", ateco="43.31.00", **_at("Palermo", "PA")),
        "hidden": make_firm(
            db,
            name="Impianti Riservati",
            ateco="43.21.01",
            **_at("Bergamo", "BG"),
            visibility="hidden",
        ),
    }
    db.flush()
    return firms


def _names(s: service.Suggestion) -> set[str]:
    out = {m.firm.name for m in s.members}
    out |= {a.firm.name for m in s.members for a in m.alternatives}
    out |= {c.firm.name for _k, _n, cands in s.open_slots for c in cands}
    return out


def test_covers_every_stage_present_in_the_region_and_stays_inside(db, lombardy):
    s = service.suggest_for_chain(
        db, chain_key="construction", region="Lombardia", viewer=None, size=5
    )
    assert s.mode == "chain" and s.chain_key == "construction" and s.area == "Lombardia"
    # Five places, five stages present in Lombardy: each place covers a stage of its own.
    assert sorted(k for k, _n in s.covered) == sorted(LOMBARD_STAGES)
    names = {m.firm.name for m in s.members}
    assert {"Studio Tecnico Alfa", "Prefabbricati Brescia", "Scavi Bergamaschi"} <= names
    assert "Impianti Lombardi" in names
    # One builder, not both: the second would only duplicate a stage.
    assert len(names & {"Edile Orobica", "Costruzioni Gemelle"}) == 1
    # Finishing and real estate have no firm in Lombardy: uncovered, and said so; Piacenza's
    # finisher is not proposed although it covers a stage and answers the builders' needs.
    assert [k for k, _n in s.uncovered] == ["finishing", "real_estate"]
    assert [k for k, _n in s.absent] == ["finishing", "real_estate"]
    assert "Finiture Piacentine" not in _names(s) and "Finiture Palermo" not in _names(s)
    assert all(m.firm.province in ("BG", "BS") for m in s.members)
    assert len(s.members) == len({m.firm.partita_iva for m in s.members}) == 5


def test_anchor_and_roles_are_explained(db, lombardy):
    s = service.suggest_for_chain(
        db, chain_key="construction", region="Lombardia", viewer=None, size=5
    )
    anchor = s.members[0]
    assert anchor.role == "anchor" and s.seed.partita_iva == anchor.firm.partita_iva
    assert anchor.roles[0].startswith("anchor chosen by the planner: covers ")
    assert all(m.role == "member" for m in s.members[1:])
    for m in s.members[1:]:
        assert any(r.startswith("covers stage: ") for r in m.roles), m.roles
        assert len(m.new_stages) == 1
    # Every stage is covered by exactly the member that says so.
    said = [k for m in s.members for k in m.new_stages]
    assert sorted(said) == sorted(LOMBARD_STAGES)


def test_province_limit(db, lombardy):
    s = service.suggest_for_chain(db, chain_key="construction", province="BG", viewer=None, size=6)
    assert {m.firm.province for m in s.members} == {"BG"}
    assert "Prefabbricati Brescia" not in _names(s)
    assert {k for k, _n in s.absent} == {"materials", "finishing", "real_estate"}
    assert s.area == "Bergamo (BG)" and s.province == "BG"


def test_the_outside_firm_would_be_chosen_without_the_limit(db, lombardy):
    # Six places: inside Lombardy the sixth can only be a second builder; with the same firms
    # but no geographic limit, the Piacenza finisher takes it (it covers a missing stage and
    # answers the builders' needs). So the region is what keeps it out.
    inside = service.suggest_for_chain(
        db, chain_key="construction", region="Lombardia", viewer=None, size=6
    )
    assert "Finiture Piacentine" not in _names(inside)
    assert {"Edile Orobica", "Costruzioni Gemelle"} <= {m.firm.name for m in inside.members}
    ids = [f.id for k, f in lombardy.items() if k not in ("far", "hidden")]
    unlimited = service.suggest_for_chain(
        db, chain_key="construction", viewer=None, size=6, restrict_firm_ids=ids
    )
    assert "Finiture Piacentine" in {m.firm.name for m in unlimited.members}
    assert "finishing" in {k for k, _n in unlimited.covered}


def test_hidden_firm_is_never_proposed(db, lombardy, make_user):
    # Only the hidden firm and the public installer are installers; without the public one
    # the stage would be covered only if the hidden firm were proposed.
    viewer = make_user("facilitator")
    s = service.suggest_for_chain(
        db,
        chain_key="construction",
        region="Lombardia",
        viewer=viewer,
        size=6,
        exclude_firm_ids=[lombardy["installation"].id],
    )
    assert "Impianti Riservati" not in _names(s)
    assert "installation" in {k for k, _n in s.absent}
    # Its own owner is not shown it either (the seed path's rule: hidden is never proposed).
    owner = make_user("owner", firms=[lombardy["hidden"].id])
    s = service.suggest_for_chain(
        db, chain_key="construction", region="Lombardia", viewer=owner, size=6
    )
    assert "Impianti Riservati" not in _names(s)


def test_restrict_and_exclude_firm_ids(db, lombardy):
    only = [lombardy[k].id for k in ("building", "installation", "materials")]
    s = service.suggest_for_chain(
        db,
        chain_key="construction",
        region="Lombardia",
        viewer=None,
        size=5,
        restrict_firm_ids=only,
    )
    assert {m.firm.name for m in s.members} == {
        "Edile Orobica",
        "Impianti Lombardi",
        "Prefabbricati Brescia",
    }
    # Without a region, the restriction alone is the limit.
    s = service.suggest_for_chain(
        db, chain_key="construction", viewer=None, size=3, restrict_firm_ids=only[:2]
    )
    assert len(s.members) == 2


@pytest.mark.parametrize(
    ("kwargs", "field"),
    [
        ({"chain_key": ""}, "chain"),
        ({"chain_key": "nope"}, "chain"),
        ({"region": "Atlantide"}, "region"),
        ({"region": None, "province": "ZZ"}, "province"),
        ({"province": "PA"}, "province"),  # Palermo is not in Lombardy
        ({"region": None}, "region"),
        ({"chain_key": "eyewear"}, "region"),  # no eyewear firm in Lombardy
        ({"size": 11}, "size"),
        ({"goal": "world_domination"}, "goal"),
    ],
)
def test_bad_input_is_refused_with_the_field(db, lombardy, kwargs, field):
    args = {"chain_key": "construction", "region": "Lombardia", "viewer": None, "size": 5}
    with pytest.raises(service.NetworkError) as err:
        service.suggest_for_chain(db, **{**args, **kwargs})
    assert err.value.field == field, str(err.value)


def test_no_firm_error_names_chain_and_area(db, lombardy):
    with pytest.raises(service.NetworkError) as err:
        service.suggest_for_chain(
            db, chain_key="construction", region="Molise", viewer=None, size=3
        )
    assert "Molise" in str(err.value) and "Construction" in str(err.value)


def test_region_by_code_and_province_by_name(db, lombardy):
    a = service.suggest_for_chain(db, chain_key="construction", region="03", viewer=None)
    b = service.suggest_for_chain(db, chain_key="construction", province="bergamo", viewer=None)
    assert a.region == "Lombardia" and b.province == "BG"


def test_restricted_pool_scores_like_the_whole_pool(db, lombardy):
    """`take` keeps pool-level tables, so a pair scores the same in the restricted pool."""
    idx = index_mod.get_index(db)
    a = idx.arrays
    rows = np.array(sorted(a.row_of[f.id] for f in lombardy.values()), dtype=np.int64)
    sub = planner.take(a, rows)
    for i, r in enumerate(rows[:3]):
        full = score_all(a, seed_query(a, int(r)), idx.model, idx.io_link).total[rows]
        part = score_all(sub, seed_query(sub, i), idx.model, idx.io_link).total
        np.testing.assert_allclose(part, full, rtol=1e-6)


def test_every_stage_stays_on_a_short_shortlist(db, lombardy, monkeypatch):
    """A large pool keeps only the anchor's best firms plus the best of every stage."""
    monkeypatch.setattr(planner, "CHAIN_SHORTLIST", 1)
    s = service.suggest_for_chain(
        db, chain_key="construction", region="Lombardia", viewer=None, size=5
    )
    assert sorted(k for k, _n in s.covered) == sorted(LOMBARD_STAGES)
    assert s.candidates == 6  # the area's visible chain firms (not the hidden one)
