"""`matchmaker contracts export ID --format docx|pdf|md -o FILE`."""

import argparse
import sys
from pathlib import Path

from sqlalchemy.orm import Session


def open_session() -> Session:
    """Open a session on the configured database (tests run it inside their transaction)."""
    from matchmaker.db import get_sessionmaker

    return get_sessionmaker()()


def cmd_export(args: argparse.Namespace) -> int:
    """Write a contract's document; refuse a final one while required elements are missing."""
    from matchmaker.contracts import documents, service

    with open_session() as session:
        contract = service.get_contract(session, args.id)
        if contract is None:
            print(f"error: no contract {args.id}", file=sys.stderr)
            return 1
        try:
            content = service.export_document(session, contract=contract, fmt=args.format,
                                              draft=args.draft)
        except service.ContractIncomplete as exc:
            print("error: the contract is not ready for signature; missing:", file=sys.stderr)
            for line in exc.blocking:
                print(f"  - {line}", file=sys.stderr)
            print("Use --draft for a watermarked draft.", file=sys.stderr)
            return 1
        except documents.DocumentUnavailable as exc:
            print(f"error: {exc}", file=sys.stderr)
            return 1
        session.commit()  # the standard template is stored on first use
    out = Path(args.output or service.filename(contract, args.format, draft=args.draft))
    out.write_bytes(content)
    kind = "draft" if args.draft else "document"
    print(f"Contract {args.id} version {contract.version}: {kind} written to {out} "
          f"({len(content):,} bytes)")
    return 0


def add_cli(subparsers: argparse._SubParsersAction) -> None:
    """Add the `contracts` command."""
    p = subparsers.add_parser("contracts", help="network contracts")
    sub = p.add_subparsers(dest="contracts_command", required=True)
    exp = sub.add_parser("export", help="write a contract's document (DOCX, PDF or Markdown)")
    exp.add_argument("id", type=int)
    exp.add_argument("--format", choices=("docx", "pdf", "md"), default="docx")
    exp.add_argument("-o", "--output", help="file to write (default: a name from the title)")
    exp.add_argument("--draft", action="store_true",
                     help="a draft marked BOZZA, even if required elements are missing")
    exp.set_defaults(func=cmd_export)
