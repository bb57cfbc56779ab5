"""Input-output tables: parsing both layouts, validation, loading, links and upstreamness."""

import csv
import gzip
import re
from pathlib import Path

import numpy as np
import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from matchmaker.refdata import io
from matchmaker.refdata.models import IOIndustry, IOLink, IOTable

SHARED_TABLE = Path("data/io/italy_use_table_basic_prices_2010_2016.csv")
SHARED_MAPPING = Path("data/io/ateco2007_division_to_a64.csv")


def _industry_code(group: str) -> str:
    """Spell an A*64 group the way Eurostat's SDMX release spells industries (C10T12)."""
    return re.sub(
        r"([-_])[A-U](\d{2})", lambda m: ("T" if m.group(1) == "-" else "_") + m.group(2), group
    )


def _cells(year: int = 2016) -> list[tuple[int, str, str, float]]:
    """Return a complete, valid synthetic use table (with L68 split in two parts)."""
    products = ["CPA_" + g for g in io.GROUP_KEYS if g != "L68"] + ["CPA_L68A", "CPA_L68B"]
    industries = [_industry_code(g) for g in io.GROUP_KEYS if g != "L68"] + ["L68A", "L68B"]
    rows = []
    for pi, p in enumerate(products):
        for ii, i in enumerate(industries):
            rows.append((year, p, i, float(1 + (pi * 7 + ii * 3) % 10)))
    for i in industries:
        rows.append((year, "OUTPUT", i, 1000.0))
    return rows


def _write_long(path: Path, rows: list[tuple], header: tuple = io.LONG_COLUMNS) -> Path:
    with path.open("w", newline="", encoding="utf-8") as fh:
        writer = csv.writer(fh)
        writer.writerow(header)
        writer.writerows(rows)
    return path


def _counts(db: Session) -> tuple[int, int, int]:
    return (
        db.scalar(select(func.count()).select_from(IOTable)) or 0,
        db.scalar(select(func.count()).select_from(IOLink)) or 0,
        db.scalar(select(func.count()).select_from(IOIndustry)) or 0,
    )


def _shared(shared_dir: Path, rel: Path) -> Path:
    path = shared_dir / rel
    if not path.exists():
        pytest.skip(f"shared data {path} is absent")
    return path


# --------------------------------------------------------------------------- shared data


def test_machinery_buys_fabricated_metals_first_with_the_shared_table(
    db: Session, shared_dir: Path
) -> None:
    info = io.load_io_file(db, _shared(shared_dir, SHARED_TABLE))
    assert info.year == 2016 and info.active
    links = io.active_links(db)
    assert links is not None and links.year == 2016
    top3 = io.top_suppliers(links, "28", 3)
    assert "C25" in [s.group for s in top3]
    assert top3[0].group == "C25"
    assert links.tech_coef("25", "28") == pytest.approx(0.167, abs=0.001)
    assert links.tech_coef("28", "28") == pytest.approx(0.147, abs=0.001)
    assert links.tech_coef("24", "28") == pytest.approx(0.041, abs=0.001)
    # Basic metals sit further from final demand than retail trade.
    assert links.upstreamness[links.index("24")] > links.upstreamness[links.index("47")]


def test_our_a64_mapping_matches_the_shared_file(shared_dir: Path) -> None:
    path = _shared(shared_dir, SHARED_MAPPING)
    with path.open(encoding="utf-8") as fh:
        shared = {row["division"]: row["cpa_a64"] for row in csv.DictReader(fh)}
    ours = {d: "CPA_" + g for g, divs in io.A64_GROUPS for d in divs}
    assert ours == shared


def test_shared_table_years_and_bad_year(shared_dir: Path) -> None:
    path = _shared(shared_dir, SHARED_TABLE)
    assert io.read_use_table(path, year=2015).year == 2015
    with pytest.raises(io.IOTableError, match="year 2030 is not in the file"):
        io.read_use_table(path, year=2030)


# --------------------------------------------------------------------------- synthetic tables


def test_long_csv_gives_coefficients_shares_and_shares_groups(tmp_path: Path) -> None:
    rows = _cells()
    links = io.links_from_file(_write_long(tmp_path / "t.csv", rows), source="Test table")
    assert links.source == "Test table"
    assert links.divisions == [d.code for d in io.ateco.divisions()]
    assert links.tech.shape == links.share.shape == (88, 88)
    values = {(p, i): v for _y, p, i, v in rows}
    # a[25, 28] = use[CPA_C25, C28] / OUTPUT[C28]
    assert links.tech_coef("25", "28") == pytest.approx(values[("CPA_C25", "C28")] / 1000)
    total = sum(v for (p, _i), v in values.items() if p == "CPA_C25")
    assert links.sales_share("25", "28") == pytest.approx(values[("CPA_C25", "C28")] / total)
    # Divisions of one A*64 group share its figures.
    assert links.tech_coef("10", "28") == links.tech_coef("11", "28") == links.tech_coef("12", "28")
    # L68A and L68B are summed into L68 (division 68).
    l68 = values[("CPA_C25", "L68A")] + values[("CPA_C25", "L68B")]
    assert links.tech_coef("25", "68") == pytest.approx(l68 / 2000)
    assert np.all(links.upstreamness >= 1.0)
    with pytest.raises(ValueError):
        links.tech.__setitem__((0, 0), 1.0)


