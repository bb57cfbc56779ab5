"""Association pages (dashboard, members, imports, shortlists, networks, campaigns) and API."""

from typing import Any
from urllib.parse import urlencode

from fastapi import (
    APIRouter,
    BackgroundTasks,
    Depends,
    File,
    Form,
    HTTPException,
    Query,
    Request,
    UploadFile,
)
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import Response
from pydantic import BaseModel
from sqlalchemy.orm import Session

from matchmaker.accounts import policy, security
from matchmaker.accounts import service as accounts_service
from matchmaker.accounts.deps import client_ip, require_user
from matchmaker.accounts.models import User
from matchmaker.associations import charts, service
from matchmaker.associations.models import ASSOCIATION_KINDS, Association, AssociationImport
from matchmaker.config import get_settings
from matchmaker.db import get_session
from matchmaker.firms.schemas import ALL_COLUMNS
from matchmaker.i18n import current_language
from matchmaker.i18n import gettext as _
from matchmaker.refdata import places
from matchmaker.web import flash, redirect, render

# A members file may be larger than other uploads (MATCHMAKER_MAX_IMPORT_UPLOAD_BYTES).
security.allow_large_bodies("POST", r"/associations/[^/]+/imports",
                            lambda: get_settings().max_import_upload_bytes)

router = APIRouter(include_in_schema=False)
api_router = APIRouter(tags=["associations"])
SessionDep = Depends(get_session, scope="function")
UserDep = Depends(require_user)
FileDep = File(...)

KIND_LABELS = {
    "trade": {"it": "Associazione di categoria", "en": "Trade association"},
    "chamber": {"it": "Camera di commercio", "en": "Chamber of commerce"},
    "district": {"it": "Comitato di distretto", "en": "District committee"},
    "industry": {"it": "Associazione industriale", "en": "Industry association"},
    "other": {"it": "Altro", "en": "Other"},
}
FIELD_LABELS = {
    "partita_iva": {"it": "Partita IVA", "en": "Partita IVA (VAT number)"},
    "name": {"it": "Ragione sociale", "en": "Legal name"},
    "ateco": {"it": "Codice ATECO principale", "en": "Main ATECO code"},
    "ateco_secondary": {"it": "Codici ATECO secondari", "en": "Secondary ATECO codes"},
    "comune_istat": {"it": "Codice ISTAT del comune", "en": "ISTAT code of the comune"},
    "comune": {"it": "Comune", "en": "Comune"},
    "province": {"it": "Provincia (sigla)", "en": "Province (abbreviation)"},
    "employees": {"it": "Dipendenti", "en": "Employees"},
    "turnover_eur": {"it": "Fatturato (EUR)", "en": "Turnover (EUR)"},
    "offers": {"it": "Cosa offre", "en": "Offers"},
    "needs": {"it": "Cosa cerca", "en": "Needs"},
    "goals": {"it": "Obiettivi", "en": "Goals"},
    "email": {"it": "E-mail", "en": "E-mail"},
    "website": {"it": "Sito web", "en": "Website"},
    "description": {"it": "Descrizione", "en": "Description"},
    "legal_form": {"it": "Forma giuridica", "en": "Legal form"},
    "ateco_edition": {"it": "Edizione ATECO", "en": "ATECO edition"},
    "visibility": {"it": "Visibilità", "en": "Visibility"},
}
LEVEL_LABELS = {
    "missing": {"it": "mancante", "en": "missing"},
    "thin": {"it": "scarsa", "en": "thin"},
    "ok": {"it": "coperta", "en": "covered"},
}


def _lang() -> str:
    return current_language.get()


def _curated(session: Session, user: User, slug: str) -> Association:
    """Return the association if the user curates it (or is an admin): 404 / 403 otherwise."""
    association = service.get_association(session, slug)
    if association is None:
        raise HTTPException(404, _("No association %(slug)s") % {"slug": slug})
    if not policy.can_curate_association(user, curator_ids=service.curator_ids(session,
                                                                                association)):
        raise HTTPException(403, _("Only the association's curators can open this page"))
    return association


def _province(value: str | None) -> str | None:
    value = (value or "").strip().upper()
    return value if value and any(p.sigla == value for p in places.provinces()) else None


def _audit(session: Session, request: Request, user: User, action: str, association: Association,
           detail: dict[str, Any] | None = None) -> None:
    accounts_service.audit(session, actor=user, action=action, object_type="association",
                           object_id=association.slug, detail=detail, ip=client_ip(request))


def _base(association: Association, **extra: Any) -> dict[str, Any]:
    return {"association": association, "area": service.area_label(association),
            "kind_label": KIND_LABELS[association.kind][_lang()], **extra}


# ------------------------------------------------------------------------------ index


