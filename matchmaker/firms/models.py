"""Firm and its secondary ATECO codes and goals."""

from datetime import datetime

from sqlalchemy import (
    JSON,
    BigInteger,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from matchmaker.db import Base, TimestampMixin, utcnow
from matchmaker.firms import search


class Firm(TimestampMixin, Base):
    __tablename__ = "firm"

    id: Mapped[int] = mapped_column(primary_key=True)
    partita_iva: Mapped[str] = mapped_column(String(11), unique=True)
    name: Mapped[str] = mapped_column(String(200))
    legal_form: Mapped[str | None] = mapped_column(String(60))
    ateco_code: Mapped[str] = mapped_column(String(10))
    ateco_edition: Mapped[str] = mapped_column(String(4))
    # The ATECO 2007/2022 division the code falls in, whatever its edition: the sector key.
    sector_division: Mapped[str] = mapped_column(String(2), index=True)
    comune_istat: Mapped[str] = mapped_column(String(6))
    comune_name: Mapped[str] = mapped_column(String(120))
    province: Mapped[str] = mapped_column(String(2), index=True)
    region_code: Mapped[str] = mapped_column(String(2), index=True)
    lat: Mapped[float] = mapped_column(Float)
    lng: Mapped[float] = mapped_column(Float)
    employees: Mapped[int | None] = mapped_column(Integer)
    turnover_eur: Mapped[int | None] = mapped_column(BigInteger)
    sme_class: Mapped[str | None] = mapped_column(String(6))
    offers: Mapped[str] = mapped_column(Text, default="")
    needs: Mapped[str] = mapped_column(Text, default="")
    description: Mapped[str] = mapped_column(Text, default="")
    email: Mapped[str | None] = mapped_column(String(254))
    website: Mapped[str | None] = mapped_column(String(300))
    visibility: Mapped[str] = mapped_column(String(12), default="public")
    version: Mapped[int] = mapped_column(Integer, default=1)

    secondary_codes: Mapped[list["FirmAteco"]] = relationship(
        back_populates="firm", cascade="all, delete-orphan", order_by="FirmAteco.position"
    )
    goal_links: Mapped[list["FirmGoal"]] = relationship(
        back_populates="firm", cascade="all, delete-orphan", order_by="FirmGoal.goal"
    )

    __mapper_args__ = {"version_id_col": version}  # noqa: RUF012 - read once by the mapper
    # (name, id): the registry lists by name with id as the tie-break, straight from the index.
    __table_args__ = (Index("ix_firm_name", "name", "id"),)

    @property
    def goals(self) -> list[str]:
        """Return the firm's goal keys."""
        return [g.goal for g in self.goal_links]


# The full-text search index lives with the table (create_all) and in revision 0002.
search.attach(Firm.__table__)


class FirmAteco(Base):
    __tablename__ = "firm_ateco"

    id: Mapped[int] = mapped_column(primary_key=True)
    firm_id: Mapped[int] = mapped_column(ForeignKey("firm.id", ondelete="CASCADE"), index=True)
    position: Mapped[int] = mapped_column(Integer, default=0)
    code: Mapped[str] = mapped_column(String(10))
    edition: Mapped[str] = mapped_column(String(4))
    sector_division: Mapped[str] = mapped_column(String(2))

    firm: Mapped[Firm] = relationship(back_populates="secondary_codes")
    __table_args__ = (UniqueConstraint("firm_id", "code", name="uq_firm_ateco_firm_code"),)


class FirmGoal(Base):
    __tablename__ = "firm_goal"

    firm_id: Mapped[int] = mapped_column(
        ForeignKey("firm.id", ondelete="CASCADE"), primary_key=True
    )
    goal: Mapped[str] = mapped_column(String(30), primary_key=True, index=True)

    firm: Mapped[Firm] = relationship(back_populates="goal_links")


class FirmImport(Base):
    """An uploaded firms file, kept between preview and confirmation, with its outcome."""

    __tablename__ = "firm_import"

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int | None] = mapped_column(
        ForeignKey("user_account.id", ondelete="SET NULL"), index=True
    )
    filename: Mapped[str] = mapped_column(String(255))
    content: Mapped[str] = mapped_column(Text)
    skip_invalid: Mapped[bool] = mapped_column(default=False)
    status: Mapped[str] = mapped_column(String(12), default="preview")
    rows: Mapped[int] = mapped_column(Integer, default=0)
    created: Mapped[int] = mapped_column(Integer, default=0)
    updated: Mapped[int] = mapped_column(Integer, default=0)
    rejected: Mapped[int] = mapped_column(Integer, default=0)
    report: Mapped[dict | None] = mapped_column(JSON)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class FirmChange(Base):
    """The registry's change feed: one row per firm created, changed or deleted.

    Every process serving the recommender polls it (by id) to refresh its in-memory index.
    """

    __tablename__ = "firm_change"

    id: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"), primary_key=True)
    firm_id: Mapped[int] = mapped_column(Integer, index=True)
    changed_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
