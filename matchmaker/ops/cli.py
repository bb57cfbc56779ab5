"""`matchmaker db backup FILE` and `matchmaker db restore FILE [--force]`."""

import argparse
import sys

from matchmaker.config import get_settings


def add_db_commands(dbsub: argparse._SubParsersAction) -> None:
    """Add `backup` and `restore` to the `db` sub-commands."""
    b = dbsub.add_parser("backup", help="write a consistent copy of the database (safe while "
                                        "serving)")
    b.add_argument("file")
    b.add_argument("--format", choices=("auto", "native", "jsonl"), default="auto",
                   help="native: a SQLite file or a pg_dump archive (auto: native, JSON lines "
                        "when pg_dump is missing); jsonl: portable across backends, .gz to "
                        "compress")
    r = dbsub.add_parser("restore", help="put a backup back (refuses a non-empty database)")
    r.add_argument("file")
    r.add_argument("--force", action="store_true",
                   help="replace the content of a database that is not empty")


def cmd_backup_restore(args: argparse.Namespace) -> int:
    """Run a backup or a restore and print what it did."""
    from matchmaker.ops import backup as ops_backup

    url = get_settings().database_url
    try:
        if args.db_command == "backup":
            result = ops_backup.backup(url, args.file, fmt=args.format)
        else:
            result = ops_backup.restore(url, args.file, force=args.force)
    except ops_backup.BackupError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    print(result.describe())
    return 0
