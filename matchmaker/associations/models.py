"""Associations: curators, member firms, bulk member imports, shortlists and profile campaigns."""

from datetime import datetime
from typing import Any

from sqlalchemy import (
    JSON,
    Boolean,
    CheckConstraint,
    DateTime,
    ForeignKey,
    Integer,
    LargeBinary,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from matchmaker.db import Base, TimestampMixin, utcnow

ASSOCIATION_KINDS = ("trade", "chamber", "district", "industry", "other")
MEMBER_STATUSES = ("active", "invited")
IMPORT_STATUSES = ("mapping", "queued", "reading", "checking", "preview", "writing", "committed",
                   "rejected", "failed")


def _in(values: tuple[str, ...]) -> str:
    return ", ".join(f"'{v}'" for v in values)


class Association(TimestampMixin, Base):
    """A trade association, chamber of commerce or district committee and the area it covers."""

    __tablename__ = "association"

    id: Mapped[int] = mapped_column(primary_key=True)
    slug: Mapped[str] = mapped_column(String(60), unique=True)
    name: Mapped[str] = mapped_column(String(200))
    kind: Mapped[str] = mapped_column(String(12), default="trade")
    # The area it covers: a region (ISTAT code), optionally narrowed to one province (sigla).
    region_code: Mapped[str | None] = mapped_column(String(2))
    province: Mapped[str | None] = mapped_column(String(2))
    description: Mapped[str] = mapped_column(Text, default="")
    # The spreadsheet column -> firm field mapping of the last XLSX import, offered next time.
    column_mapping: Mapped[dict[str, str] | None] = mapped_column(JSON)

    curators: Mapped[list["AssociationCurator"]] = relationship(
        back_populates="association", cascade="all, delete-orphan", passive_deletes=True
    )

    __table_args__ = (CheckConstraint(f"kind IN ({_in(ASSOCIATION_KINDS)})", name="kind"),)


class AssociationCurator(Base):
    """A user who curates an association (platform role "curator")."""

    __tablename__ = "association_curator"

    id: Mapped[int] = mapped_column(primary_key=True)
    association_id: Mapped[int] = mapped_column(
        ForeignKey("association.id", ondelete="CASCADE"), index=True
    )
    user_id: Mapped[int] = mapped_column(
        ForeignKey("user_account.id", ondelete="CASCADE"), index=True
    )
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)

    association: Mapped[Association] = relationship(back_populates="curators")

    __table_args__ = (
        UniqueConstraint("association_id", "user_id", name="uq_association_curator_pair"),
    )


class AssociationMember(Base):
    """A firm in an association: active, or invited and waiting for the firm's answer."""

    __tablename__ = "association_member"

    id: Mapped[int] = mapped_column(primary_key=True)
    association_id: Mapped[int] = mapped_column(
        ForeignKey("association.id", ondelete="CASCADE"), index=True
    )
    firm_id: Mapped[int] = mapped_column(ForeignKey("firm.id", ondelete="CASCADE"), index=True)
    status: Mapped[str] = mapped_column(String(8), default="active")
    # How it joined: "import", "invitation" or "added" (registered by a curator).
    source: Mapped[str] = mapped_column(String(12), default="import")
    invited_by: Mapped[int | None] = mapped_column(
        ForeignKey("user_account.id", ondelete="SET NULL")
    )
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)

    __table_args__ = (
        UniqueConstraint("association_id", "firm_id", name="uq_association_member_pair"),
        CheckConstraint(f"status IN ({_in(MEMBER_STATUSES)})", name="status"),
    )


