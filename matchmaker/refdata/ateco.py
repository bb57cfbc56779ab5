"""ATECO activity codes (ISTAT editions 2007, 2022 and 2025): parsing, search and conversion.

Built on the ``ateco`` package's bundled ISTAT tables.  The same code can mean different
things in different editions (25.62 is "Lavori di meccanica generale" in 2022 but
"Fabbricazione di serrature e cerniere" in 2025), so every :class:`AtecoCode` carries its
edition and a ``sector_division``: the 2-digit ATECO 2007/2022 division used as a stable,
cross-edition sector key.
"""

from __future__ import annotations

import re
import unicodedata
from collections import Counter
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from functools import cache, lru_cache
from typing import Any

import ateco as _ateco
from ateco import _load as _ateco_load

__all__ = [
    "EDITIONS",
    "LEVELS",
    "AtecoCode",
    "AtecoError",
    "Conversion",
    "all_codes",
    "ancestors",
    "children",
    "convert",
    "divisions",
    "lookup",
    "parse",
    "search",
]

EDITIONS: tuple[str, ...] = ("2025", "2022", "2007")
"""Supported editions, in the order :func:`parse` tries them when no edition is given."""

LEVELS: tuple[str, ...] = ("section", "division", "group", "class", "category", "subcategory")

# NACE levels (1=section .. 4=class) that naceconverter labels in English.
_NACE_LEVELS = {"section": "1", "division": "2", "group": "3", "class": "4"}
_DOTTED_RE = re.compile(r"^\d{2}(?:\.\d(?:\d(?:\.\d{1,2})?)?)?$")
_COMPACT_RE = re.compile(r"^\d{2,6}$")
_SECTION_RE = re.compile(r"^[A-Za-z]$")


class AtecoError(ValueError):
    """A malformed or unknown ATECO code, or an unknown edition."""


@dataclass(frozen=True)
class AtecoCode:
    """One node of an ATECO edition, with its cross-edition sector key."""

    code: str
    edition: str
    level: str
    title: str
    title_en: str | None
    division: str | None
    section: str
    sector_division: str | None


@dataclass(frozen=True)
class Conversion:
    """Result of converting a code between editions; ambiguous mappings keep every target."""

    source: str
    targets: tuple[str, ...]
    ambiguous: bool
    note: str


# --------------------------------------------------------------------------- loading


def _edition(edition: str | int) -> str:
    """Return the canonical edition key, raising AtecoError for unknown editions."""
    key = str(edition).strip()
    if key in EDITIONS:
        return key
    try:
        return _ateco.get_edition(key).key
    except KeyError:
        raise AtecoError(
            f"unknown ATECO edition {edition!r}: expected one of {', '.join(EDITIONS)}"
        ) from None


@cache
def _nodes(edition: str) -> dict[str, dict[str, Any]]:
    """Return the code -> node table of an edition (the ateco package's own cached table)."""
    return _ateco_load.load_nodes(edition)


@cache
def _children_index(edition: str) -> dict[str | None, tuple[str, ...]]:
    """Return parent code -> child codes (sorted) for an edition."""
    out: dict[str | None, list[str]] = {}
    for code, node in _nodes(edition).items():
        out.setdefault(node.get("parent"), []).append(code)
    return {parent: tuple(sorted(codes)) for parent, codes in out.items()}


@cache
def _correspondence() -> tuple[dict[str, tuple[str, ...]], dict[str, tuple[str, ...]]]:
    """Return the ISTAT 2025<->2022 table as (2025 -> 2022, 2022 -> 2025) target tuples.

    Same semantics as ``ateco.map_code`` (unique targets in table order), indexed once so
    that mapping every code of an edition stays fast.
    """
    fwd: dict[str, list[str]] = {}
    back: dict[str, list[str]] = {}
    for row in _ateco_load.load_correspondence_2025_2022()["mappings"]:
        a, b = row["code_2025"], row["code_2022"]
        targets = fwd.setdefault(a, [])
        if b not in targets:
            targets.append(b)
        sources = back.setdefault(b, [])
        if a not in sources:
            sources.append(a)
    return (
        {k: tuple(v) for k, v in fwd.items()},
        {k: tuple(v) for k, v in back.items()},
    )


