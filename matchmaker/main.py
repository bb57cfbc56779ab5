"""Application factory: middleware, static files, routers and error handlers."""

import importlib
import logging

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from fastapi.staticfiles import StaticFiles
from sqlalchemy.exc import DataError, OperationalError
from sqlalchemy.exc import TimeoutError as PoolTimeout
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.middleware.sessions import SessionMiddleware

from matchmaker import i18n
from matchmaker.accounts.deps import install as install_accounts
from matchmaker.accounts.security import HTTPSOnlyCookiesMiddleware
from matchmaker.config import get_settings
from matchmaker.ops import health as ops_health
from matchmaker.ops.logs import RequestLogMiddleware
from matchmaker.web import render

log = logging.getLogger("matchmaker")

# Each domain exposes `router` (HTML pages) and/or `api_router` (JSON under /api/v1).
DOMAIN_ROUTE_MODULES = [
    "matchmaker.home",
    "matchmaker.firms.routes",
    "matchmaker.accounts.routes",
    "matchmaker.refdata.routes",
    "matchmaker.matching.routes",
    "matchmaker.contracts.routes",
    "matchmaker.networks.routes",
    "matchmaker.associations.routes",
]

SECURITY_HEADERS = {
    "Content-Security-Policy": (
        "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
        "frame-ancestors 'none'; form-action 'self'; base-uri 'self'"
    ),
    "X-Frame-Options": "DENY",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",
    "Permissions-Policy": "camera=(), microphone=(), geolocation=(), payment=()",
    "Cross-Origin-Opener-Policy": "same-origin",
}

# FastAPI's /docs and /redoc pages load their scripts from a CDN and start them inline.
DOCS_PATHS = frozenset({"/docs", "/redoc"})
DOCS_CSP = (
    "default-src 'self'; script-src 'self' 'unsafe-inline' https://cdn.jsdelivr.net; "
    "style-src 'self' 'unsafe-inline' https://cdn.jsdelivr.net https://fonts.googleapis.com; "
    "font-src 'self' https://fonts.gstatic.com; img-src 'self' data: https:; "
    "worker-src 'self' blob:; frame-ancestors 'none'; base-uri 'self'"
)


def _wants_json(request: Request) -> bool:
    return request.url.path.startswith("/api/")


def create_app() -> FastAPI:
    """Build the FastAPI application."""
    settings = get_settings()
    app = FastAPI(title="Matchmaker", version="0.1.0", docs_url="/docs", openapi_url="/openapi.json",
                  lifespan=ops_health.lifespan)
    # Before routers and the session middleware: the user on every route, CSRF and body limits.
    install_accounts(app)

    @app.middleware("http")
    async def language_and_headers(request: Request, call_next):
        # ?lang= for one page, then the session (the signed-in user's preference or the last
        # switch), then the long-lived cookie, then the browser's Accept-Language.
        session_lang = request.session.get("lang") if "session" in request.scope else None
        choices = (request.query_params.get("lang"), session_lang, request.cookies.get("lang"))
        lang = i18n.pick_language(
            explicit=next((c for c in choices if c in i18n.LANGUAGES), None),
            accept_language=request.headers.get("accept-language"),
        )
        token = i18n.current_language.set(lang)
        try:
            response: Response = await call_next(request)
        finally:
            i18n.current_language.reset(token)
        if request.url.path in DOCS_PATHS:
            response.headers.setdefault("Content-Security-Policy", DOCS_CSP)
        for k, v in SECURITY_HEADERS.items():
            response.headers.setdefault(k, v)
        response.headers.setdefault("Content-Language", lang)
        return response

    app.add_middleware(
        SessionMiddleware,
        secret_key=settings.secret_key,
        session_cookie="mm_session",
        same_site="lax",
        https_only=False,
    )
    # Over HTTPS (directly or behind a TLS proxy) cookies get `Secure` and responses HSTS.
    app.add_middleware(HTTPSOnlyCookiesMiddleware)
    # Outermost: times and logs every request, whatever the inner layers answer.
    app.add_middleware(RequestLogMiddleware)

    app.mount("/static", StaticFiles(directory=str(settings.static_dir)), name="static")

    for mod_name in DOMAIN_ROUTE_MODULES:
        mod = importlib.import_module(mod_name)
        if hasattr(mod, "router"):
            app.include_router(mod.router)
        if hasattr(mod, "api_router"):
            app.include_router(mod.api_router, prefix="/api/v1")

    @app.exception_handler(StarletteHTTPException)
    async def http_error(request: Request, exc: StarletteHTTPException) -> Response:
        if _wants_json(request):
            return JSONResponse(
                {"detail": exc.detail}, status_code=exc.status_code, headers=exc.headers
            )
        resp = render(
            request,
            "error.html",
            {"status_code": exc.status_code, "detail": exc.detail},
            status_code=exc.status_code,
        )
        resp.headers.update(exc.headers or {})  # Retry-After, WWW-Authenticate, …
        return resp

    @app.exception_handler(OverflowError)
    @app.exception_handler(DataError)
    async def number_out_of_range(request: Request, exc: Exception) -> Response:
        # An id or number too large for the database column can name no row: a client error.
        errors = [{"loc": ["path"], "msg": "number out of range", "type": "value_error"}]
        if _wants_json(request):
            return JSONResponse({"detail": errors}, status_code=422)
        return render(
            request, "error.html", {"status_code": 422, "detail": errors}, status_code=422
        )

    @app.exception_handler(OperationalError)
    @app.exception_handler(PoolTimeout)
    async def database_busy(request: Request, exc: Exception) -> Response:
        # Overload, not a bug: SQLite's writer lock not obtained within the busy timeout, or no
        # pooled connection free within the pool timeout. Say so and when to retry (503);
        # nothing was written. Any other database error stays a 500.
        if isinstance(exc, OperationalError) and "database is locked" not in str(exc.orig):
            raise exc
        log.warning("database busy: %s %s: %s", request.method, request.url.path,
                    str(exc).splitlines()[0][:200])
        detail = i18n.gettext(
            "The service is busy: nothing was saved, please try again in a moment.")
        headers = {"Retry-After": "2"}
        if _wants_json(request):
            return JSONResponse({"detail": detail}, status_code=503, headers=headers)
        resp = render(request, "error.html", {"status_code": 503, "detail": detail},
                      status_code=503)
        resp.headers.update(headers)
        return resp

    @app.exception_handler(RequestValidationError)
    async def validation_error(request: Request, exc: RequestValidationError) -> Response:
        errors = [
            {"loc": list(e.get("loc", ())), "msg": e.get("msg", ""), "type": e.get("type", "")}
            for e in exc.errors()
        ]
        if _wants_json(request):
            return JSONResponse({"detail": errors}, status_code=422)
        return render(
            request, "error.html", {"status_code": 422, "detail": errors}, status_code=422
        )

    return app
