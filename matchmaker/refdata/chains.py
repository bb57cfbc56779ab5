"""Value chains (filiere): ordered stages mapped to ATECO prefixes, positions and coverage.

The chains live in ``data/value_chains.json`` (curated, versioned, with sources).  Each stage
and support function lists ATECO 2022 prefixes; a code belongs to the entry whose prefix is
the longest one it starts with (within one chain; a stage beats a support function of the
same length, and a chain's own support beats the shared ones).  A code coarser than the
prefixes (a bare division such as ``16``) matches every entry below it, with a lower
specificity.  ATECO 2025 and 2007 codes are first converted to 2022 with
:func:`matchmaker.refdata.ateco.convert`.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any

from matchmaker.refdata import ateco

__all__ = [
    "POSITIONS",
    "Chain",
    "ChainError",
    "CoverageReport",
    "Position",
    "Stage",
    "StageLink",
    "UnknownChain",
    "catalogue_info",
    "chain",
    "chains",
    "coverage_report",
    "no_chain_reason",
    "positions",
    "stage_adjacency",
    "stage_distance",
    "to_2022",
]

DATA_FILE = Path(__file__).parent / "data" / "value_chains.json"
POSITIONS: tuple[str, ...] = ("upstream", "midstream", "downstream", "support")
_STAGE_POSITIONS = POSITIONS[:3]
# Tie-break at equal prefix length: a stage, then the chain's own support, then shared support.
_RANK_STAGE, _RANK_OWN_SUPPORT, _RANK_SHARED_SUPPORT = 0, 1, 2


class ChainError(ValueError):
    """The value-chain file is inconsistent (unknown code, bad position, duplicate key)."""


class UnknownChain(KeyError):
    """No value chain has this key."""


@dataclass(frozen=True)
class Stage:
    """A stage of a chain (index 0 is the most upstream) or a support function (index None)."""

    key: str
    name_it: str
    name_en: str
    position: str
    ateco: tuple[str, ...]
    index: int | None

    def name(self, lang: str = "en") -> str:
        """Return the name in Italian for "it", else in English."""
        return self.name_it if lang == "it" else self.name_en


@dataclass(frozen=True)
class Chain:
    """A value chain: ordered stages plus support functions, with the sources it rests on."""

    key: str
    name_it: str
    name_en: str
    stages: tuple[Stage, ...]
    support: tuple[Stage, ...]
    sources: tuple[str, ...]
    source_keys: tuple[str, ...]
    order: int

    def name(self, lang: str = "en") -> str:
        """Return the name in Italian for "it", else in English."""
        return self.name_it if lang == "it" else self.name_en

    def stage(self, key: str) -> Stage:
        """Return a stage or support function by key."""
        for s in self.stages + self.support:
            if s.key == key:
                return s
        raise UnknownChain(f"chain {self.key!r} has no stage {key!r}")


@dataclass(frozen=True)
class Position:
    """Where a code sits in one chain; specificity is the number of ATECO digits matched.

    ``partial`` is True when the code is broader than the stage's prefixes (a division whose
    stage lists only some of its classes): only part of the activity belongs there.
    """

    chain_key: str
    stage_key: str
    stage_index: int | None
    position: str
    specificity: int
    partial: bool = False


@dataclass(frozen=True)
class StageLink:
    """Two codes in the same chain; steps = index(b) - index(a), None if either is support."""

    chain_key: str
    a: Position
    b: Position
    steps: int | None

    @property
    def distance(self) -> int | None:
        """Return the number of stages between the two codes (0 = same stage)."""
        return None if self.steps is None else abs(self.steps)

    @property
    def adjacent(self) -> bool:
        """Tell whether the codes sit in consecutive stages."""
        return self.distance == 1


@dataclass
class CoverageReport:
    """How the subcategories of an edition fall into chains, explicit no-chain, or nowhere."""

    edition: str
    total: int = 0
    in_chain: int = 0
    support_only: int = 0
    by_chain: dict[str, int] = field(default_factory=dict)
    no_chain: dict[str, str] = field(default_factory=dict)
    unclassified: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        """Tell whether every subcategory is in a chain or explicitly outside all chains."""
        return not self.unclassified


@dataclass(frozen=True)
class _Entry:
    chain_key: str
    stage: Stage
    rank: int


@dataclass(frozen=True)
class _Catalogue:
    version: str
    description: str
    sources: dict[str, str]
    chains: tuple[Chain, ...]
    by_key: dict[str, Chain]
    # chain key -> compact prefix -> best entry for that exact prefix
    exact: dict[str, dict[str, _Entry]]
    # chain key -> compact code -> entries whose prefix extends it (for coarse codes)
    below: dict[str, dict[str, tuple[_Entry, ...]]]
    no_chain: dict[str, str]
    overrides_2025: dict[str, tuple[str, ...]]


def _compact(code: str) -> str:
    return code.replace(".", "")


def _check_prefix(prefix: str, where: str) -> str:
    """Return the compact form of an ATECO 2022 prefix, raising ChainError if unknown."""
    found = ateco.lookup(prefix, "2022")
    if found is None or found.code != prefix or found.level == "section":
        raise ChainError(
            f"{where}: {prefix!r} is not an ATECO 2022 code (dotted, division or finer)"
        )
    return _compact(prefix)


def _stage(raw: dict[str, Any], index: int | None, where: str) -> Stage:
    position = raw.get("position", "support")
    allowed = _STAGE_POSITIONS if index is not None else ("support",)
    if position not in allowed:
        raise ChainError(f"{where}: position {position!r} must be one of {', '.join(allowed)}")
    codes = tuple(raw["ateco"])
    if not codes:
        raise ChainError(f"{where}: no ATECO prefixes")
    for code in codes:
        _check_prefix(code, where)
    return Stage(raw["key"], raw["name_it"], raw["name_en"], position, codes, index)


def _build(data: dict[str, Any]) -> _Catalogue:
    """Validate the JSON document and index every chain's prefixes."""
    sources: dict[str, str] = data["sources"]
    shared = tuple(
        _stage(s, None, f"support function {s['key']}") for s in data["support_functions"]
    )
    chains_out: list[Chain] = []
    exact: dict[str, dict[str, _Entry]] = {}
    below: dict[str, dict[str, tuple[_Entry, ...]]] = {}
    for order, raw in enumerate(data["chains"]):
        key = raw["key"]
        if key in exact:
            raise ChainError(f"chain {key!r} appears twice")
        missing = [s for s in raw["sources"] if s not in sources]
        if missing or not raw["sources"]:
            raise ChainError(f"chain {key}: unknown or no sources {missing}")
        stages = tuple(
            _stage(s, i, f"chain {key}, stage {s['key']}") for i, s in enumerate(raw["stages"])
        )
        own = tuple(_stage(s, None, f"chain {key}, support {s['key']}") for s in raw["support"])
        keys = [s.key for s in stages + own]
        if len(set(keys)) != len(keys):
            raise ChainError(f"chain {key}: repeated stage keys")
        support = own + tuple(s for s in shared if s.key not in set(keys))
        chains_out.append(
            Chain(
                key=key,
                name_it=raw["name_it"],
                name_en=raw["name_en"],
                stages=stages,
                support=support,
                sources=tuple(sources[s] for s in raw["sources"]),
                source_keys=tuple(raw["sources"]),
                order=order,
            )
        )
        table: dict[str, _Entry] = {}
        candidates = [(s, _RANK_STAGE) for s in stages]
        candidates += [(s, _RANK_OWN_SUPPORT) for s in own]
        candidates += [(s, _RANK_SHARED_SUPPORT) for s in shared if s.key not in set(keys)]
        for stage, rank in candidates:
            for prefix in stage.ateco:
                p = _compact(prefix)
                current = table.get(p)
                if current is not None and current.rank == rank and current.stage != stage:
                    raise ChainError(
                        f"chain {key}: prefix {prefix} is in both {current.stage.key} "
                        f"and {stage.key}"
                    )
                if current is None or rank < current.rank:
                    table[p] = _Entry(key, stage, rank)
        exact[key] = table
        coarse: dict[str, list[_Entry]] = {}
        for p, entry in table.items():
            for n in range(2, len(p)):
                bucket = coarse.setdefault(p[:n], [])
                if entry not in bucket:
                    bucket.append(entry)
        below[key] = {k: tuple(v) for k, v in coarse.items()}
    no_chain = {}
    for item in data["no_chain"]:
        no_chain[_check_prefix(item["prefix"], f"no_chain {item['prefix']}")] = item["reason"]
    overrides = {}
    for code, item in data.get("ateco_2025_without_correspondence", {}).items():
        if ateco.lookup(code, "2025") is None:
            raise ChainError(f"ATECO 2025 override {code!r} is not an ATECO 2025 code")
        targets = tuple(item["ateco_2022"])
        for t in targets:
            _check_prefix(t, f"ATECO 2025 override {code}")
        overrides[_compact(code)] = targets
    return _Catalogue(
        version=str(data["version"]),
        description=data.get("description", ""),
        sources=sources,
        chains=tuple(chains_out),
        by_key={c.key: c for c in chains_out},
        exact=exact,
        below=below,
        no_chain=no_chain,
        overrides_2025=overrides,
    )


