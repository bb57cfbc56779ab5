"""Backup and restore: round trips lose nothing, refuse to overwrite, consistent under writes."""

import threading
from pathlib import Path

import pytest
from sqlalchemy import func, select

from matchmaker import migrate
from matchmaker.db import make_engine
from matchmaker.firms import service as firms_service
from matchmaker.firms.models import Firm, FirmChange, FirmImport
from matchmaker.firms.schemas import validate_firm
from matchmaker.ops import backup as ops_backup
from tests.conftest import is_postgres
from tests.firms.helpers import firm_payload
from tests.reliability.helpers import drop_database, run_cli, scratch_url, snapshot


@pytest.fixture(scope="module")
def source_url():
    """A migrated database with demo firms, users, memberships and a staged import."""
    from sqlalchemy.orm import Session

    from matchmaker.demo import seed_demo

    url = scratch_url("bksrc")
    migrate.upgrade("head", url=url)
    engine = make_engine(url)
    with Session(engine) as s:
        seed_demo(s, firms=40, seed=7)
        s.add(FirmImport(filename="lista.csv", content="partita_iva,name\n", status="preview",
                         report={"errors": [{"line": 2, "reason": "àccentata"}]}))
        s.commit()
    engine.dispose()
    yield url
    drop_database(url)


@pytest.fixture()
def target_url():
    url = scratch_url("bkdst")
    yield url
    drop_database(url)


def _count(url: str, model) -> int:
    engine = make_engine(url)
    try:
        with engine.connect() as conn:
            return int(conn.scalar(select(func.count()).select_from(model)))
    finally:
        engine.dispose()


@pytest.mark.parametrize("fmt", ["native", "jsonl"])
def test_round_trip_restores_every_row(source_url, target_url, tmp_path: Path, fmt: str) -> None:
    path = tmp_path / ("backup.jsonl.gz" if fmt == "jsonl" else "backup.bin")
    made = ops_backup.backup(source_url, path, fmt=fmt)
    expected_kind = "jsonl" if fmt == "jsonl" else ("pg_dump" if is_postgres() else "sqlite")
    if is_postgres() and fmt == "native" and made.format == "jsonl":
        expected_kind = "jsonl"  # pg_dump missing or too old for this server
    assert made.format == expected_kind and path.exists()
    assert ops_backup.detect_format(path) == made.format
    done = ops_backup.restore(target_url, path)
    assert done.tables == made.tables
    before, after = snapshot(source_url), snapshot(target_url)
    assert set(after) == set(before)
    for table, rows in before.items():
        assert after[table] == rows, table
    assert _count(target_url, Firm) == 40


def test_restore_into_a_migrated_empty_database(source_url, target_url, tmp_path: Path) -> None:
    path = tmp_path / "b.jsonl"
    ops_backup.backup(source_url, path, fmt="jsonl")
    migrate.upgrade("head", url=target_url)
    assert ops_backup.is_empty(target_url)
    ops_backup.restore(target_url, path)
    assert snapshot(target_url) == snapshot(source_url)


def test_restore_refuses_a_database_with_data_unless_forced(source_url, target_url,
                                                              tmp_path: Path) -> None:
    path = tmp_path / "b.bak"
    ops_backup.backup(source_url, path)
    migrate.upgrade("head", url=target_url)
    engine = make_engine(target_url)
    from sqlalchemy.orm import Session

    with Session(engine) as s:
        firms_service.create_firm(s, data=validate_firm(firm_payload(4242)))
        s.commit()
    engine.dispose()
    with pytest.raises(ops_backup.RestoreRefused, match="not empty"):
        ops_backup.restore(target_url, path)
    assert _count(target_url, Firm) == 1  # untouched
    ops_backup.restore(target_url, path, force=True)
    assert snapshot(target_url) == snapshot(source_url)


def test_sequences_continue_after_a_logical_restore(source_url, target_url, tmp_path: Path) -> None:
    path = tmp_path / "b.jsonl"
    ops_backup.backup(source_url, path, fmt="jsonl")
    ops_backup.restore(target_url, path)
    engine = make_engine(target_url)
    from sqlalchemy.orm import Session

    with Session(engine) as s:
        top = s.scalar(select(func.max(Firm.id)))
        firm = firms_service.create_firm(s, data=validate_firm(firm_payload(777)))
        s.commit()
        assert firm.id > top
    engine.dispose()


