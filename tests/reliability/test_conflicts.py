"""Two people saving the same firm: the second gets a conflict, never a silent overwrite.

Every save carries the version it was read at. The check is made twice: the service compares
it with the stored version (a clear 409 with the user's values kept), and the ORM's version
column makes the UPDATE itself conditional, so two saves racing past the check cannot both
win. On SQLite a writing request takes the write lock when it begins (matchmaker.db), so
racing saves queue instead of failing with "database is locked".
"""

import sqlite3
import threading
from pathlib import Path

import httpx
import pytest
from bs4 import BeautifulSoup
from fastapi.testclient import TestClient
from sqlalchemy import select
from sqlalchemy.orm import Session

from matchmaker import migrate
from matchmaker.db import make_engine
from matchmaker.firms import service
from matchmaker.firms.models import Firm
from matchmaker.firms.schemas import validate_firm
from tests.conftest import TEST_DB_URL
from tests.firms.helpers import firm_payload
from tests.reliability.helpers import drop_database, scratch_url, serving


def _soup(resp) -> BeautifulSoup:
    return BeautifulSoup(resp.text, "html.parser")


def _edit_form(page: BeautifulSoup) -> dict[str, object]:
    """Return the values a browser would submit from the firm edit form."""
    form = page.find("input", attrs={"name": "version"}).find_parent("form")
    data: dict[str, object] = {}
    for field in form.find_all(["input", "textarea", "select"]):
        name = field.get("name")
        if not name:
            continue
        if field.name == "textarea":
            data[name] = field.get_text()
        elif field.name == "select":
            chosen = field.find("option", selected=True) or field.find("option")
            data[name] = chosen.get("value", "") if chosen else ""
        elif field.get("type") in ("checkbox", "radio"):
            if field.has_attr("checked"):
                data.setdefault(name, [])
                data[name].append(field.get("value", "on"))  # type: ignore[union-attr]
        else:
            data[name] = field.get("value", "")
    return data


def test_two_people_edit_the_same_firm_in_the_form(app, db, make_user, login) -> None:
    firm = service.create_firm(db, data=validate_firm(firm_payload(61)))
    anna = make_user("owner", firms=[firm.id], language="en")
    bruno = make_user("owner", firms=[firm.id], language="en")
    with TestClient(app) as first, TestClient(app) as second:
        login(first, anna)
        login(second, bruno)
        url = f"/firms/{firm.partita_iva}/edit"
        form_a = _edit_form(_soup(first.get(url)))
        form_b = _edit_form(_soup(second.get(url)))
        assert form_a["version"] == form_b["version"] == "1"
        saved = first.post(url, data={**form_a, "name": "Anna Arredi S.r.l."},
                           follow_redirects=False)
        assert saved.status_code == 303
        late = second.post(url, data={**form_b, "name": "Bruno Mobili S.r.l."},
                           follow_redirects=False)
        assert late.status_code == 409
        page = _soup(late)
        assert "Someone else saved this firm" in page.find("p", class_="error").get_text()
        assert page.find(id="f-name")["value"] == "Bruno Mobili S.r.l."  # nothing typed is lost
        shown = _soup(second.get(f"/firms/{firm.partita_iva}"))
        assert "Anna Arredi S.r.l." in shown.find("h1").get_text()
        # Bruno reloads the form, sees Anna's save, and saves on top of it.
        again = _edit_form(_soup(second.get(url)))
        assert again["version"] == "2" and again["name"] == "Anna Arredi S.r.l."
        ok = second.post(url, data={**again, "name": "Bruno Mobili S.r.l."},
                         follow_redirects=False)
        assert ok.status_code == 303
    db.expire_all()
    assert service.get_firm(db, firm.partita_iva).version == 3


def test_two_api_clients_patch_the_same_version(app, db, make_user, api_headers) -> None:
    firm = service.create_firm(db, data=validate_firm(firm_payload(62)))
    one = api_headers(make_user("owner", firms=[firm.id]))
    two = api_headers(make_user("admin"))
    path = f"/api/v1/firms/{firm.partita_iva}"
    with TestClient(app) as a, TestClient(app) as b:
        version = a.get(path, headers=one).json()["version"]
        assert b.get(path, headers=two).json()["version"] == version
        assert a.patch(path, json={"employees": 40, "version": version},
                       headers=one).status_code == 200
        late = b.patch(path, json={"employees": 4, "version": version}, headers=two)
        assert late.status_code == 409 and "versione 2" in late.json()["detail"]
        assert b.get(path, headers=two).json()["employees"] == 40


