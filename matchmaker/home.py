"""Landing page, language switch, health and readiness probes."""

from fastapi import APIRouter, Depends, Request
from fastapi.responses import JSONResponse, Response
from sqlalchemy.orm import Session

from matchmaker.db import get_session
from matchmaker.i18n import LANGUAGES
from matchmaker.web import redirect, render

router = APIRouter()


@router.get("/", include_in_schema=False)
def landing(request: Request) -> Response:
    """Explain the service in one screen."""
    return render(request, "home/landing.html")


@router.post("/language", include_in_schema=False)
def set_language(request: Request, lang: str = "it", next: str = "/") -> Response:  # noqa: A002
    """Remember the chosen language in the session and a cookie."""
    lang = lang if lang in LANGUAGES else "it"
    request.session["lang"] = lang
    target = next if next.startswith("/") and not next.startswith("//") else "/"
    resp = redirect(target)
    resp.set_cookie("lang", lang, max_age=365 * 24 * 3600, samesite="lax", httponly=True)
    return resp


@router.get("/healthz", tags=["ops"])
def healthz() -> dict[str, str]:
    """Say the process is up."""
    return {"status": "ok"}


@router.get("/readyz", tags=["ops"])
def readyz(session: Session = Depends(get_session, scope="function")) -> Response:
    """Say whether the database is reachable, migrated to head, and the index is built."""
    from matchmaker.ops.health import readiness

    ok, checks = readiness(session)
    return JSONResponse({"status": "ok" if ok else "unavailable", "checks": checks},
                        status_code=200 if ok else 503)