def _index_context(session: Session, user: User, values: dict[str, Any] | None = None,
                   errors: dict[str, str] | None = None) -> dict[str, Any]:
    lang = _lang()
    admin = policy.can_manage_associations(user)
    return {
        "curated": service.list_associations(session, user=user, see_all=admin),
        "memberships": service.associations_of_user_firms(session, user=user),
        "can_create": admin,
        "kinds": [(k, KIND_LABELS[k][lang]) for k in ASSOCIATION_KINDS],
        "regions": [(r.code, r.name) for r in places.regions()],
        "provinces": [(p.sigla, f"{p.name} ({p.sigla})") for p in places.provinces()],
        "values": values or {"kind": "trade"},
        "errors": errors or {},
        "area_label": service.area_label,
        "approver_firms": {fid for fid, role in accounts_service.memberships_for(session, user)
                           .items() if role in policy.FIRM_APPROVER_ROLES},
    }


@router.get("/associations")
def associations_page(request: Request, session: Session = SessionDep,
                      user: User = UserDep) -> Response:
    """List the associations the user curates and those the user's firms belong to."""
    return render(request, "associations/index.html", _index_context(session, user))


@router.post("/associations")
async def create_association_form(request: Request, session: Session = SessionDep,
                                  user: User = UserDep) -> Response:
    """Register an association (administrators)."""
    if not policy.can_manage_associations(user):
        raise HTTPException(403, _("Only administrators register associations"))
    form = await request.form()
    values = {k: str(form.get(k) or "") for k in
              ("slug", "name", "kind", "region_code", "province", "description")}
    try:
        association = service.create_association(session, **values)
    except service.AssociationError as exc:
        errors = getattr(exc, "errors", None) or {exc.field or "name": exc.message}
        return render(request, "associations/index.html",
                      _index_context(session, user, values, errors), status_code=422)
    _audit(session, request, user, "association.create", association)
    flash(request, _("Association %(name)s registered: now add its curators")
          % {"name": association.name})
    return redirect(f"/associations/{association.slug}/members")


# ------------------------------------------------------------------------------ dashboard


def _chart_views(board: service.Dashboard, query: str) -> list[dict[str, Any]]:
    empty = _("No members here yet")
    out = []
    for key in ("sectors", "chains", "provinces", "map"):
        chart = board.charts[key]
        out.append({
            "chart": chart,
            "svg": charts.render(chart, empty_text=empty),
            "csv_url": f"/associations/{board.association.slug}/charts/{key}.csv{query}",
            "svg_url": f"/associations/{board.association.slug}/charts/{key}.svg{query}",
        })
    return out


@router.get("/associations/{slug}")
def dashboard_page(request: Request, slug: str, province: str | None = None,
                   session: Session = SessionDep, user: User = UserDep) -> Response:
    """Show the members by sector, value chain and place, the chains' gaps, and networks."""
    association = _curated(session, user, slug)
    prov = _province(province)
    board = service.dashboard(session, association=association, viewer=user, province=prov)
    query = f"?{urlencode({'province': prov})}" if prov else ""
    lang = _lang()
    in_area = [p for p in places.provinces()
               if association.region_code is None or p.region_code == association.region_code]
    return render(request, "associations/dashboard.html", _base(
        association, board=board, views=_chart_views(board, query), province=prov, query=query,
        provinces=[(p.sigla, f"{p.name} ({p.sigla})") for p in in_area],
        level_labels={k: v[lang] for k, v in LEVEL_LABELS.items()},
        networks=service.association_networks(session, association=association)[:10],
        member_networks=service.member_networks(session, association=association, viewer=user,
                                                province=prov, per_page=10),
        networks_available=service.networks_service() is not None,
    ))


@router.get("/associations/{slug}/potential")
def potential_page(request: Request, slug: str, province: str | None = None,
                   session: Session = SessionDep, user: User = UserDep) -> Response:
    """Suggest the strongest networks among the members (HTMX loads only the list)."""
    association = _curated(session, user, slug)
    prov = _province(province)
    board = service.dashboard(session, association=association, viewer=user, province=prov)
    found = service.potential_networks(session, association=association, viewer=user,
                                       province=prov, board=board)
    return render(request, "associations/potential.html", _base(
        association, potential=found, province=prov,
        networks_available=service.networks_service() is not None,
    ), block="potential")


@router.get("/associations/{slug}/charts/{key}.{ext}")
def chart_download(slug: str, key: str, ext: str, province: str | None = None,
                   session: Session = SessionDep, user: User = UserDep) -> Response:
    """Download one dashboard chart as CSV (its table) or as an SVG file."""
    association = _curated(session, user, slug)
    board = service.dashboard(session, association=association, viewer=user,
                              province=_province(province))
    chart = board.charts.get(key)
    if chart is None or ext not in ("csv", "svg"):
        raise HTTPException(404, _("No such chart"))
    name = f"{association.slug}-{key}"
    if ext == "csv":
        return Response(charts.to_csv(chart), media_type="text/csv; charset=utf-8",
                        headers={"Content-Disposition": f'attachment; filename="{name}.csv"'})
    svg = '<?xml version="1.0" encoding="UTF-8"?>\n' + str(
        charts.render(chart, empty_text=_("No members here yet")))
    return Response(svg, media_type="image/svg+xml",
                    headers={"Content-Disposition": f'attachment; filename="{name}.svg"'})


