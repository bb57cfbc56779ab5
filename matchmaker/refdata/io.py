"""Input-output links between ATECO divisions, from a use table the user provides.

Two file layouts are read:

* the Eurostat ``naio_10_cp1610`` use table as downloaded (SDMX-TSV: a first column such as
  ``freq,unit,stk_flow,induse,prod_na,geo\\TIME_PERIOD`` combining the dimensions, then one
  column per year; ``:`` means not available and letters after a number are flags; plain or
  gzip-compressed).  Rows are taken for ``unit=MIO_EUR``, ``stk_flow=TOTAL`` and ``geo=IT``
  when a dimension has several values; the output row is ``P1``;
* the long CSV ``year,product,industry,value_meur`` whose ``OUTPUT`` product row holds each
  industry's output.

Products (CPA A*64) and industries (NACE A*64) are spelled as Eurostat does in either release
(``CPA_C10-C12``, ``C10T12``, ``C31_C32``, ``C31_32``...).  Each A*64 group covers one or more
ATECO 2007/2022 divisions (``A64_GROUPS``, the NACE Rev. 2 A*64 aggregation); divisions of one
group share its figures, and the two real-estate parts L68A/L68B are summed into L68.

For seller division s and buyer division b (groups p and i):
  technical coefficient a[s, b] = use[p, i] / output[i]
  sales share           s[s, b] = use[p, i] / sum over industries j of use[p, j]
"""

from __future__ import annotations

import csv
import gzip
import io as _io
import math
import re
import threading
from collections.abc import Iterator
from contextlib import closing
from dataclasses import dataclass, field
from datetime import datetime
from functools import lru_cache
from pathlib import Path

import numpy as np
from sqlalchemy import insert, select, update
from sqlalchemy.orm import Session

from matchmaker.refdata import ateco
from matchmaker.refdata.models import IOIndustry, IOLink, IOTable

__all__ = [
    "A64_GROUPS",
    "IOTableError",
    "IOTableInfo",
    "LinkedSector",
    "SectorLinks",
    "UseTable",
    "active_links",
    "active_table",
    "division_group",
    "ensure_io_loaded",
    "links_from_file",
    "load_io_file",
    "read_use_table",
    "top_customers",
    "top_suppliers",
    "upstreamness",
]

# NACE Rev. 2 A*64 aggregation: group -> ATECO 2007/2022 divisions (public NACE structure).
A64_GROUPS: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("A01", ("01",)),
    ("A02", ("02",)),
    ("A03", ("03",)),
    ("B", ("05", "06", "07", "08", "09")),
    ("C10-C12", ("10", "11", "12")),
    ("C13-C15", ("13", "14", "15")),
    ("C16", ("16",)),
    ("C17", ("17",)),
    ("C18", ("18",)),
    ("C19", ("19",)),
    ("C20", ("20",)),
    ("C21", ("21",)),
    ("C22", ("22",)),
    ("C23", ("23",)),
    ("C24", ("24",)),
    ("C25", ("25",)),
    ("C26", ("26",)),
    ("C27", ("27",)),
    ("C28", ("28",)),
    ("C29", ("29",)),
    ("C30", ("30",)),
    ("C31_C32", ("31", "32")),
    ("C33", ("33",)),
    ("D35", ("35",)),
    ("E36", ("36",)),
    ("E37-E39", ("37", "38", "39")),
    ("F", ("41", "42", "43")),
    ("G45", ("45",)),
    ("G46", ("46",)),
    ("G47", ("47",)),
    ("H49", ("49",)),
    ("H50", ("50",)),
    ("H51", ("51",)),
    ("H52", ("52",)),
    ("H53", ("53",)),
    ("I", ("55", "56")),
    ("J58", ("58",)),
    ("J59_J60", ("59", "60")),
    ("J61", ("61",)),
    ("J62_J63", ("62", "63")),
    ("K64", ("64",)),
    ("K65", ("65",)),
    ("K66", ("66",)),
    ("L68", ("68",)),
    ("M69_M70", ("69", "70")),
    ("M71", ("71",)),
    ("M72", ("72",)),
    ("M73", ("73",)),
    ("M74_M75", ("74", "75")),
    ("N77", ("77",)),
    ("N78", ("78",)),
    ("N79", ("79",)),
    ("N80-N82", ("80", "81", "82")),
    ("O84", ("84",)),
    ("P85", ("85",)),
    ("Q86", ("86",)),
    ("Q87_Q88", ("87", "88")),
    ("R90-R92", ("90", "91", "92")),
    ("R93", ("93",)),
    ("S94", ("94",)),
    ("S95", ("95",)),
    ("S96", ("96",)),
    ("T", ("97", "98")),
    ("U", ("99",)),
)
GROUP_KEYS: tuple[str, ...] = tuple(g for g, _ in A64_GROUPS)
_GROUP_INDEX = {g: i for i, g in enumerate(GROUP_KEYS)}
_BY_DIVISIONS = {frozenset(divs): g for g, divs in A64_GROUPS}
_SECTION_DIVISIONS: dict[str, set[str]] = {}
for _g, _divs in A64_GROUPS:
    _SECTION_DIVISIONS.setdefault(_g[0], set()).update(_divs)

