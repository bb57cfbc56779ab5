"""Migrations: one head, upgrade from empty equals the models, downgrade to base empties."""

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import create_engine, inspect

from matchmaker import migrate
from matchmaker.firms import search
from matchmaker.models import Base
from tests.conftest import fresh_database_url


def test_there_is_exactly_one_head() -> None:
    heads = ScriptDirectory.from_config(migrate.alembic_config()).get_heads()
    assert len(heads) == 1, heads


def test_upgrade_from_empty_matches_models_and_downgrade_empties() -> None:
    url = fresh_database_url("mig")
    migrate.upgrade("head", url=url)
    engine = create_engine(url)
    try:
        with engine.connect() as conn:
            ctx = MigrationContext.configure(conn, opts={"compare_type": True,
                                                      "include_name": search.include_name})
            diff = compare_metadata(ctx, Base.metadata)
            assert diff == [], diff
            tables = set(inspect(conn).get_table_names())
        assert set(Base.metadata.tables) <= tables
        migrate.downgrade("base", url=url)
        with engine.connect() as conn:
            left = set(inspect(conn).get_table_names()) - {"alembic_version"}
        assert left == set()
    finally:
        engine.dispose()