# ------------------------------------------------------------------------------ members


def _members_context(session: Session, user: User, association: Association, *, q: str = "",
                     province: str | None = None, page: int = 1,
                     values: dict[str, Any] | None = None,
                     errors: dict[str, str] | None = None) -> dict[str, Any]:
    result = service.list_members(session, association=association, viewer=user, q=q,
                                  province=province, page=page)
    params = {k: v for k, v in {"q": q, "province": province}.items() if v}
    return _base(
        association, page=result, q=q, province=province, query_string=urlencode(params),
        hidden=service.hidden_member_count(session, association=association, viewer=user),
        invited=service.member_count(session, association, "invited"),
        provinces=[(p.sigla, f"{p.name} ({p.sigla})") for p in places.provinces()
                   if association.region_code is None or p.region_code == association.region_code],
        curators=service.curators(session, association),
        can_manage=policy.can_manage_associations(user), values=values or {},
        errors=errors or {},
    )


@router.get("/associations/{slug}/members")
def members_page(request: Request, slug: str, q: str = "", province: str | None = None,
                 page: int = Query(1, ge=1), session: Session = SessionDep,
                 user: User = UserDep) -> Response:
    """List the members the curator may see, with search; HTMX gets only the results."""
    association = _curated(session, user, slug)
    return render(request, "associations/members.html",
                  _members_context(session, user, association, q=q.strip(),
                                   province=_province(province), page=page),
                  block="results")


@router.post("/associations/{slug}/members")
def invite_member(request: Request, slug: str, partita_iva: str = Form(""),
                  session: Session = SessionDep, user: User = UserDep) -> Response:
    """Invite a registered firm to join the association."""
    association = _curated(session, user, slug)
    try:
        _member, firm = service.invite_firm(session, association=association,
                                            partita_iva=partita_iva, user=user)
    except service.AssociationError as exc:
        return render(request, "associations/members.html", _members_context(
            session, user, association, values={"partita_iva": partita_iva},
            errors={"partita_iva": exc.message}), status_code=422)
    _audit(session, request, user, "association.invite", association,
           {"firm": firm["partita_iva"]})
    flash(request, _("%(name)s is invited: its owner will see the invitation")
          % {"name": firm["name"]})
    return redirect(f"/associations/{slug}/members")


def _firm_id(session: Session, piva: str) -> tuple[int, str]:
    from matchmaker.firms import service as firms_service

    firm = firms_service.get_firm(session, piva)
    if firm is None:
        raise HTTPException(404, _("No firm with partita IVA %(piva)s") % {"piva": piva})
    return firm.id, firm.name


@router.post("/associations/{slug}/members/{piva}/remove")
def remove_member(request: Request, slug: str, piva: str, session: Session = SessionDep,
                  user: User = UserDep) -> Response:
    """Take a firm out of the association (its profile stays registered)."""
    association = _curated(session, user, slug)
    firm_id, name = _firm_id(session, piva)
    if not service.remove_member(session, association=association, firm_id=firm_id):
        raise HTTPException(404, _("This firm is not a member"))
    _audit(session, request, user, "association.remove_member", association, {"firm": piva})
    flash(request, _("%(name)s is no longer a member") % {"name": name})
    return redirect(f"/associations/{slug}/members")


def _answer(request: Request, session: Session, user: User, slug: str, piva: str,
            accept: bool) -> Response:
    association = service.get_association(session, slug)
    if association is None:
        raise HTTPException(404, _("No association %(slug)s") % {"slug": slug})
    firm_id, name = _firm_id(session, piva)
    memberships = accounts_service.memberships_for(session, user)
    if firm_id not in memberships and not policy.is_admin(user):
        raise HTTPException(404, _("No firm with partita IVA %(piva)s") % {"piva": piva})
    if not policy.can_answer_association_invitation(user, firm_id=firm_id,
                                                    memberships=memberships):
        raise HTTPException(403, _("Only the firm's owners and representatives answer"))
    try:
        service.answer_invitation(session, association=association, firm_id=firm_id,
                                  accept=accept)
    except service.AssociationError as exc:
        raise HTTPException(409, exc.message) from None
    accounts_service.audit(session, actor=user, action="association.joined" if accept
                           else "association.declined", object_type="firm", object_id=piva,
                           detail={"association": slug}, ip=client_ip(request))
    flash(request, (_("%(firm)s joined %(assoc)s") if accept
                    else _("%(firm)s declined to join %(assoc)s"))
          % {"firm": name, "assoc": association.name})
    return redirect("/associations")


@router.post("/associations/{slug}/invitations/{piva}/accept")
def accept_invitation(request: Request, slug: str, piva: str, session: Session = SessionDep,
                      user: User = UserDep) -> Response:
    """Let a firm join the association that invited it."""
    return _answer(request, session, user, slug, piva, True)


