"""The demo dataset: realistic Italian SMEs placed in industrial districts, plus demo accounts.

`generate_firms` is pure (no database): for a given seed it always returns the same firm
dicts, shaped for `matchmaker.firms.schemas.validate_firm` plus two metadata keys,
``_sector`` and ``_district`` (``None`` for background firms), that `seed_demo` drops.
`seed_demo` validates and writes them, then creates the demo accounts and memberships.

About 60% of firms belong to industrial districts with their typical sector mix (furniture
in Brianza, ceramics in Sassuolo, ...); the rest are background firms (construction,
installers, trade, services, ...) spread over Italy in proportion to comune population.
"""

from __future__ import annotations

import math
import random
import re
import time
import unicodedata
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from functools import lru_cache
from itertools import accumulate
from typing import Any

from sqlalchemy.orm import Session

from matchmaker import demo_data as D

__all__ = [
    "DemoSummary",
    "check_vocabularies",
    "generate_firms",
    "partita_iva",
    "seed_demo",
]

BATCH = 100
SIZE_CLASSES = ("micro", "small", "medium", "large")
SIZE_SHARES = (0.775, 0.16, 0.035, 0.005)
# Ceilings that keep a firm in its EU size class (turnover in EUR).
TURNOVER_CEILING = {"micro": 2_000_000, "small": 10_000_000, "medium": 50_000_000}
DEFAULT_TURNOVER_PER_EMPLOYEE = (80_000, 250_000)
# Provinces created after the partita IVA office codes were fixed (ISTAT code > 100) take
# the code of the province they were carved out of.
PARENT_OFFICE = {"101": "079", "102": "079", "103": "003", "108": "015", "109": "044",
                 "110": "072", "111": "092"}
VISIBILITY_WEIGHTS = {"public": 90, "association": 7, "hidden": 3}
SERVICE_SECTORS = {"tourism", "ict", "logistics", "construction", "installers", "retail",
                   "wholesale", "prof_services", "health_social", "energy", "restaurants",
                   "car_repair"}
SERVICE_OFFER_TAILS = ["in tutta la provincia", "con preventivi gratuiti",
                       "con tempi di risposta rapidi", "per aziende e privati",
                       "anche nel fine settimana", "con personale qualificato"]
SECOND_OFFER_LEADS = ["Inoltre offriamo ", "Proponiamo anche ", "Possiamo anche fornire ",
                      "Ci occupiamo anche di "]
SECOND_NEED_LEADS = ["Inoltre cerchiamo ", "Valutiamo anche ", "Cerchiamo anche ",
                     "Ci farebbe comodo anche "]
GENERATIONS = {2: "seconda", 3: "terza", 4: "quarta"}
_COOP_LIKE = re.compile(r"Cooperativ|Sociale")
_REPEATED_WORD = re.compile(r"\b(\w+) \1\b")


# --------------------------------------------------------------------------- helpers


def _slug(text: str) -> str:
    """Fold to lowercase ASCII letters and digits only (for domains and e-mails)."""
    plain = unicodedata.normalize("NFKD", text.casefold()).encode("ascii", "ignore").decode()
    return re.sub(r"[^a-z0-9]+", "", plain)


def _pick(rng: random.Random, weights: dict[str, float]) -> str:
    """Choose a key of a weights dict."""
    keys = list(weights)
    return rng.choices(keys, weights=[weights[k] for k in keys])[0]


def _sample_weighted(rng: random.Random, weights: dict[str, float], k: int) -> list[str]:
    """Choose k distinct keys, each draw weighted (without replacement)."""
    pool = dict(weights)
    out: list[str] = []
    while pool and len(out) < k:
        key = _pick(rng, pool)
        out.append(key)
        del pool[key]
    return out


def _join_it(parts: Sequence[str]) -> str:
    """Join phrases the Italian way: "a, b e c"."""
    if len(parts) <= 1:
        return "".join(parts)
    last = parts[-1]
    conj = " ed " if last[:1] in "eE" else " e "
    return ", ".join(parts[:-1]) + conj + last


def _a(place: str) -> str:
    """Return "a Lissone" or "ad Arezzo"."""
    return f"ad {place}" if place[:1] in "AaÀà" else f"a {place}"


