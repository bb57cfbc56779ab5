"""firm full-text search (SQLite FTS5 table and triggers, PostgreSQL GIN index); the name index
covers (name, id), the registry's order

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
    op.drop_index("ix_firm_name", table_name="firm")
    op.create_index("ix_firm_name", "firm", ["name", "id"], unique=False)
    # Indexes the firms already there. (A later batch operation that rebuilds the SQLite firm
    # table drops the triggers: call search.create_sqlite after it.)
    search.create(op.get_bind())


def downgrade() -> None:
    search.drop(op.get_bind())
    op.drop_index("ix_firm_name", table_name="firm")
    op.create_index("ix_firm_name", "firm", ["name"], unique=False)