@lru_cache(maxsize=1)
def _catalogue() -> _Catalogue:
    """Load and validate the value-chain file once per process."""
    with DATA_FILE.open(encoding="utf-8") as fh:
        return _build(json.load(fh))


def catalogue_info() -> dict[str, Any]:
    """Return the file's version, description and source list."""
    cat = _catalogue()
    return {"version": cat.version, "description": cat.description, "sources": dict(cat.sources)}


def chains() -> list[Chain]:
    """Return every value chain in display order."""
    return list(_catalogue().chains)


def chain(key: str) -> Chain:
    """Return one chain by key, raising UnknownChain."""
    try:
        return _catalogue().by_key[key]
    except KeyError:
        raise UnknownChain(f"no value chain {key!r}") from None


@lru_cache(maxsize=16384)
def _to_2022(code: str, edition: str) -> tuple[str, ...]:
    item = ateco.parse(code, edition)
    if item.level == "section":
        return ()
    if item.edition == "2022":
        return (item.code,)
    if item.edition == "2025" and item.level == "division":
        # The table maps a whole 2025 division onto every 2022 division that lent it a few
        # subcategories (28 -> 25, 28, 33); the division's main counterpart is the useful one.
        return (item.sector_division,) if item.sector_division else ()
    targets = ateco.convert(item.code, item.edition, "2022").targets
    if targets:
        return targets
    if item.edition == "2025":
        compact = _compact(item.code)
        for key, mapped in _catalogue().overrides_2025.items():
            if compact.startswith(key):
                return mapped
    return (item.sector_division,) if item.sector_division else ()