def _cap(text: str) -> str:
    return text[:1].upper() + text[1:]


def partita_iva(serial: int, istat: str) -> str:
    """Return the partita IVA for a 7-digit serial and the comune's 6-digit ISTAT code."""
    from stdnum import luhn

    office = istat[:3]
    if not "001" <= office <= "100":
        office = PARENT_OFFICE.get(office, "015")
    body = f"{serial:07d}{office}"
    return body + luhn.calc_check_digit(body)


# --------------------------------------------------------------------------- reference data


@dataclass
class _District:
    key: str
    label: str
    weight: float
    mains: list[Any]
    main_cum: list[float]
    neighbours: list[Any]
    neighbour_cum: list[float]
    mix: dict[str, float]
    exclude_codes: tuple[str, ...] = ()


def _town_weight(population: int) -> float:
    return max(population, 1000) ** 0.6


@lru_cache(maxsize=1)
def _geography() -> tuple[list[_District], list[Any], list[float]]:
    """Resolve the districts' comuni and neighbours, and the background population weights."""
    import numpy as np

    from matchmaker.refdata import places

    comuni = places.all_comuni()
    lat = np.radians(np.array([c.lat for c in comuni]))
    lng = np.radians(np.array([c.lng for c in comuni]))
    districts: list[_District] = []
    for spec in D.DISTRICTS:
        mains = [places.find(name, prov) for name, prov in spec["comuni"]]
        main_ids = {c.istat for c in mains}
        provinces = {c.province for c in mains}
        radius = float(spec.get("radius_km", D.DEFAULT_RADIUS_KM))
        near = np.zeros(len(comuni), dtype=bool)
        for c in mains:
            la, ln = math.radians(c.lat), math.radians(c.lng)
            h = (np.sin((lat - la) / 2) ** 2
                 + math.cos(la) * np.cos(lat) * np.sin((lng - ln) / 2) ** 2)
            near |= 2 * 6371.0 * np.arcsin(np.sqrt(np.clip(h, 0, 1))) <= radius
        neighbours = [comuni[i] for i in np.flatnonzero(near)
                      if comuni[i].istat not in main_ids and comuni[i].province in provinces]
        districts.append(_District(
            key=spec["key"], label=spec["label"], weight=float(spec["weight"]), mains=mains,
            main_cum=list(accumulate(_town_weight(c.population) for c in mains)),
            neighbours=neighbours,
            neighbour_cum=list(accumulate(_town_weight(c.population) for c in neighbours)),
            mix=dict(spec["mix"]),
            exclude_codes=tuple(spec.get("exclude_codes", ())),
        ))
    background_cum = list(accumulate(float(c.population) for c in comuni))
    return districts, comuni, background_cum


def check_vocabularies() -> None:
    """Check every ATECO code, comune, sector and goal of the vocabularies, or raise ValueError."""
    from matchmaker.firms.schemas import GOALS, LEGAL_FORMS
    from matchmaker.refdata import ateco, places

    problems: list[str] = []
    for key, sector in D.SECTORS.items():
        for code in [*sector["codes"], *sector["secondary"]]:
            try:
                ateco.parse(code, "2022")
            except ateco.AtecoError as exc:
                problems.append(f"sector {key}: {exc}")
        for goal in sector["goals"]:
            if goal not in GOALS:
                problems.append(f"sector {key}: unknown goal {goal!r}")
        for form in sector.get("forms", {}):
            if form not in LEGAL_FORMS:
                problems.append(f"sector {key}: unknown legal form {form!r}")
        for pool in ("names", "offers", "needs", "activities", "web"):
            if not sector.get(pool):
                problems.append(f"sector {key}: empty {pool}")
    for key, profiles in D.PROFILES.items():
        if key not in D.SECTORS:
            problems.append(f"profiles: unknown sector {key!r}")
            continue
        for code in profiles:
            if code not in D.SECTORS[key]["codes"]:
                problems.append(f"profiles: {code} is not a code of sector {key}")
    mixes = {spec["key"]: spec["mix"] for spec in D.DISTRICTS}
    for district, by_sector in D.LOCAL_OFFERS.items():
        for sector in by_sector:
            if sector not in mixes.get(district, {}):
                problems.append(f"local offers: sector {sector!r} not in district {district!r}")
    for spec in D.DISTRICTS:
        for name, prov in spec["comuni"]:
            try:
                places.find(name, prov)
            except places.PlaceError as exc:
                problems.append(f"district {spec['key']}: {exc}")
        for sector in spec["mix"]:
            if sector not in D.SECTORS:
                problems.append(f"district {spec['key']}: unknown sector {sector!r}")
    for sector in D.BACKGROUND_MIX:
        if sector not in D.SECTORS:
            problems.append(f"background: unknown sector {sector!r}")
    for table in (*D.FORMS_BY_SIZE.values(), D.FARM_FORMS):
        problems += [f"unknown legal form {f!r}" for f in table if f not in LEGAL_FORMS]
    if problems:
        raise ValueError("demo vocabularies are invalid:\n  " + "\n  ".join(problems))