@router.post("/associations/{slug}/invitations/{piva}/decline")
def decline_invitation(request: Request, slug: str, piva: str, session: Session = SessionDep,
                       user: User = UserDep) -> Response:
    """Turn down an association's invitation."""
    return _answer(request, session, user, slug, piva, False)


@router.post("/associations/{slug}/leave/{piva}")
def leave_association(request: Request, slug: str, piva: str, session: Session = SessionDep,
                      user: User = UserDep) -> Response:
    """Take one's own firm out of an association."""
    association = service.get_association(session, slug)
    if association is None:
        raise HTTPException(404, _("No association %(slug)s") % {"slug": slug})
    firm_id, name = _firm_id(session, piva)
    memberships = accounts_service.memberships_for(session, user)
    if firm_id not in memberships and not policy.is_admin(user):
        raise HTTPException(404, _("No firm with partita IVA %(piva)s") % {"piva": piva})
    if not policy.can_leave_association(user, firm_id=firm_id, memberships=memberships):
        raise HTTPException(403, _("Only the firm's owners and representatives can do this"))
    service.remove_member(session, association=association, firm_id=firm_id)
    accounts_service.audit(session, actor=user, action="association.left", object_type="firm",
                           object_id=piva, detail={"association": slug}, ip=client_ip(request))
    flash(request, _("%(firm)s left %(assoc)s") % {"firm": name, "assoc": association.name})
    return redirect("/associations")


@router.post("/associations/{slug}/curators")
def add_curator(request: Request, slug: str, email: str = Form(""),
                session: Session = SessionDep, user: User = UserDep) -> Response:
    """Make a curator account a curator of the association (administrators)."""
    association = service.get_association(session, slug)
    if association is None:
        raise HTTPException(404, _("No association %(slug)s") % {"slug": slug})
    if not policy.can_manage_associations(user):
        raise HTTPException(403, _("Only administrators choose the curators"))
    try:
        curator = service.add_curator(session, association=association, email=email)
    except service.AssociationError as exc:
        return render(request, "associations/members.html", _members_context(
            session, user, association, values={"email": email},
            errors={"email": exc.message}), status_code=422)
    _audit(session, request, user, "association.add_curator", association,
           {"user": curator.id})
    flash(request, _("%(email)s now curates %(name)s")
          % {"email": curator.email, "name": association.name})
    return redirect(f"/associations/{slug}/members")


@router.post("/associations/{slug}/curators/{user_id}/remove")
def remove_curator(request: Request, slug: str, user_id: int, session: Session = SessionDep,
                   user: User = UserDep) -> Response:
    """Take a curator off the association (administrators)."""
    association = service.get_association(session, slug)
    if association is None:
        raise HTTPException(404, _("No association %(slug)s") % {"slug": slug})
    if not policy.can_manage_associations(user):
        raise HTTPException(403, _("Only administrators choose the curators"))
    service.remove_curator(session, association=association, user_id=user_id)
    _audit(session, request, user, "association.remove_curator", association, {"user": user_id})
    flash(request, _("Curator removed"))
    return redirect(f"/associations/{slug}/members")


# ------------------------------------------------------------------------------ imports


def _import_context(association: Association, job: AssociationImport | None,
                    **extra: Any) -> dict[str, Any]:
    lang = _lang()
    return _base(
        association, job=job, report=(job.report if job else None) or {},
        field_options=[("", _("— ignore this column —"))]
        + [(f, f"{FIELD_LABELS[f][lang]} ({f})") for f in ALL_COLUMNS],
        can_commit=bool(job and service.can_commit(job)),
        running=bool(job and job.status in service.RUNNING),
        remap=extra.pop("remap", False), errors=extra.pop("errors", {}), **extra,
    )


@router.get("/associations/{slug}/imports")
def imports_page(request: Request, slug: str, session: Session = SessionDep,
                 user: User = UserDep) -> Response:
    """Show the members upload form and the latest imports."""
    association = _curated(session, user, slug)
    return render(request, "associations/import.html", _import_context(
        association, None, recent=service.list_imports(session, association=association)))


def _start(background: BackgroundTasks, session: Session, job: AssociationImport,
           association: Association, user: User, phase: str) -> None:
    """Run a phase now for a small file, or queue a background job for a large one."""
    if job.background:
        if phase == "check":
            service.queue_check(session, job=job)
        else:
            service.queue_commit(session, job=job)
        background.add_task(service.run_import_job, job.id, phase)
    else:
        service.run_now(session, job=job, association=association, user=user, phase=phase)


@router.post("/associations/{slug}/imports")
async def upload_import(
    request: Request, slug: str, background: BackgroundTasks, file: UploadFile = FileDep,
    skip_invalid: bool = Form(False), session: Session = SessionDep, user: User = UserDep,
) -> Response:
    """Keep an uploaded members file; map a workbook's columns, check a CSV's rows."""
    association = _curated(session, user, slug)
    try:
        # The upload waits in a temporary file; a CSV is decoded from there as it is read.
        content = await run_in_threadpool(service.read_upload, file.file, file.filename or "")
        job = service.start_import(session, association=association, user=user,
                                   filename=file.filename or "members.csv", content=content,
                                   skip_invalid=skip_invalid)
    except service.AssociationError as exc:
        return render(request, "associations/import.html", _import_context(
            association, None, recent=service.list_imports(session, association=association),
            errors={"file": exc.message}), status_code=422)
    if job.status == "queued":
        _start(background, session, job, association, user, "check")
    return redirect(f"/associations/{slug}/imports/{job.id}")


