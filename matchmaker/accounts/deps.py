"""Who is asking: the current user from a Bearer token or the session cookie, and guards.

`install(app)` wires accounts into the application: the current user on every route (so
every page can show it), the login-required handler, the rate limiters, and the CSRF and
body-size middleware. Call it right after creating the app, before routers and the session
middleware are added.
"""

from collections.abc import Callable
from types import SimpleNamespace
from urllib.parse import urlencode

from fastapi import Depends, FastAPI, HTTPException, Request
from fastapi.responses import JSONResponse, RedirectResponse, Response
from sqlalchemy.orm import Session

from matchmaker.accounts import security, service
from matchmaker.accounts.models import User
from matchmaker.config import get_settings
from matchmaker.db import get_session
from matchmaker.i18n import gettext as _

SESSION_USER_KEY = "uid"
SESSION_FINGERPRINT_KEY = "fp"

# (hits, seconds) per client IP; generous for people, tight for scripts guessing passwords.
RATE_LIMITS: dict[str, tuple[int, float]] = {
    "login": (10, 60.0),
    "token": (10, 60.0),
    "register": (10, 3600.0),
    "password_reset": (5, 900.0),
}


_SessionDep = Depends(get_session, scope="function")


class LoginRequired(Exception):
    """Raised when a route needs a signed-in user and there is none."""


def client_ip(request: Request) -> str | None:
    """Return the client's address (uvicorn resolves X-Forwarded-For from trusted proxies)."""
    return request.client.host if request.client else None


def current_user(request: Request, session: Session = _SessionDep) -> User | None:
    """Return the signed-in user (Bearer token, else session cookie) or None; remember it."""
    cached = getattr(request.state, "user_resolved", False)
    if cached:
        return request.state.user
    user: User | None = None
    auth = request.headers.get("authorization")
    if auth:
        # A request that presents a credential is judged on it alone, never on the cookie.
        scheme, _sep, token = auth.partition(" ")
        if scheme.lower() == "bearer" and token.strip():
            user = service.user_for_token(session, token.strip())
        request.state.auth_method = "bearer"
    elif "session" in request.scope:
        uid = request.session.get(SESSION_USER_KEY)
        if isinstance(uid, int):
            candidate = session.get(User, uid)
            if (
                candidate is not None
                and candidate.is_active
                and request.session.get(SESSION_FINGERPRINT_KEY)
                == security.session_fingerprint(candidate.password_hash)
            ):
                user = candidate
                request.state.auth_method = "session"
            else:
                # Deleted, disabled, or the password changed since: the session is over.
                log_out(request)
    _remember(request, user)
    return user


def _remember(request: Request, user: User | None) -> None:
    """Record who is asking for this request (routes, templates and middleware read it)."""
    request.state.user = user
    # A plain snapshot for templates: error pages render after the session has rolled back.
    request.state.user_view = (
        SimpleNamespace(
            id=user.id,
            email=user.email,
            role=user.role,
            full_name=user.full_name,
            language=user.language,
        )
        if user is not None
        else None
    )
    request.state.user_resolved = True


_CurrentUserDep = Depends(current_user)


def require_user(user: User | None = _CurrentUserDep) -> User:
    """Return the signed-in user or stop: 401 for the API, a redirect to the login page else."""
    if user is None:
        raise LoginRequired
    return user


_UserDep = Depends(require_user)


def require_role(*roles: str) -> Callable[..., User]:
    """Return a dependency that lets through only signed-in users with one of the roles."""

    def dependency(user: User = _UserDep) -> User:
        if user.role not in roles:
            raise HTTPException(status_code=403, detail="Not allowed")
        return user

    dependency.__name__ = f"require_role_{'_'.join(roles)}"
    return dependency


def rate_limit(bucket: str) -> Callable[[Request], None]:
    """Return a dependency that answers 429 when a client exceeds the bucket's rate."""

    def dependency(request: Request) -> None:
        limiter: security.RateLimiter = request.app.state.rate_limiters[bucket]
        retry = limiter.hit(f"{bucket}:{client_ip(request)}")
        if retry is not None:
            raise HTTPException(
                status_code=429,
                detail=_("Too many attempts. Please wait and try again."),
                headers={"Retry-After": str(int(retry) + 1)},
            )

    dependency.__name__ = f"rate_limit_{bucket}"
    return dependency


def log_in(request: Request, user: User) -> None:
    """Start a fresh session for the user (new CSRF token, no data from before)."""
    lang = request.session.get("lang")
    request.session.clear()
    request.session[SESSION_USER_KEY] = user.id
    request.session[SESSION_FINGERPRINT_KEY] = security.session_fingerprint(user.password_hash)
    request.session["lang"] = user.language or lang or "it"
    _remember(request, user)


def log_out(request: Request) -> None:
    """End the session, keeping only the language choice."""
    lang = request.session.get("lang")
    request.session.clear()
    if lang:
        request.session["lang"] = lang
    _remember(request, None)


def safe_next(target: str | None, default: str = "/") -> str:
    """Return `target` if it is a local path, else `default` (no open redirects)."""
    if (
        not target
        or not target.startswith("/")
        or target.startswith(("//", "/\\"))
        or any(c in target for c in "\r\n")
    ):
        return default
    return target


async def _login_required_handler(request: Request, exc: Exception) -> Response:
    if request.url.path.startswith("/api/"):
        return JSONResponse(
            {"detail": "Not authenticated"},
            status_code=401,
            headers={"WWW-Authenticate": "Bearer"},
        )
    here = request.url.path + (f"?{request.url.query}" if request.url.query else "")
    url = "/login?" + urlencode({"next": here})
    if request.headers.get("HX-Request") == "true":
        return Response(status_code=204, headers={"HX-Redirect": url})
    return RedirectResponse(url, status_code=303)


def install(app: FastAPI) -> None:
    """Wire accounts into the app: user on every route, handlers, limiters, request guards."""
    app.state.rate_limiters = {
        name: security.RateLimiter(limit, window) for name, (limit, window) in RATE_LIMITS.items()
    }
    # Every route resolves the user, so every rendered page can show who is signed in.
    app.router.dependencies.append(Depends(current_user))
    app.add_exception_handler(LoginRequired, _login_required_handler)
    app.add_middleware(security.NoStoreMiddleware)
    app.add_middleware(security.CSRFMiddleware, exempt=frozenset({("POST", "/api/v1/auth/token")}))
    app.add_middleware(security.BodySizeLimitMiddleware, max_bytes=get_settings().max_upload_bytes)