class AssociationImport(Base):
    """A members file (CSV or XLSX) between upload, column mapping, preview and commit.

    Large files are checked and written by a background job that records its progress here.
    """

    __tablename__ = "association_import"

    id: Mapped[int] = mapped_column(primary_key=True)
    association_id: Mapped[int] = mapped_column(
        ForeignKey("association.id", ondelete="CASCADE"), index=True
    )
    user_id: Mapped[int | None] = mapped_column(
        ForeignKey("user_account.id", ondelete="SET NULL"), index=True
    )
    filename: Mapped[str] = mapped_column(String(255))
    file_kind: Mapped[str] = mapped_column(String(4), default="csv")
    # The uploaded workbook, kept until its columns are mapped and the rows converted.
    raw: Mapped[bytes | None] = mapped_column(LargeBinary)
    # The rows in the firms CSV format (a workbook's rows after the mapping).
    content: Mapped[str] = mapped_column(Text, default="")
    headers: Mapped[list[str] | None] = mapped_column(JSON)
    mapping: Mapped[dict[str, str] | None] = mapped_column(JSON)
    # Sheet row of the header: the CSV's line numbers plus this offset are the sheet's rows.
    line_offset: Mapped[int] = mapped_column(Integer, default=0)
    skip_invalid: Mapped[bool] = mapped_column(Boolean, default=False)
    status: Mapped[str] = mapped_column(String(10), default="queued")
    background: Mapped[bool] = mapped_column(Boolean, default=False)
    progress: Mapped[int] = mapped_column(Integer, default=0)
    total: Mapped[int] = mapped_column(Integer, default=0)
    rows: Mapped[int] = mapped_column(Integer, default=0)
    created: Mapped[int] = mapped_column(Integer, default=0)
    updated: Mapped[int] = mapped_column(Integer, default=0)
    rejected: Mapped[int] = mapped_column(Integer, default=0)
    joined: Mapped[int] = mapped_column(Integer, default=0)
    report: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    message: Mapped[str] = mapped_column(Text, default="")
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    heartbeat_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    finished_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))

    __table_args__ = (CheckConstraint(f"status IN ({_in(IMPORT_STATUSES)})", name="status"),)


class Shortlist(TimestampMixin, Base):
    """Firms a curator picked as a possible network, and the network made from it."""

    __tablename__ = "association_shortlist"

    id: Mapped[int] = mapped_column(primary_key=True)
    association_id: Mapped[int] = mapped_column(
        ForeignKey("association.id", ondelete="CASCADE"), index=True
    )
    name: Mapped[str] = mapped_column(String(200))
    goal: Mapped[str | None] = mapped_column(String(30))
    note: Mapped[str] = mapped_column(Text, default="")
    score: Mapped[float | None] = mapped_column()
    created_by: Mapped[int | None] = mapped_column(
        ForeignKey("user_account.id", ondelete="SET NULL")
    )
    # The network built from this shortlist (networks domain), once there is one.
    network_id: Mapped[int | None] = mapped_column(Integer, index=True)

    firms: Mapped[list["ShortlistFirm"]] = relationship(
        back_populates="shortlist", cascade="all, delete-orphan", passive_deletes=True,
        order_by="ShortlistFirm.position",
    )


class ShortlistFirm(Base):
    __tablename__ = "association_shortlist_firm"

    id: Mapped[int] = mapped_column(primary_key=True)
    shortlist_id: Mapped[int] = mapped_column(
        ForeignKey("association_shortlist.id", ondelete="CASCADE"), index=True
    )
    firm_id: Mapped[int] = mapped_column(ForeignKey("firm.id", ondelete="CASCADE"), index=True)
    position: Mapped[int] = mapped_column(Integer, default=0)
    role: Mapped[str] = mapped_column(String(60), default="")

    shortlist: Mapped[Shortlist] = relationship(back_populates="firms")

    __table_args__ = (
        UniqueConstraint("shortlist_id", "firm_id", name="uq_association_shortlist_firm_pair"),
    )


class Campaign(TimestampMixin, Base):
    """An invitation to members to complete their profiles, with one link per firm."""

    __tablename__ = "association_campaign"

    id: Mapped[int] = mapped_column(primary_key=True)
    association_id: Mapped[int] = mapped_column(
        ForeignKey("association.id", ondelete="CASCADE"), index=True
    )
    name: Mapped[str] = mapped_column(String(200))
    message: Mapped[str] = mapped_column(Text, default="")
    created_by: Mapped[int | None] = mapped_column(
        ForeignKey("user_account.id", ondelete="SET NULL")
    )
    closed: Mapped[bool] = mapped_column(Boolean, default=False)


class CampaignInvite(Base):
    """One firm invited by a campaign: when its link was opened."""

    __tablename__ = "association_campaign_invite"

    id: Mapped[int] = mapped_column(primary_key=True)
    campaign_id: Mapped[int] = mapped_column(
        ForeignKey("association_campaign.id", ondelete="CASCADE"), index=True
    )
    firm_id: Mapped[int] = mapped_column(ForeignKey("firm.id", ondelete="CASCADE"), index=True)
    opened_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    # Whether the firm's profile was complete when the campaign started.
    complete_at_start: Mapped[bool] = mapped_column(Boolean, default=False)

    __table_args__ = (
        UniqueConstraint("campaign_id", "firm_id", name="uq_association_campaign_invite_pair"),
    )