def test_top_lists_rank_groups_once(tmp_path: Path) -> None:
    links = io.links_from_file(_write_long(tmp_path / "t.csv", _cells()))
    top = io.top_suppliers(links, "28", 5)
    assert len(top) == 5
    assert [s.tech_coef for s in top] == sorted((s.tech_coef for s in top), reverse=True)
    assert len({s.group for s in top}) == 5
    customers = io.top_customers(links, "28", 3)
    assert [c.sales_share for c in customers] == sorted(
        (c.sales_share for c in customers), reverse=True
    )


def test_upstreamness_of_a_two_stage_chain() -> None:
    # Industry 0 sells half its output to industry 1; industry 1 sells only to final demand.
    use = np.array([[0.0, 50.0], [0.0, 0.0]])
    output = np.array([100.0, 200.0])
    assert io.upstreamness(use, output) == pytest.approx([1.5, 1.0])


@pytest.mark.parametrize(
    ("mutate", "message"),
    [
        (
            lambda rows: rows.__setitem__(5, (2016, rows[5][1], rows[5][2], -4.0)),
            "line 7: negative value -4",
        ),
        (lambda rows: rows.append((2016, "CPA_C25", "Z99", 1.0)), "unknown industry 'Z99'"),
        (lambda rows: rows.append((2016, "CPA_C99", "C28", 1.0)), "unknown product 'CPA_C99'"),
        (
            lambda rows: rows.__setitem__(3, (2016, rows[3][1], rows[3][2], "abc")),
            "line 5: value 'abc'",
        ),
        (
            lambda rows: rows.__setitem__(slice(None), [r for r in rows if r[1] != "OUTPUT"]),
            "missing OUTPUT row",
        ),
        (
            lambda rows: rows.__setitem__(slice(None), [r for r in rows if r[2] != "C28"]),
            "missing industries C28",
        ),
        (lambda rows: rows.append(rows[0]), "repeats"),
    ],
    ids=[
        "negative",
        "unknown-industry",
        "unknown-product",
        "not-a-number",
        "no-output",
        "missing-industry",
        "duplicate",
    ],
)
def test_bad_tables_fail_naming_the_row_and_load_nothing(
    db: Session, tmp_path: Path, mutate, message: str
) -> None:
    rows = _cells()
    mutate(rows)
    before = _counts(db)
    with pytest.raises(io.IOTableError, match=message):
        io.load_io_file(db, _write_long(tmp_path / "bad.csv", rows))
    assert _counts(db) == before
    assert io.active_links(db) is None


def test_wrong_columns_and_missing_year(tmp_path: Path) -> None:
    path = _write_long(
        tmp_path / "x.csv", [(2016, "CPA_C25", "C28", 1.0, "x")], header=(*io.LONG_COLUMNS, "note")
    )
    with pytest.raises(io.IOTableError, match="line 1: unknown columns note"):
        io.read_use_table(path)
    path = _write_long(tmp_path / "ok.csv", _cells())
    with pytest.raises(
        io.IOTableError, match=r"year 2015 is not in the file \(years with data: 2016\)"
    ):
        io.read_use_table(path, year=2015)


