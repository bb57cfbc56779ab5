"""Suggested partners: the firm's panel (HTMX filters), "why (not) this firm", exclusions, API."""

import dataclasses
from typing import Any, get_type_hints
from urllib.parse import urlencode

from fastapi import APIRouter, Depends, Form, HTTPException, Query, Request
from fastapi.responses import JSONResponse, Response
from pydantic import BaseModel, ConfigDict, Field, create_model
from sqlalchemy.orm import Session

from matchmaker.accounts import policy
from matchmaker.accounts import service as accounts_service
from matchmaker.accounts.deps import require_user
from matchmaker.accounts.models import User
from matchmaker.db import get_session
from matchmaker.firms import service as firms_service
from matchmaker.firms.models import Firm
from matchmaker.firms.schemas import GOALS, SME_CLASSES
from matchmaker.i18n import current_language
from matchmaker.i18n import gettext as _
from matchmaker.matching import service
from matchmaker.matching.model import COMPONENTS
from matchmaker.refdata import ateco as ateco_ref
from matchmaker.web import flash, redirect, render

router = APIRouter(include_in_schema=False)
api_router = APIRouter(tags=["recommendations"])
SessionDep = Depends(get_session, scope="function")

COMPONENT_LABELS = {
    "sector": {"it": "Settore", "en": "Sector"},
    "supply_chain": {"it": "Filiera", "en": "Supply chain"},
    "geography": {"it": "Vicinanza", "en": "Geography"},
    "needs_offers": {"it": "Bisogni e offerte", "en": "Needs and offers"},
    "goals": {"it": "Obiettivi", "en": "Goals"},
    "size": {"it": "Dimensione", "en": "Size"},
}


def _api_model(name: str, source: type, *, exclude: tuple[str, ...] = (),
               descriptions: dict[str, str] | None = None) -> type[BaseModel]:
    """Return an API model with the fields of a service dataclass, in its order, all required.

    It reads the dataclass's objects as they are (``from_attributes``), so a field added to the
    service reaches the API without a second list to update.
    """
    hints = get_type_hints(source)
    descriptions = descriptions or {}
    fields: dict[str, Any] = {
        f.name: (hints[f.name], Field(description=descriptions.get(f.name)))
        for f in dataclasses.fields(source) if f.name not in exclude
    }
    return create_model(name, __config__=ConfigDict(from_attributes=True), **fields)


SuggestionOut = _api_model("SuggestionOut", service.Suggestion, exclude=("firm_id",), descriptions={
    "score": "0-1: the weighted sum of the components",
    "components": "each component 0-1",
    "contributions": "weight x component, they sum to score",
})
ExplanationOut = _api_model("ExplanationOut", service.Explanation)


class SuggestionsOut(BaseModel):
    seed: str
    items: list[SuggestionOut]
    weights: dict[str, float]
    io_source: str | None
    candidates: int
    model: str


class ExclusionIn(BaseModel):
    partita_iva: str = Field(max_length=20)
    kind: str = Field("competitor", pattern="^(competitor|same_group)$")


class ExclusionOut(BaseModel):
    id: int
    partita_iva: str
    name: str
    kind: str


def _seed(session: Session, user: User, piva: str) -> Firm:
    firm = firms_service.get_firm(session, piva)
    memberships = accounts_service.memberships_for(session, user)
    if firm is None or not policy.can_view_firm(user, firm, memberships=memberships, session=session):
        raise HTTPException(404, _("No firm with partita IVA %(piva)s") % {"piva": piva})
    if not policy.can_recommend_for_firm(user, firm, memberships=memberships):
        raise HTTPException(403, _("Partner suggestions are for the firm's own people"))
    return firm


def _editable(session: Session, user: User, piva: str) -> Firm:
    firm = _seed(session, user, piva)
    if not policy.can_edit_firm(user, firm, memberships=accounts_service.memberships_for(session, user)):
        raise HTTPException(403, _("You cannot change this firm"))
    return firm


def _other(session: Session, user: User, piva: str) -> Firm:
    other = firms_service.get_firm(session, piva)
    if other is None or not policy.can_view_firm(
        user, other, memberships=accounts_service.memberships_for(session, user), session=session
    ):
        raise HTTPException(404, _("No firm with partita IVA %(piva)s") % {"piva": piva})
    return other


def _clean_filters(radius_km: str | None, goal: str | None, sector: str | None,
                   size: str | None) -> dict[str, Any]:
    out: dict[str, Any] = {}
    if radius_km not in (None, ""):
        try:
            out["radius_km"] = float(radius_km)  # type: ignore[arg-type]
        except ValueError:
            raise service.MatchingError(_("radius_km must be a number of km")) from None
    if goal:
        out["goal"] = goal
    if sector:
        out["sector"] = sector
    if size:
        out["size"] = size
    return out