def _job(session: Session, association: Association, import_id: int) -> AssociationImport:
    job = service.get_import(session, association=association, import_id=import_id)
    if job is None:
        raise HTTPException(404, _("No such import"))
    return job


@router.get("/associations/{slug}/imports/{import_id}")
def import_job_page(request: Request, slug: str, import_id: int, remap: bool = False,
                    session: Session = SessionDep, user: User = UserDep) -> Response:
    """Show an import: the column mapping, the progress, the preview or the outcome."""
    association = _curated(session, user, slug)
    job = _job(session, association, import_id)
    service.recover_stale(session, job=job)
    remap = remap and job.raw is not None and job.status in ("preview", "failed")
    return render(request, "associations/import_job.html",
                  _import_context(association, job, remap=remap), block="job")


@router.get("/associations/{slug}/imports/{import_id}/errors.csv")
def import_errors(slug: str, import_id: int, session: Session = SessionDep,
                  user: User = UserDep) -> Response:
    """Download every problem of an import's rows: line, column, reason."""
    association = _curated(session, user, slug)
    job = _job(session, association, import_id)
    return Response(service.errors_csv(job), media_type="text/csv; charset=utf-8", headers={
        "Content-Disposition": f'attachment; filename="import-{job.id}-errors.csv"'})


@router.post("/associations/{slug}/imports/{import_id}/mapping")
async def import_mapping(request: Request, slug: str, import_id: int,
                         background: BackgroundTasks, session: Session = SessionDep,
                         user: User = UserDep) -> Response:
    """Save a workbook's column mapping (remembered for next time) and check its rows."""
    association = _curated(session, user, slug)
    job = _job(session, association, import_id)
    form = await request.form()
    mapping = {k[4:]: str(v) for k, v in form.items() if k.startswith("col-")}
    try:
        service.set_mapping(session, job=job, association=association, mapping=mapping)
    except service.AssociationError as exc:
        job.mapping = {**(job.mapping or {}), **mapping}
        return render(request, "associations/import_job.html", _import_context(
            association, job, errors={exc.field or "mapping": exc.message}), status_code=422)
    _start(background, session, job, association, user, "check")
    return redirect(f"/associations/{slug}/imports/{job.id}")


@router.post("/associations/{slug}/imports/{import_id}/check")
def import_check_again(request: Request, slug: str, import_id: int,
                       background: BackgroundTasks, session: Session = SessionDep,
                       user: User = UserDep) -> Response:
    """Check an interrupted import again."""
    association = _curated(session, user, slug)
    job = _job(session, association, import_id)
    if job.status != "queued":
        raise HTTPException(409, _("This import is not waiting to be checked"))
    _start(background, session, job, association, user, "check")
    return redirect(f"/associations/{slug}/imports/{job.id}")


@router.post("/associations/{slug}/imports/{import_id}/confirm")
def import_confirm(request: Request, slug: str, import_id: int, background: BackgroundTasks,
                   session: Session = SessionDep, user: User = UserDep) -> Response:
    """Write a previewed import: create and update the firms, make them members."""
    association = _curated(session, user, slug)
    job = _job(session, association, import_id)
    if not service.can_commit(job):
        raise HTTPException(409, _("This import cannot be written (it was already, or its "
                                   "rows have errors)"))
    _start(background, session, job, association, user, "commit")
    if job.status == "committed":
        flash(request, _("%(c)s firms created, %(u)s updated, %(j)s new members")
              % {"c": job.created, "u": job.updated, "j": job.joined})
    return redirect(f"/associations/{slug}/imports/{job.id}")


# ------------------------------------------------------------------------------ shortlists


@router.post("/associations/{slug}/shortlists")
async def create_shortlist(request: Request, slug: str, session: Session = SessionDep,
                           user: User = UserDep) -> Response:
    """Keep a suggested network (its firms) as a shortlist, in one click."""
    association = _curated(session, user, slug)
    form = await request.form()
    try:
        ids = [int(v) for v in form.getlist("firm_id")]
        score = float(str(form.get("score") or "")) if form.get("score") else None
    except ValueError:
        raise HTTPException(422, _("The shortlist's firms are not valid")) from None
    chain = str(form.get("chain_key") or "") or None
    try:
        shortlist = service.create_shortlist(
            session, association=association, firm_ids=ids, user=user,
            name=str(form.get("name") or ""), chain_key=chain, goal=str(form.get("goal") or ""),
            score=score)
    except service.AssociationError as exc:
        raise HTTPException(422, exc.message) from None
    _audit(session, request, user, "association.shortlist", association,
           {"shortlist": shortlist.id, "firms": len(ids)})
    flash(request, _("Shortlist saved: build the network when you are ready"))
    return redirect(f"/associations/{slug}/shortlists/{shortlist.id}")