def _map_2022_2025(code: str, from_edition: str) -> tuple[str, ...]:
    """Map a canonical code 2025->2022 or 2022->2025 with the ISTAT theoretical table."""
    fwd, back = _correspondence()
    return (fwd if from_edition == "2025" else back).get(code, ())


@lru_cache(maxsize=1)
def _nace_titles() -> dict[str, str]:
    """Return NACE Rev. 2.1 code -> English title (sections to classes) from naceconverter."""
    from naceconverter import NACEConverter

    return {
        code: info["name"]
        for code, info in NACEConverter().codes_dict.items()
        if str(info.get("level")) in {"1", "2", "3", "4"} and info.get("name")
    }


def _fold(text: str) -> str:
    """Lower-case, strip accents and turn punctuation into spaces."""
    decomposed = unicodedata.normalize("NFKD", text)
    plain = "".join(ch for ch in decomposed if not unicodedata.combining(ch)).casefold()
    return " ".join(re.sub(r"[^0-9a-z]+", " ", plain).split())


# --------------------------------------------------------------------------- building


def _section_of(code: str, edition: str) -> str:
    """Return the section letter above a code."""
    nodes = _nodes(edition)
    node = nodes[code]
    while node.get("parent"):
        node = nodes[node["parent"]]
    return node["code"]


@cache
def _subcategories_under(code: str, edition: str) -> tuple[str, ...]:
    """Return every subcategory at or below a code, in code order."""
    if _nodes(edition)[code]["level"] == "subcategory":
        return (code,)
    out: list[str] = []
    for child in _children_index(edition).get(code, ()):
        out.extend(_subcategories_under(child, edition))
    return tuple(out)


@cache
def _sector_division_2025(code: str) -> str | None:
    """Return the most frequent 2022 division that a 2025 code's subcategories map to."""
    node = _nodes("2025")[code]
    if node["level"] == "section":
        return None
    counts: Counter[str] = Counter()
    for sub in _subcategories_under(code, "2025"):
        for target in _map_2022_2025(sub, "2025"):
            if target[:2].isdigit():
                counts[target[:2]] += 1
    own = code[:2]
    if counts:
        best = max(counts.values())
        leaders = [div for div, n in counts.items() if n == best]
        # Ties: the code's own division if it is a leader, else the first one seen.
        return own if own in leaders else leaders[0]
    return own if own in _nodes("2022") else None


def _title_en(code: str, edition: str, level: str) -> str | None:
    """Return the English NACE label when it describes this code exactly or as its superset."""
    if level not in _NACE_LEVELS:
        return None
    titles = _nace_titles()
    if edition == "2025":
        return titles.get(code)
    if edition == "2007":
        node = _nodes("2022").get(code)
        if node is None or node["level"] != level:
            return None
        return _title_en(code, "2022", level)
    targets = _map_2022_2025(code, "2022")
    if len(targets) != 1:
        return None
    target = _nodes("2025").get(targets[0])
    if target is None or target["level"] != level:
        return None
    return titles.get(targets[0])


@cache
def _make(code: str, edition: str) -> AtecoCode:
    """Build the AtecoCode for a canonical code known to exist in an edition."""
    node = _nodes(edition)[code]
    level = node["level"]
    division = None if level == "section" else code[:2]
    if edition == "2025":
        sector = _sector_division_2025(code)
    else:
        sector = division
    return AtecoCode(
        code=code,
        edition=edition,
        level=level,
        title=node["title"],
        title_en=_title_en(code, edition, level),
        division=division,
        section=_section_of(code, edition),
        sector_division=sector,
    )


def _canonical(code: str, editions: tuple[str, ...]) -> str:
    """Return the dotted form of a code, raising AtecoError when it is malformed."""
    if not isinstance(code, str):
        raise AtecoError(f"ATECO code must be a string, got {type(code).__name__}")
    raw = code.strip()
    if _SECTION_RE.match(raw):
        return raw.upper()
    if _DOTTED_RE.match(raw):
        return raw
    if _COMPACT_RE.match(raw):
        return _ateco.compact_to_dotted(raw)
    raise AtecoError(
        f"malformed ATECO code {code!r} (editions tried: {', '.join(editions)}): expected a "
        "section letter, 2-6 digits (2562, 256200) or a dotted code (25.62.00)"
    )


