"""`matchmaker refdata io FILE`: load an input-output table; `refdata chains`: check coverage."""

import argparse
import sys
from collections.abc import Callable

from sqlalchemy.orm import Session


def session_factory() -> Session:
    """Return a new session on the configured database."""
    from matchmaker.db import get_sessionmaker

    return get_sessionmaker()()


def cmd_io(args: argparse.Namespace) -> int:
    """Load a use table file as the active input-output table, in one transaction."""
    from matchmaker.refdata import io

    with session_factory() as session:
        try:
            info = io.load_io_file(session, args.file, year=args.year, source=args.source)
        except io.IOTableError as exc:
            session.rollback()
            print(f"error: {args.file}: nothing loaded", file=sys.stderr)
            for message in exc.errors:
                print(f"  {message}", file=sys.stderr)
            return 1
        session.commit()
        links = io.active_links(session)
    print(
        f"Loaded {info.source} (year {info.year}) as table {info.id}: "
        f"{info.links} division links, {info.industries} divisions; now active"
    )
    if links is not None:
        top = ", ".join(f"{s.group} {s.tech_coef:.3f}" for s in io.top_suppliers(links, "28", 3))
        print(f"Check: largest inputs of machinery (28): {top}")
    return 0


def cmd_chains(args: argparse.Namespace) -> int:
    """Print the value chains and check that every ATECO subcategory is classified."""
    from matchmaker.refdata import chains

    info = chains.catalogue_info()
    print(f"Value chains, version {info['version']}")
    for ch in chains.chains():
        stages = " -> ".join(s.key for s in ch.stages)
        print(f"  {ch.key}: {stages}")
    report = chains.coverage_report(args.edition)
    print(
        f"ATECO {report.edition}: {report.total} subcategories, {report.in_chain} in a chain "
        f"({report.support_only} as support only), {len(report.no_chain)} outside every "
        f"chain, {len(report.unclassified)} unclassified"
    )
    for code in report.unclassified:
        print(f"  unclassified: {code}", file=sys.stderr)
    return 0 if report.ok else 1


def add_cli(subparsers: argparse._SubParsersAction) -> None:
    """Add the `refdata` command and its sub-commands."""
    p = subparsers.add_parser("refdata", help="reference data: input-output tables, value chains")
    sub = p.add_subparsers(dest="refdata_command", required=True)
    io_p = sub.add_parser(
        "io",
        help="load an input-output use table (Eurostat naio_10_cp1610 TSV, or the long CSV "
        "year,product,industry,value_meur)",
    )
    io_p.add_argument("file")
    io_p.add_argument("--year", type=int, default=None, help="year to load (default: latest)")
    io_p.add_argument("--source", default=None, help="source name shown on sector pages")
    handler: Callable[[argparse.Namespace], int] = cmd_io
    io_p.set_defaults(func=handler)
    ch = sub.add_parser("chains", help="list value chains and check ATECO coverage")
    ch.add_argument("--edition", default="2025", choices=["2025", "2022", "2007"])
    ch.set_defaults(func=cmd_chains)