def test_the_version_column_stops_a_save_that_raced_past_the_check() -> None:
    """Both sessions read version 1; the later UPDATE matches no row and becomes a conflict."""
    url = scratch_url("race")
    migrate.upgrade("head", url=url)
    engine = make_engine(url)
    try:
        with Session(engine) as s:
            piva = service.create_firm(s, data=validate_firm(firm_payload(63))).partita_iva
            s.commit()
        first, second = Session(engine), Session(engine)
        a, b = service.get_firm(first, piva), service.get_firm(second, piva)
        data_b = validate_firm({**service.firm_to_input(b), "name": "Seconda S.r.l."})
        service.update_firm(first, firm=a, expected_version=1,
                            data=validate_firm({**service.firm_to_input(a),
                                                "name": "Prima S.r.l."}))
        first.commit()
        if engine.dialect.name == "sqlite":
            # SQLite cannot let a reader that is behind a committed write write at all.
            with pytest.raises((service.FirmConflict, Exception)):
                service.update_firm(second, firm=b, data=data_b, expected_version=1)
        else:
            # The service check passes (b still says version 1): the UPDATE catches it.
            with pytest.raises(service.FirmConflict):
                service.update_firm(second, firm=b, data=data_b, expected_version=1)
        second.rollback()
        first.close()
        second.close()
        with Session(engine) as s:
            stored = s.scalars(select(Firm).where(Firm.partita_iva == piva)).one()
            assert (stored.name, stored.version) == ("Prima S.r.l.", 2)
    finally:
        engine.dispose()
        drop_database(url)


@pytest.fixture(scope="module")
def race_db(tmp_path_factory) -> tuple[str, str, list[str]]:
    """A migrated database with 3 firms and an admin's API token."""
    from matchmaker.accounts import service as accounts
    from matchmaker.models import Base

    url = scratch_url("racesrv")
    migrate.upgrade("head", url=url)
    engine = make_engine(url)
    Base.metadata.create_all(engine)
    with Session(engine) as s:
        pivas = [service.create_firm(s, data=validate_firm(firm_payload(70 + i))).partita_iva
                 for i in range(3)]
        admin = accounts.create_user(s, email="race-admin@example.it", password="x" * 16,
                                     role="admin")
        token, _ = accounts.issue_api_token(s, user=admin, name="race", ttl=None)
        facilitator = accounts.create_user(s, email="race-fac@example.it", password="x" * 16,
                                           role="facilitator")
        fac_token, _ = accounts.issue_api_token(s, user=facilitator, name="race", ttl=None)
        s.commit()
    engine.dispose()
    yield url, token, pivas, fac_token
    drop_database(url)


def test_racing_saves_on_a_real_server_have_exactly_one_winner(race_db, tmp_path: Path) -> None:
    url, token, pivas, _fac = race_db
    auth = {"Authorization": f"Bearer {token}"}
    with serving(url, tmp_path / "race.log", workers=2) as server:
        server.wait_ready()
        for piva in pivas:
            path = f"{server.base}/api/v1/firms/{piva}"
            version = httpx.get(path, headers=auth).json()["version"]
            n = 6
            barrier = threading.Barrier(n)
            results: dict[int, httpx.Response] = {}

            def save(i: int, path: str = path, version: int = version,
                     barrier: threading.Barrier = barrier,
                     results: dict[int, httpx.Response] = results) -> None:
                barrier.wait()
                results[i] = httpx.patch(path, headers=auth, timeout=30,
                                         json={"name": f"Concorrente {i} S.r.l.",
                                               "version": version})

            threads = [threading.Thread(target=save, args=(i,)) for i in range(n)]
            for t in threads:
                t.start()
            for t in threads:
                t.join(60)
            codes = sorted(r.status_code for r in results.values())
            assert codes == [200] + [409] * (n - 1), codes
            winner = next(i for i, r in results.items() if r.status_code == 200)
            stored = httpx.get(path, headers=auth).json()
            assert stored["name"] == f"Concorrente {winner} S.r.l."
            assert stored["version"] == version + 1