def test_a_failure_while_writing_leaves_nothing(
    db: Session, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = _write_long(tmp_path / "t.csv", _cells())
    real_insert = io.insert

    def failing_insert(table: object) -> object:
        if table is IOIndustry:
            raise RuntimeError("disk full")
        return real_insert(table)

    monkeypatch.setattr(io, "insert", failing_insert)
    before = _counts(db)
    with pytest.raises(RuntimeError):
        io.load_io_file(db, path)
    assert _counts(db) == before


def test_loading_a_new_table_makes_it_the_active_one(db: Session, tmp_path: Path) -> None:
    first = io.load_io_file(db, _write_long(tmp_path / "a.csv", _cells(2015)), source="A")
    assert io.active_links(db).source == "A"  # type: ignore[union-attr]
    second = io.load_io_file(db, _write_long(tmp_path / "b.csv", _cells(2016)), source="B")
    active = db.scalars(select(IOTable).where(IOTable.active.is_(True))).all()
    assert [t.id for t in active] == [second.id]
    assert first.id != second.id
    links = io.active_links(db)
    assert links is not None and (links.source, links.year) == ("B", 2016)
    assert io.active_links(db) is links
    assert second.links == db.scalar(
        select(func.count()).select_from(IOLink).where(IOLink.io_table_id == second.id)
    )


def test_links_read_back_from_the_database_equal_the_file(db: Session, tmp_path: Path) -> None:
    path = _write_long(tmp_path / "t.csv", _cells())
    io.load_io_file(db, path)
    stored = io.active_links(db)
    direct = io.links_from_file(path)
    assert stored is not None
    assert np.allclose(stored.tech, direct.tech)
    assert np.allclose(stored.share, direct.share)
    assert np.allclose(stored.upstreamness, direct.upstreamness)


def _write_tsv(
    path: Path, rows: list[tuple[int, str, str, float]], *, compress: bool = False
) -> Path:
    """Write rows as Eurostat SDMX-TSV, with a second unit and a second year to ignore."""
    lines = ["freq,unit,stk_flow,induse,prod_na,geo\\TIME_PERIOD\t2015 \t2016 "]
    for i, (_year, product, industry, value) in enumerate(rows):
        prod = "P1" if product == "OUTPUT" else product
        flag = " p" if i % 5 == 0 else ""
        lines.append(f"A,MIO_EUR,TOTAL,{industry},{prod},IT\t: \t{value:g}{flag}")
        lines.append(f"A,MIO_NAC,TOTAL,{industry},{prod},IT\t: \t{value * 2:g}")
    # Final uses and value added appear in real downloads and are not industries or products.
    lines.append("A,MIO_EUR,TOTAL,P3_S14,CPA_C28,IT\t: \t5.0")
    lines.append("A,MIO_EUR,TOTAL,C28,B1G,IT\t: \t7.0")
    lines.append("A,MIO_EUR,TOTAL,C,CPA_C28,IT\t: \t9.0")
    lines.append("A,MIO_EUR,TOTAL,TOTAL,CPA_TOTAL,IT\t: \t11.0")
    text = "\n".join(lines) + "\n"
    if compress:
        path.write_bytes(gzip.compress(text.encode()))
    else:
        path.write_text(text, encoding="utf-8")
    return path


@pytest.mark.parametrize("compress", [False, True])
def test_eurostat_tsv_layout(tmp_path: Path, compress: bool) -> None:
    rows = _cells()
    name = "naio_10_cp1610.tsv.gz" if compress else "naio_10_cp1610.tsv"
    tsv = io.links_from_file(_write_tsv(tmp_path / name, rows, compress=compress))
    long = io.links_from_file(_write_long(tmp_path / "t.csv", rows))
    assert tsv.source == "Eurostat naio_10_cp1610, Italy 2016"
    assert tsv.year == 2016
    assert np.allclose(tsv.tech, long.tech)
    assert np.allclose(tsv.share, long.share)


def test_tsv_errors_name_the_line_and_year(tmp_path: Path) -> None:
    path = _write_tsv(tmp_path / "naio.tsv", _cells())
    text = path.read_text().splitlines()
    text[3] = text[3].replace("MIO_EUR,TOTAL", "MIO_EUR,TOTAL", 1).rsplit("\t", 1)[0] + "\tx1"
    path.write_text("\n".join(text) + "\n")
    with pytest.raises(io.IOTableError, match=r"line 4 \(2016\): value 'x1'"):
        io.read_use_table(path)


def test_tsv_with_several_countries_and_no_italy_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "naio.tsv"
    path.write_text(
        "unit,stk_flow,induse,prod_na,geo\\time\t2016 \n"
        "MIO_EUR,TOTAL,C28,CPA_C25,DE\t1.0 \n"
        "MIO_EUR,TOTAL,C28,CPA_C25,FR\t1.0 \n",
        encoding="utf-8",
    )
    with pytest.raises(io.IOTableError, match="several values of geo"):
        io.read_use_table(path)


def test_without_a_table_there_are_no_links(db: Session) -> None:
    assert io.active_links(db) is None
    assert io.ensure_io_loaded(db) is None


def test_ensure_io_loaded_reads_the_configured_file_once(
    db: Session, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from matchmaker.config import get_settings

    path = _write_long(tmp_path / "t.csv", _cells())
    monkeypatch.setattr(get_settings(), "io_table", str(path))
    info = io.ensure_io_loaded(db)
    assert info is not None and info.active
    assert io.ensure_io_loaded(db) is None
    assert _counts(db)[0] == 1
