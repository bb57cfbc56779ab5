"""Test database (SQLite file, or PostgreSQL via MATCHMAKER_TEST_DATABASE_URL) and app client.

Each test runs inside a transaction that is rolled back at the end ("join an external
transaction" recipe): the app's sessions bind to the test's connection and their commits
become savepoints.
"""

import os
import tempfile
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import Engine, create_engine, text
from sqlalchemy.engine import make_url
from sqlalchemy.orm import Session, sessionmaker

_tmp = Path(tempfile.mkdtemp(prefix="mm-test-"))
os.environ.setdefault("MATCHMAKER_SECRET_KEY", "test-secret")
# Tests build many apps: no background recommender warm-up in them.
os.environ["MATCHMAKER_WARM_INDEX_ON_START"] = "0"
os.environ["MATCHMAKER_CACHE_DIR"] = os.environ.get(
    "MATCHMAKER_CACHE_DIR", str(Path.home() / ".cache" / "matchmaker")
)

TEST_DB_URL = os.environ.get("MATCHMAKER_TEST_DATABASE_URL") or f"sqlite:///{_tmp / 'test.db'}"
os.environ["MATCHMAKER_DATABASE_URL"] = TEST_DB_URL

SHARED = Path(__file__).resolve().parents[1].parent / "shared"


def is_postgres() -> bool:
    """Tell whether the suite runs against PostgreSQL."""
    return TEST_DB_URL.startswith("postgresql")


def fresh_database_url(tag: str) -> str:
    """Return the URL of a new, empty database of the kind under test (for migration tests)."""
    if not is_postgres():
        return f"sqlite:///{_tmp / (tag + '-' + uuid.uuid4().hex[:8] + '.db')}"
    url = make_url(TEST_DB_URL)
    name = f"mm_{tag}_{uuid.uuid4().hex[:8]}"
    admin = create_engine(url.set(database="postgres"), isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    admin.dispose()
    return url.set(database=name).render_as_string(hide_password=False)


@pytest.fixture(scope="session")
def engine() -> Iterator[Engine]:
    from matchmaker.db import make_engine
    from matchmaker.models import Base

    eng = make_engine(TEST_DB_URL)
    if is_postgres():
        with eng.begin() as conn:
            conn.execute(text("DROP SCHEMA public CASCADE"))
            conn.execute(text("CREATE SCHEMA public"))
    Base.metadata.create_all(eng)
    yield eng
    eng.dispose()


@pytest.fixture()
def db(engine: Engine) -> Iterator[Session]:
    """A session inside a transaction that is rolled back after the test."""
    conn = engine.connect()
    trans = conn.begin()
    factory = sessionmaker(bind=conn, join_transaction_mode="create_savepoint",
                           expire_on_commit=False)
    session = factory()
    session.info["test_factory"] = factory
    try:
        yield session
    finally:
        session.close()
        if trans.is_active:
            trans.rollback()
        conn.close()


@pytest.fixture()
def app(db: Session):
    """The FastAPI app whose sessions join the test transaction."""
    from matchmaker import db as db_module
    from matchmaker.main import create_app

    application = create_app()
    factory = db.info["test_factory"]

    def _session() -> Iterator[Session]:
        s = factory()
        try:
            yield s
            s.commit()
        except BaseException:
            s.rollback()
            raise
        finally:
            s.close()

    application.dependency_overrides[db_module.get_session] = _session
    application.state.test_session_factory = factory
    return application


@pytest.fixture()
def client(app):
    from fastapi.testclient import TestClient

    with TestClient(app, base_url="http://testserver") as c:
        yield c


@pytest.fixture(scope="session")
def shared_dir() -> Path:
    """The team's shared/ folder; tests that need it skip cleanly where it is absent."""
    return SHARED


# --- accounts: users, login and API tokens for any domain's tests ---------------------------

TEST_PASSWORD = "correct horse battery staple"


def csrf_from(html: str) -> str:
    """Return the CSRF token of the first form on a page."""
    from bs4 import BeautifulSoup

    field = BeautifulSoup(html, "html.parser").find("input", {"name": "csrf_token"})
    assert field is not None and field.get("value"), "no csrf_token field on the page"
    return str(field["value"])


@pytest.fixture(scope="session")
def test_password_hash() -> str:
    """The argon2 hash of TEST_PASSWORD, computed once (hashing is slow on purpose)."""
    from matchmaker.accounts.security import hash_password

    return hash_password(TEST_PASSWORD)


@pytest.fixture()
def make_user(db: Session, test_password_hash: str):
    """Factory: `make_user(role="owner", email=None, firms=(), firm_role="owner")` -> User.

    The password is TEST_PASSWORD; `firms` is an iterable of firm ids to join with firm_role.
    """
    from matchmaker.accounts import service
    from matchmaker.accounts.models import User

    def _make(role: str = "owner", email: str | None = None, *, firms=(),
              firm_role: str = "owner", full_name: str = "", **fields):
        values = {"language": "it", "is_active": True, "failed_logins": 0, **fields}
        user = User(
            email=(email or f"{role}-{uuid.uuid4().hex[:10]}@example.it").lower(),
            password_hash=test_password_hash, role=role, full_name=full_name or role.title(),
            **values,
        )
        db.add(user)
        db.flush()
        for firm_id in firms:
            service.add_firm_member(db, user=user, firm_id=firm_id, role=firm_role)
        return user

    return _make


@pytest.fixture()
def csrf():
    """Function `csrf(client)`: fetch a page and return the session's CSRF token."""

    def _csrf(client) -> str:
        return csrf_from(client.get("/privacy").text)

    return _csrf


@pytest.fixture()
def login(csrf):
    """Function `login(client, user, password=TEST_PASSWORD)`: log in through the form.

    Afterwards the client sends the session's X-CSRF-Token header on every request, as HTMX
    does; the token is also returned for tests that post forms by hand.
    """

    def _login(client, user, password: str = TEST_PASSWORD) -> str:
        client.headers.pop("X-CSRF-Token", None)
        token = csrf(client)
        resp = client.post("/login", data={"email": user.email, "password": password,
                                           "csrf_token": token}, follow_redirects=False)
        assert resp.status_code == 303, (resp.status_code, resp.text[:500])
        token = csrf(client)  # a new session gets a new token
        client.headers["X-CSRF-Token"] = token
        return token

    return _login


@pytest.fixture()
def api_headers(db: Session):
    """Function `api_headers(user)` -> {"Authorization": "Bearer …"} with a fresh API token."""
    from matchmaker.accounts import service

    def _headers(user) -> dict[str, str]:
        plain, _record = service.issue_api_token(db, user=user, name="test")
        return {"Authorization": f"Bearer {plain}"}

    return _headers


@pytest.fixture(autouse=True)
def _fresh_recommender_index() -> None:
    """Each test's data is rolled back: no test may see another's recommender index."""
    from matchmaker.matching import index

    index.forget()


@pytest.fixture(autouse=True)
def _english_outside_requests() -> Iterator[None]:
    """Service calls made directly by a test speak English (pages choose per request).

    Messages are translated into the current language, Italian by default; a test that calls
    a service and reads its message reads the English msgid unless it picks a language.
    """
    from matchmaker import i18n

    token = i18n.current_language.set("en")
    try:
        yield
    finally:
        i18n.current_language.reset(token)
