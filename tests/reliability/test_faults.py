"""A real server killed with SIGKILL mid-import and mid-save, restarted, checked row by row.

Each test runs `matchmaker serve` (or bare uvicorn) in a subprocess on 127.0.0.1, on its own
copy of a seeded database (SQLite file, or a fresh PostgreSQL database when the suite runs on
PostgreSQL), and checks what a restarted server finds in the database.
"""

import csv
import io
import json
import signal
import socket
import threading
import time
from pathlib import Path

import httpx
import pytest
from sqlalchemy import func, select, text
from sqlalchemy.engine import make_url
from sqlalchemy.orm import Session

from matchmaker import migrate
from matchmaker.db import make_engine
from matchmaker.firms.models import Firm, FirmChange, FirmGoal, FirmImport
from matchmaker.firms.schemas import GOALS
from matchmaker.ops import backup as ops_backup
from tests.firms.helpers import firm_payload
from tests.reliability.helpers import (
    Server,
    drop_database,
    run_cli,
    scratch_url,
    serving,
    snapshot,
)

pytestmark = pytest.mark.timeout(180) if hasattr(pytest.mark, "timeout") else []
SEED_FIRMS = 40
GOAL_KEYS = sorted(GOALS)


@pytest.fixture(scope="module")
def seeded(tmp_path_factory) -> tuple[Path, str]:
    """A backup of a migrated database with demo firms and an admin's API token."""
    from matchmaker.accounts import service as accounts
    from matchmaker.demo import seed_demo
    from matchmaker.models import Base

    url = scratch_url("faultseed")
    migrate.upgrade("head", url=url)
    engine = make_engine(url)
    # Tables of models newer than the last migration (the lead regenerates it); none otherwise.
    Base.metadata.create_all(engine)
    with Session(engine) as s:
        seed_demo(s, firms=SEED_FIRMS, seed=11)
        admin = accounts.create_user(s, email="ops-admin@example.it", password="x" * 16,
                                     role="admin", full_name="Ops")
        token, _record = accounts.issue_api_token(s, user=admin, name="reliability", ttl=None)
        s.commit()
    engine.dispose()
    path = tmp_path_factory.mktemp("seed") / "seed.bak"
    ops_backup.backup(url, path)
    drop_database(url)
    return path, token


@pytest.fixture()
def db_url(seeded, tmp_path) -> str:
    """A fresh copy of the seeded database for one test."""
    url = scratch_url("fault")
    ops_backup.restore(url, seeded[0])
    yield url
    drop_database(url)


@pytest.fixture()
def auth(seeded) -> dict[str, str]:
    return {"Authorization": f"Bearer {seeded[1]}"}


def _count(url: str, stmt) -> int:
    engine = make_engine(url)
    try:
        with engine.connect() as conn:
            return int(conn.scalar(stmt))
    finally:
        engine.dispose()


def _firm_count(url: str) -> int:
    return _count(url, select(func.count()).select_from(Firm))


def _csv(n: int, start: int, *, comune: str = "108028") -> bytes:
    """A firms CSV of n valid rows with partite IVA from serial `start` on."""
    out = io.StringIO()
    w = csv.writer(out, lineterminator="\n")
    w.writerow(["partita_iva", "name", "ateco", "comune_istat", "employees", "offers", "needs",
                "goals"])
    for i in range(n):
        p = firm_payload(start + i, name=f"Impresa Prova {start + i} S.r.l.",
                         comune_istat=comune)
        w.writerow([p["partita_iva"], p["name"], p["ateco"], p["comune_istat"], p["employees"],
                    p["offers"], p["needs"], ";".join(p["goals"])])
    return out.getvalue().encode()


def _writing(url: str, wal_before: int) -> bool:
    """Tell whether another process is inside a transaction that has written firm rows."""
    u = make_url(url)
    if u.get_backend_name() == "sqlite":
        # The request is one transaction: WAL frames before its response are uncommitted
        # pages of the import spilled from the writer's cache.
        wal = Path(f"{u.database}-wal")
        return wal.exists() and wal.stat().st_size > wal_before + 256 * 1024
    engine = make_engine(url)
    try:
        with engine.connect() as conn:
            return bool(conn.scalar(text(
                "SELECT count(*) FROM pg_locks l JOIN pg_class c ON c.oid = l.relation "
                "WHERE c.relname = 'firm' AND l.mode = 'RowExclusiveLock' "
                "AND l.pid <> pg_backend_pid()")))
    finally:
        engine.dispose()