def _shortlist(session: Session, association: Association, shortlist_id: int) -> Any:
    sl = service.get_shortlist(session, association=association, shortlist_id=shortlist_id)
    if sl is None:
        raise HTTPException(404, _("No such shortlist"))
    return sl


def _shortlist_context(session: Session, association: Association, sl: Any,
                       **extra: Any) -> dict[str, Any]:
    networks = service.networks_service()
    network = networks.get_network(session, sl.network_id) if networks and sl.network_id else None
    return _base(
        association, shortlist=sl, firms=service.shortlist_firms(session, shortlist=sl),
        network=network, networks_available=networks is not None,
        status_label=(_(networks.STATUS_LABELS.get(network.status, network.status))
                      if network is not None else None),
        values=extra.pop("values", {}), errors=extra.pop("errors", {}), **extra)


@router.get("/associations/{slug}/shortlists/{shortlist_id}")
def shortlist_page(request: Request, slug: str, shortlist_id: int,
                   session: Session = SessionDep, user: User = UserDep) -> Response:
    """Show a shortlist and the steps from it to a network and its contract."""
    association = _curated(session, user, slug)
    sl = _shortlist(session, association, shortlist_id)
    return render(request, "associations/shortlist.html",
                  _shortlist_context(session, association, sl))


@router.post("/associations/{slug}/shortlists/{shortlist_id}/delete")
def delete_shortlist(request: Request, slug: str, shortlist_id: int,
                     session: Session = SessionDep, user: User = UserDep) -> Response:
    """Drop a shortlist."""
    association = _curated(session, user, slug)
    sl = _shortlist(session, association, shortlist_id)
    service.delete_shortlist(session, shortlist=sl)
    _audit(session, request, user, "association.shortlist_delete", association,
           {"shortlist": shortlist_id})
    flash(request, _("Shortlist deleted"))
    return redirect(f"/associations/{slug}/networks")


def _shortlist_step(request: Request, session: Session, user: User, slug: str,
                    shortlist_id: int, step: str, value: str = "") -> Response:
    association = _curated(session, user, slug)
    sl = _shortlist(session, association, shortlist_id)
    try:
        if step == "network":
            network = service.build_network(session, shortlist=sl, user=user, name=value)
            message = _("Network %(name)s proposed: send the invitations when you are ready") % {
                "name": network.name}
        elif step == "invite":
            service.send_network_invitations(session, shortlist=sl, user=user)
            message = _("Invitations sent")
        else:
            service.hand_to_facilitator(session, shortlist=sl, user=user, email=value)
            message = _("The contract draft is started and %(email)s is its facilitator") % {
                "email": value}
    except service.AssociationError as exc:
        field = "email" if step == "facilitator" else "name" if step == "network" else "__all__"
        return render(request, "associations/shortlist.html", _shortlist_context(
            session, association, sl, values={field: value}, errors={field: exc.message}),
            status_code=422)
    _audit(session, request, user, f"association.{step}", association, {"shortlist": sl.id})
    flash(request, message)
    return redirect(f"/associations/{slug}/shortlists/{sl.id}")


@router.post("/associations/{slug}/shortlists/{shortlist_id}/network")
def build_network(request: Request, slug: str, shortlist_id: int, name: str = Form(""),
                  session: Session = SessionDep, user: User = UserDep) -> Response:
    """Propose a network from the shortlist (invitations are drafts until sent)."""
    return _shortlist_step(request, session, user, slug, shortlist_id, "network", name)


@router.post("/associations/{slug}/shortlists/{shortlist_id}/invite")
def send_invitations(request: Request, slug: str, shortlist_id: int,
                     session: Session = SessionDep, user: User = UserDep) -> Response:
    """Send the network's invitations to the shortlisted firms."""
    return _shortlist_step(request, session, user, slug, shortlist_id, "invite")


@router.post("/associations/{slug}/shortlists/{shortlist_id}/facilitator")
def hand_to_facilitator(request: Request, slug: str, shortlist_id: int,
                        email: str = Form(""), session: Session = SessionDep,
                        user: User = UserDep) -> Response:
    """Start the agreed network's contract and hand it to a facilitator."""
    return _shortlist_step(request, session, user, slug, shortlist_id, "facilitator", email)


@router.get("/associations/{slug}/networks")
def networks_page(request: Request, slug: str, province: str | None = None,
                  state: str | None = None, page: int = Query(1, ge=1),
                  session: Session = SessionDep, user: User = UserDep) -> Response:
    """Follow the association's shortlists and every network its member firms take part in."""
    association = _curated(session, user, slug)
    prov = _province(province)
    state = state if state in service.LISTED_NETWORK_STATES else None
    found = service.member_networks(session, association=association, viewer=user,
                                    province=prov, status=state, page=page)
    params = {k: v for k, v in {"province": prov, "state": state}.items() if v}
    return render(request, "associations/networks.html", _base(
        association, rows=service.association_networks(session, association=association),
        member_networks=found, province=prov, state=state, query_string=urlencode(params),
        provinces=[(p.sigla, f"{p.name} ({p.sigla})") for p in places.provinces()
                   if association.region_code is None or p.region_code == association.region_code],
        networks_available=service.networks_service() is not None))


