"""Every state-changing route x every role (+ anonymous), on objects they own and do not.

Rows live in tests/<domain>/authz_rows.py; see tests/authz.py. A new POST/PUT/PATCH/DELETE
route without a row makes `test_every_state_changing_route_has_a_row` fail.
"""

import pytest

from tests.authz import TARGETS, Ctx, Row, classify, load_rows, state_changing_routes

ROWS = load_rows()
CASES = [(row, actor) for row in ROWS for actor in row.actors()]


def test_every_state_changing_route_has_a_row(app) -> None:
    routes = state_changing_routes(app)
    covered = {(row.method, row.path) for row in ROWS}
    missing = sorted(routes - covered)
    assert not missing, (
        "state-changing routes with no row in any tests/<domain>/authz_rows.py: "
        + ", ".join(f"{m} {p}" for m, p in missing)
    )
    stale = sorted(covered - routes)
    assert not stale, "rows for routes the app does not have: " + ", ".join(
        f"{m} {p}" for m, p in stale
    )


def test_every_row_names_a_known_target() -> None:
    unknown = [row.id for row in ROWS if row.target is not None and row.target not in TARGETS]
    assert not unknown, unknown


@pytest.mark.parametrize(("row", "actor"), CASES, ids=[f"{r.id} :: {a}" for r, a in CASES])
def test_authorization_matrix(
    row: Row, actor: str, client, db, make_user, login, api_headers, csrf
) -> None:
    role, _, own = actor.partition("+")
    user = None if role == "anonymous" else make_user(role)
    ctx = Ctx(db=db, actor=user, make_user=make_user)
    if row.target is not None:
        ctx.target = TARGETS[row.target](ctx, user if own else None)
    path = row.path.format(**ctx.target)
    headers: dict[str, str] = {}
    if row.api:
        if user is not None:
            headers = api_headers(user)
    elif user is not None:
        login(client, user)
    else:
        client.headers["X-CSRF-Token"] = csrf(client)
    kwargs: dict = {}
    body = row.body(ctx) if row.body is not None else None
    if row.api and body is not None:
        kwargs["json"] = body
    elif body is not None:
        kwargs["data"] = body
    if row.files is not None:
        kwargs["files"] = row.files(ctx)
    db.flush()

    resp = client.request(row.method, path, headers=headers, follow_redirects=False, **kwargs)

    expected = row.outcome(actor)
    assert classify(resp, api=row.api) == expected, (
        f"{row.id} as {actor}: expected {expected}, got {resp.status_code} "
        f"{resp.headers.get('location', '')} {resp.text[:300]}"
    )