def test_a_backup_taken_during_writes_is_one_consistent_moment(source_url, target_url,
                                                                tmp_path: Path) -> None:
    """Every firm in the copy has its change-feed row (same transaction), and no extra ones."""
    work = scratch_url("bkbusy")
    path = tmp_path / "busy.bak"
    try:
        ops_backup.restore(work, _backup(source_url, tmp_path / "seed.bak"))
        engine = make_engine(work)
        stop = threading.Event()

        def writer() -> None:
            from sqlalchemy.orm import Session

            serial = 500_000
            while not stop.is_set():
                with Session(engine) as s:
                    for _ in range(5):
                        serial += 1
                        firms_service.create_firm(s, data=validate_firm(firm_payload(serial)))
                    s.commit()

        t = threading.Thread(target=writer)
        t.start()
        try:
            for _ in range(3):
                ops_backup.backup(work, path)
                ops_backup.restore(target_url, path, force=True)
                rows = snapshot(target_url)
                firm_ids = {r[0] for r in rows["firm"]}
                fc = {c.name: i for i, c in enumerate(FirmChange.__table__.columns)}
                changed = {r[fc["firm_id"]] for r in rows["firm_change"]}
                assert firm_ids == changed
        finally:
            stop.set()
            t.join()
            engine.dispose()
        assert _count(target_url, Firm) > 40
    finally:
        drop_database(work)


def _backup(url: str, path: Path) -> Path:
    ops_backup.backup(url, path)
    return path


def test_cli_backup_and_restore(source_url, target_url, tmp_path: Path) -> None:
    path = tmp_path / "cli.bak"
    made = run_cli(source_url, "db", "backup", str(path))
    assert made.returncode == 0, made.stderr
    assert "Backed up to" in made.stdout and path.exists()
    put = run_cli(target_url, "db", "restore", str(path))
    assert put.returncode == 0, put.stderr
    again = run_cli(target_url, "db", "restore", str(path))
    assert again.returncode == 1 and "not empty" in again.stderr and "--force" in again.stderr
    forced = run_cli(target_url, "db", "restore", "--force", str(path))
    assert forced.returncode == 0, forced.stderr
    assert snapshot(target_url) == snapshot(source_url)


def test_restore_rejects_what_is_not_a_backup(target_url, tmp_path: Path) -> None:
    junk = tmp_path / "notes.txt"
    junk.write_text("hello\n")
    with pytest.raises(ops_backup.BackupError, match="not a Matchmaker backup"):
        ops_backup.restore(target_url, junk)


@pytest.mark.skipif(not is_postgres(), reason="moves a SQLite backup into PostgreSQL")
def test_a_sqlite_backup_moves_into_postgresql(source_url, target_url, tmp_path: Path) -> None:
    import sqlite3

    from matchmaker.ops.backup import JSONL_FORMAT

    path = tmp_path / "b.jsonl"
    ops_backup.backup(source_url, path, fmt="jsonl")
    lite = tmp_path / "lite.db"
    ops_backup.restore(f"sqlite:///{lite}", path)
    assert sqlite3.connect(lite).execute("select count(*) from firm").fetchone()[0] == 40
    ops_backup.restore(target_url, ops_backup.backup(f"sqlite:///{lite}", tmp_path / "l.bak").path)
    assert _count(target_url, Firm) == 40
    assert JSONL_FORMAT in path.read_text().splitlines()[0]


def test_a_logical_restore_is_searchable_and_has_planner_statistics(source_url, target_url,
                                                                    tmp_path: Path) -> None:
    """The full-text index follows the restored rows, and the planner is not left blind."""
    from sqlalchemy import text
    from sqlalchemy.orm import Session

    path = tmp_path / "b.jsonl"
    ops_backup.backup(source_url, path, fmt="jsonl")
    ops_backup.restore(target_url, path)
    engine = make_engine(target_url)
    try:
        with Session(engine) as s:
            firm = s.scalars(select(Firm).order_by(Firm.id).limit(1)).one()
            word = max(firm.name.split(), key=len)
            found = firms_service.list_firms(s, filters=firms_service.FirmFilters(q=word),
                                             per_page=200)
            assert firm.id in {f.id for f in found.items}
            stats = ("SELECT count(*) FROM pg_stats WHERE tablename = 'firm'" if is_postgres()
                     else "SELECT count(*) FROM sqlite_stat1 WHERE tbl = 'firm'")
            assert s.scalar(text(stats)) > 0
    finally:
        engine.dispose()
