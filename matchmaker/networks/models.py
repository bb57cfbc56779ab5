"""Networks (proposals to contracts), invitations, introductions, messages, notifications.

A network's row carries a version counter (optimistic locking): every change to the network
or its invitations bumps it, so two people answering at the same moment cannot both act on
the same stale state.
"""

from datetime import datetime
from typing import Any, ClassVar

from sqlalchemy import (
    JSON,
    Boolean,
    CheckConstraint,
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

NETWORK_STATUSES = ("proposed", "forming", "agreed", "contract_drafting", "registered", "cancelled")
INVITATION_STATUSES = ("draft", "pending", "accepted", "declined", "expired", "withdrawn")
MEMBER_STATUSES = ("active", "left")
INTRODUCTION_STATUSES = ("pending", "accepted", "declined", "withdrawn")


def _in(values: tuple[str, ...]) -> str:
    return ", ".join(f"'{v}'" for v in values)


class Network(TimestampMixin, Base):
    __tablename__ = "network"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    description: Mapped[str] = mapped_column(Text, default="")
    # The firm that proposes the network; its people manage invitations.
    promoter_firm_id: Mapped[int | None] = mapped_column(
        ForeignKey("firm.id", ondelete="SET NULL"), index=True
    )
    created_by: Mapped[int | None] = mapped_column(
        ForeignKey("user_account.id", ondelete="SET NULL"), index=True
    )
    goal: Mapped[str | None] = mapped_column(String(30))
    chain_key: Mapped[str | None] = mapped_column(String(40))
    radius_km: Mapped[float | None] = mapped_column(Float)
    target_size: Mapped[int] = mapped_column(Integer, default=5)
    status: Mapped[str] = mapped_column(String(20), default="proposed", index=True)
    agreed_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    version: Mapped[int] = mapped_column(Integer, default=1)

    members: Mapped[list["NetworkMember"]] = relationship(
        back_populates="network",
        cascade="all, delete-orphan",
        passive_deletes=True,
        order_by="NetworkMember.id",
    )
    invitations: Mapped[list["NetworkInvitation"]] = relationship(
        back_populates="network",
        cascade="all, delete-orphan",
        passive_deletes=True,
        order_by="NetworkInvitation.id",
    )
    activity: Mapped[list["NetworkActivity"]] = relationship(
        back_populates="network",
        cascade="all, delete-orphan",
        passive_deletes=True,
        order_by="NetworkActivity.id",
    )

    __mapper_args__: ClassVar[dict[str, Any]] = {"version_id_col": version}
    __table_args__ = (CheckConstraint(f"status IN ({_in(NETWORK_STATUSES)})", name="status"),)


class NetworkMember(Base):
    __tablename__ = "network_member"

    id: Mapped[int] = mapped_column(primary_key=True)
    network_id: Mapped[int] = mapped_column(ForeignKey("network.id", ondelete="CASCADE"))
    firm_id: Mapped[int] = mapped_column(ForeignKey("firm.id", ondelete="CASCADE"), index=True)
    role: Mapped[str] = mapped_column(String(12), default="member")  # promoter | member
    stage_key: Mapped[str | None] = mapped_column(String(40))
    role_text: Mapped[str] = mapped_column(String(500), default="")
    status: Mapped[str] = mapped_column(String(8), default="active")
    joined_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    left_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))

    network: Mapped[Network] = relationship(back_populates="members")

    __table_args__ = (
        UniqueConstraint("network_id", "firm_id", name="uq_network_member_network_firm"),
        CheckConstraint(f"status IN ({_in(MEMBER_STATUSES)})", name="status"),
    )


class NetworkInvitation(Base):
    __tablename__ = "network_invitation"

    id: Mapped[int] = mapped_column(primary_key=True)
    network_id: Mapped[int] = mapped_column(
        ForeignKey("network.id", ondelete="CASCADE"), index=True
    )
    firm_id: Mapped[int] = mapped_column(ForeignKey("firm.id", ondelete="CASCADE"), index=True)
    status: Mapped[str] = mapped_column(String(10), default="draft", index=True)
    stage_key: Mapped[str | None] = mapped_column(String(40))
    role_text: Mapped[str] = mapped_column(String(500), default="")
    message: Mapped[str] = mapped_column(Text, default="")
    reason: Mapped[str] = mapped_column(Text, default="")
    invited_by: Mapped[int | None] = mapped_column(
        ForeignKey("user_account.id", ondelete="SET NULL")
    )
    answered_by: Mapped[int | None] = mapped_column(
        ForeignKey("user_account.id", ondelete="SET NULL")
    )
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    sent_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    expires_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    answered_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))

    network: Mapped[Network] = relationship(back_populates="invitations")

    __table_args__ = (CheckConstraint(f"status IN ({_in(INVITATION_STATUSES)})", name="status"),)


