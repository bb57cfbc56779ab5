"""Readiness (database, migrations, index), structured request logs and the request id."""

import json
import logging
from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient
from sqlalchemy.orm import Session, sessionmaker

from matchmaker import migrate
from matchmaker.config import get_settings
from matchmaker.db import get_session, make_engine
from matchmaker.matching import index
from matchmaker.ops.logs import ACCESS_LOGGER, JsonFormatter
from tests.reliability.helpers import drop_database, scratch_url


class _Lines(logging.Handler):
    def __init__(self) -> None:
        super().__init__()
        self.lines: list[dict] = []
        self.setFormatter(JsonFormatter())

    def emit(self, record: logging.LogRecord) -> None:
        self.lines.append(json.loads(self.format(record)))


@pytest.fixture()
def access_log() -> Iterator[list[dict]]:
    handler = _Lines()
    logger = logging.getLogger(ACCESS_LOGGER)
    level = logger.level
    logger.setLevel(logging.INFO)  # `matchmaker serve` configures this; tests do it here
    logger.addHandler(handler)
    try:
        yield handler.lines
    finally:
        logger.removeHandler(handler)
        logger.setLevel(level)


def _client_on(url: str) -> TestClient:
    """An app whose sessions use the database at `url` (not the test transaction)."""
    from matchmaker.main import create_app

    engine = make_engine(url)
    factory = sessionmaker(bind=engine, expire_on_commit=False)

    def _session() -> Iterator[Session]:
        with factory() as s:
            yield s
            s.commit()

    app = create_app()
    app.dependency_overrides[get_session] = _session
    app.state.engine = engine
    return TestClient(app)


@pytest.fixture()
def migrated_url() -> Iterator[str]:
    url = scratch_url("ready")
    migrate.upgrade("head", url=url)
    yield url
    drop_database(url)


def test_readyz_is_200_on_a_migrated_database(migrated_url: str) -> None:
    with _client_on(migrated_url) as client:
        resp = client.get("/readyz")
    assert resp.status_code == 200, resp.text
    checks = resp.json()["checks"]
    assert checks["database"] == "ok" and checks["migrations"] == "ok"
    assert checks["index"] == "built on first use"  # warm-up is off in tests


def test_readyz_waits_for_the_index_when_it_is_warmed(migrated_url: str,
                                                       monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(get_settings(), "warm_index_on_start", True)
    client = _client_on(migrated_url)  # no lifespan: nothing builds the index meanwhile
    resp = client.get("/readyz")
    assert resp.status_code == 503 and resp.json()["checks"]["index"] == "building"
    engine = make_engine(migrated_url)
    with Session(engine) as s:
        index.get_index(s)
    engine.dispose()
    resp = client.get("/readyz")
    assert resp.status_code == 200 and resp.json()["checks"]["index"] == "ok"
    index.forget()


def test_readyz_is_503_when_not_migrated() -> None:
    url = scratch_url("unmigrated")
    try:
        with _client_on(url) as client:
            resp = client.get("/readyz")
        assert resp.status_code == 503
        body = resp.json()
        assert body["status"] == "unavailable" and "head is" in body["checks"]["migrations"]
        migrate.upgrade("head", url=url)
        with _client_on(url) as client:
            assert client.get("/readyz").status_code == 200
    finally:
        drop_database(url)


def test_readyz_is_503_when_the_database_is_unreachable(tmp_path) -> None:
    url = f"sqlite:///{tmp_path / 'no-such-dir' / 'x.db'}"
    with _client_on(url) as client:
        resp = client.get("/readyz")
        assert client.get("/healthz").status_code == 200  # the process itself is fine
    assert resp.status_code == 503
    assert resp.json()["checks"]["database"].startswith("error: ")


def test_one_json_line_per_request_with_route_template_and_user(client, make_user, api_headers,
                                                                access_log) -> None:
    from matchmaker.firms import service
    from matchmaker.firms.schemas import validate_firm
    from tests.firms.helpers import firm_payload

    user = make_user("admin")
    headers = api_headers(user)
    firm = service.create_firm(client.app.state.test_session_factory(),
                               data=validate_firm(firm_payload(31337)))
    resp = client.get(f"/api/v1/firms/{firm.partita_iva}", headers=headers)
    assert resp.status_code == 200
    rid = resp.headers["x-request-id"]
    line = next(entry for entry in access_log if entry["request_id"] == rid)
    assert line["event"] == "request" and line["method"] == "GET"
    assert line["path"] == "/api/v1/firms/{piva}"  # the template, not the partita IVA
    assert line["status"] == 200 and line["user_id"] == user.id
    assert isinstance(line["duration_ms"], float) and line["duration_ms"] >= 0
    assert firm.partita_iva not in json.dumps(line)


def test_request_id_is_echoed_or_made(client, access_log) -> None:
    resp = client.get("/healthz", headers={"X-Request-ID": "lb-1234.abc"})
    assert resp.headers["x-request-id"] == "lb-1234.abc"
    odd = client.get("/healthz", headers={"X-Request-ID": "bad id\twith spaces"})
    made = odd.headers["x-request-id"]
    assert made != "bad id\twith spaces" and len(made) == 32
    anonymous = [e for e in access_log if e["request_id"] in ("lb-1234.abc", made)]
    assert [e["user_id"] for e in anonymous] == [None, None]
    missing = client.get("/no/such/page")
    assert missing.status_code == 404
    entry = next(e for e in access_log if e["request_id"] == missing.headers["x-request-id"])
    assert entry["path"] == "<unmatched>" and entry["status"] == 404


def test_an_error_is_logged_as_500(client, access_log) -> None:
    from fastapi import APIRouter

    router = APIRouter()

    @router.get("/boom-for-test")
    def boom() -> None:
        raise RuntimeError("boom")

    client.app.include_router(router)
    quiet = TestClient(client.app, raise_server_exceptions=False)
    resp = quiet.get("/boom-for-test")
    assert resp.status_code == 500
    entry = access_log[-1]
    assert entry["status"] == 500 and entry["level"] == "error"
    assert entry["path"] == "/boom-for-test"
