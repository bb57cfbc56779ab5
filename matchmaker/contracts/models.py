"""Network contracts: the typed body (JSON), every saved version, approvals, registrations,
assigned facilitators, and the versioned clause templates the documents are drafted from."""

from datetime import date, datetime
from typing import Any

from sqlalchemy import (
    JSON,
    CheckConstraint,
    Date,
    DateTime,
    ForeignKey,
    Integer,
    String,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from matchmaker.db import Base, TimestampMixin, utcnow

STATUSES = ("draft", "in_review", "approved", "signed", "filed", "effective")
TEMPLATE_STATUSES = ("draft", "published")


def _in(values: tuple[str, ...]) -> str:
    return ", ".join(f"'{v}'" for v in values)


class ClauseTemplate(TimestampMixin, Base):
    """One version of a clause library; `key` groups the versions of one template."""

    __tablename__ = "clause_template"

    id: Mapped[int] = mapped_column(primary_key=True)
    key: Mapped[str] = mapped_column(String(60), index=True)
    number: Mapped[int] = mapped_column(Integer, default=1)
    name: Mapped[str] = mapped_column(String(200))
    association: Mapped[str] = mapped_column(String(200), default="")
    status: Mapped[str] = mapped_column(String(10), default="draft")
    # [{"key", "section", "title", "condition", "text"}, ...] in document order.
    clauses: Mapped[list[dict[str, Any]]] = mapped_column(JSON)
    owner_id: Mapped[int | None] = mapped_column(
        ForeignKey("user_account.id", ondelete="SET NULL"), index=True
    )
    based_on_id: Mapped[int | None] = mapped_column(
        ForeignKey("clause_template.id", ondelete="SET NULL")
    )
    published_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))

    __table_args__ = (
        UniqueConstraint("key", "number", name="uq_clause_template_key_number"),
        CheckConstraint(f"status IN ({_in(TEMPLATE_STATUSES)})", name="status"),
    )

    @property
    def label(self) -> str:
        """Return the template's name with its version number."""
        return f"{self.name} v{self.number}"


class Contract(TimestampMixin, Base):
    __tablename__ = "contract"

    id: Mapped[int] = mapped_column(primary_key=True)
    title: Mapped[str] = mapped_column(String(200))
    status: Mapped[str] = mapped_column(String(12), default="draft", index=True)
    # The content version: +1 on every saved change; approvals and PATCHes name it.
    version: Mapped[int] = mapped_column(Integer, default=1)
    body: Mapped[dict[str, Any]] = mapped_column(JSON)
    template_id: Mapped[int | None] = mapped_column(
        ForeignKey("clause_template.id", ondelete="RESTRICT"), index=True
    )
    # The network it was drafted from (the networks domain's id; no foreign key across domains).
    network_id: Mapped[int | None] = mapped_column(Integer, index=True)
    created_by_id: Mapped[int | None] = mapped_column(
        ForeignKey("user_account.id", ondelete="SET NULL"), index=True
    )
    # {"form", "signed_on", "notary", "signers": [...], "version"} once signed.
    signature: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    filed_on: Mapped[date | None] = mapped_column(Date)
    filed_by: Mapped[str | None] = mapped_column(String(11))
    effective_on: Mapped[date | None] = mapped_column(Date)

    template: Mapped[ClauseTemplate | None] = relationship()
    parties: Mapped[list["ContractParty"]] = relationship(
        back_populates="contract", cascade="all, delete-orphan", order_by="ContractParty.position"
    )
    approvals: Mapped[list["ContractApproval"]] = relationship(
        back_populates="contract", cascade="all, delete-orphan", order_by="ContractApproval.id"
    )
    registrations: Mapped[list["ContractRegistration"]] = relationship(
        back_populates="contract", cascade="all, delete-orphan",
        order_by="ContractRegistration.id",
    )
    facilitators: Mapped[list["ContractFacilitator"]] = relationship(
        back_populates="contract", cascade="all, delete-orphan", order_by="ContractFacilitator.id"
    )

    __table_args__ = (CheckConstraint(f"status IN ({_in(STATUSES)})", name="status"),)


