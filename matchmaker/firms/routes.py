"""Firm pages (list, detail, create, edit, import, export, pickers) and the /api/v1/firms API."""

from typing import Any

from fastapi import APIRouter, Depends, File, Form, HTTPException, Query, Request, UploadFile
from fastapi.responses import JSONResponse, Response
from sqlalchemy.orm import Session

from matchmaker.accounts import policy
from matchmaker.accounts import service as accounts_service
from matchmaker.accounts.deps import current_user, require_user
from matchmaker.accounts.models import User
from matchmaker.db import get_session
from matchmaker.firms import service
from matchmaker.firms.models import Firm
from matchmaker.firms.schemas import (
    GOALS,
    LEGAL_FORMS,
    SME_CLASSES,
    VISIBILITY,
    FirmIn,
    FirmInvalid,
    FirmOut,
    FirmPageOut,
    FirmPatch,
    validate_firm,
)
from matchmaker.i18n import current_language
from matchmaker.i18n import gettext as _
from matchmaker.web import flash, redirect, render

router = APIRouter(tags=["pages"], include_in_schema=False)
api_router = APIRouter(tags=["firms"])

SessionDep = Depends(get_session, scope="function")
FORM_FIELDS = [
    "partita_iva", "name", "legal_form", "ateco", "ateco_edition", "ateco_secondary",
    "comune_istat", "comune", "province", "employees", "turnover_eur", "offers", "needs",
    "email", "website", "description", "visibility",
]
LIST_SORTS = ("name", "-name", "ateco", "-ateco", "comune", "-comune")


def _client_ip(request: Request) -> str | None:
    return request.client.host if request.client else None


def visible_clause(session: Session, user: User | None) -> Any:
    """Return the SQL condition for the firms this user may see in lists."""
    if user is not None and policy.can_view_all_firms(user):
        return service.visibility_clause(see_all=True)
    own = accounts_service.memberships_for(session, user) if user is not None else {}
    assoc = policy.association_firm_ids(session, user) if user is not None else set()
    return service.visibility_clause(
        see_all=False, own_firm_ids=own.keys(), association_firm_ids=assoc
    )


def _load_visible(session: Session, user: User | None, piva: str) -> Firm:
    firm = service.get_firm(session, piva)
    if firm is None or not policy.can_view_firm(
        user, firm, memberships=accounts_service.memberships_for(session, user) if user else {},
        session=session,
    ):
        raise HTTPException(404, _("No firm with partita IVA %(piva)s") % {"piva": piva})
    return firm


def _load_editable(session: Session, user: User, piva: str) -> Firm:
    firm = _load_visible(session, user, piva)
    memberships = accounts_service.memberships_for(session, user)
    if not policy.can_edit_firm(user, firm, memberships=memberships):
        raise HTTPException(403, _("You cannot change this firm"))
    return firm


def firm_out(firm: Firm) -> FirmOut:
    """Return the API shape of a firm."""
    from matchmaker.refdata import ateco as ateco_ref
    from matchmaker.refdata import places

    code = ateco_ref.lookup(firm.ateco_code, firm.ateco_edition)
    comune = places.get(firm.comune_istat)
    return FirmOut(
        partita_iva=firm.partita_iva,
        name=firm.name,
        legal_form=firm.legal_form,
        ateco=firm.ateco_code,
        ateco_edition=firm.ateco_edition,
        ateco_title=code.title if code else None,
        ateco_secondary=[s.code for s in firm.secondary_codes],
        sector_division=firm.sector_division,
        comune_istat=firm.comune_istat,
        comune=firm.comune_name,
        province=firm.province,
        region_code=firm.region_code,
        region=comune.region if comune else None,
        lat=firm.lat,
        lng=firm.lng,
        employees=firm.employees,
        turnover_eur=firm.turnover_eur,
        sme_class=firm.sme_class,
        offers=firm.offers,
        needs=firm.needs,
        goals=firm.goals,
        email=firm.email,
        website=firm.website,
        description=firm.description,
        visibility=firm.visibility,
        version=firm.version,
    )


def _filters(q: str | None, region: str | None, province: str | None, ateco: str | None,
             goal: str | None, sme_class: str | None) -> service.FirmFilters:
    return service.FirmFilters(
        q=q or None, region=region or None, province=province or None, ateco=ateco or None,
        goal=goal if goal in GOALS else None,
        sme_class=sme_class if sme_class in SME_CLASSES else None,
    )