def _wal_size(url: str) -> int:
    u = make_url(url)
    if u.get_backend_name() != "sqlite":
        return 0
    wal = Path(f"{u.database}-wal")
    return wal.stat().st_size if wal.exists() else 0


def _kill_when_writing(server: Server, url: str, request: threading.Thread,
                       outcome: dict, timeout: float = 60) -> None:
    wal_before = _wal_size(url)
    request.start()
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and "response" not in outcome:
        if _writing(url, wal_before):
            server.kill()
            request.join(30)
            return
        time.sleep(0.01)
    raise AssertionError(f"the import was never caught mid-write: {outcome}")


def test_sigkill_mid_import_commits_nothing_then_the_retry_commits_all(db_url, auth,
                                                                       tmp_path) -> None:
    rows = 4000
    before = _firm_count(db_url)
    with serving(db_url, tmp_path / "server1.log") as server:
        server.wait_ready()
        staged = httpx.post(server.base + "/firms/import", headers=auth, timeout=60,
                            files={"file": ("lista.csv", _csv(rows, 8_000_000), "text/csv")})
        assert staged.status_code == 200, staged.text[:500]
        job_id = _count(db_url, select(func.max(FirmImport.id)))
        outcome: dict = {}

        def confirm() -> None:
            try:
                outcome["response"] = httpx.post(
                    f"{server.base}/firms/import/{job_id}/confirm", headers=auth, timeout=120)
            except httpx.TransportError as exc:
                outcome["error"] = exc

        _kill_when_writing(server, db_url, threading.Thread(target=confirm), outcome)
        assert "error" in outcome, "the server answered before it was killed"

    # Nothing of the import is there: no firm, no change-feed row, the job still a preview.
    assert _firm_count(db_url) == before
    assert _count(db_url, select(func.count()).select_from(FirmChange)) == before
    engine = make_engine(db_url)
    with Session(engine) as s:
        assert s.get(FirmImport, job_id).status == "preview"
    engine.dispose()

    with serving(db_url, tmp_path / "server2.log") as server:
        server.wait_ready()
        done = httpx.post(f"{server.base}/firms/import/{job_id}/confirm", headers=auth,
                          timeout=120)
        assert done.status_code == 200, done.text[:300]
    assert _firm_count(db_url) == before + rows
    assert _count(db_url, select(func.count()).select_from(FirmGoal)
                  .where(FirmGoal.firm_id.in_(select(Firm.id).where(
                      Firm.name.like("Impresa Prova %"))))) == 2 * rows


