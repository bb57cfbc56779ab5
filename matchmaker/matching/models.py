"""Partner exclusions a firm sets: named competitors and firms of its own group."""

from datetime import datetime

from sqlalchemy import DateTime, ForeignKey, Integer, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from matchmaker.db import Base, utcnow

EXCLUSION_KINDS = ("competitor", "same_group")


class PartnerExclusion(Base):
    __tablename__ = "partner_exclusion"

    id: Mapped[int] = mapped_column(primary_key=True)
    firm_id: Mapped[int] = mapped_column(ForeignKey("firm.id", ondelete="CASCADE"), index=True)
    excluded_firm_id: Mapped[int] = mapped_column(ForeignKey("firm.id", ondelete="CASCADE"))
    kind: Mapped[str] = mapped_column(String(12))
    created_by: Mapped[int | None] = mapped_column(
        Integer, ForeignKey("user_account.id", ondelete="SET NULL")
    )
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)

    __table_args__ = (
        UniqueConstraint("firm_id", "excluded_firm_id", name="uq_partner_exclusion_pair"),
    )
