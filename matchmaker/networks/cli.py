"""CLI: `matchmaker network suggest PIVA [--size N] [--goal KEY] [--json]`, or without a seed
`matchmaker network suggest --chain KEY --region NAME [--province SIGLA] [--size N] [--json]`."""

import argparse
import json
import sys
from dataclasses import asdict
from typing import Any

from sqlalchemy.orm import Session


def open_session() -> Session:
    """Return a session on the configured database, upgraded to the latest schema (tests
    replace this)."""
    from matchmaker import migrate
    from matchmaker.db import get_sessionmaker

    migrate.upgrade()
    return get_sessionmaker()()


def cmd_suggest(args: argparse.Namespace) -> int:
    """Print a proposed network around a firm, or of a value chain in an area, with roles."""
    from matchmaker.firms import service as firms_service
    from matchmaker.networks import service

    if not args.piva and not args.chain:
        print("error: give a partita IVA, or --chain and --region/--province", file=sys.stderr)
        return 2
    if args.piva and (args.region or args.province):
        print("error: --region and --province plan a network without a seed", file=sys.stderr)
        return 2
    with open_session() as s:
        firm = None
        try:
            if args.piva:
                firm = firms_service.get_firm(s, args.piva)
                if firm is None:
                    print(f"error: no firm with partita IVA {args.piva}", file=sys.stderr)
                    return 1
                result = service.suggest(
                    s,
                    seed=firm,
                    viewer=None,
                    size=args.size,
                    goal=args.goal,
                    radius_km=args.radius_km,
                    chain_key=args.chain,
                )
            else:
                if args.radius_km is not None:
                    print("error: --radius-km needs a seed firm", file=sys.stderr)
                    return 2
                # The command line sees what an anonymous visitor sees: public firms only.
                result = service.suggest_for_chain(
                    s,
                    chain_key=args.chain,
                    region=args.region,
                    province=args.province,
                    viewer=None,
                    size=args.size,
                    goal=args.goal,
                )
        except service.NetworkError as exc:
            where = f" ({exc.field})" if exc.field else ""
            print(f"error{where}: {exc}", file=sys.stderr)
            return 2
    if args.json:
        print(json.dumps(asdict(result), ensure_ascii=False, indent=1, default=str))
        return 0
    chain = f" in the {result.chain_name} chain" if result.chain_name else ""
    if firm is not None:
        head = f"Network of {len(result.members)} around {firm.name} ({firm.partita_iva}){chain}"
    else:
        anchor = result.members[0].firm
        head = (
            f"Network of {len(result.members)}{chain} in {result.area}, "
            f"anchor {anchor.name} ({anchor.partita_iva}) chosen by the planner"
        )
    print(
        f"{head}; {result.candidates} candidates, mean fit {result.mean_fit:.2f}, "
        f"{result.seconds:.2f}s"
    )
    for i, m in enumerate(result.members):
        f = m.firm
        print(
            f"{i:>2}. {f.partita_iva} {f.name} ({f.comune} {f.province}, {f.ateco}, "
            f"{f.distance_km:.0f} km) fit {m.fit:.2f}"
        )
        for r in m.roles:
            print(f"      - {r}")
        if m.alternatives:
            print(
                "      alternatives: "
                + "; ".join(f"{a.firm.name} ({a.firm.partita_iva})" for a in m.alternatives)
            )
    if result.covered:
        print("covered stages: " + ", ".join(n for _k, n in result.covered))
    print("uncovered stages: " + (", ".join(n for _k, n in result.uncovered) or "none"))
    if result.absent:
        print(f"no firm at all in {result.area}: " + ", ".join(n for _k, n in result.absent))
    if result.needs_uncovered:
        print("needs nobody answers: " + ", ".join(result.needs_uncovered))
    return 0


def add_cli(sub: Any) -> None:
    """Register the network command."""
    p = sub.add_parser("network", help="propose whole networks")
    nsub = p.add_subparsers(dest="network_command", required=True)
    s = nsub.add_parser(
        "suggest",
        help="a proposed network around a firm, or of a value chain in a region, with roles",
    )
    s.add_argument("piva", nargs="?", default=None, help="seed firm (omit it with --chain)")
    s.add_argument("--size", type=int, default=5, help="firms in the network, seed included")
    s.add_argument("--goal", default=None, help="goal key, e.g. internationalisation")
    s.add_argument(
        "--chain",
        default=None,
        help="value chain key (with a seed: default the best fit; without: required)",
    )
    s.add_argument("--region", default=None, help="region name or ISTAT code (no seed)")
    s.add_argument("--province", default=None, help="province sigla, e.g. BG (no seed)")
    s.add_argument("--radius-km", type=float, default=None)
    s.add_argument("--json", action="store_true")
    s.set_defaults(func=cmd_suggest)