def test_sigkill_of_the_cli_mid_import_commits_nothing(db_url, tmp_path) -> None:
    import subprocess
    import sys

    from tests.reliability.helpers import ROOT, env_for

    path = tmp_path / "big.csv"
    path.write_bytes(_csv(4000, 8_100_000))
    before = _firm_count(db_url)
    wal_before = _wal_size(db_url)
    proc = subprocess.Popen([sys.executable, "-m", "matchmaker.cli", "firms", "import",
                             str(path)], env=env_for(db_url), cwd=ROOT,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    deadline = time.monotonic() + 60
    while not _writing(db_url, wal_before):
        assert proc.poll() is None, "the import finished before it was caught mid-write"
        assert time.monotonic() < deadline
        time.sleep(0.01)
    proc.send_signal(signal.SIGKILL)
    proc.wait(10)
    assert _firm_count(db_url) == before
    again = run_cli(db_url, "firms", "import", str(path))
    assert again.returncode == 0, again.stderr
    assert _firm_count(db_url) == before + 4000


def _goals_for(k: int) -> list[str]:
    return sorted({GOAL_KEYS[k % len(GOAL_KEYS)], GOAL_KEYS[(k + 3) % len(GOAL_KEYS)]})


def _save_loop(base: str, auth: dict, piva: str, log: dict, stop: threading.Event) -> None:
    """Save one firm again and again with its version; record what the server acknowledged."""
    with httpx.Client(base_url=base, headers=auth, timeout=30) as client:
        version = client.get(f"/api/v1/firms/{piva}").json()["version"]
        k = 0
        while not stop.is_set():
            k += 1
            body = {"name": f"Salvataggio {k} S.r.l.", "offers": f"offerta numero {k}",
                    "goals": _goals_for(k), "version": version}
            log["sent"] = k
            try:
                resp = client.patch(f"/api/v1/firms/{piva}", json=body)
            except httpx.TransportError:
                log["in_flight"] = k
                return
            assert resp.status_code == 200, resp.text
            version = resp.json()["version"]
            log["acked"], log["version"] = k, version


@pytest.mark.parametrize("workers", [2])
def test_sigkill_mid_save_keeps_every_acknowledged_save_and_no_half_one(db_url, auth, tmp_path,
                                                                        workers) -> None:
    engine = make_engine(db_url)
    with Session(engine) as s:
        pivas = list(s.scalars(select(Firm.partita_iva).order_by(Firm.id).limit(8)))
    engine.dispose()
    logs = {p: {} for p in pivas}
    stop = threading.Event()
    with serving(db_url, tmp_path / "server1.log", workers=workers) as server:
        server.wait_ready()
        threads = [threading.Thread(target=_save_loop, args=(server.base, auth, p, logs[p], stop))
                   for p in pivas]
        for t in threads:
            t.start()
        deadline = time.monotonic() + 30
        while min(log.get("acked", 0) for log in logs.values()) < 5:
            assert time.monotonic() < deadline, logs
            time.sleep(0.05)
        server.kill()
        stop.set()
        for t in threads:
            t.join(30)
    assert any("in_flight" in log for log in logs.values()), "no save was in flight"

    with serving(db_url, tmp_path / "server2.log") as server:
        server.wait_ready()
        for piva, log in logs.items():
            firm = server.get(f"/api/v1/firms/{piva}", headers=auth).json()
            k = int(firm["name"].split()[1])
            # Every acknowledged save is there; an unacknowledged one may be, but whole.
            assert k == log["acked"] or (k == log.get("in_flight") and k == log["acked"] + 1)
            assert firm["offers"] == f"offerta numero {k}"
            assert sorted(firm["goals"]) == _goals_for(k)
            assert firm["version"] == log["version"] + (k - log["acked"])
    # The change feed has one row per committed save of each firm (plus its creation).
    engine = make_engine(db_url)
    with Session(engine) as s:
        for piva in pivas:
            firm = s.scalars(select(Firm).where(Firm.partita_iva == piva)).one()
            n = s.scalar(select(func.count()).select_from(FirmChange)
                         .where(FirmChange.firm_id == firm.id))
            assert n == firm.version
    engine.dispose()


def test_backup_while_serving_then_restore_loses_nothing(db_url, auth, tmp_path) -> None:
    engine = make_engine(db_url)
    with Session(engine) as s:
        pivas = list(s.scalars(select(Firm.partita_iva).order_by(Firm.id).limit(4)))
    engine.dispose()
    logs = {p: {} for p in pivas}
    stop = threading.Event()
    copy = scratch_url("served")
    try:
        with serving(db_url, tmp_path / "server.log") as server:
            server.wait_ready()
            threads = [threading.Thread(target=_save_loop,
                                        args=(server.base, auth, p, logs[p], stop))
                       for p in pivas]
            for t in threads:
                t.start()
            time.sleep(0.5)
            made = run_cli(db_url, "db", "backup", str(tmp_path / "live.bak"))
            assert made.returncode == 0, made.stderr
            stop.set()
            for t in threads:
                t.join(30)
            assert all("in_flight" not in log for log in logs.values())  # nobody saw an error
            assert server.get("/readyz").status_code == 200
            # The copy taken under load is one consistent moment: each firm whole.
            restored = run_cli(copy, "db", "restore", str(tmp_path / "live.bak"))
            assert restored.returncode == 0, restored.stderr
            engine = make_engine(copy)
            with Session(engine) as s:
                for piva in pivas:
                    firm = s.scalars(select(Firm).where(Firm.partita_iva == piva)).one()
                    if firm.name.startswith("Salvataggio "):
                        k = int(firm.name.split()[1])
                        assert firm.offers == f"offerta numero {k}"
                        assert sorted(firm.goals) == _goals_for(k)
                        assert k <= logs[piva]["sent"]
            engine.dispose()
            # Quiet now: a backup and restore reproduce the served database exactly.
            assert run_cli(db_url, "db", "backup", str(tmp_path / "quiet.bak")).returncode == 0
            forced = run_cli(copy, "db", "restore", "--force", str(tmp_path / "quiet.bak"))
            assert forced.returncode == 0, forced.stderr
            assert snapshot(copy) == snapshot(db_url)
    finally:
        drop_database(copy)


def _recommend(server: Server, auth: dict, piva: str) -> dict:
    resp = server.get(f"/api/v1/firms/{piva}/recommendations?limit=10&explain=false",
                      headers=auth)
    assert resp.status_code == 200, resp.text
    return resp.json()


def test_the_index_rebuilds_after_restart_and_after_a_bulk_change(db_url, auth, tmp_path) -> None:
    engine = make_engine(db_url)
    with Session(engine) as s:
        seed = s.scalars(select(Firm.partita_iva).order_by(Firm.id).limit(1)).one()
    engine.dispose()
    with serving(db_url, tmp_path / "server1.log") as server:
        body = server.wait_ready()
        assert body["checks"]["index"] == "ok"
        first = _recommend(server, auth, seed)
        server.kill()
    with serving(db_url, tmp_path / "server2.log") as server:
        server.wait_up()
        body = server.wait_ready()
        assert body["checks"] == {"database": "ok", "migrations": "ok", "index": "ok"}
        again = _recommend(server, auth, seed)
        assert [i["partita_iva"] for i in again["items"]] == [
            i["partita_iva"] for i in first["items"]]
        # A bulk change by another process (the CLI), past the incremental-refresh limit.
        path = tmp_path / "bulk.csv"
        path.write_bytes(_csv(2100, 8_200_000))
        assert run_cli(db_url, "firms", "import", str(path)).returncode == 0
        deadline = time.monotonic() + 60
        while True:
            after = _recommend(server, auth, seed)
            if after["candidates"] >= first["candidates"] + 2100:
                break
            assert time.monotonic() < deadline, (first["candidates"], after["candidates"])
            time.sleep(0.2)
        assert server.get("/readyz").status_code == 200
        assert "recommender index built" in server.output() or "index ready" in server.output()


def test_readyz_on_a_real_server_unmigrated_then_migrated(tmp_path) -> None:
    url = scratch_url("rawserve")
    try:
        with serving(url, tmp_path / "raw.log", migrate=False) as server:
            server.wait_up()
            resp = server.get("/readyz")
            assert resp.status_code == 503, resp.text
            assert "head is" in resp.json()["checks"]["migrations"]
            assert run_cli(url, "db", "upgrade").returncode == 0
            body = server.wait_ready()
            assert body["status"] == "ok"
    finally:
        drop_database(url)


def test_readyz_on_a_real_server_without_its_database(tmp_path) -> None:
    from tests.conftest import is_postgres

    if is_postgres():
        url = make_url(scratch_url("gone"))
        drop_database(url.render_as_string(hide_password=False))
        url = url.render_as_string(hide_password=False)
    else:
        url = f"sqlite:///{tmp_path / 'missing-dir' / 'x.db'}"
    with serving(url, tmp_path / "gone.log", migrate=False) as server:
        server.wait_up()
        resp = server.get("/readyz")
        assert resp.status_code == 503
        assert resp.json()["checks"]["database"].startswith("error")
        assert server.get("/healthz").status_code == 200


def test_graceful_shutdown_finishes_the_request_in_flight(db_url, tmp_path) -> None:
    server = Server(db_url, tmp_path / "server.log")
    try:
        server.wait_ready()
        body = json.dumps({"email": "nobody@example.it", "password": "wrong password!"}).encode()
        sock = socket.create_connection(("127.0.0.1", server.port), timeout=30)
        sock.sendall(b"POST /api/v1/auth/token HTTP/1.1\r\nHost: 127.0.0.1\r\n"
                     b"Content-Type: application/json\r\nX-Request-ID: in-flight-1\r\n"
                     + f"Content-Length: {len(body)}\r\n\r\n".encode() + body[:10])
        time.sleep(0.5)
        server.proc.send_signal(signal.SIGTERM)  # uvicorn's main process: start shutting down
        time.sleep(1.0)
        assert server.proc.poll() is None  # still waiting for the request in flight
        sock.sendall(body[10:])
        answer = b""
        while b"\r\n\r\n" not in answer:
            chunk = sock.recv(65536)
            if not chunk:
                break
            answer += chunk
        sock.close()
        assert answer.startswith(b"HTTP/1.1 401"), answer[:200]
        # Uvicorn re-raises the signal it handled once it has shut down cleanly.
        assert server.proc.wait(30) in (0, -signal.SIGTERM)
        out = server.output()
        assert "Finished server process" in out
        lines = [json.loads(x) for x in out.splitlines() if x.startswith('{"ts"')]
        entry = next(x for x in lines if x.get("request_id") == "in-flight-1")
        assert entry["status"] == 401 and entry["path"] == "/api/v1/auth/token"
        assert entry["duration_ms"] > 1000
    finally:
        server.stop()
