"""`matchmaker users …` through the real argument parser."""

import io

import pytest

from matchmaker.accounts import cli as accounts_cli
from matchmaker.accounts import security, service
from matchmaker.cli import main


@pytest.fixture()
def cli_session(db, monkeypatch):
    """Run CLI commands inside the test transaction."""
    factory = db.info["test_factory"]
    monkeypatch.setattr(accounts_cli, "open_session", factory)
    return db


def test_users_create_with_password_on_stdin(cli_session, monkeypatch, capsys) -> None:
    monkeypatch.setattr("sys.stdin", io.StringIO("a long cli password\n"))
    code = main(
        [
            "users",
            "create",
            "Admin@Example.it",
            "--role",
            "admin",
            "--password-stdin",
            "--full-name",
            "Ada Admin",
        ]
    )
    assert code == 0
    assert "Created admin admin@example.it" in capsys.readouterr().out
    user = service.get_user_by_email(cli_session, "admin@example.it")
    assert user.role == "admin" and user.full_name == "Ada Admin"
    assert security.verify_password("a long cli password", user.password_hash)


def test_users_create_prompts_twice(cli_session, monkeypatch) -> None:
    answers = iter(["prompted password", "prompted password"])
    monkeypatch.setattr("getpass.getpass", lambda prompt="": next(answers))
    assert main(["users", "create", "c@example.it", "--role", "curator"]) == 0
    assert service.get_user_by_email(cli_session, "c@example.it").role == "curator"


def test_users_create_refuses_mismatch_short_password_and_duplicates(
    cli_session, monkeypatch, capsys, make_user
) -> None:
    answers = iter(["first password", "other password"])
    monkeypatch.setattr("getpass.getpass", lambda prompt="": next(answers))
    assert main(["users", "create", "m@example.it", "--role", "owner"]) == 1
    monkeypatch.setattr("sys.stdin", io.StringIO("short\n"))
    assert main(["users", "create", "m@example.it", "--role", "owner", "--password-stdin"]) == 1
    assert "at least 10" in capsys.readouterr().err
    make_user("owner", email="dup@example.it")
    monkeypatch.setattr("sys.stdin", io.StringIO("long enough password\n"))
    assert main(["users", "create", "dup@example.it", "--role", "owner", "--password-stdin"]) == 1
    assert service.get_user_by_email(cli_session, "m@example.it") is None


def test_unknown_role_is_an_argparse_error(cli_session) -> None:
    with pytest.raises(SystemExit):
        main(["users", "create", "x@example.it", "--role", "root", "--password-stdin"])


def test_reset_link_unlock_and_list(cli_session, make_user, capsys) -> None:
    from datetime import timedelta

    from matchmaker.db import utcnow

    user = make_user("facilitator", email="fac@example.it")
    user.locked_until = utcnow() + timedelta(minutes=5)
    cli_session.flush()
    assert main(["users", "list"]) == 0
    assert "facilitator\tlocked\tfac@example.it" in capsys.readouterr().out
    assert main(["users", "unlock", "fac@example.it"]) == 0
    assert main(["users", "reset-link", "fac@example.it", "--base-url", "https://mm.example"]) == 0
    out = capsys.readouterr().out
    link = out.strip().splitlines()[-1]
    assert link.startswith("https://mm.example/password-reset/confirm?token=")
    assert service.reset_token_is_valid(cli_session, token=link.split("token=")[1])
    assert main(["users", "reset-link", "ghost@example.it"]) == 1


def test_prune_removes_old_events_and_dead_tokens(cli_session, make_user, capsys) -> None:
    from datetime import timedelta

    from matchmaker.accounts.models import ApiToken, AuditEvent
    from matchmaker.db import utcnow

    user = make_user("owner")
    old = service.audit(
        cli_session, actor=user, action="old.event", object_type="user", object_id=user.id
    )
    old.created_at = utcnow() - timedelta(days=400)
    service.audit(
        cli_session, actor=user, action="new.event", object_type="user", object_id=user.id
    )
    live, _ = service.issue_api_token(cli_session, user=user)
    _dead, record = service.issue_api_token(cli_session, user=user)
    record.revoked_at = utcnow() - timedelta(days=2)
    cli_session.flush()
    assert main(["users", "prune"]) == 0
    assert "Removed 1 audit events older than 365 days" in capsys.readouterr().out
    cli_session.expire_all()
    actions = {e.action for e in cli_session.query(AuditEvent).filter_by(actor_id=user.id)}
    assert actions == {"new.event"}
    assert cli_session.query(ApiToken).filter_by(user_id=user.id).count() == 1
    assert service.user_for_token(cli_session, live) is not None
