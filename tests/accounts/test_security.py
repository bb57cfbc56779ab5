"""Web security: CSRF, rate limits, lockout, no enumeration, headers, cookies, body size."""

import asyncio

import pytest
from fastapi.testclient import TestClient

from matchmaker.accounts import security
from matchmaker.accounts.deps import safe_next
from tests.accounts.conftest import soup
from tests.conftest import TEST_PASSWORD


def _login_form(client: TestClient, email: str, password: str, token: str):
    return client.post(
        "/login",
        data={"email": email, "password": password, "csrf_token": token},
        follow_redirects=False,
    )


# --- CSRF -----------------------------------------------------------------------------------


def test_form_post_without_csrf_token_is_refused(client, make_user, login) -> None:
    login(client, make_user("owner"))
    client.headers.pop("X-CSRF-Token")
    resp = client.post("/account", data={"full_name": "Mallory", "language": "en"})
    assert resp.status_code == 403


def test_form_post_with_a_wrong_csrf_token_is_refused(client, make_user, login) -> None:
    login(client, make_user("owner"))
    client.headers["X-CSRF-Token"] = "forged"
    resp = client.post("/account", data={"full_name": "Mallory", "language": "en"})
    assert resp.status_code == 403
    client.headers.pop("X-CSRF-Token")
    resp = client.post("/account", data={"full_name": "M", "language": "en", "csrf_token": "x"})
    assert resp.status_code == 403


def test_form_field_and_htmx_header_both_carry_the_token(client, make_user, login, db) -> None:
    user = make_user("owner")
    token = login(client, user)
    client.headers.pop("X-CSRF-Token")
    resp = client.post(
        "/account",
        data={"full_name": "Via Field", "language": "it", "csrf_token": token},
        follow_redirects=False,
    )
    assert resp.status_code == 303
    resp = client.post(
        "/account",
        data={"full_name": "Via Header", "language": "it"},
        headers={"X-CSRF-Token": token, "HX-Request": "true"},
        follow_redirects=False,
    )
    assert resp.status_code == 303
    db.refresh(user)
    assert user.full_name == "Via Header"


def test_multipart_form_carries_the_token_and_the_body_reaches_the_endpoint(
    client, make_user, login
) -> None:
    token = login(client, make_user("curator"))
    client.headers.pop("X-CSRF-Token")
    csv = b"partita_iva,name,ateco,comune_istat\n"
    resp = client.post(
        "/firms/import", data={"csrf_token": token}, files={"file": ("firms.csv", csv, "text/csv")}
    )
    assert resp.status_code != 403
    resp = client.post("/firms/import", files={"file": ("firms.csv", csv, "text/csv")})
    assert resp.status_code == 403


def test_login_itself_needs_the_token(client, make_user) -> None:
    user = make_user("owner")
    resp = _login_form(client, user.email, TEST_PASSWORD, "")
    assert resp.status_code == 403


def test_json_from_a_cookie_session_needs_the_header(client, make_user, login) -> None:
    login(client, make_user("owner"))
    client.headers.pop("X-CSRF-Token")
    resp = client.delete("/api/v1/auth/token")
    assert resp.status_code == 403
    assert resp.json() == {"detail": "CSRF token missing or invalid"}


def test_bearer_requests_are_exempt_and_never_use_the_cookie(
    client, make_user, login, api_headers
) -> None:
    owner = make_user("owner")
    login(client, owner)
    client.headers.pop("X-CSRF-Token")
    resp = client.delete("/api/v1/auth/token", headers=api_headers(owner))
    assert resp.status_code == 204
    # A bad bearer token is not rescued by the valid session cookie next to it.
    resp = client.get("/api/v1/me", headers={"Authorization": "Bearer nope"})
    assert resp.status_code == 401


def test_anonymous_api_calls_get_401_not_403(client) -> None:
    resp = client.post("/api/v1/firms", json={})
    assert resp.status_code == 401
    assert resp.headers["www-authenticate"] == "Bearer"


def test_csrf_token_changes_at_login(client, make_user, csrf) -> None:
    user = make_user("owner")
    before = csrf(client)
    assert _login_form(client, user.email, TEST_PASSWORD, before).status_code == 303
    assert csrf(client) != before


def test_pages_without_forms_set_no_cookie(client) -> None:
    assert "set-cookie" not in client.get("/healthz").headers
    assert "set-cookie" not in client.get("/static/css/app.css").headers


# --- rate limit, lockout, enumeration ---------------------------------------------------------


