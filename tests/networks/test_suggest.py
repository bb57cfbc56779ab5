"""Network suggestion on hand-made pools: stages filled, roles explained, limits respected."""

import pytest

from matchmaker.networks import service
from tests.networks.helpers import make_firm


def _at(comune: str, province: str) -> dict:
    return {"comune_istat": None, "comune": comune, "province": province}


@pytest.fixture()
def bergamo(db):
    """A builder in Bergamo; near it more builders, and one firm for each other stage."""
    seed = make_firm(
        db,
        name="Edile Orobica",
        ateco="41.20.00",
        **_at("Bergamo", "BG"),
        needs="Cerchiamo posa di pavimenti e intonaci per le finiture",
    )
    twins = [
        make_firm(db, name=f"Costruzioni Gemelle {i}", ateco="41.20.00", **_at("Bergamo", "BG"))
        for i in range(4)
    ]
    stages = {
        "development_design": make_firm(
            db, name="Studio Tecnico Alfa", ateco="71.12.10", **_at("Seriate", "BG")
        ),
        "site_preparation": make_firm(
            db, name="Scavi Bergamaschi", ateco="43.12.00", **_at("Dalmine", "BG")
        ),
        "installation": make_firm(
            db, name="Impianti Lombardi", ateco="43.21.01", **_at("Seriate", "BG")
        ),
        "finishing": make_firm(
            db,
            name="Finiture Treviglio",
            ateco="43.31.00",
            **_at("Treviglio", "BG"),
            offers="Posa di pavimenti, intonaci e finiture interne",
        ),
        "materials": make_firm(
            db, name="Prefabbricati Brescia", ateco="23.61.00", **_at("Brescia", "BS")
        ),
        "real_estate": make_firm(
            db, name="Immobiliare Colleoni", ateco="68.10.00", **_at("Bergamo", "BG")
        ),
    }
    far = make_finishing_far(db)
    return seed, twins, stages, far


def make_finishing_far(db):
    return make_firm(db, name="Finiture Palermo", ateco="43.31.00", **_at("Palermo", "PA"))


def test_network_covers_every_stage_of_the_chain(db, bergamo):
    seed, _twins, stages, _far = bergamo
    s = service.suggest(db, seed=seed, viewer=None, size=7)
    assert s.chain_key == "construction"
    names = [m.firm.name for m in s.members]
    assert names[0] == "Edile Orobica" and s.members[0].role == "promoter"
    # Six other stages, six slots: every stage gets its firm, no second builder.
    for firm in stages.values():
        assert firm.name in names
    assert not any(n.startswith("Costruzioni Gemelle") for n in names)
    assert [k for k, _n in s.uncovered] == []
    assert len({m.firm.partita_iva for m in s.members}) == len(s.members) == 7


def test_a_missing_stage_is_filled_before_a_closer_duplicate(db, bergamo):
    seed, _twins, _stages, _far = bergamo
    s = service.suggest(db, seed=seed, viewer=None, size=2)
    # One slot: the builders next door fit well, but finishing answers the seeker's needs
    # and covers a stage nobody covers.
    chosen = s.members[1]
    assert chosen.firm.name == "Finiture Treviglio"
    finishing = service.stage_name("construction", "finishing")
    assert f"covers stage: {finishing}" in chosen.roles, chosen.roles
    assert any(r.startswith("offers:") and "pavimenti" in r for r in chosen.roles)
    assert "pavimenti" in " ".join(s.needs_covered)


def test_open_slot_of_an_existing_network_gets_the_missing_stage(db, bergamo, make_user):
    seed, _twins, stages, _far = bergamo
    user = make_user("owner", firms=[seed.id])
    members = [(f, k, "") for k, f in stages.items() if k != "finishing"]
    network = service.create_network(
        db, seed=seed, user=user, chain_key="construction", members=members
    )
    slots = service.open_slots(db, network=network, viewer=user)
    assert slots is not None
    assert [k for k, _n, _c in slots.open_slots] == ["finishing"]
    firms = [c.firm.name for c in slots.open_slots[0][2]]
    assert firms[0] == "Finiture Treviglio" and "Finiture Palermo" in firms


def test_alternatives_per_slot_and_radius(db, bergamo):
    seed, _twins, _stages, _far = bergamo
    s = service.suggest(db, seed=seed, viewer=None, size=4, radius_km=80)
    names = {m.firm.name for m in s.members}
    assert "Finiture Palermo" not in names
    for m in s.members[1:]:
        assert 1 <= len(m.alternatives) <= 3
        assert all(a.firm.name not in names for a in m.alternatives)
        assert all(a.firm.distance_km <= 80 for a in m.alternatives)
    assert all(m.firm.distance_km <= 80 for m in s.members)
    assert s.candidates >= 1 and s.seconds < 5


def test_horizontal_goal_prefers_same_trade(db, bergamo):
    seed, _twins, _stages, _far = bergamo
    vertical = service.suggest(db, seed=seed, viewer=None, size=3, goal="innovation")
    horizontal = service.suggest(db, seed=seed, viewer=None, size=3, goal="joint_purchasing")
    twins_in = lambda s: sum(m.firm.name.startswith("Costruzioni Gemelle") for m in s.members)
    assert twins_in(horizontal) > twins_in(vertical)


@pytest.mark.parametrize(
    ("kwargs", "field"),
    [
        ({"size": 1}, "size"),
        ({"size": 11}, "size"),
        ({"goal": "world_domination"}, "goal"),
        ({"chain_key": "nope"}, "chain"),
        ({"radius_km": 0}, "radius_km"),
    ],
)
def test_bad_input_is_refused_with_the_field(db, bergamo, kwargs, field):
    seed = bergamo[0]
    with pytest.raises(service.NetworkError) as err:
        service.suggest(db, seed=seed, viewer=None, **{"size": 5, **kwargs})
    assert err.value.field == field
