"""Numbers no database column can hold are a client error, not a server crash (fuzz finding)."""


def test_an_id_too_large_for_the_database_is_a_422(client, make_user, api_headers):
    headers = api_headers(make_user("admin"))
    for path in ("/api/v1/networks/99999999999999999999", "/api/v1/contracts/99999999999999999999"):
        resp = client.get(path, headers=headers)
        assert resp.status_code in (404, 422), (path, resp.status_code)
        assert "detail" in resp.json()