OUTPUT_CODES = frozenset({"OUTPUT", "P1"})
LONG_COLUMNS = ("year", "product", "industry", "value_meur")
_CODE_RE = re.compile(r"^([A-U])(?:(\d{2})([AB])?(?:[-_T]([A-U])?(\d{2}))?)?$")
_TSV_PREFERRED = {"unit": "MIO_EUR", "stk_flow": "TOTAL", "geo": "IT", "freq": "A"}
_PRODUCT_DIMS = ("prod_na", "prod_nrg", "product")
_INDUSTRY_DIMS = ("induse", "ind_use", "industry", "nace_r2")
_GEO_NAMES = {"IT": "Italy", "EU27_2020": "EU27", "DE": "Germany", "FR": "France", "ES": "Spain"}
_MAX_ERRORS = 20


class IOTableError(ValueError):
    """An input-output file that cannot be loaded; ``errors`` names each bad row."""

    def __init__(self, errors: list[str]):
        self.errors = errors
        shown = errors[:_MAX_ERRORS]
        more = len(errors) - len(shown)
        super().__init__("; ".join(shown) + (f"; and {more} more" if more > 0 else ""))


@dataclass(frozen=True)
class IOTableInfo:
    """What was loaded: the table row and how many links and industries it holds."""

    id: int
    source: str
    year: int
    loaded_at: datetime
    active: bool
    links: int
    industries: int


@dataclass(frozen=True)
class LinkedSector:
    """A supplier or customer A*64 group of a division, with its divisions and coefficients."""

    group: str
    divisions: tuple[str, ...]
    tech_coef: float
    sales_share: float


@dataclass
class UseTable:
    """One year of a validated use table aggregated to A*64 groups (million EUR)."""

    year: int
    use: np.ndarray  # product group x industry group
    output: np.ndarray  # per industry group
    source: str
    file_name: str


@dataclass
class SectorLinks:
    """Dense division x division input-output links for the recommender (rows sell to columns)."""

    divisions: list[str]
    tech: np.ndarray
    share: np.ndarray
    upstreamness: np.ndarray
    source: str
    year: int | None = None
    table_id: int | None = None
    groups: list[str] = field(default_factory=list)
    _index: dict[str, int] = field(default_factory=dict, repr=False)

    def __post_init__(self) -> None:
        self._index = {d: i for i, d in enumerate(self.divisions)}
        if not self.groups:
            self.groups = [division_group(d) for d in self.divisions]
        for arr in (self.tech, self.share, self.upstreamness):
            arr.setflags(write=False)

    def index(self, division: str) -> int:
        """Return the row/column of a 2-digit division, raising KeyError."""
        return self._index[division[:2]]

    def tech_coef(self, seller: str, buyer: str) -> float:
        """Return the share of the buyer's output spent on the seller's product."""
        return float(self.tech[self.index(seller), self.index(buyer)])

    def sales_share(self, seller: str, buyer: str) -> float:
        """Return the share of the seller's intermediate sales that go to the buyer."""
        return float(self.share[self.index(seller), self.index(buyer)])


