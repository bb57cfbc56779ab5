"""Declarative base, engine and the request-scoped session dependency."""

from collections.abc import Iterator
from datetime import UTC, datetime
from functools import lru_cache

from sqlalchemy import DateTime, Engine, MetaData, create_engine, event
from sqlalchemy.orm import DeclarativeBase, Mapped, Session, mapped_column, sessionmaker
from starlette.requests import Request

from matchmaker.config import get_settings

NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


def utcnow() -> datetime:
    """Return the current time, timezone-aware, in UTC."""
    return datetime.now(UTC)


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)


class TimestampMixin:
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), default=utcnow, onupdate=utcnow
    )


def make_engine(url: str) -> Engine:
    """Create an engine with the pragmas and pool sizes each backend needs."""
    settings = get_settings()
    if url.startswith("sqlite"):
        engine = create_engine(url, connect_args={"check_same_thread": False, "timeout": 30})

        @event.listens_for(engine, "connect")
        def _sqlite_pragmas(dbapi_conn, _record):
            cur = dbapi_conn.cursor()
            if ":memory:" not in url:
                cur.execute("PRAGMA journal_mode=WAL")
            cur.execute(f"PRAGMA busy_timeout={settings.sqlite_busy_timeout_ms}")
            cur.execute("PRAGMA foreign_keys=ON")
            cur.execute("PRAGMA synchronous=NORMAL")
            cur.close()
            # pysqlite's own transaction handling emits no BEGIN before a SAVEPOINT; let
            # SQLAlchemy drive transactions (its documented recipe) so savepoints are real.
            dbapi_conn.isolation_level = None

        @event.listens_for(engine, "begin")
        def _sqlite_begin(conn):
            immediate = conn.get_execution_options().get("sqlite_begin") == "IMMEDIATE"
            conn.exec_driver_sql("BEGIN IMMEDIATE" if immediate else "BEGIN")

        return engine
    return create_engine(
        url,
        pool_size=settings.pool_size,
        max_overflow=settings.max_overflow,
        pool_pre_ping=True,
    )


@lru_cache
def get_engine() -> Engine:
    """Return the process-wide engine for the configured database."""
    return make_engine(get_settings().database_url)


@lru_cache
def get_sessionmaker() -> sessionmaker[Session]:
    """Return the session factory bound to the process-wide engine."""
    return sessionmaker(bind=get_engine(), expire_on_commit=False)


# SQLite has one writer at a time. A deferred transaction that has read and then writes fails
# at once ("database is locked", the busy timeout does not apply) if another writer committed
# in between; so a request that means to write takes the write lock when it begins.
WRITE_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})


def get_session(request: Request = None) -> Iterator[Session]:  # type: ignore[assignment]
    """Yield a session that commits on success and rolls back on error.

    While it is open the session is also the request's (`request_session`): code that runs
    inside the request without the dependency, such as a template helper, uses it rather than
    opening a second session, so a request never holds two pool connections at once.
    """
    session = get_sessionmaker()()
    writes = request is not None and request.method in WRITE_METHODS
    if writes and session.get_bind().dialect.name == "sqlite":
        session.connection(execution_options={"sqlite_begin": "IMMEDIATE"})
    if request is not None:
        request.state.db_session = session
    try:
        yield session
        session.commit()
    except BaseException:
        session.rollback()
        raise
    finally:
        session.close()
        if request is not None and getattr(request.state, "db_session", None) is session:
            del request.state.db_session


def request_session(request: Request) -> Session | None:
    """Return the session `get_session` opened for this request while it is still open."""
    return getattr(request.state, "db_session", None)