def _page_context(firm: Firm, filters: dict[str, Any], **extra: Any) -> dict[str, Any]:
    lang = current_language.get()
    return {
        "firm": firm,
        "filters": filters,
        "query_string": urlencode(filters),
        "component_labels": {k: v[lang] for k, v in COMPONENT_LABELS.items()},
        "components": COMPONENTS,
        "goals": [(k, v[lang]) for k, v in GOALS.items()],
        "sizes": [(k, v[lang]) for k, v in SME_CLASSES.items()],
        "sections": [(s.code, f"{s.code} · {s.title.capitalize()}")
                     for s in ateco_ref.all_codes("2022", level="section")],
        "radii": [10, 25, 50, 100, 200, 500],
        **extra,
    }


@router.get("/firms/{piva}/suggestions")
def suggestions_page(
    request: Request, piva: str, radius_km: str | None = None, goal: str | None = None,
    sector: str | None = None, size: str | None = None, page: int = Query(1, ge=1, le=10),
    session: Session = SessionDep, user: User = Depends(require_user),
) -> Response:
    """Show ranked partners with score bars and reasons; HTMX refreshes only the list."""
    firm = _seed(session, user, piva)
    error = None
    result = None
    filters: dict[str, Any] = {}
    try:
        filters = _clean_filters(radius_km, goal, sector, size)
        result = service.recommend(session, firm=firm, viewer=user, limit=10,
                                   offset=(page - 1) * 10, **filters)
    except service.MatchingError as exc:
        error = str(exc)
    status = 200 if error is None else 422
    exclusions = service.list_exclusions(session, firm=firm)
    can_edit = policy.can_edit_firm(user, firm, memberships=accounts_service.memberships_for(session, user))
    return render(request, "matching/suggestions.html",
                  _page_context(firm, filters, result=result, error=error, page=page,
                                exclusions=exclusions, can_edit=can_edit),
                  block="results", status_code=status)


@router.get("/firms/{piva}/why")
def why_page(
    request: Request, piva: str, other: str = "", radius_km: str | None = None,
    goal: str | None = None, sector: str | None = None, size: str | None = None,
    session: Session = SessionDep, user: User = Depends(require_user),
) -> Response:
    """Explain why a firm is (or is not) suggested, component by component."""
    firm = _seed(session, user, piva)
    explanation = None
    error = None
    filters: dict[str, Any] = {}
    if other.strip():
        try:
            filters = _clean_filters(radius_km, goal, sector, size)
            target = firms_service.get_firm(session, other)
            if target is None or not policy.can_view_firm(
                user, target, memberships=accounts_service.memberships_for(session, user),
                session=session,
            ):
                raise service.MatchingError(_("No firm with partita IVA %(piva)s") % {"piva": other})
            explanation = service.explain(session, firm=firm, other=target, viewer=user, **filters)
        except service.MatchingError as exc:
            error = str(exc)
    return render(request, "matching/why.html",
                  _page_context(firm, filters, explanation=explanation, error=error, other=other),
                  block="explanation", status_code=200 if error is None else 422)


@router.post("/firms/{piva}/exclusions")
def add_exclusion_form(
    request: Request, piva: str, other: str = Form(""), kind: str = Form("competitor"),
    session: Session = SessionDep, user: User = Depends(require_user),
) -> Response:
    """Never suggest a competitor or a firm of the same group."""
    firm = _editable(session, user, piva)
    target = firms_service.get_firm(session, other) if other.strip() else None
    try:
        if target is None:
            raise service.MatchingError(_("No firm with partita IVA %(piva)s") % {"piva": other})
        service.add_exclusion(session, firm=firm, other=target, kind=kind, user=user)
    except service.MatchingError as exc:
        flash(request, str(exc), "error")
        return redirect(f"/firms/{firm.partita_iva}/suggestions")
    accounts_service.audit(session, actor=user, action="firm.exclusion.add", object_type="firm",
                           object_id=firm.partita_iva, detail={"excluded": target.partita_iva})
    flash(request, _("%(name)s will not be suggested any more") % {"name": target.name})
    return redirect(f"/firms/{firm.partita_iva}/suggestions")