def _form_context(values: dict[str, Any], errors: dict[str, str], **extra: Any) -> dict[str, Any]:
    lang = current_language.get()
    from matchmaker.refdata import places

    return {
        "values": values,
        "errors": errors,
        "goals": [(k, v[lang]) for k, v in GOALS.items()],
        "visibility_options": [(k, v[lang]) for k, v in VISIBILITY.items()],
        "legal_forms": [(f, f) for f in LEGAL_FORMS],
        "provinces": [(p.sigla, f"{p.name} ({p.sigla})") for p in places.provinces()],
        **extra,
    }


async def _form_values(request: Request) -> tuple[dict[str, Any], list[str]]:
    form = await request.form()
    values = {k: str(form.get(k) or "") for k in FORM_FIELDS}
    goals = [str(g) for g in form.getlist("goals")]
    values["goals"] = goals
    values["version"] = str(form.get("version") or "")
    return values, goals


# ------------------------------------------------------------------------- pages


@router.get("/firms")
def firms_page(
    request: Request,
    q: str | None = None,
    region: str | None = None,
    province: str | None = None,
    ateco: str | None = None,
    goal: str | None = None,
    sme_class: str | None = None,
    sort: str = "name",
    page: int = Query(1, ge=1, le=100_000),
    session: Session = SessionDep,
    user: User | None = Depends(current_user),
) -> Response:
    """List firms with search, filters, sorting and paging; HTMX gets only the results block."""
    from matchmaker.refdata import places

    f = _filters(q, region, province, ateco, goal, sme_class)
    sort = sort if sort in LIST_SORTS else "name"
    result = service.list_firms(
        session, filters=f, page=page, per_page=25, visible=visible_clause(session, user),
        order=sort,
    )
    lang = current_language.get()
    params = {k: v for k, v in f.__dict__.items() if v}
    if sort != "name":
        params["sort"] = sort
    from urllib.parse import urlencode

    return render(
        request,
        "firms/list.html",
        {
            "page": result,
            "filters": params,
            "query_string": urlencode(params),
            "filter_string": urlencode({k: v for k, v in params.items() if k != "sort"}),
            "sort": sort,
            "goals": [(k, v[lang]) for k, v in GOALS.items()],
            "goal_labels": {k: v[lang] for k, v in GOALS.items()},
            "sme_classes": [(k, v[lang]) for k, v in SME_CLASSES.items()],
            "regions": [(r.code, r.name) for r in places.regions()],
            "provinces": [(p.sigla, f"{p.name} ({p.sigla})") for p in places.provinces()],
            "can_create": user is not None and policy.can_create_firm(user),
        },
        block="results",
    )


@router.get("/firms/new")
def new_firm_page(request: Request, user: User = Depends(require_user)) -> Response:
    """Show the empty registration form."""
    if not policy.can_create_firm(user):
        raise HTTPException(403, _("Your role cannot register firms"))
    return render(request, "firms/form.html", _form_context({"visibility": "public"}, {}, firm=None))


@router.post("/firms/new")
async def create_firm_form(
    request: Request, session: Session = SessionDep, user: User = Depends(require_user)
) -> Response:
    """Register a firm from the form; on error re-render with the values and messages."""
    if not policy.can_create_firm(user):
        raise HTTPException(403, _("Your role cannot register firms"))
    values, _goals = await _form_values(request)
    try:
        data = validate_firm({k: v for k, v in values.items() if k != "version"}, from_text=True)
        firm = service.create_firm(session, data=data)
    except FirmInvalid as exc:
        return render(request, "firms/form.html", _form_context(values, exc.errors, firm=None),
                      status_code=422)
    accounts_service.add_firm_member(session, user=user, firm_id=firm.id, role="owner")
    accounts_service.audit(session, actor=user, action="firm.create", object_type="firm",
                           object_id=firm.partita_iva, ip=_client_ip(request))
    flash(request, _("Firm %(name)s registered") % {"name": firm.name})
    return redirect(f"/firms/{firm.partita_iva}")


def _updater(session: Session, user: User) -> Any:
    memberships = accounts_service.memberships_for(session, user)
    return lambda firm: policy.can_edit_firm(user, firm, memberships=memberships)


