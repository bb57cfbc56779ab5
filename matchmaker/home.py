"""Landing page, language switch, health and readiness probes."""

from fastapi import APIRouter, Depends, Form, Request
from fastapi.responses import JSONResponse, Response
from sqlalchemy.orm import Session

from matchmaker import onboarding
from matchmaker.accounts import service as accounts_service
from matchmaker.accounts.deps import client_ip, current_user
from matchmaker.accounts.models import User
from matchmaker.db import get_session
from matchmaker.i18n import LANGUAGES
from matchmaker.web import redirect, render

router = APIRouter()


@router.get("/", include_in_schema=False)
def landing(
    request: Request,
    session: Session = Depends(get_session, scope="function"),
    user: User | None = Depends(current_user),
) -> Response:
    """Explain the service in one screen; owners also see their first-run checklist."""
    return render(request, "home/landing.html", {
        "facts": onboarding.public_facts(session),
        "checklist": onboarding.checklist(session, request, user) if user is not None else None,
    })


@router.post("/language", include_in_schema=False)
def set_language(
    request: Request,
    lang: str = Form("it"),
    next: str = Form("/"),
    session: Session = Depends(get_session, scope="function"),
    user: User | None = Depends(current_user),
) -> Response:
    """Remember the chosen language in the session, a cookie and the user's preference."""
    lang = lang if lang in LANGUAGES else "it"
    request.session["lang"] = lang
    if user is not None and user.language != lang:
        accounts_service.update_profile(session, user=user, full_name=user.full_name or "",
                                        language=lang)
        accounts_service.audit(session, actor=user, action="user.language", object_type="user",
                               object_id=user.id, detail={"language": lang},
                               ip=client_ip(request))
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