def test_login_is_rate_limited_per_client(client, app, csrf) -> None:
    limit, _window = 10, 60
    token = csrf(client)
    codes = [
        _login_form(client, "nobody@example.it", "wrong password", token).status_code
        for _ in range(limit + 1)
    ]
    assert codes[:limit] == [422] * limit
    assert codes[limit] == 429
    resp = _login_form(client, "nobody@example.it", "wrong password", token)
    assert resp.status_code == 429 and int(resp.headers["retry-after"]) > 0


def test_token_endpoint_is_rate_limited(client) -> None:
    codes = [
        client.post(
            "/api/v1/auth/token", json={"email": "x@example.it", "password": "p"}
        ).status_code
        for _ in range(11)
    ]
    assert codes == [401] * 10 + [429]


def test_limiter_window_slides() -> None:
    now = [0.0]
    limiter = security.RateLimiter(2, 10, clock=lambda: now[0])
    assert limiter.hit("k") is None and limiter.hit("k") is None
    assert limiter.hit("k") == pytest.approx(10)
    assert limiter.hit("other") is None
    now[0] = 10.5
    assert limiter.hit("k") is None


def test_lockout_after_five_failures_through_the_form(client, make_user, csrf, db) -> None:
    user = make_user("owner")
    token = csrf(client)
    for _ in range(5):
        assert _login_form(client, user.email, "wrong password", token).status_code == 422
    resp = _login_form(client, user.email, TEST_PASSWORD, token)
    assert resp.status_code == 422  # locked: the right password does not work for now
    db.refresh(user)
    assert user.locked_until is not None


def _error_text(resp) -> str:
    page = soup(resp.text)
    return " ".join(p.get_text(" ", strip=True) for p in page.select("[role=alert] .error"))


def test_login_errors_do_not_tell_accounts_apart(client, make_user, csrf, db) -> None:
    user = make_user("owner")
    locked = make_user("owner")
    token = csrf(client)
    for _ in range(5):
        _login_form(client, locked.email, "wrong password", token)
    unknown = _login_form(client, "nobody@example.it", "wrong password", token)
    wrong = _login_form(client, user.email, "wrong password", token)
    is_locked = _login_form(client, locked.email, TEST_PASSWORD, token)
    assert unknown.status_code == wrong.status_code == is_locked.status_code == 422
    assert _error_text(unknown) == _error_text(wrong) == _error_text(is_locked) != ""


def test_password_reset_request_answers_the_same_for_unknown_emails(client, make_user, csrf):
    user = make_user("owner")
    token = csrf(client)
    known = client.post(
        "/password-reset", data={"email": user.email, "csrf_token": token}, follow_redirects=False
    )
    unknown = client.post(
        "/password-reset",
        data={"email": "ghost@example.it", "csrf_token": token},
        follow_redirects=False,
    )
    assert known.status_code == unknown.status_code == 303
    assert known.headers["location"] == unknown.headers["location"]


def test_api_token_errors_do_not_tell_accounts_apart(client, make_user) -> None:
    user = make_user("owner")
    a = client.post("/api/v1/auth/token", json={"email": user.email, "password": "wrong pw"})
    b = client.post("/api/v1/auth/token", json={"email": "no@example.it", "password": "wrong"})
    assert a.status_code == b.status_code == 401 and a.json() == b.json()


# --- sessions and cookies -------------------------------------------------------------------


def test_session_cookie_is_httponly_and_samesite_lax(client, make_user, csrf) -> None:
    user = make_user("owner")
    resp = _login_form(client, user.email, TEST_PASSWORD, csrf(client))
    cookie = resp.headers["set-cookie"].lower()
    assert cookie.startswith("mm_session=")
    assert "httponly" in cookie and "samesite=lax" in cookie and "secure" not in cookie


def test_cookies_are_secure_over_https(app, make_user) -> None:
    with TestClient(app, base_url="https://testserver") as client:
        resp = client.get("/login")
        assert "secure" in resp.headers["set-cookie"].lower()
        assert resp.headers["strict-transport-security"].startswith("max-age=")


def test_changing_the_password_ends_other_sessions(app, client, make_user, login) -> None:
    user = make_user("owner")
    token = login(client, user)
    with TestClient(app, base_url="http://testserver") as other:
        login(other, user)
        assert other.get("/account", follow_redirects=False).status_code == 200
        resp = client.post(
            "/account/password",
            data={
                "current_password": TEST_PASSWORD,
                "new_password": "brand new password",
                "new_password_confirm": "brand new password",
                "csrf_token": token,
            },
            follow_redirects=False,
        )
        assert resp.status_code == 303
        assert client.get("/account", follow_redirects=False).status_code == 200
        assert other.get("/account", follow_redirects=False).status_code == 303