# --------------------------------------------------------------------------- codes


def division_group(division: str) -> str:
    """Return the A*64 group of an ATECO 2007/2022 division."""
    for group, divs in A64_GROUPS:
        if division in divs:
            return group
    raise KeyError(f"{division!r} is not an ATECO division")


@lru_cache(maxsize=4096)
def _normalize(raw: str) -> tuple[str | None, bool]:
    """Return (A*64 group, looks like an A*64 code) for a product or industry code."""
    code = raw.strip().upper()
    code = code.removeprefix("CPA_")
    m = _CODE_RE.match(code)
    if not m:
        return None, False
    letter, first, part, _letter2, last = m.groups()
    if first is None:
        group = _BY_DIVISIONS.get(frozenset(_SECTION_DIVISIONS.get(letter, set())))
        # A section spanning several groups (C, G...) is an aggregate, not an A*64 code.
        return group, group is not None
    stop = int(last) if last else int(first)
    divisions = {f"{n:02d}" for n in range(int(first), stop + 1)}
    divisions &= _SECTION_DIVISIONS.get(letter, set())
    if part and (first != "68" or last):
        return None, True
    return _BY_DIVISIONS.get(frozenset(divisions)), True


# --------------------------------------------------------------------------- reading


def _open_text(path: Path) -> Iterator[str]:
    """Yield the lines of a text file, gzip-compressed or not, UTF-8 with or without BOM."""
    with path.open("rb") as fh:
        gz = fh.read(2) == b"\x1f\x8b"
    opener = gzip.open if gz else open
    with (
        opener(path, "rb") as raw,
        _io.TextIOWrapper(raw, encoding="utf-8-sig", newline="") as text,
    ):
        yield from text


def _number(text: str) -> float | None:
    """Parse a value; None when missing (empty or ':'); ValueError when not a number."""
    value = text.strip()
    if not value or value.startswith(":"):
        return None
    token = value.split()[0]
    number = float(token)
    if math.isnan(number) or math.isinf(number):
        raise ValueError(token)
    return number


class _Collector:
    """Accumulate cells into per-year A*64 matrices, recording every row-level error."""

    def __init__(self) -> None:
        self.errors: list[str] = []
        self.use: dict[int, np.ndarray] = {}
        self.output: dict[int, np.ndarray] = {}
        self.seen_industries: dict[int, set[str]] = {}
        self.seen_products: dict[int, set[str]] = {}
        self.seen_output: dict[int, set[str]] = {}
        self.cells: dict[tuple[int, str, str], str] = {}
        self.negatives: dict[int, list[str]] = {}

    def add(
        self, where: str, year: int, product: str, industry: str, text: str, strict_codes: bool
    ) -> None:
        """Validate and add one cell; `where` names the row for error messages."""
        is_output = product.strip().upper() in OUTPUT_CODES
        p_group, p_like = (None, True) if is_output else _normalize(product)
        i_group, i_like = _normalize(industry)
        if i_group is None:
            if strict_codes or i_like:
                self.errors.append(f"{where}: unknown industry {industry.strip()!r}")
            return
        if not is_output and p_group is None:
            if strict_codes or p_like:
                self.errors.append(f"{where}: unknown product {product.strip()!r}")
            return
        try:
            value = _number(text)
        except ValueError:
            self.errors.append(
                f"{where}: value {text.strip()!r} for {product.strip()} -> {industry.strip()} "
                f"({year}) is not a number"
            )
            return
        if value is None:
            return
        if value < 0:
            # Judged only for the year that is loaded: other years may be revised data.
            self.negatives.setdefault(year, []).append(
                f"{where}: negative value {value:g} for {product.strip()} -> "
                f"{industry.strip()} ({year})"
            )
            return
        key = (year, product.strip().upper(), industry.strip().upper())
        if key in self.cells:
            self.errors.append(
                f"{where}: repeats {product.strip()} -> {industry.strip()} "
                f"({year}) of {self.cells[key]}"
            )
            return
        self.cells[key] = where
        n = len(GROUP_KEYS)
        i = _GROUP_INDEX[i_group]
        self.seen_industries.setdefault(year, set()).add(i_group)
        if is_output:
            if year not in self.output:
                self.output[year] = np.zeros(n)
            self.output[year][i] += value
            self.seen_output.setdefault(year, set()).add(i_group)
        else:
            assert p_group is not None
            if year not in self.use:
                self.use[year] = np.zeros((n, n))
            self.use[year][_GROUP_INDEX[p_group], i] += value
            self.seen_products.setdefault(year, set()).add(p_group)


