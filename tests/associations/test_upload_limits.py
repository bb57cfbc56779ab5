"""Members files may be larger than other uploads, up to their own limit, named in the 413."""

import asyncio

from bs4 import BeautifulSoup

from matchmaker.accounts import security
from matchmaker.associations import routes  # noqa: F401  (registers the import route's limit)
from matchmaker.config import get_settings
from tests.associations.helpers import association, csv_text
from tests.firms.helpers import firm_payload

MB = 1024 * 1024


def _call(path: str, declared: int, method: str = "POST") -> tuple[int, bytes]:
    """Run the body limit on a request declaring `declared` bytes; return status and body."""

    async def app(scope, receive, send):
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": b"ok"})

    sent: list[dict] = []

    async def receive():
        return {"type": "http.request", "body": b"", "more_body": False}

    async def send(message):
        sent.append(message)

    scope = {"type": "http", "path": path, "method": method,
             "headers": [(b"content-length", str(declared).encode())]}
    general = get_settings().max_upload_bytes
    asyncio.run(security.BodySizeLimitMiddleware(app, max_bytes=general)(scope, receive, send))
    return sent[0]["status"], sent[1]["body"]


def test_member_imports_have_their_own_larger_limit_named_in_the_413():
    settings = get_settings()
    assert settings.max_upload_bytes == 20 * MB and settings.max_import_upload_bytes == 64 * MB
    assert _call("/associations/cna-monza/imports", 30 * MB)[0] == 200
    status, body = _call("/associations/cna-monza/imports", 64 * MB + 1)
    assert status == 413 and b"64 MB" in body
    # Other forms, and other association forms, keep the general limit.
    for path in ("/firms/import", "/associations/cna-monza/imports/1/mapping",
                 "/associations/cna-monza/members"):
        status, body = _call(path, 30 * MB)
        assert status == 413 and b"20 MB" in body, path


def _padded_csv(size: int) -> bytes:
    """One good firm, then one whose description pads the file to `size` bytes."""
    good, padded = firm_payload(1), firm_payload(2)
    head = csv_text([good, {**padded, "description": ""}]).encode()
    padded["description"] = "x" * (size - len(head))
    return csv_text([good, padded]).encode()


def test_a_members_file_above_the_general_limit_is_accepted(client, db, make_user, login):
    curator = make_user("curator", language="en")
    a = association(db, curator=curator)
    token = login(client, curator)
    content = _padded_csv(get_settings().max_upload_bytes + MB)
    assert len(content) > get_settings().max_upload_bytes
    # A plain form (no HTMX header): the token is read from the form, the file waits on disk.
    client.headers.pop("X-CSRF-Token", None)
    r = client.post(f"/associations/{a.slug}/imports", data={"csrf_token": token},
                    files={"file": ("soci.csv", content, "text/csv")}, follow_redirects=False)
    assert r.status_code == 303, r.text[:300]
    client.headers["X-CSRF-Token"] = token
    page = client.get(r.headers["location"])
    soup = BeautifulSoup(page.text, "html.parser")
    text = soup.get_text(" ", strip=True)
    # Accepted: the file is read, and its over-long value is reported by line, not a 500.
    assert "line 3 cannot be read: a value is longer than 131072 characters" in text


def test_a_members_file_over_the_import_limit_gets_a_clear_413(client, db, make_user, login,
                                                               monkeypatch):
    curator = make_user("curator", language="en")
    a = association(db, curator=curator)
    login(client, curator)
    monkeypatch.setattr(get_settings(), "max_import_upload_bytes", 2 * MB)
    r = client.post(f"/associations/{a.slug}/imports",
                    files={"file": ("soci.csv", _padded_csv(3 * MB), "text/csv")})
    assert r.status_code == 413
    assert r.text == "Request body too large: the limit is 2 MB"