def to_2022(code: str, edition: str = "2022") -> tuple[str, ...]:
    """Return the ATECO 2022 code(s) a code of any edition corresponds to (none for sections)."""
    return _to_2022(code, edition)


def _match(compact: str) -> list[Position]:
    """Return the positions of one compact ATECO 2022 code in every chain."""
    cat = _catalogue()
    out: list[Position] = []
    for ch in cat.chains:
        table = cat.exact[ch.key]
        hit: _Entry | None = None
        for n in range(len(compact), 1, -1):
            hit = table.get(compact[:n])
            if hit is not None:
                out.append(_position(hit, n))
                break
        if hit is None:
            for entry in cat.below[ch.key].get(compact, ()):
                out.append(_position(entry, len(compact), partial=True))
    return out


def _position(entry: _Entry, specificity: int, *, partial: bool = False) -> Position:
    s = entry.stage
    return Position(entry.chain_key, s.key, s.index, s.position, specificity, partial)


@lru_cache(maxsize=16384)
def _positions(code: str, edition: str) -> tuple[Position, ...]:
    best: dict[tuple[str, str], Position] = {}
    for target in _to_2022(code, edition):
        for pos in _match(_compact(target)):
            k = (pos.chain_key, pos.stage_key)
            if k not in best or (pos.specificity, not pos.partial) > (
                best[k].specificity,
                not best[k].partial,
            ):
                best[k] = pos
    order = {c.key: c.order for c in _catalogue().chains}
    return tuple(
        sorted(
            best.values(),
            key=lambda p: (
                order[p.chain_key],
                p.stage_index is None,
                p.stage_index or 0,
                p.stage_key,
            ),
        )
    )


def positions(code: str, edition: str = "2022") -> list[Position]:
    """Return every chain position of an ATECO code (any edition); [] for a section letter."""
    return list(_positions(code.strip(), ateco._edition(edition)))


def no_chain_reason(code: str, edition: str = "2022") -> str | None:
    """Return why a code is explicitly outside every chain, or None."""
    cat = _catalogue()
    for target in _to_2022(code.strip(), ateco._edition(edition)):
        compact = _compact(target)
        for n in range(len(compact), 1, -1):
            reason = cat.no_chain.get(compact[:n])
            if reason is not None:
                return reason
    return None


def stage_adjacency(
    code_a: str, code_b: str, edition: str = "2022", edition_b: str | None = None
) -> list[StageLink]:
    """Return the chains two codes share, nearest stages first (support links last)."""
    pa = positions(code_a, edition)
    pb = positions(code_b, edition_b or edition)
    order = {c.key: c.order for c in _catalogue().chains}
    links: list[StageLink] = []
    for a in pa:
        for b in pb:
            if a.chain_key != b.chain_key:
                continue
            steps = (
                None
                if a.stage_index is None or b.stage_index is None
                else b.stage_index - a.stage_index
            )
            links.append(StageLink(a.chain_key, a, b, steps))
    links.sort(
        key=lambda x: (x.distance is None, x.distance or 0, order[x.chain_key], x.a.stage_key)
    )
    return links


def stage_distance(
    code_a: str, code_b: str, edition: str = "2022", edition_b: str | None = None
) -> int | None:
    """Return the fewest stages between two codes in any shared chain, None if none is shared."""
    for link in stage_adjacency(code_a, code_b, edition, edition_b):
        if link.distance is not None:
            return link.distance
    return None


def coverage_report(edition: str = "2025", codes: Iterable[str] | None = None) -> CoverageReport:
    """Check that every subcategory is in a chain stage or support, or explicitly no-chain."""
    ed = ateco._edition(edition)
    report = CoverageReport(edition=ed)
    subcategories = (
        list(codes) if codes is not None else [c.code for c in ateco.all_codes(ed, "subcategory")]
    )
    for code in subcategories:
        report.total += 1
        found = positions(code, ed)
        if found:
            report.in_chain += 1
            staged = {p.chain_key for p in found if p.stage_index is not None}
            if not staged:
                report.support_only += 1
            for key in staged:
                report.by_chain[key] = report.by_chain.get(key, 0) + 1
            continue
        reason = no_chain_reason(code, ed)
        if reason is not None:
            report.no_chain[code] = reason
        else:
            report.unclassified.append(code)
    return report