@router.get("/firms/import")
def import_page(request: Request, user: User = Depends(require_user)) -> Response:
    """Show the CSV upload form."""
    if not policy.can_import_firms(user):
        raise HTTPException(403, _("Your role cannot import firms"))
    return render(request, "firms/import.html", {"job": None, "report": None, "errors": {}})


@router.post("/firms/import")
async def import_upload(
    request: Request,
    file: UploadFile = File(...),
    skip_invalid: bool = Form(False),
    session: Session = SessionDep,
    user: User = Depends(require_user),
) -> Response:
    """Check an uploaded CSV and show the preview with every bad row."""
    if not policy.can_import_firms(user):
        raise HTTPException(403, _("Your role cannot import firms"))
    content = await file.read()
    job, _report = service.stage_import(
        session, filename=file.filename or "upload.csv", content=content, user_id=user.id,
        skip_invalid=skip_invalid, can_update=_updater(session, user),
    )
    status = 200 if job.status == "preview" else 422
    return render(request, "firms/import.html", {"job": job, "report": job.report, "errors": {}},
                  status_code=status)


@router.post("/firms/import/{import_id}/confirm")
def import_confirm(
    request: Request, import_id: int, session: Session = SessionDep,
    user: User = Depends(require_user),
) -> Response:
    """Write a previewed import."""
    job = service.get_import(session, import_id)
    if job is None or (job.user_id != user.id and not policy.can_view_all_firms(user)):
        raise HTTPException(404, _("No such import"))
    try:
        report = service.confirm_import(session, job=job, can_update=_updater(session, user))
    except FirmInvalid as exc:
        raise HTTPException(409, "; ".join(exc.errors.values())) from None
    if report.committed:
        accounts_service.audit(session, actor=user, action="firm.import", object_type="import",
                               object_id=str(job.id), detail=f"{report.created} created, "
                               f"{report.updated} updated", ip=_client_ip(request))
        flash(request, _("%(c)s firms created, %(u)s updated") % {"c": report.created,
                                                                 "u": report.updated})
    return render(request, "firms/import.html", {"job": job, "report": job.report, "errors": {}},
                  status_code=200 if report.committed else 422)


@router.get("/firms/export.csv")
def export_page(
    q: str | None = None, region: str | None = None, province: str | None = None,
    ateco: str | None = None, goal: str | None = None, sme_class: str | None = None,
    session: Session = SessionDep, user: User = Depends(require_user),
) -> Response:
    """Download the firms this user may see, in the import format."""
    text = service.export_csv(
        session, visible=visible_clause(session, user),
        filters=_filters(q, region, province, ateco, goal, sme_class),
    )
    return Response(text, media_type="text/csv; charset=utf-8",
                    headers={"Content-Disposition": 'attachment; filename="firms.csv"'})


@router.get("/firms/pickers/ateco")
def ateco_picker(request: Request, ateco: str = "", target: str = "f-ateco",
                 edition: str = "2025") -> Response:
    """Return ATECO suggestions for the searchable picker."""
    from matchmaker.refdata import ateco as ateco_ref

    edition = edition if edition in ("2007", "2022", "2025") else "2025"
    hits = ateco_ref.search(ateco, edition=edition, limit=15) if len(ateco.strip()) >= 2 else []
    return render(request, "firms/_pickers.html",
                  {"kind": "ateco", "hits": hits, "target": target, "q": ateco},
                  block="ateco_options")


@router.get("/firms/pickers/comune")
def comune_picker(request: Request, comune: str = "", target: str = "f-comune_istat") -> Response:
    """Return comune suggestions for the searchable picker."""
    from matchmaker.refdata import places

    hits = places.search(comune, limit=15) if len(comune.strip()) >= 2 else []
    return render(request, "firms/_pickers.html",
                  {"kind": "comune", "hits": hits, "target": target, "q": comune},
                  block="comune_options")


