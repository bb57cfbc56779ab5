"""Alembic through its command API: upgrade, downgrade, and where the database stands."""

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Connection

from matchmaker.config import PROJECT_ROOT, get_settings


def alembic_config(url: str | None = None, connection: Connection | None = None) -> Config:
    """Return an Alembic config pointing at our migrations and the given database."""
    cfg = Config(str(PROJECT_ROOT / "alembic.ini"))
    cfg.set_main_option("script_location", str(PROJECT_ROOT / "migrations"))
    cfg.attributes["url"] = url or get_settings().database_url
    if connection is not None:
        cfg.attributes["connection"] = connection
    return cfg


def upgrade(revision: str = "head", url: str | None = None) -> None:
    """Upgrade the database to a revision (head by default)."""
    command.upgrade(alembic_config(url), revision)


def downgrade(revision: str, url: str | None = None) -> None:
    """Downgrade the database to a revision (`base` empties it)."""
    command.downgrade(alembic_config(url), revision)


def head_revision() -> str | None:
    """Return the single head revision of the migration scripts."""
    return ScriptDirectory.from_config(alembic_config()).get_current_head()


def current_revision(connection: Connection) -> str | None:
    """Return the revision the connected database is at."""
    return MigrationContext.configure(connection).get_current_revision()
