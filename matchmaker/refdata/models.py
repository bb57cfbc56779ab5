"""Input-output tables loaded from a file: the table, its division-pair links and industries."""

from datetime import datetime

from sqlalchemy import Boolean, DateTime, Float, ForeignKey, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from matchmaker.db import Base, utcnow


class IOTable(Base):
    """One loaded use table (one year of one source); the active one feeds the recommender."""

    __tablename__ = "io_table"

    id: Mapped[int] = mapped_column(primary_key=True)
    source: Mapped[str] = mapped_column(String(200))
    file_name: Mapped[str] = mapped_column(String(255), default="")
    year: Mapped[int] = mapped_column(Integer)
    loaded_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    active: Mapped[bool] = mapped_column(Boolean, default=False, index=True)


class IOLink(Base):
    """How much a buyer division spends on a seller division's product, and the seller's share."""

    __tablename__ = "io_link"

    io_table_id: Mapped[int] = mapped_column(
        ForeignKey("io_table.id", ondelete="CASCADE"), primary_key=True
    )
    seller_division: Mapped[str] = mapped_column(String(2), primary_key=True)
    buyer_division: Mapped[str] = mapped_column(String(2), primary_key=True)
    tech_coef: Mapped[float] = mapped_column(Float)
    sales_share: Mapped[float] = mapped_column(Float)


class IOIndustry(Base):
    """Per-division figures of a table: the upstreamness index."""

    __tablename__ = "io_industry"

    io_table_id: Mapped[int] = mapped_column(
        ForeignKey("io_table.id", ondelete="CASCADE"), primary_key=True
    )
    division: Mapped[str] = mapped_column(String(2), primary_key=True)
    upstreamness: Mapped[float] = mapped_column(Float)
