"""Public reference pages (sectors, value chains) and the /api/v1/refdata search API."""

from typing import Any, Literal

from fastapi import APIRouter, Depends, HTTPException, Query, Request
from fastapi.responses import Response
from sqlalchemy.orm import Session

from matchmaker.db import get_session
from matchmaker.firms import service as firms_service
from matchmaker.i18n import gettext as _
from matchmaker.refdata import ateco, chains, places, service
from matchmaker.refdata.schemas import (
    AtecoOut,
    ChainOut,
    ChainsOut,
    ComuneOut,
    LinkOut,
    PositionOut,
    SectorLinksOut,
    SectorOut,
    StageOut,
)
from matchmaker.web import render

router = APIRouter(tags=["pages"], include_in_schema=False)
api_router = APIRouter(prefix="/refdata", tags=["refdata"])

SessionDep = Depends(get_session, scope="function")
Edition = Literal["2025", "2022", "2007"]


def _public_firms() -> Any:
    """Return the condition for firms shown on public pages: public profiles only."""
    return firms_service.visibility_clause(see_all=False)


def _region_or_none(region: str | None) -> str | None:
    """Return a known 2-digit region code, or None."""
    if not region:
        return None
    code = region.strip().zfill(2)
    return code if any(r.code == code for r in places.regions()) else None


def _sector_or_404(session: Session, code: str, edition: str | None) -> service.SectorView:
    if edition is not None and edition not in ("2025", "2022", "2007"):
        raise HTTPException(404, _("Unknown ATECO edition %(edition)s") % {"edition": edition})
    try:
        return service.sector_view(session, code=code, edition=edition, visible=_public_firms())
    except ateco.AtecoError:
        raise HTTPException(404, _("No ATECO code %(code)s") % {"code": code}) from None


def _chain_or_404(key: str) -> chains.Chain:
    try:
        return chains.chain(key)
    except chains.UnknownChain:
        raise HTTPException(404, _("No value chain %(key)s") % {"key": key}) from None


# --------------------------------------------------------------------------- pages


@router.get("/sectors")
def sectors_page(request: Request, q: str = "", edition: str = "2025") -> Response:
    """Search ATECO codes, or list the divisions of an edition."""
    edition = edition if edition in ("2025", "2022", "2007") else "2025"
    query = q.strip()
    hits = (
        ateco.search(query, edition=edition, limit=50)
        if query
        else list(ateco.all_codes(edition, "division"))
    )
    return render(
        request,
        "refdata/sectors.html",
        {"q": query, "edition": edition, "hits": hits},
        block="results",
    )


@router.get("/sectors/{code}")
def sector_page(
    request: Request, code: str, edition: str | None = None, session: Session = SessionDep
) -> Response:
    """Show a sector: label, hierarchy, value chains, input-output links, registered firms."""
    view = _sector_or_404(session, code, edition)
    return render(request, "refdata/sector.html", {"view": view})


@router.get("/chains")
def chains_page(request: Request, session: Session = SessionDep) -> Response:
    """List the value chains with their stages and the firms registered in each."""
    overview = service.chains_overview(session, visible=_public_firms())
    return render(
        request, "refdata/chains.html", {"overview": overview, "info": chains.catalogue_info()}
    )


@router.get("/chains/{key}")
def chain_page(
    request: Request, key: str, region: str | None = None, session: Session = SessionDep
) -> Response:
    """Show a chain's stages in order with the firms registered at each, by region."""
    _chain_or_404(key)
    region_code = _region_or_none(region)
    view = service.chain_view(session, key=key, region=region_code, visible=_public_firms())
    return render(
        request,
        "refdata/chain.html",
        {"view": view, "regions": places.regions(), "info": chains.catalogue_info()},
        block="stages",
    )


# --------------------------------------------------------------------------- JSON API


def _ateco_out(item: ateco.AtecoCode) -> AtecoOut:
    return AtecoOut(
        code=item.code,
        edition=item.edition,
        level=item.level,
        title=item.title,
        title_en=item.title_en,
        sector_division=item.sector_division,
    )


def _stage_out(stage: chains.Stage) -> StageOut:
    return StageOut(
        key=stage.key,
        name_it=stage.name_it,
        name_en=stage.name_en,
        position=stage.position,
        index=stage.index,
        ateco=list(stage.ateco),
    )


def _chain_out(ch: chains.Chain) -> ChainOut:
    return ChainOut(
        key=ch.key,
        name_it=ch.name_it,
        name_en=ch.name_en,
        sources=list(ch.sources),
        stages=[_stage_out(s) for s in ch.stages],
        support=[_stage_out(s) for s in ch.support],
    )


@api_router.get("/ateco", response_model=list[AtecoOut])
def api_ateco(
    q: str = "", edition: Edition = "2025", limit: int = Query(20, ge=1, le=100)
) -> list[AtecoOut]:
    """Search ATECO codes by code prefix or title words."""
    return [_ateco_out(c) for c in ateco.search(q, edition=edition, limit=limit)]


@api_router.get("/comuni", response_model=list[ComuneOut])
def api_comuni(
    q: str = "", province: str | None = None, limit: int = Query(20, ge=1, le=100)
) -> list[ComuneOut]:
    """Search Italian comuni by name, optionally within one province."""
    try:
        hits = places.search(q, limit=limit, province=province or None)
    except places.PlaceError as exc:
        raise HTTPException(
            422, [{"loc": ["query", "province"], "msg": str(exc), "type": "value_error"}]
        ) from None
    return [
        ComuneOut(
            istat=c.istat,
            name=c.name,
            province=c.province,
            province_name=c.province_name,
            region=c.region,
            region_code=c.region_code,
            lat=c.lat,
            lng=c.lng,
        )
        for c in hits
    ]


@api_router.get("/chains", response_model=ChainsOut)
def api_chains() -> ChainsOut:
    """Return every value chain with its stages, support functions, prefixes and sources."""
    return ChainsOut(
        version=chains.catalogue_info()["version"],
        ateco_edition="2022",
        chains=[_chain_out(c) for c in chains.chains()],
    )


@api_router.get("/chains/{key}", response_model=ChainOut)
def api_chain(key: str) -> ChainOut:
    """Return one value chain."""
    return _chain_out(_chain_or_404(key))


@api_router.get("/sectors/{code}", response_model=SectorOut)
def api_sector(
    code: str, edition: Edition | None = None, session: Session = SessionDep
) -> SectorOut:
    """Return a sector's chain positions, input-output links and number of public firms."""
    view = _sector_or_404(session, code, edition)
    links_out = None
    if view.links is not None:
        links_out = SectorLinksOut(
            source=view.links.source,
            year=view.links.year,
            upstreamness=view.upstreamness,
            suppliers=[
                LinkOut(
                    group=r.group,
                    divisions=[d.code for d in r.divisions],
                    tech_coef=r.tech_coef,
                    sales_share=r.sales_share,
                )
                for r in view.suppliers
            ],
            customers=[
                LinkOut(
                    group=r.group,
                    divisions=[d.code for d in r.divisions],
                    tech_coef=r.tech_coef,
                    sales_share=r.sales_share,
                )
                for r in view.customers
            ],
        )
    found = chains.positions(view.code.code, view.code.edition)
    return SectorOut(
        code=_ateco_out(view.code),
        positions=[
            PositionOut(
                chain_key=p.chain_key,
                stage_key=p.stage_key,
                stage_index=p.stage_index,
                position=p.position,
                specificity=p.specificity,
                partial=p.partial,
            )
            for p in found
        ],
        no_chain_reason=view.no_chain_reason,
        io=links_out,
        firm_count=view.firm_count,
    )