# --------------------------------------------------------------------------- public API


def parse(code: str, edition: str | None = None) -> AtecoCode:
    """Parse a dotted/compact code or section letter; with no edition try 2025, 2022, 2007."""
    editions = (_edition(edition),) if edition is not None else EDITIONS
    canon = _canonical(code, editions)
    for ed in editions:
        if canon in _nodes(ed):
            return _make(canon, ed)
    raise AtecoError(
        f"unknown ATECO code {code.strip()!r} (as {canon}): not found in edition(s) "
        f"{', '.join(editions)}"
    )


def lookup(code: str, edition: str | None = None) -> AtecoCode | None:
    """Return the code like parse(), or None when it is malformed or unknown."""
    ed = _edition(edition) if edition is not None else None
    try:
        return parse(code, ed)
    except AtecoError:
        return None


@cache
def _search_index(edition: str) -> tuple[tuple[str, str, str, tuple[str, ...], int], ...]:
    """Return (code, compact code, folded title, title words, depth) for an edition."""
    rows = []
    for code, node in _nodes(edition).items():
        folded = _fold(node["title"])
        depth = LEVELS.index(node["level"])
        rows.append((code, code.replace(".", "").lower(), folded, tuple(folded.split()), depth))
    rows.sort(key=lambda r: (r[4], r[0]))
    return tuple(rows)


def search(q: str, *, edition: str = "2025", limit: int = 20) -> list[AtecoCode]:
    """Find codes by code prefix, then by title words (case- and accent-insensitive)."""
    ed = _edition(edition)
    query = q.strip()
    if not query or limit <= 0:
        return []
    compact = query.replace(".", "").replace(" ", "").lower()
    is_code = bool(_COMPACT_RE.match(compact) or _SECTION_RE.match(compact))
    tokens = _fold(query).split()
    scored: list[tuple[int, int, str]] = []
    for code, code_compact, folded, words, depth in _search_index(ed):
        if is_code and code_compact.startswith(compact):
            scored.append((0, depth, code))
            continue
        if not tokens:
            continue
        if all(t in words for t in tokens):
            tier = 1
        elif all(any(w.startswith(t) for w in words) for t in tokens):
            tier = 2
        elif all(t in folded for t in tokens):
            tier = 3
        else:
            continue
        scored.append((tier, depth, code))
    scored.sort()
    return [_make(code, ed) for _, _, code in scored[:limit]]


def children(code: str, edition: str | None = None) -> list[AtecoCode]:
    """Return the direct children of a code (sections list their divisions, and so on)."""
    parent = parse(code, edition)
    kids = _children_index(parent.edition).get(parent.code, ())
    return [_make(kid, parent.edition) for kid in kids]


def ancestors(code: str, edition: str | None = None) -> list[AtecoCode]:
    """Return the codes above a code, section first (the code itself is not included)."""
    item = parse(code, edition)
    nodes = _nodes(item.edition)
    chain: list[AtecoCode] = []
    parent = nodes[item.code].get("parent")
    while parent:
        chain.append(_make(parent, item.edition))
        parent = nodes[parent].get("parent")
    chain.reverse()
    return chain


def _same_nace_convert(code: str, source: str, target: str) -> tuple[tuple[str, ...], str]:
    """Convert between ATECO 2007 and 2022 (both NACE Rev. 2): identity where possible."""
    src_nodes, dst_nodes = _nodes(source), _nodes(target)
    if code in dst_nodes:
        return (code,), f"{code} exists in both ATECO {source} and {target}: identity mapping"
    parent = src_nodes[code].get("parent")
    if parent in dst_nodes:
        replacements = tuple(
            c for c in _children_index(target).get(parent, ()) if c not in src_nodes
        )
        if replacements:
            return replacements, (
                f"{code} (ATECO {source}) was split or merged between the editions: under "
                f"{parent} it corresponds to {', '.join(replacements)} (ATECO {target})"
            )
    while parent and parent not in dst_nodes:
        parent = src_nodes[parent].get("parent")
    if not parent:
        return (), f"{code} (ATECO {source}) has no counterpart in ATECO {target}"
    return (parent,), (
        f"{code} (ATECO {source}) has no exact counterpart in ATECO {target}; "
        f"mapped to the enclosing code {parent}"
    )


