"""Benchmark input-output loading and value-chain lookups.

Run with ``.venv/bin/python benchmarks/refdata_io.py [USE_TABLE]``; the default table is the
team's shared Eurostat extract (``../shared/data/io/...``).  The database is a throw-away
SQLite file.  Exits non-zero when a target is missed.
"""

from __future__ import annotations

import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
DEFAULT_TABLE = (
    ROOT.parent / "shared" / "data" / "io" / "italy_use_table_basic_prices_2010_2016.csv"
)
LOAD_TARGET_S = 2.0
LINKS_WARM_TARGET_MS = 5.0
POSITIONS_TARGET_US = 50.0


def _median(fn: Callable[[], object], runs: int) -> float:
    """Return the median wall time of fn in seconds."""
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def main(argv: list[str]) -> int:
    """Print the benchmark table; return 1 if a target is missed."""
    from sqlalchemy.orm import sessionmaker

    from matchmaker.db import make_engine
    from matchmaker.models import Base
    from matchmaker.refdata import ateco, chains, io

    table = Path(argv[0]) if argv else DEFAULT_TABLE
    rows: list[tuple[str, str, str, bool]] = []
    ateco.divisions()  # the ATECO tables are shared with every other refdata user

    if table.exists():
        parse_s = _median(lambda: io.links_from_file(table), 5)
        rows.append(("parse file -> SectorLinks (median of 5)", f"{parse_s:.3f} s", "-", True))
        with tempfile.TemporaryDirectory(prefix="mm-io-bench-") as tmp:
            engine = make_engine(f"sqlite:///{tmp}/bench.db")
            Base.metadata.create_all(engine)
            factory = sessionmaker(bind=engine, expire_on_commit=False)

            def load() -> None:
                with factory() as session:
                    io.load_io_file(session, table)
                    session.commit()

            load_s = _median(load, 3)
            with factory() as session:
                start = time.perf_counter()
                io._cache.clear()
                links = io.active_links(session)
                cold_ms = (time.perf_counter() - start) * 1000
                warm_ms = _median(lambda: io.active_links(session), 50) * 1000
                top = io.top_suppliers(links, "28", 3) if links else []
            engine.dispose()
        rows += [
            (
                "load into SQLite, one transaction (median of 3)",
                f"{load_s:.3f} s",
                f"< {LOAD_TARGET_S:.0f} s",
                load_s < LOAD_TARGET_S,
            ),
            ("active_links, first call (reads 88 x 88 links)", f"{cold_ms:.1f} ms", "-", True),
            (
                "active_links, cached (median of 50)",
                f"{warm_ms:.3f} ms",
                f"< {LINKS_WARM_TARGET_MS:.0f} ms",
                warm_ms < LINKS_WARM_TARGET_MS,
            ),
            (
                "top 3 suppliers of machinery (28)",
                ", ".join(f"{s.group} {s.tech_coef:.3f}" for s in top),
                "C25 first",
                bool(top) and top[0].group == "C25",
            ),
        ]
    else:
        rows.append((f"input-output table {table}", "absent: skipped", "-", True))

    subcategories = [c.code for c in ateco.all_codes("2025", "subcategory")]
    start = time.perf_counter()
    chains._catalogue()
    catalogue_ms = (time.perf_counter() - start) * 1000
    start = time.perf_counter()
    report = chains.coverage_report("2025")
    coverage_s = time.perf_counter() - start
    chains._positions.cache_clear()
    start = time.perf_counter()
    for code in subcategories:
        chains.positions(code, "2025")
    cold_us = (time.perf_counter() - start) / len(subcategories) * 1e6
    warm_us = (
        _median(lambda: [chains.positions(c, "2025") for c in subcategories], 5)
        / len(subcategories)
        * 1e6
    )
    pair_us = _median(lambda: chains.stage_adjacency("16.10.00", "31.09.10"), 200) * 1e6
    rows += [
        ("load and validate value_chains.json", f"{catalogue_ms:.1f} ms", "-", True),
        (
            f"coverage of {report.total} ATECO 2025 subcategories",
            f"{coverage_s:.2f} s, {len(report.unclassified)} unclassified",
            "0 unclassified",
            report.ok,
        ),
        ("positions(), uncached, per 2025 subcategory", f"{cold_us:.1f} us", "-", True),
        (
            "positions(), cached, per code",
            f"{warm_us:.2f} us",
            f"< {POSITIONS_TARGET_US:.0f} us",
            warm_us < POSITIONS_TARGET_US,
        ),
        ("stage_adjacency() of two codes, cached", f"{pair_us:.1f} us", "-", True),
    ]

    width = max(len(r[0]) for r in rows)
    vwidth = max(len(r[1]) for r in rows)
    twidth = max(len(r[2]) for r in rows)
    print("refdata input-output and value-chain benchmark")
    print(f"{'measure':<{width}}  {'value':<{vwidth}}  {'target':<{twidth}}  ok")
    print(f"{'-' * width}  {'-' * vwidth}  {'-' * twidth}  --")
    for name, value, target, ok in rows:
        print(f"{name:<{width}}  {value:<{vwidth}}  {target:<{twidth}}  {'yes' if ok else 'NO'}")
    return 0 if all(r[3] for r in rows) else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
