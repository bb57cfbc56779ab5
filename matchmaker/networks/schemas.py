"""Network, invitation, introduction and notification shapes for the JSON API."""

from datetime import datetime

from pydantic import BaseModel, ConfigDict, Field, ValidationInfo, field_validator

from matchmaker.firms.schemas import GoalKey


class SuggestIn(BaseModel):
    """Either a seed firm (its people propose around it) or a value chain and an area.

    Fields are declared so that each check sees the fields it depends on: `seed` after
    `chain`, `region` after `seed` and `province`.
    """

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    chain: str | None = Field(
        None,
        max_length=40,
        description="value chain key: optional with a seed, required without one",
    )
    seed: str | None = Field(
        None,
        max_length=20,
        validate_default=True,
        description="partita IVA of the seed firm (omit it to plan from chain and region)",
    )
    size: int = Field(5, ge=2, le=10, description="firms in the network, the seed included")
    goal: GoalKey | None = None
    radius_km: float | None = Field(None, gt=0, le=2000, description="around the seed")
    province: str | None = Field(
        None, max_length=60, description="province sigla or name (chain mode)"
    )
    region: str | None = Field(
        None,
        max_length=60,
        validate_default=True,
        description="region name or ISTAT code (chain mode; or give a province)",
    )

    @field_validator("seed")
    @classmethod
    def _seed_or_chain(cls, v: str | None, info: ValidationInfo) -> str | None:
        if not v and not info.data.get("chain"):
            raise ValueError("give a seed firm, or a value chain and a region")
        return v or None

    @field_validator("radius_km")
    @classmethod
    def _radius_needs_seed(cls, v: float | None, info: ValidationInfo) -> float | None:
        if v is not None and not info.data.get("seed"):
            raise ValueError("a radius is measured from a seed firm: give a region or province")
        return v

    @field_validator("province")
    @classmethod
    def _province_without_seed(cls, v: str | None, info: ValidationInfo) -> str | None:
        if v and info.data.get("seed"):
            raise ValueError("a province limits a network planned without a seed: drop one")
        return v or None

    @field_validator("region")
    @classmethod
    def _region_without_seed(cls, v: str | None, info: ValidationInfo) -> str | None:
        if v and info.data.get("seed"):
            raise ValueError("a region limits a network planned without a seed: drop one")
        chain_mode = "seed" in info.data and not info.data["seed"] and info.data.get("chain")
        if not v and chain_mode and not info.data.get("province"):
            raise ValueError("a network planned from a value chain needs a region or province")
        return v or None


class FirmCardOut(BaseModel):
    partita_iva: str
    name: str
    comune: str
    province: str
    ateco: str
    ateco_title: str | None
    sme_class: str | None
    distance_km: float = Field(description="from the seed (or anchor) firm")


class SuggestedMemberOut(BaseModel):
    firm: FirmCardOut
    role: str = Field(
        description="promoter (the seed), anchor (chosen by the planner without a seed) or member"
    )
    roles: list[str] = Field(description="what the firm brings, in sentences")
    stages: list[str] = Field(description="value-chain stages it covers")
    new_stages: list[str] = Field(description="stages nobody else in the network covers")
    fit: float = Field(description="mean recommender score with the other members, 0-1")
    score: float = Field(description="the seed's recommender score for it, 0-1")
    alternatives: list["SuggestedMemberOut"] = Field(default_factory=list)


class StageOut(BaseModel):
    key: str
    name: str


class OpenSlotOut(BaseModel):
    stage: StageOut
    candidates: list[SuggestedMemberOut]


class SuggestionOut(BaseModel):
    mode: str = Field("seed", description="seed: around a firm; chain: a value chain in an area")
    seed: str = Field(description="partita IVA of the seed, or of the anchor the planner chose")
    goal: str | None
    size: int
    radius_km: float | None
    chain: str | None
    chain_name: str | None
    members: list[SuggestedMemberOut]
    covered_stages: list[StageOut]
    uncovered_stages: list[StageOut]
    open_slots: list[OpenSlotOut]
    needs_covered: list[str]
    needs_uncovered: list[str]
    candidates: int
    mean_fit: float
    seconds: float
    region: str | None = None
    province: str | None = None
    area: str | None = Field(None, description="the area the network is limited to (chain mode)")
    absent_stages: list[StageOut] = Field(
        default_factory=list, description="stages with no firm in the area at all (chain mode)"
    )


class MemberIn(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    partita_iva: str = Field(max_length=20)
    stage: str | None = Field(None, max_length=40)
    role_text: str = Field("", max_length=500)


class NetworkIn(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    seed: str = Field(max_length=20, description="partita IVA of the promoter firm")
    name: str = Field("", max_length=200)
    description: str = Field("", max_length=4000)
    goal: GoalKey | None = None
    chain: str | None = Field(None, max_length=40)
    radius_km: float | None = Field(None, gt=0, le=2000)
    members: list[MemberIn] = Field(default_factory=list, max_length=9)


class MemberOut(BaseModel):
    partita_iva: str
    name: str
    role: str
    role_text: str
    stage: str | None
    status: str
    joined_at: datetime
    left_at: datetime | None


class InvitationOut(BaseModel):
    id: int
    partita_iva: str
    name: str
    status: str
    message: str
    reason: str
    sent_at: datetime | None
    expires_at: datetime | None
    answered_at: datetime | None


class ActivityOut(BaseModel):
    at: datetime
    actor: str
    action: str
    partita_iva: str | None
    detail: dict | None


class NetworkOut(BaseModel):
    id: int
    name: str
    description: str
    status: str
    version: int
    promoter: str | None
    goal: str | None
    chain: str | None
    chain_name: str | None
    radius_km: float | None
    members: list[MemberOut]
    invitations: list[InvitationOut]
    covered_stages: list[StageOut]
    uncovered_stages: list[StageOut]
    allowed_transitions: list[str]
    activity: list[ActivityOut]
    created_at: datetime
    agreed_at: datetime | None


class NetworkSummaryOut(BaseModel):
    id: int
    name: str
    status: str
    members: int
    pending_invitations: int
    updated_at: datetime


class NetworkPageOut(BaseModel):
    items: list[NetworkSummaryOut]
    total: int
    page: int
    per_page: int
    pages: int


class InvitationIn(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    partita_iva: str = Field(max_length=20)
    message: str = Field("", max_length=2000)
    days: int = Field(14, ge=1, le=90, description="days before the invitation expires")
    stage: str | None = Field(None, max_length=40)


class AnswerIn(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    accept: bool
    reason: str = Field("", max_length=2000, description="optional; helps the recommender")


class TransitionIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    to: str = Field(max_length=20)
    days: int | None = Field(None, ge=1, le=90, description="invitation lifetime when sending")


class LeaveIn(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    partita_iva: str = Field(max_length=20, description="the member firm that leaves")


class IntroductionIn(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    from_firm: str = Field(max_length=20, description="partita IVA of your firm")
    to_firm: str = Field(max_length=20, description="partita IVA of the firm you are interested in")
    message: str = Field("", max_length=2000)


class MessageIn(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    body: str = Field(min_length=1, max_length=4000)


class MessageOut(BaseModel):
    id: int
    partita_iva: str
    body: str
    created_at: datetime


class IntroductionOut(BaseModel):
    id: int
    from_firm: str
    to_firm: str
    message: str
    status: str
    reason: str
    created_at: datetime
    answered_at: datetime | None
    messages: list[MessageOut] = Field(default_factory=list)


class NotificationOut(BaseModel):
    id: int
    kind: str
    text: str
    link: str
    created_at: datetime
    read: bool
