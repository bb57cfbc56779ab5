"""A real server and Debian's Chromium for the browser journeys.

Once per session: a fresh database (SQLite file, or a new PostgreSQL database when
MATCHMAKER_TEST_DATABASE_URL is set) with the schema, `matchmaker demo --firms 300`, then
`matchmaker serve` on 127.0.0.1 and a free port. Playwright drives /usr/bin/chromium (never a
downloaded browser). Everything here skips with a clear message when Chromium, the Playwright
package or (for the accessibility audit) npm is missing.
"""

import json
import os
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.conftest import fresh_database_url

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
]
DEMO_FIRMS = 300
DEMO_PASSWORD = "demo-password"
VENDOR = Path(__file__).parent / "vendor"
AXE_VERSION = "4.14.1"
AXE_JS = VENDOR / "node_modules" / "axe-core" / "axe.min.js"
ROOT = Path(__file__).resolve().parents[2]


@dataclass
class Server:
    url: str
    database_url: str
    log: Path


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _cli(*args: str) -> list[str]:
    return [sys.executable, "-m", "matchmaker.cli", *args]


def _build_schema(url: str) -> None:
    """Create the tables from the models and mark the database as migrated to head."""
    code = (
        "import sys; from alembic import command; from matchmaker import migrate;"
        "from matchmaker.db import make_engine; from matchmaker.models import Base;"
        "e = make_engine(sys.argv[1]); Base.metadata.create_all(e); e.dispose();"
        "command.stamp(migrate.alembic_config(sys.argv[1]), 'head')"
    )
    subprocess.run([sys.executable, "-c", code, url], check=True, cwd=ROOT,
                   env={**os.environ, "MATCHMAKER_DATABASE_URL": url}, capture_output=True)


def _wait_ready(url: str, proc: subprocess.Popen, log: Path, timeout: float = 90.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"the server exited early:\n{log.read_text()[-3000:]}")
        try:
            with urllib.request.urlopen(f"{url}/readyz", timeout=2) as resp:
                if json.load(resp).get("status") == "ok":
                    return
        except OSError:
            pass
        time.sleep(0.3)
    raise RuntimeError(f"the server was not ready in {timeout:.0f} s:\n{log.read_text()[-3000:]}")


@pytest.fixture(scope="session", autouse=True)
def _chromium_available() -> None:
    """Skip the browser journeys where Debian's Chromium or Playwright is missing."""
    if not CHROMIUM.exists():
        pytest.skip("browser journeys need Debian's chromium at /usr/bin/chromium "
                    "(apt-get install chromium)")
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        pytest.skip("browser journeys need the Playwright package (pip install -e '.[test]')")


@pytest.fixture(scope="session")
def server(tmp_path_factory: pytest.TempPathFactory, _chromium_available: None) -> Iterator[Server]:
    """Serve a demo database of a few hundred firms for the whole session."""
    work = tmp_path_factory.mktemp("browser-server")
    if os.environ.get("MATCHMAKER_TEST_DATABASE_URL"):
        db_url = fresh_database_url("browser")
    else:
        db_url = f"sqlite:///{work / 'browser.db'}"
    env = {
        **os.environ,
        "MATCHMAKER_DATABASE_URL": db_url,
        "MATCHMAKER_SECRET_KEY": "browser-tests-secret",
        "MATCHMAKER_WARM_INDEX_ON_START": "1",
        "MATCHMAKER_INDEX_REFRESH_SECONDS": "1",
        "PYTHONUNBUFFERED": "1",
    }
    log = work / "server.log"
    _build_schema(db_url)
    seeded = subprocess.run(_cli("demo", "--firms", str(DEMO_FIRMS)), cwd=ROOT, env=env,
                            capture_output=True, text=True, timeout=300, check=False)
    if seeded.returncode != 0:
        raise RuntimeError(f"demo seeding failed:\n{seeded.stdout[-2000:]}\n{seeded.stderr[-3000:]}")
    port = _free_port()
    url = f"http://127.0.0.1:{port}"
    with log.open("w") as out:
        proc = subprocess.Popen(_cli("serve", "--host", "127.0.0.1", "--port", str(port)),
                                cwd=ROOT, env=env, stdout=out, stderr=subprocess.STDOUT)
    try:
        _wait_ready(url, proc, log)
        yield Server(url=url, database_url=db_url, log=log)
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


# --- pytest-playwright configuration: Debian's Chromium, headless, our server -------------------


@pytest.fixture(scope="session")
def browser_type_launch_args(browser_type_launch_args: dict, _chromium_available: None) -> dict:
    """Launch /usr/bin/chromium headless with flags that suit containers and CI."""
    return {**browser_type_launch_args, "executable_path": str(CHROMIUM), "headless": True,
            "args": CHROMIUM_ARGS}


@pytest.fixture(scope="session")
def base_url(server: Server) -> str:
    """Point page.goto("/…") at the server under test."""
    return server.url


@pytest.fixture(scope="session")
def browser_context_args(browser_context_args: dict) -> dict:
    """Italian browser, desktop-sized window."""
    return {**browser_context_args, "locale": "it-IT", "viewport": {"width": 1280, "height": 900}}


# --- the accessibility engine, from the npm registry at test time -------------------------------


@pytest.fixture(scope="session")
def axe_source() -> str:
    """Return axe-core's script, installing the npm package under tests/browser/vendor if needed."""
    if not AXE_JS.exists():
        npm = shutil.which("npm")
        if npm is None:
            pytest.skip("the accessibility audit needs npm to install axe-core "
                        "(apt-get install npm), or tests/browser/vendor/node_modules/axe-core")
        VENDOR.mkdir(exist_ok=True)
        done = subprocess.run(
            [npm, "install", "--prefix", str(VENDOR), "--no-save", "--no-audit", "--no-fund",
             "--no-package-lock", f"axe-core@{AXE_VERSION}"],
            capture_output=True, text=True, timeout=300, check=False,
        )
        if done.returncode != 0 or not AXE_JS.exists():
            pytest.skip(f"could not install axe-core from npm: {done.stderr[-500:]}")
    return AXE_JS.read_text(encoding="utf-8")
