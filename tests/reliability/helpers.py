"""Scratch databases, table snapshots and a real server subprocess for the reliability tests."""

import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx
from sqlalchemy import MetaData, create_engine, select
from sqlalchemy.engine import make_url

from tests.conftest import fresh_database_url, is_postgres

ROOT = Path(__file__).resolve().parents[2]
MATCHMAKER = [sys.executable, "-m", "matchmaker.cli"]


def scratch_url(tag: str) -> str:
    """Return a new, empty database of the kind under test."""
    return fresh_database_url(tag)


def drop_database(url: str) -> None:
    """Remove a scratch database (file or PostgreSQL database)."""
    u = make_url(url)
    if u.get_backend_name() == "sqlite":
        for suffix in ("", "-wal", "-shm"):
            Path(f"{u.database}{suffix}").unlink(missing_ok=True)
        return
    admin = create_engine(u.set(database="postgres"), isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.exec_driver_sql(f'DROP DATABASE IF EXISTS "{u.database}" WITH (FORCE)')
    admin.dispose()


def _norm(value: Any) -> Any:
    if hasattr(value, "isoformat"):
        return value.replace(tzinfo=None).isoformat() if hasattr(value, "tzinfo") else (
            value.isoformat())
    return value


def snapshot(url: str) -> dict[str, list[tuple]]:
    """Return every table's rows, sorted, with times made comparable across backends."""
    engine = create_engine(url)
    try:
        with engine.connect() as conn:
            meta = MetaData()
            meta.reflect(conn)
            out = {}
            for table in meta.sorted_tables:
                rows = conn.execute(select(table)).all()
                out[table.name] = sorted((tuple(_norm(v) for v in r) for r in rows), key=repr)
            return out
    finally:
        engine.dispose()


def free_port() -> int:
    """Return a TCP port on 127.0.0.1 that nobody listens on now."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def env_for(url: str, **extra: str) -> dict[str, str]:
    """Return the environment for a matchmaker subprocess on `url`."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("MATCHMAKER_TEST")}
    env.update({"MATCHMAKER_DATABASE_URL": url, "MATCHMAKER_WARM_INDEX_ON_START": "1",
                "MATCHMAKER_INDEX_REFRESH_SECONDS": "0.5", "PYTHONUNBUFFERED": "1"})
    env.update(extra)
    return env


def run_cli(url: str, *args: str, timeout: float = 120, **extra: str) -> subprocess.CompletedProcess:
    """Run `matchmaker ARGS` against `url` and return the finished process."""
    return subprocess.run([*MATCHMAKER, *args], env=env_for(url, **extra), cwd=ROOT,
                          capture_output=True, text=True, timeout=timeout, check=False)


class Server:
    """`matchmaker serve` (or bare uvicorn) in a subprocess on a free port of 127.0.0.1."""

    def __init__(self, url: str, log: Path, *, workers: int = 1, migrate: bool = True,
                 **extra: str) -> None:
        self.url, self.log_path, self.port = url, log, free_port()
        self.base = f"http://127.0.0.1:{self.port}"
        if migrate:
            cmd = [*MATCHMAKER, "serve", "--port", str(self.port), "--workers", str(workers)]
        else:  # serve without upgrading the database first
            cmd = [sys.executable, "-m", "uvicorn", "matchmaker.main:create_app", "--factory",
                   "--host", "127.0.0.1", "--port", str(self.port), "--no-access-log"]
        self._log = open(log, "ab")  # noqa: SIM115 - closed in stop()
        self.proc = subprocess.Popen(cmd, env=env_for(url, **extra), cwd=ROOT,
                                     stdout=self._log, stderr=subprocess.STDOUT,
                                     start_new_session=True)

    def get(self, path: str, **kw: Any) -> httpx.Response:
        """GET a path of the server."""
        return httpx.get(self.base + path, timeout=30, **kw)

    def wait_up(self, timeout: float = 60) -> None:
        """Wait until the server answers /healthz."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise AssertionError(f"server exited {self.proc.returncode}:\n{self.output()}")
            try:
                if self.get("/healthz").status_code == 200:
                    return
            except httpx.TransportError:
                pass
            time.sleep(0.1)
        raise AssertionError(f"server not up in {timeout}s:\n{self.output()}")

    def wait_ready(self, timeout: float = 60) -> dict:
        """Wait until /readyz says 200 and return its body."""
        self.wait_up(timeout)
        deadline = time.monotonic() + timeout
        body: dict = {}
        while time.monotonic() < deadline:
            resp = self.get("/readyz")
            body = resp.json()
            if resp.status_code == 200:
                return body
            time.sleep(0.1)
        raise AssertionError(f"not ready in {timeout}s: {body}\n{self.output()}")

    def kill(self) -> None:
        """SIGKILL the server and every process it started."""
        if self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGKILL)
        self.proc.wait(10)
        self._log.close()

    def terminate(self, timeout: float = 30) -> int:
        """SIGTERM the server (graceful shutdown) and return its exit code."""
        os.killpg(self.proc.pid, signal.SIGTERM)
        try:
            code = self.proc.wait(timeout)
        finally:
            self._log.close()
        return code

    def stop(self) -> None:
        """Make sure the server is gone."""
        if self.proc.poll() is None:
            self.kill()
        if not self._log.closed:
            self._log.close()

    def output(self) -> str:
        """Return what the server printed so far."""
        self._log.flush()
        return self.log_path.read_text(errors="replace")


@contextmanager
def serving(url: str, log: Path, **kw: Any) -> Iterator[Server]:
    """Run a server for the duration of a block."""
    server = Server(url, log, **kw)
    try:
        yield server
    finally:
        server.stop()


def backend() -> str:
    """Return "postgresql" or "sqlite": the kind of database under test."""
    return "postgresql" if is_postgres() else "sqlite"