@router.get("/associations/{slug}/networks/{network_id}")
def member_network_page(request: Request, slug: str, network_id: int,
                        session: Session = SessionDep, user: User = UserDep) -> Response:
    """Show a network of member firms: its state and the association's members in it."""
    association = _curated(session, user, slug)
    detail = service.member_network(session, association=association, viewer=user,
                                    network_id=network_id)
    if detail is None:
        raise HTTPException(404, _("No such network"))
    networks = service.networks_service()
    network = detail.network
    can_open = policy.can_view_network(
        user, member_firm_ids=networks.member_firm_ids(network),
        memberships=accounts_service.memberships_for(session, user),
        facilitator_ids=[network.created_by] if network.created_by else [])
    return render(request, "associations/member_network.html", _base(
        association, detail=detail, network=network, can_open=can_open,
        chain_name=networks.chain_name(network.chain_key) if network.chain_key else None))


# ------------------------------------------------------------------------------ campaigns


def _campaigns_context(session: Session, association: Association, **extra: Any) -> dict[str, Any]:
    rows = []
    for c in service.list_campaigns(session, association=association):
        rows.append((c, service.campaign_progress(session, campaign=c)))
    return _base(association, campaigns=rows, values=extra.pop("values", {"only_incomplete": "1"}),
                 errors=extra.pop("errors", {}), **extra)


@router.get("/associations/{slug}/campaigns")
def campaigns_page(request: Request, slug: str, session: Session = SessionDep,
                   user: User = UserDep) -> Response:
    """List the profile campaigns with their progress, and start a new one."""
    association = _curated(session, user, slug)
    return render(request, "associations/campaigns.html",
                  _campaigns_context(session, association))


@router.post("/associations/{slug}/campaigns")
def create_campaign(request: Request, slug: str, name: str = Form(""), message: str = Form(""),
                    only_incomplete: str = Form(""), session: Session = SessionDep,
                    user: User = UserDep) -> Response:
    """Start a campaign: one link per member firm to complete its profile."""
    association = _curated(session, user, slug)
    try:
        campaign = service.create_campaign(session, association=association, user=user,
                                           name=name, message=message,
                                           only_incomplete=bool(only_incomplete))
    except service.AssociationError as exc:
        return render(request, "associations/campaigns.html", _campaigns_context(
            session, association, values={"name": name, "message": message,
                                          "only_incomplete": only_incomplete},
            errors={exc.field or "name": exc.message}), status_code=422)
    _audit(session, request, user, "association.campaign", association,
           {"campaign": campaign.id})
    flash(request, _("Campaign started: send each firm its link"))
    return redirect(f"/associations/{slug}/campaigns/{campaign.id}")


def _campaign(session: Session, association: Association, campaign_id: int) -> Any:
    c = service.get_campaign(session, association=association, campaign_id=campaign_id)
    if c is None:
        raise HTTPException(404, _("No such campaign"))
    return c