def _read_long(lines: Iterator[str], collector: _Collector) -> None:
    """Read the long CSV layout into the collector."""
    reader = csv.reader(lines)
    header = [h.strip().lower() for h in next(reader, [])]
    unknown = [h for h in header if h not in LONG_COLUMNS]
    missing = [c for c in LONG_COLUMNS if c not in header]
    if unknown or missing:
        bits = []
        if missing:
            bits.append(f"missing columns {', '.join(missing)}")
        if unknown:
            bits.append(f"unknown columns {', '.join(unknown)}")
        raise IOTableError([f"line 1: {'; '.join(bits)} (expected {','.join(LONG_COLUMNS)})"])
    col = {name: header.index(name) for name in LONG_COLUMNS}
    for row in reader:
        where = f"line {reader.line_num}"
        if not any(cell.strip() for cell in row):
            continue
        if len(row) != len(header):
            collector.errors.append(f"{where}: {len(row)} values for {len(header)} columns")
            continue
        try:
            year = int(row[col["year"]].strip())
        except ValueError:
            collector.errors.append(f"{where}: year {row[col['year']].strip()!r} is not a number")
            continue
        collector.add(
            where,
            year,
            row[col["product"]],
            row[col["industry"]],
            row[col["value_meur"]],
            strict_codes=True,
        )


def _tsv_header(first: str) -> tuple[list[str], list[str]]:
    """Split the SDMX-TSV header into dimension names and the year columns."""
    cells = first.rstrip("\r\n").split("\t")
    dims_part = cells[0].split("\\")[0]
    dims = [d.strip().lower() for d in dims_part.split(",")]
    return dims, [c.strip() for c in cells[1:]]


def _dimension_values(lines: Iterator[str], dims: list[str]) -> dict[str, set[str]]:
    """Collect the values each dimension takes, to pick one slice of the cube."""
    values: dict[str, set[str]] = {d: set() for d in dims}
    for line in lines:
        keys = line.split("\t", 1)[0].split(",")
        for d, v in zip(dims, keys, strict=False):
            values[d].add(v.strip())
    return values