@router.get("/firms/{piva}")
def firm_page(
    request: Request, piva: str, session: Session = SessionDep,
    user: User | None = Depends(current_user),
) -> Response:
    """Show one firm."""
    from matchmaker.refdata import ateco as ateco_ref
    from matchmaker.refdata import places

    firm = _load_visible(session, user, piva)
    lang = current_language.get()
    memberships = accounts_service.memberships_for(session, user) if user else {}
    return render(request, "firms/detail.html", {
        "firm": firm,
        "ateco": ateco_ref.lookup(firm.ateco_code, firm.ateco_edition),
        "secondary": [ateco_ref.lookup(s.code, s.edition) for s in firm.secondary_codes],
        "comune": places.get(firm.comune_istat),
        "goal_labels": {k: v[lang] for k, v in GOALS.items()},
        "sme_label": SME_CLASSES.get(firm.sme_class or "", {}).get(lang),
        "visibility_label": VISIBILITY[firm.visibility][lang],
        "can_edit": user is not None and policy.can_edit_firm(user, firm, memberships=memberships),
        "can_recommend": user is not None
        and policy.can_recommend_for_firm(user, firm, memberships=memberships),
        "chain_positions": _chain_positions(firm.ateco_code, firm.ateco_edition, lang),
    })


POSITION_LABELS = {
    "upstream": {"it": "a monte", "en": "upstream"},
    "midstream": {"it": "fase intermedia", "en": "midstream"},
    "downstream": {"it": "a valle", "en": "downstream"},
    "support": {"it": "funzione di supporto", "en": "support function"},
}


def _chain_positions(code: str, edition: str, lang: str) -> list[dict[str, str]]:
    """Return the value-chain stages of a code, named for the page."""
    from matchmaker.refdata import ateco as ateco_ref
    from matchmaker.refdata import chains

    if edition == "2025":
        conv = ateco_ref.convert(code, "2025", "2022")
        code = conv.targets[0] if conv.targets else code
    out = []
    for p in chains.positions(code, "2022"):
        chain = chains.chain(p.chain_key)
        stage = next((s for s in (*chain.stages, *chain.support) if s.key == p.stage_key), None)
        out.append({
            "chain_key": chain.key,
            "chain_name": chain.name_it if lang == "it" else chain.name_en,
            "stage_name": (stage.name_it if lang == "it" else stage.name_en) if stage else p.stage_key,
            "position_label": POSITION_LABELS.get(p.position, {}).get(lang, p.position),
        })
    return out


@router.get("/firms/{piva}/edit")
def edit_firm_page(
    request: Request, piva: str, session: Session = SessionDep, user: User = Depends(require_user)
) -> Response:
    """Show the edit form filled with the firm's values."""
    firm = _load_editable(session, user, piva)
    values = service.firm_to_input(firm)
    values["ateco_secondary"] = "; ".join(values["ateco_secondary"])
    values["comune"] = firm.comune_name
    values["province"] = firm.province
    return render(request, "firms/form.html", _form_context(values, {}, firm=firm))


@router.post("/firms/{piva}/edit")
async def edit_firm_form(
    request: Request, piva: str, session: Session = SessionDep, user: User = Depends(require_user)
) -> Response:
    """Save the edit form; a stale version shows the conflict instead of overwriting."""
    firm = _load_editable(session, user, piva)
    values, _goals = await _form_values(request)
    values["partita_iva"] = firm.partita_iva
    try:
        expected = int(values.get("version") or 0) or None
    except ValueError:
        expected = None
    try:
        data = validate_firm({k: v for k, v in values.items() if k != "version"}, from_text=True)
        service.update_firm(session, firm=firm, data=data, expected_version=expected)
    except FirmInvalid as exc:
        return render(request, "firms/form.html", _form_context(values, exc.errors, firm=firm),
                      status_code=422)
    except service.FirmConflict:
        session.refresh(firm)
        return render(request, "firms/form.html", _form_context(
            values, {"__all__": _("Someone else saved this firm while you were editing. Your "
                                  "changes are below and were not saved; the current values "
                                  "are shown on the firm page. Copy what you need and reload.")},
            firm=firm, conflict=True), status_code=409)
    accounts_service.audit(session, actor=user, action="firm.update", object_type="firm",
                           object_id=firm.partita_iva, ip=_client_ip(request))
    flash(request, _("Changes saved"))
    return redirect(f"/firms/{firm.partita_iva}")