class NetworkActivity(Base):
    """One change to a network: who, when, what (the network's own log, shown on its page)."""

    __tablename__ = "network_activity"

    id: Mapped[int] = mapped_column(primary_key=True)
    network_id: Mapped[int] = mapped_column(
        ForeignKey("network.id", ondelete="CASCADE"), index=True
    )
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    # No foreign key: the log outlives the user.
    actor_id: Mapped[int | None] = mapped_column(Integer)
    actor_label: Mapped[str] = mapped_column(String(254), default="")
    action: Mapped[str] = mapped_column(String(40))
    firm_id: Mapped[int | None] = mapped_column(Integer)
    detail: Mapped[dict[str, Any] | None] = mapped_column(JSON)

    network: Mapped[Network] = relationship(back_populates="activity")


class Introduction(TimestampMixin, Base):
    """A firm's interest in a partner, and the partner's answer (feedback for the recommender)."""

    __tablename__ = "introduction"

    id: Mapped[int] = mapped_column(primary_key=True)
    from_firm_id: Mapped[int] = mapped_column(ForeignKey("firm.id", ondelete="CASCADE"), index=True)
    to_firm_id: Mapped[int] = mapped_column(ForeignKey("firm.id", ondelete="CASCADE"), index=True)
    message: Mapped[str] = mapped_column(Text, default="")
    status: Mapped[str] = mapped_column(String(10), default="pending")
    reason: Mapped[str] = mapped_column(Text, default="")
    created_by: Mapped[int | None] = mapped_column(
        ForeignKey("user_account.id", ondelete="SET NULL")
    )
    answered_by: Mapped[int | None] = mapped_column(
        ForeignKey("user_account.id", ondelete="SET NULL")
    )
    answered_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    version: Mapped[int] = mapped_column(Integer, default=1)

    messages: Mapped[list["IntroductionMessage"]] = relationship(
        back_populates="introduction",
        cascade="all, delete-orphan",
        passive_deletes=True,
        order_by="IntroductionMessage.id",
    )

    __mapper_args__: ClassVar[dict[str, Any]] = {"version_id_col": version}
    __table_args__ = (CheckConstraint(f"status IN ({_in(INTRODUCTION_STATUSES)})", name="status"),)


class IntroductionMessage(Base):
    __tablename__ = "introduction_message"

    id: Mapped[int] = mapped_column(primary_key=True)
    introduction_id: Mapped[int] = mapped_column(
        ForeignKey("introduction.id", ondelete="CASCADE"), index=True
    )
    firm_id: Mapped[int] = mapped_column(ForeignKey("firm.id", ondelete="CASCADE"))
    user_id: Mapped[int | None] = mapped_column(ForeignKey("user_account.id", ondelete="SET NULL"))
    body: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)

    introduction: Mapped[Introduction] = relationship(back_populates="messages")


class PartnerFeedback(Base):
    """One decision on a proposed partner: what the recommender refits on."""

    __tablename__ = "partner_feedback"

    id: Mapped[int] = mapped_column(primary_key=True)
    seeker_firm_id: Mapped[int] = mapped_column(
        ForeignKey("firm.id", ondelete="CASCADE"), index=True
    )
    candidate_firm_id: Mapped[int] = mapped_column(ForeignKey("firm.id", ondelete="CASCADE"))
    accepted: Mapped[bool] = mapped_column(Boolean)
    reason: Mapped[str] = mapped_column(Text, default="")
    source: Mapped[str] = mapped_column(String(12))  # introduction | invitation
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class Notification(Base):
    """Something a user should see in the app (the inbox and the nav badge)."""

    __tablename__ = "notification"

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("user_account.id", ondelete="CASCADE"))
    kind: Mapped[str] = mapped_column(String(40))
    params: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    link: Mapped[str] = mapped_column(String(300), default="")
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    read_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))

    __table_args__ = (Index("ix_notification_user_read", "user_id", "read_at"),)
