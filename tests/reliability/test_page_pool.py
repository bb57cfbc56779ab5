"""A page holds one database connection at a time: the nav badge uses the page's own session.

Under the launch-day load on PostgreSQL one worker stalled for 30 s: the inbox badge that
every signed-in page renders opened a second session, so a page held its request's
connection while waiting for another; with ten pages in flight the pool (5 + 5) was all held
by pages waiting for a connection, and each waited out the 30 s pool timeout (the badge
swallowed the timeout and the pages answered 200 late; requests still waiting for their
first connection answered 500). Here the pool has a single connection, which is enough only
when a page never asks for a second one.
"""

import time

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import create_engine, event
from sqlalchemy.orm import Session, sessionmaker
from sqlalchemy.pool import QueuePool

from matchmaker import db as db_module
from matchmaker.accounts import service as accounts_service
from matchmaker.accounts.models import User
from matchmaker.models import Base
from matchmaker.networks.models import Notification
from tests.reliability.helpers import drop_database, scratch_url

POOL_TIMEOUT = 3


@pytest.fixture()
def one_connection(monkeypatch: pytest.MonkeyPatch):
    """Point the app's sessions at a scratch database served by a one-connection pool."""
    url = scratch_url("pagepool")
    engine = create_engine(
        url, poolclass=QueuePool, pool_size=1, max_overflow=0, pool_timeout=POOL_TIMEOUT,
        connect_args={"check_same_thread": False} if url.startswith("sqlite") else {})
    Base.metadata.create_all(engine)
    factory = sessionmaker(bind=engine, expire_on_commit=False)
    monkeypatch.setattr(db_module, "get_sessionmaker", lambda: factory)
    try:
        yield engine, factory
    finally:
        engine.dispose()
        drop_database(url)


def test_a_signed_in_page_with_the_badge_needs_one_connection(one_connection, test_password_hash):
    from matchmaker.main import create_app

    engine, factory = one_connection
    with factory() as s:
        user = User(email="owner@example.it", password_hash=test_password_hash, role="owner",
                    full_name="Owner", language="it", is_active=True, failed_logins=0)
        s.add(user)
        s.flush()
        token, _record = accounts_service.issue_api_token(s, user=user)
        s.add_all([Notification(user_id=user.id, kind="network_invited", params={})
                   for _ in range(3)])
        s.commit()

    held = {"now": 0, "most": 0}

    @event.listens_for(engine, "checkout")
    def _out(*_args) -> None:
        held["now"] += 1
        held["most"] = max(held["most"], held["now"])

    @event.listens_for(engine, "checkin")
    def _in(*_args) -> None:
        held["now"] -= 1

    client = TestClient(create_app())  # the real get_session: no dependency override
    t0 = time.perf_counter()
    r = client.get("/firms", headers={"Authorization": f"Bearer {token}"})
    took = time.perf_counter() - t0

    assert r.status_code == 200
    assert held["most"] == 1, f"the page held {held['most']} connections at once"
    assert took < POOL_TIMEOUT, f"the page waited {took:.1f} s for a second connection"
    assert '<span class="badge count"' in r.text and ">3</span>" in r.text  # the badge counted
    with Session(engine) as s:  # the page's session was closed and its connection returned
        assert s.get(User, user.id) is not None
