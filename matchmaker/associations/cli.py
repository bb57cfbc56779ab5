"""`matchmaker associations …`: register associations, choose curators, list them."""

import argparse
import sys

from sqlalchemy.orm import Session

from matchmaker.associations.models import ASSOCIATION_KINDS


def open_session() -> Session:
    """Return a session on the configured database (tests replace this)."""
    from matchmaker.db import get_sessionmaker

    return get_sessionmaker()()


def cmd_create(args: argparse.Namespace) -> int:
    """Register an association."""
    from matchmaker.associations import service

    with open_session() as session:
        try:
            a = service.create_association(
                session, slug=args.slug, name=args.name, kind=args.kind,
                region_code=args.region, province=args.province, description=args.description)
        except service.AssociationError as exc:
            for field, message in (getattr(exc, "errors", None) or {exc.field: exc.message}).items():
                print(f"error: {field}: {message}", file=sys.stderr)
            return 1
        session.commit()
        print(f"Created association {a.slug} ({a.name}), area: {service.area_label(a)}")
    return 0


def cmd_curator(args: argparse.Namespace) -> int:
    """Add (or with --remove take off) a curator of an association."""
    from matchmaker.accounts import service as accounts_service
    from matchmaker.associations import service

    with open_session() as session:
        a = service.get_association(session, args.slug)
        if a is None:
            print(f"error: no association {args.slug!r}", file=sys.stderr)
            return 1
        if args.remove:
            user = accounts_service.get_user_by_email(session, args.email)
            if user is None:
                print(f"error: no account {args.email!r}", file=sys.stderr)
                return 1
            service.remove_curator(session, association=a, user_id=user.id)
            verb = "no longer curates"
        else:
            try:
                user = service.add_curator(session, association=a, email=args.email)
            except service.AssociationError as exc:
                print(f"error: {exc.message}", file=sys.stderr)
                return 1
            verb = "curates"
        session.commit()
        print(f"{user.email} {verb} {a.slug}")
    return 0


def cmd_list(args: argparse.Namespace) -> int:
    """List every association with its area, curators and member count."""
    from matchmaker.associations import service
    from matchmaker.associations.models import Association

    with open_session() as session:
        from sqlalchemy import select

        rows = session.scalars(select(Association).order_by(Association.slug)).all()
        if not rows:
            print("No association yet: create one with `matchmaker associations create`.")
        for a in rows:
            emails = ", ".join(u.email for u in service.curators(session, a)) or "no curator"
            print(f"{a.slug:<24} {a.name:<40} {service.area_label(a):<20} "
                  f"{service.member_count(session, a):>7} members  ({emails})")
    return 0


def add_cli(subparsers: argparse._SubParsersAction) -> None:
    """Add the `associations` command."""
    p = subparsers.add_parser("associations", help="trade associations and their curators")
    sub = p.add_subparsers(dest="associations_command", required=True)
    c = sub.add_parser("create", help="register an association")
    c.add_argument("slug", help="short name used in addresses, e.g. cna-bergamo")
    c.add_argument("--name", required=True)
    c.add_argument("--kind", choices=ASSOCIATION_KINDS, default="trade")
    c.add_argument("--region", help="ISTAT code of the region it covers (e.g. 03)")
    c.add_argument("--province", help="sigla of the province it covers (e.g. BG)")
    c.add_argument("--description", default="")
    c.set_defaults(func=cmd_create)
    cu = sub.add_parser("curator", help="add or remove a curator (an account with the curator role)")
    cu.add_argument("slug")
    cu.add_argument("email")
    cu.add_argument("--remove", action="store_true")
    cu.set_defaults(func=cmd_curator)
    ls = sub.add_parser("list", help="list the associations")
    ls.set_defaults(func=cmd_list)
