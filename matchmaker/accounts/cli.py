"""`matchmaker users …`: create accounts, issue reset links and unlock, from the shell."""

import argparse
import getpass
import sys
from typing import Any

from sqlalchemy.orm import Session

from matchmaker.accounts import service
from matchmaker.accounts.models import USER_ROLES


def open_session() -> Session:
    """Return a session on the configured database (tests replace this)."""
    from matchmaker.db import get_sessionmaker

    return get_sessionmaker()()


def _read_password(args: argparse.Namespace) -> str | None:
    if args.password_stdin:
        line = sys.stdin.readline()
        return line.rstrip("\r\n")
    first = getpass.getpass("Password: ")
    second = getpass.getpass("Repeat the password: ")
    if first != second:
        print("error: the two passwords do not match", file=sys.stderr)
        return None
    return first


def cmd_users_create(args: argparse.Namespace) -> int:
    """Create an account with a role; the password comes from a prompt or standard input."""
    password = _read_password(args)
    if password is None:
        return 1
    with open_session() as session:
        try:
            user = service.create_user(
                session,
                email=args.email,
                password=password,
                role=args.role,
                full_name=args.full_name or "",
                language=args.language,
            )
        except service.AccountError as exc:
            print(f"error: {exc.message}", file=sys.stderr)
            return 1
        service.audit(
            session,
            actor=None,
            action="user.create",
            object_type="user",
            object_id=user.id,
            detail={"role": user.role, "via": "cli"},
        )
        session.commit()
        print(f"Created {user.role} {user.email} (id {user.id})")
    return 0


def cmd_users_reset_link(args: argparse.Namespace) -> int:
    """Print a one-hour password-reset link for an account."""
    with open_session() as session:
        user = service.get_user_by_email(session, args.email)
        if user is None:
            print(f"error: no account with email {args.email}", file=sys.stderr)
            return 1
        token = service.issue_reset_token(session, user=user)
        service.audit(
            session,
            actor=None,
            action="user.reset_link_issued",
            object_type="user",
            object_id=user.id,
            detail={"via": "cli"},
        )
        session.commit()
        print(f"{args.base_url.rstrip('/')}/password-reset/confirm?token={token}")
    return 0


def cmd_users_unlock(args: argparse.Namespace) -> int:
    """Lift the lockout of an account."""
    with open_session() as session:
        user = service.get_user_by_email(session, args.email)
        if user is None:
            print(f"error: no account with email {args.email}", file=sys.stderr)
            return 1
        service.unlock_user(session, user=user, actor=None)
        session.commit()
        print(f"Unlocked {user.email}")
    return 0


def cmd_users_list(args: argparse.Namespace) -> int:
    """Print the accounts, one a line: id, role, state, email."""
    with open_session() as session:
        page = service.list_users(session, q=args.q or "", per_page=10_000)
        for user in page.items:
            state = (
                "disabled"
                if not user.is_active
                else ("locked" if service.is_locked(user) else "active")
            )
            print(f"{user.id}\t{user.role}\t{state}\t{user.email}")
    return 0


def cmd_users_prune(args: argparse.Namespace) -> int:
    """Delete audit events past the retention period, and dead reset links and API tokens."""
    from datetime import timedelta

    with open_session() as session:
        report = service.prune(session, older_than=timedelta(days=args.days))
        session.commit()
    print(
        f"Removed {report.audit_events} audit events older than {args.days} days, "
        f"{report.reset_tokens} reset links and {report.api_tokens} API tokens no longer valid"
    )
    return 0


def add_cli(subparsers: Any) -> None:
    """Add the `users` command and its sub-commands to the `matchmaker` parser."""
    p = subparsers.add_parser("users", help="manage accounts")
    sub = p.add_subparsers(dest="users_command", required=True)

    create = sub.add_parser("create", help="create an account")
    create.add_argument("email")
    create.add_argument("--role", required=True, choices=USER_ROLES)
    create.add_argument("--full-name", default="")
    create.add_argument("--language", default="it", choices=("it", "en"))
    create.add_argument(
        "--password-stdin",
        action="store_true",
        help="read the password from the first line of standard input instead of prompting",
    )
    create.set_defaults(func=cmd_users_create)

    reset = sub.add_parser("reset-link", help="print a one-hour password-reset link")
    reset.add_argument("email")
    reset.add_argument("--base-url", default="http://127.0.0.1:8000")
    reset.set_defaults(func=cmd_users_reset_link)

    unlock = sub.add_parser("unlock", help="lift a lockout after failed logins")
    unlock.add_argument("email")
    unlock.set_defaults(func=cmd_users_unlock)

    listing = sub.add_parser("list", help="list accounts")
    listing.add_argument("--q", default="", help="only emails or names containing this")
    listing.set_defaults(func=cmd_users_list)

    prune = sub.add_parser(
        "prune", help="delete old audit events and dead tokens (run it daily, e.g. from cron)"
    )
    prune.add_argument(
        "--days",
        type=int,
        default=service.AUDIT_RETENTION.days,
        help="keep audit events this many days (default: %(default)s)",
    )
    prune.set_defaults(func=cmd_users_prune)