@router.get("/associations/{slug}/campaigns/{campaign_id}")
def campaign_page(request: Request, slug: str, campaign_id: int, page: int = Query(1, ge=1),
                  session: Session = SessionDep, user: User = UserDep) -> Response:
    """Show a campaign's progress and each firm's link."""
    association = _curated(session, user, slug)
    campaign = _campaign(session, association, campaign_id)
    firms = service.campaign_firms(session, campaign=campaign)
    per_page = 50
    pages = max(1, -(-len(firms) // per_page))
    page = min(page, pages)
    return render(request, "associations/campaign.html", _base(
        association, campaign=campaign,
        progress=service.campaign_progress(session, campaign=campaign, firms=firms),
        firms=firms[(page - 1) * per_page: page * per_page], page=page, pages=pages,
        base_url=str(request.base_url).rstrip("/")))


@router.get("/associations/{slug}/campaigns/{campaign_id}/links.csv")
def campaign_links(request: Request, slug: str, campaign_id: int,
                   session: Session = SessionDep, user: User = UserDep) -> Response:
    """Download every firm's link (with its e-mail) for a mail merge."""
    association = _curated(session, user, slug)
    campaign = _campaign(session, association, campaign_id)
    text = service.campaign_links_csv(service.campaign_firms(session, campaign=campaign),
                                      base_url=str(request.base_url))
    return Response(text, media_type="text/csv; charset=utf-8", headers={
        "Content-Disposition": f'attachment; filename="campaign-{campaign.id}-links.csv"'})


@router.post("/associations/{slug}/campaigns/{campaign_id}/close")
def close_campaign(request: Request, slug: str, campaign_id: int,
                   session: Session = SessionDep, user: User = UserDep) -> Response:
    """Close a campaign: its links stop working."""
    association = _curated(session, user, slug)
    campaign = _campaign(session, association, campaign_id)
    service.close_campaign(session, campaign=campaign)
    _audit(session, request, user, "association.campaign_close", association,
           {"campaign": campaign.id})
    flash(request, _("Campaign closed"))
    return redirect(f"/associations/{slug}/campaigns/{campaign.id}")


@router.get("/campaign-links/{token}")
def campaign_link_page(request: Request, token: str, session: Session = SessionDep,
                       user: User = UserDep) -> Response:
    """Open a firm's campaign link: its people go to the edit page; otherwise explain."""
    from matchmaker.firms import service as firms_service

    try:
        _campaign_id, firm_id = service.read_campaign_token(token)
    except service.AssociationError as exc:
        raise HTTPException(404, exc.message) from None
    rows = firms_service.firm_rows(session, [firm_id])
    memberships = accounts_service.memberships_for(session, user)
    if rows and (firm_id in memberships or policy.is_admin(user)):
        try:
            outcome = service.open_campaign_link(session, token=token, user=user)
        except service.AssociationError as exc:
            raise HTTPException(404, exc.message) from None
        except PermissionError as exc:
            raise HTTPException(403, str(exc)) from None
        return redirect(f"/firms/{outcome.partita_iva}/edit")
    people = bool(rows) and bool(accounts_service.firm_member_users(session, firm_id))
    return render(request, "associations/campaign_link.html", {
        "token": token, "firm": rows[0] if rows else None,
        "can_claim": bool(rows) and policy.can_claim_firm(user, firm_has_people=people),
    }, status_code=200 if rows else 404)


@router.post("/campaign-links/{token}")
def claim_from_link(request: Request, token: str, session: Session = SessionDep,
                    user: User = UserDep) -> Response:
    """Take over a firm nobody runs yet through its campaign link, then edit its profile."""
    try:
        outcome = service.open_campaign_link(session, token=token, user=user)
    except service.AssociationError as exc:
        raise HTTPException(404, exc.message) from None
    except PermissionError as exc:
        raise HTTPException(403, str(exc)) from None
    if outcome.claimed:
        flash(request, _("You now run %(name)s on Matchmaker: complete its profile")
              % {"name": outcome.name})
    return redirect(f"/firms/{outcome.partita_iva}/edit")


# ------------------------------------------------------------------------------ JSON API


class AssociationOut(BaseModel):
    slug: str
    name: str
    kind: str
    region_code: str | None
    province: str | None
    members: int


class MemberOut(BaseModel):
    partita_iva: str
    name: str
    ateco: str
    comune: str
    province: str
    visibility: str


class MembersOut(BaseModel):
    items: list[MemberOut]
    total: int
    page: int
    per_page: int
    pages: int


def _api_curated(session: Session, user: User, slug: str) -> Association:
    return _curated(session, user, slug)


@api_router.get("/associations", response_model=list[AssociationOut])
def api_associations(session: Session = SessionDep, user: User = UserDep) -> list[AssociationOut]:
    """List the associations the caller curates (every one for administrators)."""
    return [AssociationOut(slug=a.slug, name=a.name, kind=a.kind, region_code=a.region_code,
                           province=a.province, members=service.member_count(session, a))
            for a in service.list_associations(session, user=user,
                                               see_all=policy.can_manage_associations(user))]


@api_router.get("/associations/{slug}/dashboard")
def api_dashboard(slug: str, province: str | None = None, session: Session = SessionDep,
                  user: User = UserDep) -> dict[str, Any]:
    """Counts and gaps by sector, value chain, province and comune (members the caller sees),
    and the networks those members take part in, by state."""
    association = _api_curated(session, user, slug)
    prov = _province(province)
    board = service.dashboard(session, association=association, viewer=user, province=prov)
    data = service.dashboard_summary(board)
    found = service.member_networks(session, association=association, viewer=user,
                                    province=prov, per_page=1)
    data["networks_by_state"] = [{"state": s, "label": label, "networks": n}
                                 for s, label, n in found.by_state]
    return data


@api_router.get("/associations/{slug}/members", response_model=MembersOut)
def api_members(slug: str, q: str = "", province: str | None = None,
                page: int = Query(1, ge=1), per_page: int = Query(50, ge=1, le=200),
                session: Session = SessionDep, user: User = UserDep) -> MembersOut:
    """List the members the caller may see."""
    association = _api_curated(session, user, slug)
    result = service.list_members(session, association=association, viewer=user, q=q,
                                  province=_province(province), page=page, per_page=per_page)
    return MembersOut(
        items=[MemberOut(partita_iva=f.partita_iva, name=f.name, ateco=f.ateco_code,
                         comune=f.comune_name, province=f.province, visibility=f.visibility)
               for f in result.items],
        total=result.total, page=result.page, per_page=result.per_page, pages=result.pages)