def test_disabled_users_lose_their_session(client, make_user, login, db) -> None:
    user = make_user("owner")
    login(client, user)
    user.is_active = False
    db.flush()
    resp = client.get("/account", follow_redirects=False)
    assert resp.status_code == 303 and resp.headers["location"].startswith("/login")


def test_login_redirect_keeps_the_page_and_refuses_open_redirects(client, make_user, csrf) -> None:
    resp = client.get("/account/activity?page=2", follow_redirects=False)
    assert resp.status_code == 303
    assert resp.headers["location"] == "/login?next=%2Faccount%2Factivity%3Fpage%3D2"
    user = make_user("owner")
    token = csrf(client)
    resp = client.post(
        "/login",
        data={
            "email": user.email,
            "password": TEST_PASSWORD,
            "csrf_token": token,
            "next": "//evil.example/",
        },
        follow_redirects=False,
    )
    assert resp.headers["location"] == "/firms"


@pytest.mark.parametrize(
    ("target", "expected"),
    [
        ("/firms?q=1", "/firms?q=1"),
        ("//evil.example", "/"),
        ("/\\evil.example", "/"),
        ("https://evil.example", "/"),
        ("/ok\r\nSet-Cookie: x", "/"),
        ("", "/"),
    ],
)
def test_safe_next(target, expected) -> None:
    assert safe_next(target) == expected


def test_htmx_requests_are_sent_to_login_with_hx_redirect(client) -> None:
    resp = client.get("/account", headers={"HX-Request": "true"}, follow_redirects=False)
    assert resp.status_code == 204
    assert resp.headers["hx-redirect"].startswith("/login?next=")


def test_pages_for_signed_in_users_are_not_cached(client, make_user, login) -> None:
    assert "no-store" not in client.get("/privacy").headers.get("cache-control", "")
    login(client, make_user("owner"))
    assert client.get("/privacy").headers["cache-control"] == "no-store"


# --- headers and body size ------------------------------------------------------------------


@pytest.mark.parametrize("path", ["/", "/login", "/api/v1/me", "/no-such-page"])
def test_security_headers_on_every_response(client, path) -> None:
    headers = client.get(path).headers
    csp = headers["content-security-policy"]
    assert "default-src 'self'" in csp and "frame-ancestors 'none'" in csp
    assert "script-src 'self'" in csp and "unsafe-inline" not in csp.split("script-src")[1]
    assert headers["x-frame-options"] == "DENY"
    assert headers["x-content-type-options"] == "nosniff"
    assert headers["referrer-policy"] == "same-origin"
    assert "permissions-policy" in headers


def test_oversized_bodies_are_refused_with_413(app, client, make_user, login) -> None:
    from matchmaker.accounts.security import BodySizeLimitMiddleware

    limit = next(
        m.kwargs["max_bytes"] for m in app.user_middleware if m.cls is BodySizeLimitMiddleware
    )
    login(client, make_user("curator"))
    resp = client.post("/firms/import", files={"file": ("big.csv", b"x" * (limit + 1), "text/csv")})
    assert resp.status_code == 413


def test_streamed_bodies_without_length_are_cut_off() -> None:
    seen: list[bytes] = []

    async def app(scope, receive, send):
        while True:
            message = await receive()
            seen.append(message.get("body", b""))
            if not message.get("more_body"):
                break
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": b"ok"})

    chunks = [{"type": "http.request", "body": b"x" * 60, "more_body": True}] * 3

    async def receive():
        return chunks.pop(0) if chunks else {"type": "http.request", "body": b""}

    sent: list[dict] = []

    async def send(message):
        sent.append(message)

    scope = {"type": "http", "path": "/upload", "headers": [], "method": "POST"}
    asyncio.run(security.BodySizeLimitMiddleware(app, max_bytes=100)(scope, receive, send))
    assert sent[0]["status"] == 413


def test_api_docs_may_load_their_cdn_scripts_and_nothing_else_may(client) -> None:
    docs = client.get("/docs").headers["content-security-policy"]
    assert "https://cdn.jsdelivr.net" in docs and "frame-ancestors 'none'" in docs
    page = client.get("/login").headers["content-security-policy"]
    assert "cdn.jsdelivr.net" not in page and "unsafe-inline" not in page
