"""The `matchmaker` command: serve, db, demo, firms import/export, users, and more."""

import argparse
import importlib
import sys
from collections.abc import Callable
from pathlib import Path

# Domains add their own sub-commands with `add_cli(subparsers)`.
CLI_MODULES = [
    "matchmaker.accounts.cli",
    "matchmaker.matching.cli",
    "matchmaker.refdata.cli",
    "matchmaker.networks.cli",
    "matchmaker.contracts.cli",
    "matchmaker.associations.cli",
]


def _session():
    from matchmaker.db import get_sessionmaker

    return get_sessionmaker()()


def cmd_serve(args: argparse.Namespace) -> int:
    """Upgrade the database, optionally seed demo data, and serve."""
    import uvicorn

    from matchmaker import migrate
    from matchmaker.ops.logs import log_config

    migrate.upgrade()
    with _session() as s:
        from matchmaker.refdata import io as io_ref

        if io_ref.ensure_io_loaded(s) is not None:
            s.commit()
    if args.demo:
        from matchmaker.firms.models import Firm

        with _session() as s:
            empty = s.query(Firm.id).first() is None
        if empty:
            print("Empty database: loading demo data…", flush=True)
            cmd_demo(argparse.Namespace(firms=args.demo_firms, seed=42))
    print(f"Matchmaker on http://{args.host}:{args.port}", flush=True)
    uvicorn.run(
        "matchmaker.main:create_app",
        factory=True,
        host=args.host,
        port=args.port,
        workers=args.workers,
        log_level="info",
        access_log=False,  # matchmaker.ops.logs writes one JSON line per request instead
        log_config=log_config(),
        timeout_graceful_shutdown=10,
    )
    return 0


def cmd_db(args: argparse.Namespace) -> int:
    """Run Alembic upgrade or downgrade."""
    from matchmaker import migrate

    if args.db_command == "upgrade":
        migrate.upgrade(args.revision)
        print(f"Database at {args.revision}")
    elif args.db_command == "downgrade":
        migrate.downgrade(args.revision)
        print(f"Database downgraded to {args.revision}")
    elif args.db_command in ("backup", "restore"):
        from matchmaker.ops import cli as ops_cli

        return ops_cli.cmd_backup_restore(args)
    return 0


def cmd_demo(args: argparse.Namespace) -> int:
    """Seed the demo dataset into an empty database."""
    from matchmaker import migrate
    from matchmaker.demo import seed_demo

    migrate.upgrade()

    def progress(done: int, total: int) -> None:
        print(f"\r  firms {done}/{total}", end="", flush=True)

    with _session() as s:
        try:
            summary = seed_demo(s, firms=args.firms, seed=args.seed, progress=progress)
        except ValueError as exc:
            print(f"error: {exc}", file=sys.stderr)
            return 1
        _load_io(s)
        s.commit()
    print()
    print(summary.describe() if hasattr(summary, "describe") else summary)
    return 0


def _load_io(session) -> None:
    """Load the configured input-output table, or the team's shared one for the demo."""
    from matchmaker.config import PROJECT_ROOT, get_settings
    from matchmaker.refdata import io as io_ref

    if io_ref.active_table(session) is not None:
        return
    if get_settings().io_table:
        info = io_ref.ensure_io_loaded(session)
    else:
        shared = PROJECT_ROOT.parent / "shared" / "data" / "io" / (
            "italy_use_table_basic_prices_2010_2016.csv")
        if not shared.exists():
            print("No input-output table: sector links come from value chains only.")
            return
        info = io_ref.load_io_file(session, shared, year=2016,
                                   source="Eurostat naio_10_cp1610, Italy 2016")
    if info is not None:
        print(f"Input-output table loaded: {getattr(info, 'source', info)}")