@router.post("/firms/{piva}/delete")
def delete_firm_form(
    request: Request, piva: str, session: Session = SessionDep, user: User = Depends(require_user)
) -> Response:
    """Delete a firm."""
    firm = _load_visible(session, user, piva)
    if not policy.can_delete_firm(user, firm, memberships=accounts_service.memberships_for(session, user)):
        raise HTTPException(403, _("You cannot delete this firm"))
    name = firm.name
    service.delete_firm(session, firm=firm)
    accounts_service.audit(session, actor=user, action="firm.delete", object_type="firm",
                           object_id=piva, ip=_client_ip(request))
    flash(request, _("Firm %(name)s deleted") % {"name": name})
    return redirect("/firms")


# ------------------------------------------------------------------------- JSON API


@api_router.get("/firms", response_model=FirmPageOut)
def api_list_firms(
    q: str | None = None, region: str | None = None, province: str | None = None,
    ateco: str | None = None, goal: str | None = None, sme_class: str | None = None,
    page: int = Query(1, ge=1, le=100_000), per_page: int = Query(25, ge=1, le=200),
    session: Session = SessionDep, user: User = Depends(require_user),
) -> FirmPageOut:
    """List firms the caller may see, with filters and paging."""
    result = service.list_firms(
        session, filters=_filters(q, region, province, ateco, goal, sme_class), page=page,
        per_page=per_page, visible=visible_clause(session, user),
    )
    return FirmPageOut(items=[firm_out(f) for f in result.items], total=result.total,
                       page=result.page, per_page=result.per_page, pages=result.pages)


@api_router.post("/firms", response_model=FirmOut, status_code=201)
def api_create_firm(
    request: Request, body: FirmIn, session: Session = SessionDep,
    user: User = Depends(require_user),
) -> Response | FirmOut:
    """Register a firm; the caller becomes its owner."""
    if not policy.can_create_firm(user):
        raise HTTPException(403, _("Your role cannot register firms"))
    try:
        firm = service.create_firm(session, data=validate_firm(body.model_dump()))
    except FirmInvalid as exc:
        return JSONResponse({"detail": exc.as_detail()}, status_code=422)
    accounts_service.add_firm_member(session, user=user, firm_id=firm.id, role="owner")
    accounts_service.audit(session, actor=user, action="firm.create", object_type="firm",
                           object_id=firm.partita_iva, ip=_client_ip(request))
    return firm_out(firm)


@api_router.get("/firms/{piva}", response_model=FirmOut)
def api_get_firm(piva: str, session: Session = SessionDep,
                 user: User = Depends(require_user)) -> FirmOut:
    """Return one firm."""
    return firm_out(_load_visible(session, user, piva))


@api_router.patch("/firms/{piva}", response_model=FirmOut)
def api_patch_firm(
    request: Request, piva: str, body: FirmPatch, session: Session = SessionDep,
    user: User = Depends(require_user),
) -> Response | FirmOut:
    """Change some fields of a firm; send `version` to be told (409) of a concurrent change."""
    firm = _load_editable(session, user, piva)
    try:
        service.patch_firm(session, firm=firm, changes=body.model_dump(exclude_unset=True))
    except FirmInvalid as exc:
        return JSONResponse({"detail": exc.as_detail()}, status_code=422)
    except service.FirmConflict:
        return JSONResponse(
            {"detail": _("The firm was changed by someone else (now at version %(v)s); "
                         "read it again and reapply your change") % {"v": firm.version}},
            status_code=409,
        )
    accounts_service.audit(session, actor=user, action="firm.update", object_type="firm",
                           object_id=firm.partita_iva, ip=_client_ip(request))
    return firm_out(firm)


@api_router.delete("/firms/{piva}", status_code=204)
def api_delete_firm(
    request: Request, piva: str, session: Session = SessionDep,
    user: User = Depends(require_user),
) -> Response:
    """Delete a firm."""
    firm = _load_visible(session, user, piva)
    if not policy.can_delete_firm(user, firm, memberships=accounts_service.memberships_for(session, user)):
        raise HTTPException(403, _("You cannot delete this firm"))
    service.delete_firm(session, firm=firm)
    accounts_service.audit(session, actor=user, action="firm.delete", object_type="firm",
                           object_id=piva, ip=_client_ip(request))
    return Response(status_code=204)


@api_router.get("/goals")
def api_goals() -> list[dict[str, str]]:
    """List the strategic goal keys with Italian and English labels."""
    return [{"key": k, "it": v["it"], "en": v["en"]} for k, v in GOALS.items()]

