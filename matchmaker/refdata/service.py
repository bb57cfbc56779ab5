"""What the reference pages show: a sector's chains and input-output links, a chain's stages."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any

from sqlalchemy.orm import Session

from matchmaker.firms import service as firms_service
from matchmaker.firms.models import Firm
from matchmaker.refdata import ateco, chains, io
from matchmaker.refdata.ateco import AtecoCode
from matchmaker.refdata.chains import Chain, Position, Stage


@dataclass
class Membership:
    """A chain a code belongs to, with the stages (or support functions) it sits in."""

    chain: Chain
    stages: list[tuple[Stage, Position]]


@dataclass
class LinkRow:
    """A supplier or customer group of a sector, with its divisions' labels."""

    group: str
    divisions: list[AtecoCode]
    tech_coef: float
    sales_share: float


@dataclass
class SectorView:
    """Everything the sector page shows."""

    code: AtecoCode
    ancestors: list[AtecoCode]
    children: list[AtecoCode]
    memberships: list[Membership]
    support_in: list[Membership]
    no_chain_reason: str | None
    division: str | None
    links: io.SectorLinks | None
    suppliers: list[LinkRow] = field(default_factory=list)
    customers: list[LinkRow] = field(default_factory=list)
    upstreamness: float | None = None
    firm_count: int = 0


@dataclass
class StageView:
    """A stage or support function of a chain with the firms registered in it."""

    stage: Stage
    codes: list[AtecoCode]
    firm_count: int
    firms: list[Firm]


@dataclass
class ChainView:
    """Everything the chain page shows."""

    chain: Chain
    stages: list[StageView]
    support: list[StageView]
    region: str | None
    total_firms: int


@lru_cache(maxsize=8192)
def _under(firm_code: str, firm_edition: str, code: str, edition: str) -> bool:
    """Tell whether a firm's code falls at or below `code` of `edition`."""
    if firm_edition == edition:
        targets: tuple[str, ...] = (firm_code,)
    else:
        try:
            targets = ateco.convert(firm_code, firm_edition, edition).targets
        except ateco.AtecoError:
            return False
    # Compact digits nest by level (25 > 256 > 2562 > 25620 > 256200).
    prefix = code.replace(".", "")
    return any(t.replace(".", "").startswith(prefix) for t in targets)


def _link_rows(items: Iterable[io.LinkedSector]) -> list[LinkRow]:
    return [
        LinkRow(
            item.group,
            [ateco.parse(d, "2022") for d in item.divisions],
            item.tech_coef,
            item.sales_share,
        )
        for item in items
    ]


def _memberships(found: list[Position]) -> tuple[list[Membership], list[Membership]]:
    """Split positions into chains with a stage and chains where the code is only support."""
    staged: dict[str, Membership] = {}
    support: dict[str, Membership] = {}
    for pos in found:
        ch = chains.chain(pos.chain_key)
        target = support if pos.stage_index is None else staged
        target.setdefault(ch.key, Membership(ch, [])).stages.append((ch.stage(pos.stage_key), pos))
    only_support = [m for k, m in support.items() if k not in staged]
    return list(staged.values()), only_support


def sector_view(
    session: Session, *, code: str, edition: str | None = None, visible: Any = None, k: int = 5
) -> SectorView:
    """Build the sector page: hierarchy, chains, input-output links and firm count."""
    item = ateco.parse(code, edition)
    found = chains.positions(item.code, item.edition)
    memberships, support_in = _memberships(found)
    view = SectorView(
        code=item,
        ancestors=ateco.ancestors(item.code, item.edition),
        children=ateco.children(item.code, item.edition),
        memberships=memberships,
        support_in=support_in,
        no_chain_reason=None if found else chains.no_chain_reason(item.code, item.edition),
        division=item.sector_division,
        links=io.active_links(session),
    )
    if view.links is not None and item.sector_division:
        view.suppliers = _link_rows(io.top_suppliers(view.links, item.sector_division, k))
        view.customers = _link_rows(io.top_customers(view.links, item.sector_division, k))
        view.upstreamness = float(view.links.upstreamness[view.links.index(item.sector_division)])
    if item.level == "section":
        divisions = {c.code for c in view.children}
        counts = firms_service.count_firms_by_code(session, visible=visible)
        view.firm_count = sum(
            n for c, e, n in counts if any(_under(c, e, d, item.edition) for d in divisions)
        )
    else:
        view.firm_count = sum(
            n
            for c, e, n in firms_service.count_firms_by_code(session, visible=visible)
            if _under(c, e, item.code, item.edition)
        )
    return view


def chain_view(
    session: Session,
    *,
    key: str,
    region: str | None = None,
    visible: Any = None,
    firms_per_stage: int = 5,
) -> ChainView:
    """Build the chain page: stages in order with the firms registered at each."""
    ch = chains.chain(key)
    counts = firms_service.count_firms_by_code(session, region=region, visible=visible)
    per_stage: dict[str, int] = {}
    codes_in: dict[str, list[tuple[str, str]]] = {}
    firms_in_chain = 0
    for code, edition, n in counts:
        try:
            found = [p for p in chains.positions(code, edition) if p.chain_key == key]
        except ateco.AtecoError:
            continue
        if any(p.stage_index is not None for p in found):
            firms_in_chain += n
        for pos in found:
            per_stage[pos.stage_key] = per_stage.get(pos.stage_key, 0) + n
            codes_in.setdefault(pos.stage_key, []).append((code, edition))

    def build(stage: Stage, with_firms: bool) -> StageView:
        firms = (
            firms_service.firms_with_codes(
                session,
                codes=codes_in.get(stage.key, []),
                region=region,
                visible=visible,
                limit=firms_per_stage,
            )
            if with_firms
            else []
        )
        return StageView(
            stage, [ateco.parse(c, "2022") for c in stage.ateco], per_stage.get(stage.key, 0), firms
        )

    return ChainView(
        chain=ch,
        stages=[build(s, True) for s in ch.stages],
        support=[build(s, False) for s in ch.support],
        region=region,
        total_firms=firms_in_chain,
    )


def chains_overview(session: Session, *, visible: Any = None) -> list[tuple[Chain, int]]:
    """Return every chain with the number of firms at one of its stages."""
    totals = {c.key: 0 for c in chains.chains()}
    for code, edition, n in firms_service.count_firms_by_code(session, visible=visible):
        try:
            found = chains.positions(code, edition)
        except ateco.AtecoError:
            continue
        for key in {p.chain_key for p in found if p.stage_index is not None}:
            totals[key] += n
    return [(c, totals[c.key]) for c in chains.chains()]
