"""Landing page, language switch, health and readiness probes."""

from fastapi import APIRouter, Depends, Request
from fastapi.responses import JSONResponse, Response
from sqlalchemy import text
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
    """Say whether the database is reachable and migrated to head."""
    from matchmaker.migrate import current_revision, head_revision

    checks: dict[str, str] = {}
    ok = True
    try:
        session.execute(text("SELECT 1"))
        checks["database"] = "ok"
    except Exception as exc:  # noqa: BLE001
        checks["database"] = f"error: {exc.__class__.__name__}"
        ok = False
    if ok:
        cur, head = current_revision(session.connection()), head_revision()
        checks["migrations"] = "ok" if cur == head else f"at {cur}, head is {head}"
        ok = ok and cur == head
    return JSONResponse({"status": "ok" if ok else "unavailable", "checks": checks},
                        status_code=200 if ok else 503)
