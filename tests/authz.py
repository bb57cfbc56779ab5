"""The authorization matrix: every state-changing route x every role (+ anonymous).

Each domain describes its state-changing routes in `tests/<domain>/authz_rows.py`: a list
`ROWS` of `Row`s and the target builders they use (registered with `@target("name")`).
`tests/accounts/test_authz_matrix.py` runs every row for every actor and fails when a
state-changing route of the app has no row.

Actors: "anonymous", and for each platform role R both "R" (acting on someone else's
object) and "R+own" (the object is theirs: they own the firm, or it is their own account).
Outcomes: OK (2xx, or a redirect that is not to the login page), LOGIN (401 for the API, a
redirect to /login for pages), FORBIDDEN (403), NOTFOUND (404).
"""

import importlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from matchmaker.accounts.models import USER_ROLES

OK, LOGIN, FORBIDDEN, NOTFOUND = "ok", "login", "forbidden", "notfound"
UNSAFE = frozenset({"POST", "PUT", "PATCH", "DELETE"})
ACTORS: tuple[str, ...] = ("anonymous",) + tuple(
    a for role in USER_ROLES for a in (role, f"{role}+own")
)


@dataclass
class Ctx:
    """What a target or body builder can use: the test session, the actor, a user factory."""

    db: Any
    actor: Any
    make_user: Callable[..., Any]
    target: dict[str, Any] = field(default_factory=dict)


Builder = Callable[[Ctx, Any], dict[str, Any]]
TARGETS: dict[str, Builder] = {}


def target(name: str) -> Callable[[Builder], Builder]:
    """Register a target builder: `fn(ctx, owner)` creates the object (owned by `owner` when
    given, by someone else otherwise) and returns the path parameters plus anything the
    body builder needs."""

    def register(fn: Builder) -> Builder:
        TARGETS[name] = fn
        return fn

    return register


@dataclass(frozen=True)
class Row:
    """One state-changing route, the object it acts on and the outcome for each actor.

    `expect` maps an actor ("admin+own"), "own" (any "+own" actor), a role ("admin"),
    "anonymous" or "*" to an outcome; the most specific key wins.
    """

    method: str
    path: str
    expect: dict[str, str]
    target: str | None = None
    body: Callable[[Ctx], dict[str, Any]] | None = None
    files: Callable[[Ctx], dict[str, Any]] | None = None
    variant: str = ""

    @property
    def api(self) -> bool:
        """Tell whether the route is part of the JSON API (Bearer token auth)."""
        return self.path.startswith("/api/")

    def outcome(self, actor: str) -> str:
        """Return the expected outcome for an actor."""
        role, _, own = actor.partition("+")
        for key in (actor, "own" if own else None, role, "*"):
            if key is not None and key in self.expect:
                return self.expect[key]
        raise KeyError(f"{self.method} {self.path}: no expectation for {actor}")

    def actors(self) -> tuple[str, ...]:
        """Return the actors to try: '+own' variants only when there is an object to own."""
        return tuple(a for a in ACTORS if self.target is not None or "+own" not in a)

    @property
    def id(self) -> str:
        """Return a readable test id."""
        return f"{self.method} {self.path}" + (f" [{self.variant}]" if self.variant else "")


# Expectation shorthands.


def anyone() -> dict[str, str]:
    """Everyone, signed in or not, may do it (login, sign-up, language)."""
    return {"*": OK}


def signed_in() -> dict[str, str]:
    """Any signed-in user may do it to their own things."""
    return {"anonymous": LOGIN, "*": OK}


def owner_or_admin(other: str = FORBIDDEN) -> dict[str, str]:
    """The object's owner and admins; others get `other` (404 when they may not even see it)."""
    return {"anonymous": LOGIN, "own": OK, "admin": OK, "*": other}


def roles(*allowed: str) -> dict[str, str]:
    """Only these platform roles, whatever they own."""
    spec = {"anonymous": LOGIN, "*": FORBIDDEN}
    spec.update({r: OK for r in allowed})
    return spec


def admin_only() -> dict[str, str]:
    """Platform administrators only."""
    return roles("admin")


def load_rows() -> list[Row]:
    """Import every tests/<domain>/authz_rows.py and return all their rows."""
    rows: list[Row] = []
    here = Path(__file__).parent
    for path in sorted(here.glob("*/authz_rows.py")):
        module = importlib.import_module(f"tests.{path.parent.name}.authz_rows")
        rows.extend(module.ROWS)
    return rows


def state_changing_routes(app: Any) -> set[tuple[str, str]]:
    """Return (method, path) for every POST/PUT/PATCH/DELETE route the app serves."""
    found: set[tuple[str, str]] = set()
    for route in _routes(app):
        methods = getattr(route, "methods", None) or set()
        path = getattr(route, "path", None)
        if path is None:
            continue
        for method in methods & UNSAFE:
            found.add((method, path))
    return found


def _routes(app: Any) -> Iterator[Any]:
    try:  # FastAPI >= 0.16x keeps included routers nested; this flattens them.
        from fastapi.routing import iter_route_contexts
    except ImportError:  # older FastAPI: app.routes is already flat
        yield from app.routes
        return
    yield from iter_route_contexts(app.routes)


def classify(resp: Any, *, api: bool) -> str:
    """Map a response to an outcome, or describe it when it is none of them."""
    code = resp.status_code
    location = resp.headers.get("location", "")
    if code == 401 and api:
        return LOGIN
    if code in (302, 303, 307) and location.startswith("/login?next="):
        return LOGIN
    if code == 403:
        return FORBIDDEN
    if code == 404:
        return NOTFOUND
    if 200 <= code < 400:
        return OK
    return f"status {code}: {resp.text[:300]}"