@router.post("/firms/{piva}/exclusions/{exclusion_id}/delete")
def remove_exclusion_form(
    request: Request, piva: str, exclusion_id: int, session: Session = SessionDep,
    user: User = Depends(require_user),
) -> Response:
    """Remove an exclusion."""
    firm = _editable(session, user, piva)
    try:
        service.remove_exclusion(session, firm=firm, exclusion_id=exclusion_id)
    except service.MatchingError as exc:
        raise HTTPException(404, str(exc)) from None
    flash(request, _("Exclusion removed"))
    return redirect(f"/firms/{firm.partita_iva}/suggestions")


# ------------------------------------------------------------------------------ API


@api_router.get("/firms/{piva}/recommendations", response_model=SuggestionsOut)
def api_recommendations(
    piva: str,
    limit: int = Query(10, ge=1, le=service.MAX_LIMIT),
    offset: int = Query(0, ge=0, le=1000),
    radius_km: float | None = Query(None, gt=0, le=2000),
    goal: str | None = None, sector: str | None = None, size: str | None = None,
    explain: bool = True,
    session: Session = SessionDep, user: User = Depends(require_user),
) -> Response | SuggestionsOut:
    """Ranked partners with score, components (each 0-1) and reasons."""
    firm = _seed(session, user, piva)
    try:
        result = service.recommend(session, firm=firm, viewer=user, limit=limit, offset=offset,
                                   radius_km=radius_km, goal=goal, sector=sector, size=size,
                                   explain=explain)
    except service.MatchingError as exc:
        return JSONResponse({"detail": [{"loc": ["query"], "msg": str(exc),
                                         "type": "value_error"}]}, status_code=422)
    return SuggestionsOut(seed=firm.partita_iva, items=[SuggestionOut.model_validate(i) for i in result.items],
                          weights=result.weights, io_source=result.io_source,
                          candidates=result.candidates, model=result.model_trained_on)


@api_router.get("/firms/{piva}/recommendations/{other}", response_model=ExplanationOut)
def api_explain(
    piva: str, other: str, radius_km: float | None = Query(None, gt=0, le=2000),
    goal: str | None = None, sector: str | None = None, size: str | None = None,
    session: Session = SessionDep, user: User = Depends(require_user),
) -> Response | BaseModel:
    """Why (or why not) this firm: its score, rank, components and any excluding constraint."""
    firm = _seed(session, user, piva)
    target = _other(session, user, other)
    try:
        e = service.explain(session, firm=firm, other=target, viewer=user, radius_km=radius_km,
                            goal=goal, sector=sector, size=size)
    except service.MatchingError as exc:
        return JSONResponse({"detail": [{"loc": ["query"], "msg": str(exc),
                                         "type": "value_error"}]}, status_code=422)
    return ExplanationOut.model_validate(e)


@api_router.get("/firms/{piva}/exclusions", response_model=list[ExclusionOut])
def api_list_exclusions(piva: str, session: Session = SessionDep,
                        user: User = Depends(require_user)) -> list[ExclusionOut]:
    """The firms this firm never wants suggested."""
    firm = _editable(session, user, piva)
    return [ExclusionOut(id=e.id, partita_iva=f.partita_iva, name=f.name, kind=e.kind)
            for e, f in service.list_exclusions(session, firm=firm)]


@api_router.post("/firms/{piva}/exclusions", response_model=ExclusionOut, status_code=201)
def api_add_exclusion(piva: str, body: ExclusionIn, session: Session = SessionDep,
                      user: User = Depends(require_user)) -> Response | ExclusionOut:
    """Exclude a competitor or a firm of the same group from suggestions."""
    firm = _editable(session, user, piva)
    target = firms_service.get_firm(session, body.partita_iva)
    if target is None:
        return JSONResponse({"detail": [{"loc": ["body", "partita_iva"],
                                         "msg": _("no registered firm has this partita IVA"),
                                         "type": "value_error"}]}, status_code=422)
    try:
        ex = service.add_exclusion(session, firm=firm, other=target, kind=body.kind, user=user)
    except service.MatchingError as exc:
        return JSONResponse({"detail": [{"loc": ["body", "partita_iva"], "msg": str(exc),
                                         "type": "value_error"}]}, status_code=422)
    return ExclusionOut(id=ex.id, partita_iva=target.partita_iva, name=target.name, kind=ex.kind)


@api_router.delete("/firms/{piva}/exclusions/{exclusion_id}", status_code=204)
def api_remove_exclusion(piva: str, exclusion_id: int, session: Session = SessionDep,
                         user: User = Depends(require_user)) -> Response:
    """Remove an exclusion."""
    firm = _editable(session, user, piva)
    try:
        service.remove_exclusion(session, firm=firm, exclusion_id=exclusion_id)
    except service.MatchingError as exc:
        raise HTTPException(404, str(exc)) from None
    return Response(status_code=204)