def _read_tsv(path: Path, collector: _Collector) -> str:
    """Read the Eurostat SDMX-TSV layout into the collector; return the geo it kept."""
    with closing(_open_text(path)) as lines:
        dims, year_cols = _tsv_header(next(lines))
        values = _dimension_values(lines, dims)
    prod_dim = next((d for d in _PRODUCT_DIMS if d in dims), None)
    ind_dim = next((d for d in _INDUSTRY_DIMS if d in dims), None)
    if prod_dim is None or ind_dim is None:
        raise IOTableError(
            [
                (
                    f"line 1: the first column must name a product dimension "
                    f"({'/'.join(_PRODUCT_DIMS)}) and an industry dimension "
                    f"({'/'.join(_INDUSTRY_DIMS)}); found {', '.join(dims)}"
                )
            ]
        )
    years: list[int | None] = []
    for c in year_cols:
        years.append(int(c) if c[:4].isdigit() and len(c) == 4 else None)
    if not any(y is not None for y in years):
        raise IOTableError([f"line 1: no year columns (found {', '.join(year_cols) or 'none'})"])
    others = [d for d in dims if d not in (prod_dim, ind_dim)]
    chosen: dict[str, str] = {}
    problems = []
    for d in others:
        vals = values[d]
        if len(vals) == 1:
            chosen[d] = next(iter(vals))
        elif _TSV_PREFERRED.get(d) in vals:
            chosen[d] = _TSV_PREFERRED[d]
        elif vals:
            problems.append(
                f"the file has several values of {d} ({', '.join(sorted(vals)[:8])}) and none "
                f"is {_TSV_PREFERRED.get(d, 'a default')}: download one {d} only"
            )
    if problems:
        raise IOTableError(problems)
    for n, line in enumerate(_open_text(path), start=1):
        if n == 1 or not line.strip():
            continue
        cells = line.rstrip("\r\n").split("\t")
        keys = [k.strip() for k in cells[0].split(",")]
        if len(keys) != len(dims):
            collector.errors.append(f"line {n}: {len(keys)} keys for {len(dims)} dimensions")
            continue
        row = dict(zip(dims, keys, strict=True))
        if any(row[d] != v for d, v in chosen.items()):
            continue
        if len(cells) - 1 > len(years):
            collector.errors.append(f"line {n}: more values than year columns")
            continue
        for year, text in zip(years, cells[1:], strict=False):
            if year is None:
                continue
            collector.add(
                f"line {n} ({year})", year, row[prod_dim], row[ind_dim], text, strict_codes=False
            )
    return chosen.get("geo", "")


def _looks_like_tsv(path: Path) -> bool:
    """Tell whether the file's header is SDMX-TSV (tabs, dimensions before a backslash)."""
    with closing(_open_text(path)) as lines:
        first = next(lines, "")
    return "\t" in first and "\\" in first.split("\t", 1)[0]


def read_use_table(
    path: str | Path, *, year: int | None = None, source: str | None = None
) -> UseTable:
    """Read and validate a use table file and return one year (default: the latest)."""
    p = Path(path)
    if not p.is_file():
        raise IOTableError([f"{p}: no such file"])
    collector = _Collector()
    try:
        if _looks_like_tsv(p):
            geo = _read_tsv(p, collector)
            label = f"Eurostat {'naio_10_cp1610' if 'naio' in p.name.lower() else 'use table'}"
            where = _GEO_NAMES.get(geo, geo)
            default_source = f"{label}, {where}".rstrip(", ")
        else:
            _read_long(_open_text(p), collector)
            default_source = f"Use table {p.name},"
    except UnicodeDecodeError as exc:
        raise IOTableError([f"{p.name}: not UTF-8 text ({exc.reason})"]) from None
    except (OSError, EOFError, gzip.BadGzipFile) as exc:
        raise IOTableError([f"{p.name}: cannot be read ({exc})"]) from None
    if collector.errors:
        raise IOTableError(collector.errors)
    present = sorted(set(collector.use) | set(collector.output) | set(collector.negatives))
    if not present:
        raise IOTableError([f"{p.name}: no values found"])
    chosen = present[-1] if year is None else year
    if chosen not in present:
        raise IOTableError(
            [f"year {year} is not in the file (years with data: {', '.join(map(str, present))})"]
        )
    errors = list(collector.negatives.get(chosen, []))
    missing_ind = [g for g in GROUP_KEYS if g not in collector.seen_industries.get(chosen, set())]
    if missing_ind:
        errors.append(f"{chosen}: missing industries {', '.join(missing_ind)}")
    missing_prod = [g for g in GROUP_KEYS if g not in collector.seen_products.get(chosen, set())]
    if missing_prod:
        errors.append(
            f"{chosen}: missing product rows {', '.join('CPA_' + g for g in missing_prod)}"
        )
    seen_out = collector.seen_output.get(chosen, set())
    if not seen_out:
        errors.append(f"{chosen}: missing OUTPUT row (each industry's total output, P1)")
    elif len(seen_out) < len(GROUP_KEYS):
        lacking = [g for g in GROUP_KEYS if g not in seen_out]
        errors.append(f"{chosen}: OUTPUT row has no value for {', '.join(lacking)}")
    if errors:
        raise IOTableError(errors)
    label = source or f"{default_source} {chosen}"
    n = len(GROUP_KEYS)
    return UseTable(
        year=chosen,
        use=collector.use.get(chosen, np.zeros((n, n))),
        output=collector.output[chosen],
        source=label,
        file_name=p.name,
    )