def _race(n: int, send) -> dict[int, httpx.Response]:
    """Send n requests at the same moment from n threads; return their responses."""
    barrier = threading.Barrier(n)
    results: dict[int, httpx.Response] = {}

    def one(i: int) -> None:
        barrier.wait()
        results[i] = send(i)

    threads = [threading.Thread(target=one, args=(i,)) for i in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    return results


def test_two_people_save_the_same_contract_version(app, db, make_user, api_headers) -> None:
    from tests.contracts.helpers import make_firms

    firms = make_firms(db, 2)
    one, two = api_headers(make_user("facilitator")), api_headers(make_user("admin"))
    with TestClient(app) as a, TestClient(app) as b:
        made = a.post("/api/v1/contracts", headers=one, json={
            "partite_iva": [f.partita_iva for f in firms], "kind": "rete_contratto"})
        assert made.status_code == 201, made.text
        path = f"/api/v1/contracts/{made.json()['id']}"
        assert a.get(path, headers=one).json()["version"] == 1
        assert b.get(path, headers=two).json()["version"] == 1
        assert a.patch(path, headers=one, json={"version": 1, "duration": {"years": 4}}
                       ).status_code == 200
        late = b.patch(path, headers=two, json={"version": 1, "duration": {"years": 9}})
        assert late.status_code == 409 and late.json()["current_version"] == 2
        body = b.get(path, headers=two).json()["body"]
        assert body["duration"]["years"] == 4


def test_racing_contract_saves_on_a_real_server_have_one_winner(race_db,
                                                                tmp_path: Path) -> None:
    from tests.contracts.helpers import make_firms

    url, _token, _pivas, fac_token = race_db
    auth = {"Authorization": f"Bearer {fac_token}"}
    engine = make_engine(url)
    with Session(engine) as s:
        parties = [f.partita_iva for f in make_firms(s, 2)]
        s.commit()
    engine.dispose()
    with serving(url, tmp_path / "race-contract.log", workers=2) as server:
        server.wait_ready()
        made = httpx.post(f"{server.base}/api/v1/contracts", headers=auth, timeout=30,
                          json={"partite_iva": parties, "kind": "rete_contratto"})
        assert made.status_code == 201, made.text
        path = f"{server.base}/api/v1/contracts/{made.json()['id']}"
        results = _race(6, lambda i: httpx.patch(
            path, headers=auth, timeout=30,
            json={"version": 1, "duration": {"years": i + 2}}))
        codes = sorted(r.status_code for r in results.values())
        assert codes == [200] + [409] * 5, [r.text[:200] for r in results.values()]
        winner = next(i for i, r in results.items() if r.status_code == 200)
        stored = httpx.get(path, headers=auth, timeout=30).json()
        assert stored["version"] == 2 and stored["body"]["duration"]["years"] == winner + 2


def test_a_reading_request_survives_a_concurrent_writer_on_sqlite(tmp_path: Path) -> None:
    """An API token's last-use touch is skipped, not a 500, when SQLite cannot write."""
    from matchmaker.accounts import service as accounts
    from matchmaker.accounts.models import ApiToken

    url = f"sqlite:///{tmp_path / 'touch.db'}"
    migrate.upgrade("head", url=url)
    engine = make_engine(url)
    try:
        with Session(engine) as s:
            user = accounts.create_user(s, email="reader@example.it", password="x" * 16,
                                        role="owner")
            token, _ = accounts.issue_api_token(s, user=user, name="r", ttl=None)
            s.commit()
        reader = Session(engine)
        reader.execute(select(Firm.id)).all()  # the reader's snapshot starts here
        other = sqlite3.connect(tmp_path / "touch.db")
        other.execute("INSERT INTO firm_change (firm_id, changed_at) VALUES (1, '2026-01-01')")
        other.commit()
        other.close()
        assert accounts.user_for_token(reader, token).email == "reader@example.it"
        reader.commit()
        reader.close()
        with Session(engine) as s:
            assert s.scalars(select(ApiToken)).one().last_used_at is None  # skipped, no error
    finally:
        engine.dispose()


def test_a_write_the_database_cannot_take_gets_503_and_nothing_is_lost(tmp_path: Path) -> None:
    """SQLite's writer lock held past the busy timeout (overload): a 503 with Retry-After that
    says nothing was saved, not a 500; once the lock is free the same save succeeds."""
    if not TEST_DB_URL.startswith("sqlite"):
        pytest.skip("SQLite's single writer lock")
    from matchmaker.accounts import service as accounts

    db_file = tmp_path / "busy.db"
    url = f"sqlite:///{db_file}"
    migrate.upgrade("head", url=url)
    engine = make_engine(url)
    try:
        with Session(engine) as s:
            user = accounts.create_user(s, email="busy@example.it", password="x" * 16,
                                        role="owner")
            firm = service.create_firm(s, data=validate_firm(firm_payload(31)))
            accounts.add_firm_member(s, user=user, firm_id=firm.id, role="owner")
            token, _ = accounts.issue_api_token(s, user=user, name="t", ttl=None)
            s.commit()
            piva = firm.partita_iva
    finally:
        engine.dispose()
    auth = {"Authorization": f"Bearer {token}"}
    with serving(url, tmp_path / "busy.log", MATCHMAKER_SQLITE_BUSY_TIMEOUT_MS="300") as server:
        server.wait_ready()
        path = f"{server.base}/api/v1/firms/{piva}"
        assert httpx.get(path, headers=auth, timeout=30).status_code == 200
        holder = sqlite3.connect(db_file, isolation_level=None)
        holder.execute("BEGIN IMMEDIATE")  # another writer holds the lock
        try:
            busy = httpx.patch(path, headers={**auth, "Accept-Language": "en"}, timeout=30,
                               json={"offers": "Nuova offerta"})
            page = httpx.get(f"{server.base}/firms", timeout=30)  # readers are not blocked
        finally:
            holder.execute("ROLLBACK")
            holder.close()
        assert busy.status_code == 503, busy.text[:300]
        assert busy.headers["retry-after"] == "2"
        assert "nothing was saved" in busy.json()["detail"]
        assert page.status_code == 200
        assert httpx.get(path, headers=auth, timeout=30).json()["offers"] != "Nuova offerta"
        again = httpx.patch(path, headers=auth, timeout=30, json={"offers": "Nuova offerta"})
        assert again.status_code == 200, again.text[:300]
        assert httpx.get(path, headers=auth, timeout=30).json()["offers"] == "Nuova offerta"
