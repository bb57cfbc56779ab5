"""The JSON API's authentication: tokens for credentials, /me, revocation."""

from datetime import timedelta

from matchmaker.accounts import service
from matchmaker.accounts.models import ApiToken
from matchmaker.db import utcnow
from tests.conftest import TEST_PASSWORD


def test_token_for_credentials_then_me(client, make_user, make_firm, db) -> None:
    user = make_user("owner", email="api@example.it")
    firm = make_firm(user)
    resp = client.post(
        "/api/v1/auth/token", json={"email": "API@example.it", "password": TEST_PASSWORD}
    )
    assert resp.status_code == 200
    body = resp.json()
    assert body["token_type"] == "bearer" and body["access_token"].startswith("mm_")
    stored = db.query(ApiToken).filter_by(user_id=user.id).one()
    assert stored.token_hash != body["access_token"]
    me = client.get("/api/v1/me", headers={"Authorization": f"Bearer {body['access_token']}"})
    assert me.status_code == 200
    assert me.json() == {
        "id": user.id,
        "email": "api@example.it",
        "full_name": user.full_name,
        "role": "owner",
        "language": "it",
        "firms": [{"firm_id": firm.id, "role": "owner"}],
    }
    assert "set-cookie" not in me.headers


def test_wrong_credentials_get_401_with_www_authenticate(client, make_user) -> None:
    user = make_user("owner")
    resp = client.post("/api/v1/auth/token", json={"email": user.email, "password": "nope"})
    assert resp.status_code == 401
    assert resp.headers["www-authenticate"] == "Bearer"
    assert resp.json() == {"detail": "Incorrect email or password"}


def test_malformed_requests_get_422(client) -> None:
    assert client.post("/api/v1/auth/token", json={"email": "x"}).status_code == 422
    resp = client.post(
        "/api/v1/auth/token", json={"email": "x@example.it", "password": "p", "admin": True}
    )
    assert resp.status_code == 422


def test_missing_bad_expired_and_revoked_tokens_get_401(client, make_user, db) -> None:
    user = make_user("owner")
    assert client.get("/api/v1/me").status_code == 401
    assert (
        client.get("/api/v1/me", headers={"Authorization": "Bearer mm_forged"}).status_code == 401
    )
    assert client.get("/api/v1/me", headers={"Authorization": "Basic eDp5"}).status_code == 401
    plain, record = service.issue_api_token(db, user=user)
    headers = {"Authorization": f"Bearer {plain}"}
    assert client.get("/api/v1/me", headers=headers).status_code == 200
    record.expires_at = utcnow() - timedelta(minutes=1)
    db.flush()
    assert client.get("/api/v1/me", headers=headers).status_code == 401
    plain2, _ = service.issue_api_token(db, user=user)
    headers2 = {"Authorization": f"Bearer {plain2}"}
    assert client.delete("/api/v1/auth/token", headers=headers2).status_code == 204
    assert client.get("/api/v1/me", headers=headers2).status_code == 401


def test_token_of_a_disabled_user_stops_working(client, make_user, api_headers, db) -> None:
    user = make_user("owner")
    headers = api_headers(user)
    user.is_active = False
    db.flush()
    assert client.get("/api/v1/me", headers=headers).status_code == 401


def test_locked_account_gets_no_token(client, make_user) -> None:
    user = make_user("owner")
    for _ in range(5):
        client.post("/api/v1/auth/token", json={"email": user.email, "password": "wrong pw"})
    resp = client.post("/api/v1/auth/token", json={"email": user.email, "password": TEST_PASSWORD})
    assert resp.status_code == 401


def test_openapi_documents_the_auth_endpoints(client) -> None:
    paths = client.get("/openapi.json").json()["paths"]
    assert "post" in paths["/api/v1/auth/token"] and "get" in paths["/api/v1/me"]
    assert not any(p.startswith(("/account", "/admin", "/login")) for p in paths)