# --------------------------------------------------------------------------- derived figures


def upstreamness(use: np.ndarray, output: np.ndarray) -> np.ndarray:
    """Return the Antràs-Chor-Fally-Hillberry upstreamness U = (I - Δ)^-1 · 1 per group.

    Δ[i, j] = use[i, j] / Y_i: the share of product i's supply bought by industry j as input.
    A use table has no exports, imports or inventories by product, so Y_i is industry i's
    output (the closed-economy form of the index), raised to 1.01 x the product's total
    intermediate use where imports make that use exceed domestic output (e.g. energy
    commodities), which keeps every row of Δ below 1 and the inverse well defined.
    Industries with no output get U = 1.
    """
    intermediate = use.sum(axis=1)
    supply = np.maximum(output, intermediate * 1.01)
    with np.errstate(divide="ignore", invalid="ignore"):
        delta = np.where(supply[:, None] > 0, use / supply[:, None], 0.0)
    n = len(output)
    return np.linalg.solve(np.eye(n) - delta, np.ones(n))


def _group_matrices(table: UseTable) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Return (technical coefficients, sales shares, upstreamness) at A*64 group level."""
    use, output = table.use, table.output
    with np.errstate(divide="ignore", invalid="ignore"):
        tech = np.where(output[None, :] > 0, use / output[None, :], 0.0)
        total = use.sum(axis=1)
        share = np.where(total[:, None] > 0, use / total[:, None], 0.0)
    return tech, share, upstreamness(use, output)


def _divisions() -> list[str]:
    """Return every ATECO 2022 division (2 digits) in order."""
    return [d.code for d in ateco.divisions()]


def _expand(table: UseTable, *, table_id: int | None = None) -> SectorLinks:
    """Spread group-level figures over the divisions of each group."""
    tech_g, share_g, up_g = _group_matrices(table)
    divisions = _divisions()
    groups = [division_group(d) for d in divisions]
    idx = np.array([_GROUP_INDEX[g] for g in groups])
    return SectorLinks(
        divisions=divisions,
        tech=tech_g[np.ix_(idx, idx)],
        share=share_g[np.ix_(idx, idx)],
        upstreamness=up_g[idx],
        source=table.source,
        year=table.year,
        table_id=table_id,
        groups=groups,
    )


def links_from_file(
    path: str | Path, year: int | None = None, source: str | None = None
) -> SectorLinks:
    """Read a use table file straight into SectorLinks (no database)."""
    return _expand(read_use_table(path, year=year, source=source))


# --------------------------------------------------------------------------- database


def load_io_file(
    session: Session, path: str | Path, *, year: int | None = None, source: str | None = None
) -> IOTableInfo:
    """Validate a use table file and store one year as the active table, all or nothing."""
    table = read_use_table(path, year=year, source=source)
    links = _expand(table)
    rows = []
    n = len(links.divisions)
    for s in range(n):
        for b in range(n):
            tech, share = float(links.tech[s, b]), float(links.share[s, b])
            if tech > 0 or share > 0:
                rows.append(
                    {
                        "seller_division": links.divisions[s],
                        "buyer_division": links.divisions[b],
                        "tech_coef": tech,
                        "sales_share": share,
                    }
                )
    # A savepoint: a failure part-way leaves the caller's transaction as it was.
    with session.begin_nested():
        session.execute(update(IOTable).where(IOTable.active.is_(True)).values(active=False))
        record = IOTable(
            source=table.source[:200], file_name=table.file_name[:255], year=table.year, active=True
        )
        session.add(record)
        session.flush()
        for row in rows:
            row["io_table_id"] = record.id
        if rows:
            session.execute(insert(IOLink), rows)
        session.execute(
            insert(IOIndustry),
            [
                {"io_table_id": record.id, "division": d, "upstreamness": float(u)}
                for d, u in zip(links.divisions, links.upstreamness, strict=True)
            ],
        )
    return IOTableInfo(
        id=record.id,
        source=record.source,
        year=record.year,
        loaded_at=record.loaded_at,
        active=True,
        links=len(rows),
        industries=n,
    )


def active_table(session: Session) -> IOTable | None:
    """Return the active input-output table row, or None when none is loaded."""
    return session.scalars(
        select(IOTable).where(IOTable.active.is_(True)).order_by(IOTable.id.desc()).limit(1)
    ).first()


_cache: dict[tuple[int, str], SectorLinks] = {}
_cache_lock = threading.Lock()
_CACHE_SIZE = 4


def active_links(session: Session) -> SectorLinks | None:
    """Return the active table as dense SectorLinks (cached per table), or None."""
    row = session.execute(
        select(IOTable.id, IOTable.loaded_at, IOTable.source, IOTable.year)
        .where(IOTable.active.is_(True))
        .order_by(IOTable.id.desc())
        .limit(1)
    ).first()
    if row is None:
        return None
    # loaded_at tells apart tables that reuse an id after a rolled-back transaction.
    key = (row.id, str(row.loaded_at))
    with _cache_lock:
        hit = _cache.get(key)
    if hit is not None:
        return hit
    divisions = _divisions()
    index = {d: i for i, d in enumerate(divisions)}
    n = len(divisions)
    tech, share, up = np.zeros((n, n)), np.zeros((n, n)), np.ones(n)
    for s, b, t, sh in session.execute(
        select(
            IOLink.seller_division, IOLink.buyer_division, IOLink.tech_coef, IOLink.sales_share
        ).where(IOLink.io_table_id == row.id)
    ):
        if s in index and b in index:
            tech[index[s], index[b]] = t
            share[index[s], index[b]] = sh
    for d, u in session.execute(
        select(IOIndustry.division, IOIndustry.upstreamness).where(IOIndustry.io_table_id == row.id)
    ):
        if d in index:
            up[index[d]] = u
    links = SectorLinks(
        divisions=divisions,
        tech=tech,
        share=share,
        upstreamness=up,
        source=row.source,
        year=row.year,
        table_id=row.id,
    )
    with _cache_lock:
        if len(_cache) >= _CACHE_SIZE:
            _cache.pop(next(iter(_cache)))
        _cache[key] = links
    return links


def ensure_io_loaded(session: Session) -> IOTableInfo | None:
    """Load the file named by MATCHMAKER_IO_TABLE when it is set and no table is loaded."""
    from matchmaker.config import get_settings

    path = get_settings().io_table
    if not path or session.scalar(select(IOTable.id).limit(1)) is not None:
        return None
    return load_io_file(session, path)


# --------------------------------------------------------------------------- queries


def _ranked(links: SectorLinks, division: str, k: int, *, suppliers: bool) -> list[LinkedSector]:
    """Return the top k A*64 groups by technical coefficient or sales share."""
    d = links.index(division)
    seen: dict[str, list[str]] = {}
    for div, group in zip(links.divisions, links.groups, strict=True):
        seen.setdefault(group, []).append(div)
    items = []
    for group, divs in seen.items():
        j = links.index(divs[0])
        tech = float(links.tech[j, d] if suppliers else links.tech[d, j])
        share = float(links.share[j, d] if suppliers else links.share[d, j])
        value = tech if suppliers else share
        if value > 0:
            items.append((value, LinkedSector(group, tuple(divs), tech, share)))
    items.sort(key=lambda t: (-t[0], t[1].group))
    return [item for _, item in items[: max(k, 0)]]


def top_suppliers(links: SectorLinks, division: str, k: int = 5) -> list[LinkedSector]:
    """Return the k groups whose products take the largest share of the division's output."""
    return _ranked(links, division, k, suppliers=True)


def top_customers(links: SectorLinks, division: str, k: int = 5) -> list[LinkedSector]:
    """Return the k groups that buy the largest share of the division's intermediate sales."""
    return _ranked(links, division, k, suppliers=False)