def _table_convert(code: str, source: str, target: str) -> tuple[tuple[str, ...], str]:
    """Convert between ATECO 2022 and 2025 with the ISTAT correspondence table."""
    targets = _map_2022_2025(code, source)
    if not targets:
        return (), f"the ISTAT {source}->{target} table has no target for {code}"
    kind = "one-to-many" if len(targets) > 1 else "one-to-one"
    return targets, f"ISTAT {source}->{target} correspondence table ({kind})"


def _step(code: str, source: str, target: str) -> tuple[tuple[str, ...], str]:
    """Convert between two adjacent editions."""
    if {source, target} == {"2007", "2022"}:
        return _same_nace_convert(code, source, target)
    return _table_convert(code, source, target)


def convert(code: str, from_edition: str, to_edition: str) -> Conversion:
    """Convert a code between editions; 2007<->2025 chains through 2022."""
    source_ed, target_ed = _edition(from_edition), _edition(to_edition)
    src = parse(code, source_ed).code
    if source_ed == target_ed:
        return Conversion(src, (src,), False, f"same edition ({source_ed})")
    if "2022" in (source_ed, target_ed):
        targets, note = _step(src, source_ed, target_ed)
    else:
        middle, note1 = _step(src, source_ed, "2022")
        collected: list[str] = []
        notes = [f"via ATECO 2022: {note1}"]
        for mid in middle:
            step_targets, note2 = _step(mid, "2022", target_ed)
            notes.append(f"{mid}: {note2}")
            collected.extend(t for t in step_targets if t not in collected)
        targets, note = tuple(collected), "; ".join(notes)
    return Conversion(src, targets, len(targets) > 1, note)


@cache
def _sorted_codes(edition: str) -> tuple[str, ...]:
    """Return every code of an edition in code order."""
    return tuple(sorted(_nodes(edition)))


def all_codes(edition: str = "2025", level: str | None = None) -> Iterator[AtecoCode]:
    """Iterate every code of an edition in code order, optionally only one level."""
    ed = _edition(edition)
    if level is not None and level not in LEVELS:
        raise AtecoError(f"unknown ATECO level {level!r}: expected one of {', '.join(LEVELS)}")
    nodes = _nodes(ed)
    for code in _sorted_codes(ed):
        if level is None or nodes[code]["level"] == level:
            yield _make(code, ed)


def divisions() -> list[AtecoCode]:
    """Return the 2-digit ATECO 2022 divisions (the sector_division keys) with titles."""
    return list(all_codes("2022", "division"))


def detect_edition(codes: Iterable[str]) -> tuple[str | None, dict[str, int]]:
    """Guess which edition a list of codes (one file) was written in.

    Codes valid in only one edition decide: a file whose codes exist only in ATECO 2007/2022
    (and never only in 2025) is an older-edition file, so its ambiguous codes are read in that
    edition too. Returns (edition or None when undecided, counts).
    """
    counts = {"only_2025": 0, "only_2022": 0, "only_2007": 0, "older": 0}
    for raw in codes:
        code = (raw or "").strip()
        if not code:
            continue
        in25 = lookup(code, "2025") is not None
        in22 = lookup(code, "2022") is not None
        in07 = lookup(code, "2007") is not None
        if in25 and not (in22 or in07):
            counts["only_2025"] += 1
        elif (in22 or in07) and not in25:
            counts["older"] += 1
            if in07 and not in22:
                counts["only_2007"] += 1
            elif in22 and not in07:
                counts["only_2022"] += 1
    if counts["older"] >= 2 and counts["older"] >= 4 * counts["only_2025"]:
        edition = "2007" if counts["only_2007"] > counts["only_2022"] else "2022"
        return edition, counts
    if counts["only_2025"] >= 2 and counts["only_2025"] >= 4 * counts["older"]:
        return "2025", counts
    return None, counts
