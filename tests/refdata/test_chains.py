"""Value chains: the curated file, positions of codes, adjacency and ATECO coverage."""

import json

import pytest

from matchmaker.refdata import ateco, chains
from matchmaker.refdata.chains import ChainError, UnknownChain

REQUIRED = {
    "agrifood",
    "wine",
    "textiles_fashion",
    "leather_footwear",
    "wood_furniture",
    "mechanics_machinery",
    "metalworking",
    "automotive",
    "ceramics_building_materials",
    "construction",
    "tourism_hospitality",
    "ict",
    "logistics",
    "chemicals_plastics",
    "eyewear",
    "jewellery",
    "energy_environment",
    "health_social_care",
}
SUPPORT = {"design", "logistics", "maintenance", "testing", "marketing", "ict", "finance"}


def _stage(code: str, chain_key: str, edition: str = "2022") -> chains.Position:
    found = [p for p in chains.positions(code, edition) if p.chain_key == chain_key]
    assert len(found) == 1, found
    return found[0]


def test_file_is_versioned_and_cites_sources() -> None:
    info = chains.catalogue_info()
    assert info["version"]
    assert any("ISTAT" in text and "2011" in text for text in info["sources"].values())
    for ch in chains.chains():
        assert ch.sources, ch.key
        assert len(ch.stages) >= 3, ch.key


def test_every_required_chain_is_there_with_ordered_stages() -> None:
    keys = {c.key for c in chains.chains()}
    assert keys >= REQUIRED
    for ch in chains.chains():
        assert [s.index for s in ch.stages] == list(range(len(ch.stages)))
        assert ch.stages[0].position == "upstream"
        assert ch.stages[-1].position == "downstream"
        assert {s.position for s in ch.support} == {"support"}
        assert SUPPORT <= {s.key for s in ch.support} | {s.key for s in ch.stages}
        assert ch.name("it") and ch.name("en")


def test_every_ateco_2025_subcategory_is_in_a_chain_or_explicitly_outside() -> None:
    report = chains.coverage_report("2025")
    assert report.total == sum(1 for _ in ateco.all_codes("2025", "subcategory"))
    assert report.unclassified == []
    assert report.ok
    assert report.in_chain + len(report.no_chain) == report.total
    # Public administration is outside every chain, with a reason.
    assert any(code.startswith("84.") for code in report.no_chain)
    assert set(report.by_chain) >= REQUIRED


@pytest.mark.parametrize("edition", ["2022", "2007"])
def test_older_editions_are_covered_too(edition: str) -> None:
    assert chains.coverage_report(edition).unclassified == []


def test_furniture_is_downstream_of_sawmills_in_wood_furniture() -> None:
    sawmill = _stage("16.10.00", "wood_furniture")
    furniture = _stage("31.09.10", "wood_furniture")
    assert sawmill.stage_key == "sawmills"
    assert furniture.stage_key == "furniture"
    assert furniture.stage_index > sawmill.stage_index
    assert (sawmill.position, furniture.position) == ("upstream", "downstream")
    links = chains.stage_adjacency("16.10.00", "31.09.10")
    assert links[0].chain_key == "wood_furniture"
    assert links[0].steps == furniture.stage_index - sawmill.stage_index > 0


def test_longest_prefix_wins_within_a_chain() -> None:
    # 16.29.11 (wooden parts for footwear) is a footwear component, and a wood component.
    assert _stage("16.29.11", "leather_footwear").stage_key == "components"
    assert _stage("16.29.11", "wood_furniture").stage_key == "components"
    # 33.15 (ship repair) is a stage of transport equipment, shared support elsewhere.
    assert _stage("33.15.00", "transport_equipment").position == "downstream"
    assert _stage("33.15.00", "agrifood").stage_key == "maintenance"
    # 01.21 vineyards vs 01 farming in the wine chain.
    assert _stage("01.21.00", "wine").stage_key == "vineyards"
    assert _stage("01.21.00", "agrifood").stage_key == "farming"


def test_specificity_counts_matched_digits() -> None:
    assert _stage("16.10.00", "wood_furniture").specificity == 4
    assert _stage("31.09.10", "wood_furniture").specificity == 2


def test_a_bare_division_matches_every_stage_below_it() -> None:
    found = [p for p in chains.positions("16") if p.chain_key == "wood_furniture"]
    assert {p.stage_key for p in found} == {"sawmills", "components"}
    assert {p.specificity for p in found} == {2}


def test_2025_codes_are_converted_to_2022() -> None:
    # 25.62 is locks and hinges in ATECO 2025 (25.72 in 2022): a furniture component.
    assert _stage("25.62", "wood_furniture", "2025").stage_key == "components"
    # 25.62 in ATECO 2022 is general machining.
    assert _stage("25.62", "metalworking", "2022").stage_key == "forming_machining"
    # A 2025 class with no ISTAT correspondence is matched through the file's override.
    assert chains.positions("46.89.00", "2025")


def test_support_functions_reach_every_chain() -> None:
    found = chains.positions("62.01.00")
    assert {p.chain_key for p in found} == {c.key for c in chains.chains()}
    own = [p for p in found if p.chain_key == "ict"]
    assert own[0].stage_key == "software" and own[0].position == "midstream"
    assert all(p.position == "support" for p in found if p.chain_key != "ict")


def test_adjacent_stages_have_distance_one() -> None:
    links = chains.stage_adjacency("13.10.00", "13.20.00")
    best = links[0]
    assert (best.chain_key, best.distance, best.adjacent) == ("textiles_fashion", 1, True)
    assert chains.stage_distance("13.20.00", "13.10.00") == 1
    # A support link has no distance and sorts after stage links.
    support = chains.stage_adjacency("71.20.10", "31.09.10")
    assert support and all(link.distance is None for link in support)
    assert chains.stage_distance("71.20.10", "31.09.10") is None


def test_codes_outside_every_chain_have_a_reason() -> None:
    assert chains.positions("84.11.10") == []
    assert "administration" in (chains.no_chain_reason("84.11.10") or "").lower()
    assert chains.no_chain_reason("31.09.10") is None
    assert chains.positions("C") == []


def test_unknown_chain_and_malformed_code() -> None:
    with pytest.raises(UnknownChain):
        chains.chain("nope")
    assert chains.chain("wine").stage("vineyards").index == 1
    with pytest.raises(ValueError):
        chains.positions("xx")


def test_bad_prefix_or_position_in_the_file_is_refused() -> None:
    with chains.DATA_FILE.open(encoding="utf-8") as fh:
        data = json.load(fh)
    data["chains"][0]["stages"][0]["ateco"].append("99.99.99")
    with pytest.raises(ChainError, match="99.99.99"):
        chains._build(data)
    with chains.DATA_FILE.open(encoding="utf-8") as fh:
        data = json.load(fh)
    data["chains"][0]["stages"][0]["position"] = "sideways"
    with pytest.raises(ChainError, match="sideways"):
        chains._build(data)
