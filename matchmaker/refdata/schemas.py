"""JSON shapes of the reference-data API."""

from pydantic import BaseModel


class AtecoOut(BaseModel):
    code: str
    edition: str
    level: str
    title: str
    title_en: str | None
    sector_division: str | None


class ComuneOut(BaseModel):
    istat: str
    name: str
    province: str
    province_name: str
    region: str
    region_code: str
    lat: float
    lng: float


class StageOut(BaseModel):
    key: str
    name_it: str
    name_en: str
    position: str
    index: int | None
    ateco: list[str]


class ChainOut(BaseModel):
    key: str
    name_it: str
    name_en: str
    sources: list[str]
    stages: list[StageOut]
    support: list[StageOut]


class ChainsOut(BaseModel):
    version: str
    ateco_edition: str
    chains: list[ChainOut]


class PositionOut(BaseModel):
    chain_key: str
    stage_key: str
    stage_index: int | None
    position: str
    specificity: int
    partial: bool


class LinkOut(BaseModel):
    group: str
    divisions: list[str]
    tech_coef: float
    sales_share: float


class SectorLinksOut(BaseModel):
    source: str
    year: int | None
    upstreamness: float | None
    suppliers: list[LinkOut]
    customers: list[LinkOut]


class SectorOut(BaseModel):
    code: AtecoOut
    positions: list[PositionOut]
    no_chain_reason: str | None
    io: SectorLinksOut | None
    firm_count: int
