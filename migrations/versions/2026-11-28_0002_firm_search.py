"""firm full-text search (SQLite FTS5 table and triggers, PostgreSQL GIN index) and an index on
firm.visibility

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-28 20:30:00
"""

from collections.abc import Sequence

from alembic import op

from matchmaker.firms import search

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("firm", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_firm_visibility"), ["visibility"], unique=False)
    # Created after any batch operation on firm: a SQLite table rebuild would drop triggers.
    # Indexes the firms already there.
    search.create(op.get_bind())


def downgrade() -> None:
    search.drop(op.get_bind())
    with op.batch_alter_table("firm", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_firm_visibility"))