class ContractParty(Base):
    """A participant's firm, kept in step with the body: who may see and approve the contract."""

    __tablename__ = "contract_party"

    id: Mapped[int] = mapped_column(primary_key=True)
    contract_id: Mapped[int] = mapped_column(
        ForeignKey("contract.id", ondelete="CASCADE"), index=True
    )
    firm_id: Mapped[int | None] = mapped_column(
        ForeignKey("firm.id", ondelete="SET NULL"), index=True
    )
    partita_iva: Mapped[str] = mapped_column(String(11))
    position: Mapped[int] = mapped_column(Integer, default=0)

    contract: Mapped[Contract] = relationship(back_populates="parties")

    __table_args__ = (
        UniqueConstraint("contract_id", "partita_iva", name="uq_contract_party_contract_piva"),
    )


class ContractVersion(Base):
    """A full snapshot of the body at one save: who, when, what changed."""

    __tablename__ = "contract_version"

    id: Mapped[int] = mapped_column(primary_key=True)
    contract_id: Mapped[int] = mapped_column(
        ForeignKey("contract.id", ondelete="CASCADE"), index=True
    )
    number: Mapped[int] = mapped_column(Integer)
    body: Mapped[dict[str, Any]] = mapped_column(JSON)
    title: Mapped[str] = mapped_column(String(200))
    template_id: Mapped[int | None] = mapped_column(
        ForeignKey("clause_template.id", ondelete="SET NULL")
    )
    author_id: Mapped[int | None] = mapped_column(
        ForeignKey("user_account.id", ondelete="SET NULL"), index=True
    )
    author_label: Mapped[str] = mapped_column(String(254), default="")
    # The changed fields as dotted paths ("common_fund.amount_eur").
    changes: Mapped[list[str]] = mapped_column(JSON, default=list)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)

    __table_args__ = (
        UniqueConstraint("contract_id", "number", name="uq_contract_version_contract_number"),
    )


class ContractApproval(Base):
    """A participant's representative approved one version of the contract."""

    __tablename__ = "contract_approval"

    id: Mapped[int] = mapped_column(primary_key=True)
    contract_id: Mapped[int] = mapped_column(
        ForeignKey("contract.id", ondelete="CASCADE"), index=True
    )
    partita_iva: Mapped[str] = mapped_column(String(11))
    version: Mapped[int] = mapped_column(Integer)
    user_id: Mapped[int | None] = mapped_column(
        ForeignKey("user_account.id", ondelete="SET NULL"), index=True
    )
    approver_name: Mapped[str] = mapped_column(String(254), default="")
    approved_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)

    contract: Mapped[Contract] = relationship(back_populates="approvals")

    __table_args__ = (
        UniqueConstraint("contract_id", "partita_iva", name="uq_contract_approval_contract_piva"),
    )


class ContractRegistration(Base):
    """The date the register recorded the contract on one participant's entry."""

    __tablename__ = "contract_registration"

    id: Mapped[int] = mapped_column(primary_key=True)
    contract_id: Mapped[int] = mapped_column(
        ForeignKey("contract.id", ondelete="CASCADE"), index=True
    )
    partita_iva: Mapped[str] = mapped_column(String(11))
    registered_on: Mapped[date] = mapped_column(Date)
    recorded_by_id: Mapped[int | None] = mapped_column(
        ForeignKey("user_account.id", ondelete="SET NULL")
    )
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)

    contract: Mapped[Contract] = relationship(back_populates="registrations")

    __table_args__ = (
        UniqueConstraint(
            "contract_id", "partita_iva", name="uq_contract_registration_contract_piva"
        ),
    )


class ContractFacilitator(Base):
    """A facilitator assigned to draft a contract."""

    __tablename__ = "contract_facilitator"

    id: Mapped[int] = mapped_column(primary_key=True)
    contract_id: Mapped[int] = mapped_column(
        ForeignKey("contract.id", ondelete="CASCADE"), index=True
    )
    user_id: Mapped[int] = mapped_column(
        ForeignKey("user_account.id", ondelete="CASCADE"), index=True
    )
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)

    contract: Mapped[Contract] = relationship(back_populates="facilitators")

    __table_args__ = (
        UniqueConstraint("contract_id", "user_id", name="uq_contract_facilitator_contract_user"),
    )