# --------------------------------------------------------------------------- one firm


class _Generator:
    """Draws firms one by one, keeping P.IVA, names and web domains unique."""

    def __init__(self, seed: int):
        self.rng = random.Random(seed)
        self.districts, self.comuni, self.background_cum = _geography()
        self.district_weights = [d.weight for d in self.districts]
        self.pivas: set[str] = set()
        self.names: set[str] = set()
        self.domains: set[str] = set()

    # ------------------------------------------------------------- place and sector

    def place(self) -> tuple[Any, str, _District | None]:
        """Return (comune, sector key, district or None)."""
        rng = self.rng
        if rng.random() < D.DISTRICT_SHARE:
            district = rng.choices(self.districts, weights=self.district_weights)[0]
            if district.neighbours and rng.random() < D.NEIGHBOUR_SHARE:
                comune = rng.choices(district.neighbours, cum_weights=district.neighbour_cum)[0]
            else:
                comune = rng.choices(district.mains, cum_weights=district.main_cum)[0]
            return comune, _pick(rng, district.mix), district
        comune = rng.choices(self.comuni, cum_weights=self.background_cum)[0]
        return comune, _pick(rng, D.BACKGROUND_MIX), None

    # ------------------------------------------------------------- size

    def size(self, sector: dict[str, Any]) -> tuple[str, int, int | None]:
        """Return (size class, employees, turnover or None) consistent with EU classes."""
        rng = self.rng
        scale = float(sector.get("scale", 1.0))
        weights = [SIZE_SHARES[0]] + [s * scale for s in SIZE_SHARES[1:]]
        size = rng.choices(SIZE_CLASSES, weights=weights)[0]
        r = rng.random()
        if size == "micro":
            employees = rng.choices(range(1, 10), weights=[25, 20, 15, 11, 9, 7, 5, 4, 4])[0]
        elif size == "small":
            employees = 10 + int(39 * r ** 1.7)
        elif size == "medium":
            employees = 50 + int(199 * r ** 1.8)
        else:
            employees = 250 + int(2500 * r ** 2.5)
        missing = 0.15 if size == "micro" else 0.05
        if rng.random() < missing:
            return size, employees, None
        low, high = sector.get("turnover", DEFAULT_TURNOVER_PER_EMPLOYEE)
        per_head = rng.uniform(low, high) * rng.lognormvariate(0, 0.25)
        turnover = max(25_000, employees * per_head)
        ceiling = TURNOVER_CEILING.get(size)
        if ceiling is not None and turnover > ceiling:
            turnover = ceiling * rng.uniform(0.8, 0.99)
        return size, employees, int(round(turnover, -3))

    # ------------------------------------------------------------- legal form and name

    def legal_form(self, sector: dict[str, Any], code: str, size: str, employees: int) -> str:
        """Draw a legal form for the firm's size, sector and activity."""
        rng = self.rng
        farm_share = 0.7 if code.startswith("01") else 0.35
        if sector.get("farm") and size in ("micro", "small") and rng.random() < farm_share:
            table = dict(D.FARM_FORMS)
        else:
            table = dict(D.FORMS_BY_SIZE[size])
        for form, extra in sector.get("forms", {}).items():
            table[form] = table.get(form, 0) + extra * (1 if size == "micro" else 3)
        if employees > 5:
            table.pop("Ditta individuale", None)
        if employees > 9:
            table.pop("Società semplice", None)
        return _pick(rng, table)

    def _surnames(self, comune: Any) -> list[str]:
        return D.SURNAMES[D.REGION_SURNAMES.get(comune.region_code, "centro")]

    def person(self, comune: Any) -> tuple[str, str]:
        """Return (first name, surname) typical of the comune's region."""
        rng = self.rng
        pool = self._surnames(comune) if rng.random() < 0.78 else D.COMMON_SURNAMES
        first = rng.choice(D.FIRST_NAMES_M if rng.random() < 0.72 else D.FIRST_NAMES_F)
        return first, rng.choice(pool)

    def _patterns(self, names: list[str], sector: dict[str, Any], form: str) -> list[str]:
        """Return the name patterns that fit a legal form."""
        patterns = list(names)
        if form == "Società cooperativa":
            coop = sector.get("coop_names", []) + [p for p in patterns if _COOP_LIKE.search(p)]
            if coop and self.rng.random() < 0.8:
                patterns = coop
        else:
            patterns = [p for p in patterns if not _COOP_LIKE.search(p)]
        if form in ("Ditta individuale", "Società semplice"):
            patterns = [p for p in patterns
                        if "&" not in p and "F.lli" not in p and "{S2}" not in p]
        return patterns

    def name(self, sector: dict[str, Any], profile: dict[str, Any], form: str, comune: Any,
             year: int) -> tuple[str, str, str]:
        """Return (legal name, short name, web domain without TLD), all unique."""
        rng = self.rng
        for attempt in range(40):
            patterns = (self._patterns(profile.get("names") or sector["names"], sector, form)
                        or self._patterns(sector["names"], sector, form) or sector["names"])
            pattern = rng.choice(patterns)
            first, surname = self.person(comune)
            _, surname2 = self.person(comune)
            if surname2 == surname:
                surname2 = rng.choice(D.COMMON_SURNAMES)
            base = pattern.format(
                S=surname, S2=surname2, F=first, P=comune.name, X=rng.choice(sector["brand"]),
                SAINT=rng.choice(D.SAINTS), BRAND=rng.choice(sector["brand"]),
            )
            base = _REPEATED_WORD.sub(r"\1", base)  # "Villa Villa Rosa" -> "Villa Rosa"
            if attempt >= 20:
                base = f"{base} {comune.name}" if attempt < 30 else f"{base} {year}"
            legal = self._legal_name(base, form, first, surname, "{S}" in pattern)
            key = legal.casefold()
            if key in self.names:
                continue
            self.names.add(key)
            if "{S}" in pattern:
                stem = _slug(surname) + rng.choice(sector["web"])
            else:
                stem = _slug(base)[:40]
            return legal, base, self._domain(stem, comune, year)
        raise RuntimeError("could not draw a unique firm name")  # pragma: no cover

    def _legal_name(self, base: str, form: str, first: str, surname: str,
                    has_surname: bool) -> str:
        rng = self.rng
        if form == "Ditta individuale":
            return f"{base} di {surname} {first}" if has_surname else f"{base} di {first} {surname}"
        if form == "S.n.c.":
            if has_surname and "&" not in base and rng.random() < 0.5:
                return f"{base} & C. S.n.c."
            if not has_surname and rng.random() < 0.5:
                return f"{base} di {surname} & C. S.n.c."
            return f"{base} S.n.c."
        if form == "S.a.s.":
            if "&" not in base and rng.random() < 0.5:
                return f"{base} di {first} {surname} & C. S.a.s."
            return f"{base} S.a.s."
        if form == "Società semplice":
            return base + rng.choice([" Soc. Agr.", " Società Agricola S.s.", " Soc. Agr. S.s."])
        if form == "Società cooperativa":
            if "Cooperativ" in base:
                return base if rng.random() < 0.5 else f"{base} Soc. Coop."
            return base + rng.choice([" Soc. Coop.", " Società Cooperativa"])
        if form == "Consorzio":
            return f"Consorzio {base}"
        if form == "S.r.l." and base.startswith(("Azienda Agricola", "Cantina", "Tenuta")):
            return base + rng.choice([" Soc. Agr. S.r.l.", " S.r.l."])
        return f"{base} {form}"

    def _domain(self, stem: str, comune: Any, year: int) -> str:
        stem = stem or "impresa"
        for candidate in (stem, stem + _slug(comune.name), f"{stem}{year}"):
            if candidate not in self.domains:
                self.domains.add(candidate)
                return candidate
        n = 2
        while f"{stem}{n}" in self.domains:
            n += 1
        self.domains.add(f"{stem}{n}")
        return f"{stem}{n}"

    # ------------------------------------------------------------- texts

    def _phrases(self, pool: Sequence[str], local: Sequence[str] = ()) -> list[str]:
        k = self.rng.choices((1, 2, 3), weights=(42, 40, 18))[0]
        if local and self.rng.random() < 0.6:
            first = self.rng.choice(list(local))
            rest = [p for p in pool if p != first]
            return [first, *self.rng.sample(rest, min(k - 1, len(rest)))]
        return self.rng.sample(list(pool), min(k, len(pool)))

    def offers(self, sector_key: str, sector: dict[str, Any], profile: dict[str, Any],
               code: str, district: _District | None) -> str:
        """Compose an owner-style offers text from the code's or sector's phrase pool."""
        rng = self.rng
        local_pool = D.LOCAL_OFFERS.get(district.key, {}).get(sector_key, {}) if district else {}
        local = [p for p, prefixes in local_pool.items()
                 if not prefixes or code.startswith(prefixes)]
        phrases = self._phrases(profile.get("offers") or sector["offers"], local)
        service = sector_key in SERVICE_SECTORS
        tails = sector.get("tails") or (SERVICE_OFFER_TAILS if service else D.OFFER_TAILS)
        leads = sector.get("leads") or (D.SERVICE_OFFER_LEADS if service else D.OFFER_LEADS)
        tail = f" {rng.choice(tails)}" if rng.random() < 0.3 else ""
        style = rng.random()
        if len(phrases) > 1 and style < 0.25:
            first = rng.choice(leads)
            text = f"{_cap(first + phrases[0])}{tail}. "
            text += f"{rng.choice(SECOND_OFFER_LEADS)}{_join_it(phrases[1:])}."
            return text
        if len(phrases) > 1 and style < 0.45:
            return "; ".join(_cap(p) if i == 0 else p for i, p in enumerate(phrases)) + "."
        return _cap(rng.choice(leads) + _join_it(phrases)) + tail + "."

    def needs(self, sector: dict[str, Any], profile: dict[str, Any], comune: Any) -> str:
        """Compose an owner-style needs text from the sector's (and code's) phrase pool."""
        rng = self.rng
        phrases = self._phrases([*sector["needs"], *profile.get("needs", [])])
        tail = ""
        if rng.random() < 0.3:
            tail = " " + rng.choice(D.NEED_TAILS).format(province=comune.province_name)
        style = rng.random()
        lead = rng.choice(D.NEED_LEADS)
        if len(phrases) > 1 and style < 0.25:
            text = f"{_cap(lead + phrases[0])}{tail}. "
            return text + f"{rng.choice(SECOND_NEED_LEADS)}{_join_it(phrases[1:])}."
        if len(phrases) > 1 and style < 0.4:
            return f"{(lead.strip() or 'Cerchiamo')}: {'; '.join(phrases)}{tail}."
        return _cap(lead + _join_it(phrases)) + tail + "."

    def description(self, sector: dict[str, Any], profile: dict[str, Any], short: str,
                    comune: Any, size: str, year: int, employees: int) -> str:
        """Write one or two sentences presenting the firm."""
        rng = self.rng
        text = rng.choice(D.DESCRIPTION_TEMPLATES).format(
            year=year, comune=comune.name, province=comune.province,
            activity=rng.choice(profile.get("activities") or sector["activities"]),
            kind=rng.choice(sector.get("kinds") or D.KINDS_BY_SIZE[size]),
            short=short, a_comune=_a(comune.name),
        )
        text = _cap(text)
        if rng.random() < 0.55:
            extras = list(profile.get("extras") or sector.get("extras", []))
            generation = min(4, 1 + (2024 - year) // 28)
            if generation >= 2:
                extras.append(f"Oggi l'azienda è guidata dalla {GENERATIONS[generation]} "
                              "generazione della famiglia.")
            if employees >= 3:
                extras.append(f"Contiamo {employees} addetti.")
            if extras:
                text += " " + rng.choice(extras)
        return text

    def goals(self, sector: dict[str, Any], size: str) -> list[str]:
        """Draw 1-4 goals correlated with the sector and the firm's size."""
        from matchmaker.firms.schemas import GOALS

        rng = self.rng
        weights = {g: 0.3 for g in GOALS}
        for goal, w in sector["goals"].items():
            weights[goal] += w
        boost = D.SMALL_FIRM_GOALS if size == "micro" else D.LARGE_FIRM_GOALS
        for goal, factor in boost.items():
            weights[goal] *= factor
        k_weights = {"micro": (45, 35, 15, 5), "small": (25, 35, 25, 15)}.get(
            size, (15, 30, 30, 25))
        k = rng.choices((1, 2, 3, 4), weights=k_weights)[0]
        return sorted(_sample_weighted(rng, weights, k))

    # ------------------------------------------------------------- the firm

    def firm(self) -> dict[str, Any]:
        """Draw one firm dict (validate_firm keys plus _sector and _district)."""
        rng = self.rng
        comune, sector_key, district = self.place()
        sector = D.SECTORS[sector_key]
        excluded = district.exclude_codes if district else ()
        code = _pick(rng, {c: w for c, w in sector["codes"].items() if c not in excluded})
        profile = D.PROFILES.get(sector_key, {}).get(code, {})
        size, employees, turnover = self.size(sector)
        form = self.legal_form(sector, code, size, employees)
        if size == "micro" and form == "Ditta individuale":
            employees = min(employees, rng.randint(1, 4))
            if turnover is not None:
                turnover = min(turnover, int(round(employees * rng.uniform(60_000, 180_000), -3)))
        r = rng.random()
        if size in ("micro", "small"):
            year = 2023 - int(63 * r ** 1.4)
        else:
            year = 2015 - int(70 * r ** 0.8)
        year = max(year, int(sector.get("since", 0)) + rng.randint(0, 10))
        if form == "S.r.l.s.":
            year = rng.randint(2013, 2023)
        legal, short, domain = self.name(sector, profile, form, comune, year)

        others = [c for c in sector["secondary"] if c != code]
        n_secondary = rng.choices((0, 1, 2), weights=(55, 30, 15))[0]
        secondary = rng.sample(others, min(n_secondary, len(others)))

        offers = self.offers(sector_key, sector, profile, code, district)
        needs = self.needs(sector, profile, comune)
        blank = rng.random()
        if blank < 0.05:
            offers, needs = "", ""
        elif blank < 0.08:
            needs = ""
        elif blank < 0.10:
            offers = ""

        email: str | None
        website: str | None
        if size == "micro" and rng.random() < 0.3:
            local = ""
            for word in short.split():
                if local and len(local) + len(_slug(word)) > 24:
                    break
                local += _slug(word)
            email = f"{local}{rng.choice(['', str(year % 100), '.' + str(comune.istat[-2:])])}" \
                    f"@{rng.choice(D.FREE_MAIL)}"
            website = None
        else:
            email = f"{rng.choice(D.EMAIL_LOCALS)}@{domain}.it"
            has_site = rng.random() < (0.6 if size == "micro" else 0.96)
            website = (rng.choice(["www.", "https://www."]) + domain + ".it") if has_site else None
        if rng.random() < 0.04:
            email = None

        serial_base = max(0.0, min(1.0, (year - 1945) / 80))
        serial = int(serial_base * 1_800_000 * rng.uniform(0.85, 1.1)) + rng.randint(1, 99_999)
        piva = partita_iva(serial, comune.istat)
        while piva in self.pivas:
            piva = partita_iva(rng.randint(1, 9_999_999), comune.istat)
        self.pivas.add(piva)

        return {
            "partita_iva": piva,
            "name": legal,
            "legal_form": form,
            "ateco": code,
            "ateco_edition": "2022",
            "ateco_secondary": secondary,
            "comune_istat": comune.istat,
            "employees": employees,
            "turnover_eur": turnover,
            "offers": offers,
            "needs": needs,
            "goals": self.goals(sector, size),
            "email": email,
            "website": website,
            "description": self.description(sector, profile, short, comune, size, year,
                                            employees),
            "visibility": _pick(rng, VISIBILITY_WEIGHTS),
            "_sector": sector_key,
            "_district": district.key if district else None,
        }


def generate_firms(n: int, seed: int) -> list[dict[str, Any]]:
    """Return n demo firm dicts, the same for the same (n, seed); no database needed."""
    if n < 0:
        raise ValueError("the number of firms cannot be negative")
    _check_vocabularies_once()
    gen = _Generator(seed)
    return [gen.firm() for _ in range(n)]


@lru_cache(maxsize=1)
def _check_vocabularies_once() -> bool:
    """Run check_vocabularies once per process."""
    check_vocabularies()
    return True


# --------------------------------------------------------------------------- writing


@dataclass
class DemoSummary:
    """What seed_demo wrote."""

    firms: int
    users: int
    memberships: int
    seed: int
    seconds: float
    accounts: list[tuple[str, str]] = field(default_factory=list)
    owners: list[str] = field(default_factory=list)
    password: str = D.DEMO_PASSWORD
    by_district: dict[str, int] = field(default_factory=dict)
    by_size: dict[str, int] = field(default_factory=dict)
    by_region: dict[str, int] = field(default_factory=dict)

    def describe(self) -> str:
        """Return a human-readable report of the seeded data and the demo logins."""
        lines = [
            f"Demo data (seed {self.seed}): {self.firms} firms, {self.users} users, "
            + f"{self.memberships} firm memberships in {self.seconds:.1f} s."
        ]
        if self.by_size:
            lines.append("Size: " + ", ".join(f"{k} {v}" for k, v in self.by_size.items()))
        if self.by_district:
            top = sorted(self.by_district.items(), key=lambda kv: (-kv[1], kv[0]))
            lines.append("Districts: " + ", ".join(f"{k} {v}" for k, v in top))
        if self.by_region:
            top = sorted(self.by_region.items(), key=lambda kv: (-kv[1], kv[0]))[:8]
            lines.append("Top regions: " + ", ".join(f"{k} {v}" for k, v in top))
        if self.accounts:
            lines.append(f"Accounts (password {self.password!r}):")
            lines += [f"  {email:<36} {role}" for email, role in self.accounts]
        if self.owners:
            sample = ", ".join(self.owners[:3]) + (", ..." if len(self.owners) > 3 else "")
            lines.append(f"  and {len(self.owners)} more firm owners ({sample})")
        return "\n".join(lines)


def _write_firms(session: Session, rows: list[dict[str, Any]],
                 progress: Callable[[int, int], None] | None) -> list[int]:
    """Validate and create every firm; return their ids in row order."""
    from matchmaker.firms.schemas import FirmInvalid, validate_firm
    from matchmaker.firms.service import create_firm

    total = len(rows)
    ids: list[int] = []
    for done, row in enumerate(rows, 1):
        payload = {k: v for k, v in row.items() if not k.startswith("_")}
        try:
            firm = create_firm(session, data=validate_firm(payload))
        except FirmInvalid as exc:
            raise ValueError(f"demo firm {row['name']!r} is invalid: {exc}") from exc
        ids.append(firm.id)
        if done % BATCH == 0 or done == total:
            session.flush()
            if progress is not None:
                progress(done, total)
    return ids


def _user(session: Session, email: str, role: str, full_name: str) -> Any:
    """Return the account with this email, creating it with the demo password if needed."""
    from matchmaker.accounts import service as accounts

    user = accounts.get_user_by_email(session, email)
    if user is None:
        user = accounts.create_user(session, email=email, password=D.DEMO_PASSWORD,
                                    role=role, full_name=full_name)
    return user


def _demo_owner_firms(rng: random.Random, rows: list[dict[str, Any]], count: int) -> list[int]:
    """Pick the demo owner's firms: small Brianza wood-furniture firms first, then nearby."""
    from matchmaker.refdata import places

    tiers = [
        [i for i, r in enumerate(rows) if r["_district"] == D.DEMO_OWNER_DISTRICT
         and r["_sector"] in ("furniture", "wood", "home_textiles") and r["employees"] < 50],
        [i for i, r in enumerate(rows) if r["_district"] == D.DEMO_OWNER_DISTRICT],
        [i for i, r in enumerate(rows) if places.get(r["comune_istat"]).province in ("MB", "CO")],
        list(range(len(rows))),
    ]
    chosen: list[int] = []
    for tier in tiers:
        candidates = [i for i in tier if i not in chosen]
        rng.shuffle(candidates)
        chosen += candidates[: count - len(chosen)]
        if len(chosen) >= count:
            break
    return chosen


def _extra_owner_firms(rng: random.Random, rows: list[dict[str, Any]], free: list[int],
                       count: int) -> list[int]:
    """Take 1-3 firms from `free` for one owner: a random firm, then others in its province."""
    from matchmaker.refdata import places

    first = free.pop(rng.randrange(len(free)))
    province = places.get(rows[first]["comune_istat"]).province
    near = [i for i in free if places.get(rows[i]["comune_istat"]).province == province]
    more = rng.sample(near, min(count - 1, len(near)))
    for i in more:
        free.remove(i)
    return [first, *more]


def seed_demo(
    session: Session,
    *,
    firms: int = 2000,
    seed: int = 42,
    progress: Callable[[int, int], None] | None = None,
) -> DemoSummary:
    """Write the demo firms, accounts and memberships into an empty registry (no commit)."""
    from sqlalchemy import select

    from matchmaker.accounts import service as accounts
    from matchmaker.firms.models import Firm
    from matchmaker.firms.schemas import sme_class
    from matchmaker.refdata import places

    if firms < 1:
        raise ValueError("the demo needs at least 1 firm")
    if session.scalar(select(Firm.id).limit(1)) is not None:
        raise ValueError(
            "the database already has firms: the demo dataset loads only into an empty "
            "registry (use a new database, or delete the firms first)"
        )
    started = time.perf_counter()
    rows = generate_firms(firms, seed)
    ids = _write_firms(session, rows, progress)

    rng = random.Random(f"demo-users-{seed}")
    users = {email: _user(session, email, role, name) for email, role, name in D.DEMO_ACCOUNTS}
    memberships = 0
    owned = _demo_owner_firms(rng, rows, min(D.DEMO_OWNER_FIRMS, len(rows)))
    for i in owned:
        accounts.add_firm_member(session, user=users[D.DEMO_OWNER_EMAIL], firm_id=ids[i],
                                 role="owner")
        memberships += 1

    free = [i for i in range(len(rows)) if i not in set(owned)]
    owners: list[str] = []
    for _ in range(min(D.EXTRA_OWNERS, max(1, len(rows) // 100))):
        if not free:
            break
        firm_rows = _extra_owner_firms(rng, rows, free, rng.choice((1, 1, 2, 3)))
        comune = places.get(rows[firm_rows[0]]["comune_istat"])
        surname = rng.choice(D.SURNAMES[D.REGION_SURNAMES.get(comune.region_code, "centro")])
        first = rng.choice(D.FIRST_NAMES_M + D.FIRST_NAMES_F)
        local, n = f"{_slug(first)}.{_slug(surname)}", 2
        while f"{local}@{D.DEMO_DOMAIN}" in users:
            local, n = f"{_slug(first)}.{_slug(surname)}{n}", n + 1
        email = f"{local}@{D.DEMO_DOMAIN}"
        users[email] = _user(session, email, "owner", f"{first} {surname}")
        owners.append(email)
        for i in firm_rows:
            accounts.add_firm_member(session, user=users[email], firm_id=ids[i], role="owner")
            memberships += 1
    # The demo curator's association: most of Lombardy's demo firms are its members.
    from matchmaker.associations import service as associations

    curator = next(u for u in users.values() if u.role == "curator")
    associations.seed_demo_association(session, curator=curator)
    session.flush()

    by_size = Counter(sme_class(r["employees"], r["turnover_eur"]) or "unknown" for r in rows)
    return DemoSummary(
        firms=len(rows),
        users=len(users),
        memberships=memberships,
        seed=seed,
        seconds=time.perf_counter() - started,
        accounts=[(email, role) for email, role, _name in D.DEMO_ACCOUNTS],
        owners=owners,
        by_district=dict(Counter(r["_district"] or "background" for r in rows)),
        by_size={k: by_size[k] for k in (*SIZE_CLASSES, "unknown") if by_size[k]},
        by_region=dict(Counter(places.get(r["comune_istat"]).region for r in rows)),
    )