def cmd_firms_import(args: argparse.Namespace) -> int:
    """Import firms from a CSV file and report every rejected row."""
    from matchmaker.firms import service

    content = Path(args.file).read_bytes()
    with _session() as s:
        joined = None
        if args.association:
            from matchmaker.associations import service as associations

            association = associations.get_association(s, args.association)
            if association is None:
                print(f"error: no association {args.association!r}", file=sys.stderr)
                return 1
            result = associations.import_members(
                s, association=association, content=content, user=None,
                skip_invalid=args.skip_invalid, dry_run=args.dry_run,
            )
            report, joined = result.report, result.joined
        else:
            report = service.import_csv(
                s, content=content, skip_invalid=args.skip_invalid, dry_run=args.dry_run
            )
        for msg in report.file_errors:
            print(f"error: {msg}", file=sys.stderr)
        for e in report.errors:
            print(f"line {e.line}: {e.column}: {e.reason}", file=sys.stderr)
        if report.committed:
            s.commit()
        if report.detected_edition:
            print(f"ATECO codes read as edition {report.detected_edition} (detected from the file)")
        verb = "would create" if args.dry_run else "created"
        print(
            f"{report.rows} rows read, {verb} {report.created}, updated {report.updated}, "
            f"unchanged {report.unchanged}, rejected {report.rejected_rows}; "
            + ("committed" if report.committed else "nothing committed")
        )
        if joined is not None and report.committed:
            print(f"{joined} firms joined the association {args.association}")
    if report.file_errors:
        return 1
    if report.errors and not report.committed:
        return 1
    return 0


def cmd_firms_export(args: argparse.Namespace) -> int:
    """Export all firms to a CSV file."""
    from matchmaker.firms import service

    with _session() as s:
        text = service.export_csv(s)
    Path(args.file).write_text(text, encoding="utf-8")
    print(f"{text.count(chr(10)) - 1} firms written to {args.file}")
    return 0


def build_parser() -> argparse.ArgumentParser:
    """Build the argument parser with every sub-command."""
    parser = argparse.ArgumentParser(prog="matchmaker", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)

    p = sub.add_parser("serve", help="upgrade the database and serve the app")
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--port", type=int, default=8000)
    p.add_argument("--workers", type=int, default=1)
    p.add_argument("--demo", action="store_true", help="seed demo data if the database is empty")
    p.add_argument("--demo-firms", type=int, default=2000)
    p.set_defaults(func=cmd_serve)

    p = sub.add_parser("db", help="database migrations")
    dbsub = p.add_subparsers(dest="db_command", required=True)
    up = dbsub.add_parser("upgrade")
    up.add_argument("revision", nargs="?", default="head")
    down = dbsub.add_parser("downgrade")
    down.add_argument("revision")
    from matchmaker.ops import cli as ops_cli

    ops_cli.add_db_commands(dbsub)
    p.set_defaults(func=cmd_db)

    p = sub.add_parser("demo", help="seed a realistic demo dataset")
    p.add_argument("--firms", type=int, default=2000)
    p.add_argument("--seed", type=int, default=42)
    p.set_defaults(func=cmd_demo)

    p = sub.add_parser("firms", help="import or export firms")
    fsub = p.add_subparsers(dest="firms_command", required=True)
    imp = fsub.add_parser("import", help="import firms from CSV")
    imp.add_argument("file")
    imp.add_argument("--skip-invalid", action="store_true", help="commit the good rows")
    imp.add_argument("--dry-run", action="store_true", help="check only, write nothing")
    imp.add_argument("--association", metavar="SLUG",
                     help="make every imported firm a member of this association")
    imp.set_defaults(func=cmd_firms_import)
    exp = fsub.add_parser("export", help="export firms to CSV")
    exp.add_argument("file")
    exp.set_defaults(func=cmd_firms_export)

    for name in CLI_MODULES:
        try:
            mod = importlib.import_module(name)
        except ModuleNotFoundError as exc:
            if exc.name != name:
                raise
            continue
        add: Callable[[argparse._SubParsersAction], None] = mod.add_cli
        add(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    """Run the command line."""
    parser = build_parser()
    args = parser.parse_args(argv)
    return int(args.func(args) or 0)


if __name__ == "__main__":
    sys.exit(main())
