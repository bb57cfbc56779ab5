"""Full-text search over firms: name, comune, offers and needs.

A search is a list of words; a firm matches when every word starts one of the words of its
name, comune, offers or needs ("legno" finds "legno" and "legnami"; "olio" no longer finds
"petrolio", as a substring search did). Accents do not matter on SQLite (`perche` finds
`perché`).

- SQLite: an FTS5 table `firm_search` over the `firm` table's columns (external content, so
  the text is stored once), kept in step by three triggers.
- PostgreSQL: a GIN index `ix_firm_search` on the `simple` text-search vector of the same
  columns; a query uses the same expression, so the planner uses the index.
- Any other database: a case-insensitive substring match (no index).

Both are created with the `firm` table (`Base.metadata.create_all`, through a DDL event) and
by the Alembic revision 0002; neither is part of the SQLAlchemy models, so migrations compare
with `include_name` (see `is_search_object`). Caution for future SQLite batch migrations that
rebuild `firm` (`op.batch_alter_table("firm", recreate=...)`): the rebuild drops the triggers;
call `create_sqlite(op.get_bind())` after it.
"""

import re
from typing import Any

from sqlalchemy import Table, and_, event, false, func, literal_column, or_, select, text
from sqlalchemy.engine import Connection
from sqlalchemy.sql.elements import ColumnElement

FTS_TABLE = "firm_search"
PG_INDEX = "ix_firm_search"
COLUMNS = ("name", "comune_name", "offers", "needs")
MAX_WORDS = 12

# The document PostgreSQL indexes and queries: the same text in both places.
PG_DOCUMENT = (
    "to_tsvector('simple'::regconfig, "
    + " || ' ' || ".join(f"coalesce(firm.{c}, '')" for c in COLUMNS)
    + ")"
)

_SQLITE_DDL = [
    f"CREATE VIRTUAL TABLE IF NOT EXISTS {FTS_TABLE} USING fts5("
    + ", ".join(COLUMNS)
    + ", content='firm', content_rowid='id', tokenize='unicode61 remove_diacritics 2')",
    f"""CREATE TRIGGER IF NOT EXISTS {FTS_TABLE}_ai AFTER INSERT ON firm BEGIN
        INSERT INTO {FTS_TABLE}(rowid, {", ".join(COLUMNS)})
        VALUES (new.id, {", ".join("new." + c for c in COLUMNS)});
    END""",
    f"""CREATE TRIGGER IF NOT EXISTS {FTS_TABLE}_ad AFTER DELETE ON firm BEGIN
        INSERT INTO {FTS_TABLE}({FTS_TABLE}, rowid, {", ".join(COLUMNS)})
        VALUES ('delete', old.id, {", ".join("old." + c for c in COLUMNS)});
    END""",
    f"""CREATE TRIGGER IF NOT EXISTS {FTS_TABLE}_au AFTER UPDATE OF {", ".join(COLUMNS)} ON firm
    BEGIN
        INSERT INTO {FTS_TABLE}({FTS_TABLE}, rowid, {", ".join(COLUMNS)})
        VALUES ('delete', old.id, {", ".join("old." + c for c in COLUMNS)});
        INSERT INTO {FTS_TABLE}(rowid, {", ".join(COLUMNS)})
        VALUES (new.id, {", ".join("new." + c for c in COLUMNS)});
    END""",
    # Index the rows already there (a migration of a filled database).
    f"INSERT INTO {FTS_TABLE}({FTS_TABLE}) VALUES ('rebuild')",
]
_SQLITE_DROP = [
    f"DROP TRIGGER IF EXISTS {FTS_TABLE}_ai",
    f"DROP TRIGGER IF EXISTS {FTS_TABLE}_ad",
    f"DROP TRIGGER IF EXISTS {FTS_TABLE}_au",
    f"DROP TABLE IF EXISTS {FTS_TABLE}",
]
_PG_DDL = [f"CREATE INDEX IF NOT EXISTS {PG_INDEX} ON firm USING gin ({PG_DOCUMENT})"]
_PG_DROP = [f"DROP INDEX IF EXISTS {PG_INDEX}"]


def create_sqlite(conn: Connection) -> None:
    """Create (or re-create after a table rebuild) the SQLite FTS table and its triggers."""
    for sql in _SQLITE_DDL:
        conn.exec_driver_sql(sql)


def create(conn: Connection) -> None:
    """Create the search structures for the connection's database."""
    if conn.dialect.name == "sqlite":
        create_sqlite(conn)
    elif conn.dialect.name == "postgresql":
        for sql in _PG_DDL:
            conn.exec_driver_sql(sql)


def drop(conn: Connection) -> None:
    """Drop the search structures (before the `firm` table goes)."""
    statements = {"sqlite": _SQLITE_DROP, "postgresql": _PG_DROP}.get(conn.dialect.name, [])
    for sql in statements:
        conn.exec_driver_sql(sql)


def attach(table: Table) -> None:
    """Create and drop the search structures together with `table` (create_all/drop_all)."""
    event.listen(table, "after_create", lambda _t, conn, **_kw: create(conn))
    event.listen(table, "before_drop", lambda _t, conn, **_kw: drop(conn))


def is_search_object(name: str | None, type_: str, parent_names: Any = None) -> bool:
    """Tell whether a database object belongs to the search (for Alembic's include_name)."""
    if not name:
        return False
    if type_ == "table":
        return name == FTS_TABLE or name.startswith(FTS_TABLE + "_")
    return type_ == "index" and name == PG_INDEX


def include_name(name: str | None, type_: str, parent_names: Any) -> bool:
    """Alembic `include_name`: compare everything except the search structures."""
    return not is_search_object(name, type_, parent_names)


def words(query: str) -> list[str]:
    """Return the words of a search, lower-case, at most MAX_WORDS."""
    return re.findall(r"\w+", query.lower())[:MAX_WORDS]


def match(dialect: str, query: str) -> ColumnElement[bool]:
    """Return the condition "the firm's text has every word of the query, as a word prefix"."""
    from matchmaker.firms.models import Firm

    ws = words(query)
    if not ws:
        return false()
    if dialect == "sqlite":
        fts = " ".join(f'"{w}"*' for w in ws)
        rows = select(literal_column("rowid")).select_from(text(FTS_TABLE)).where(
            text(f"{FTS_TABLE} MATCH :firm_fts").bindparams(firm_fts=fts))
        return Firm.id.in_(rows)
    if dialect == "postgresql":
        # The query's words as PostgreSQL's parser splits them (as in the document: "s.r.l" is
        # one word there), each made a prefix, all required.
        return text(
            f"{PG_DOCUMENT} @@ to_tsquery('simple'::regconfig, (SELECT coalesce(string_agg("
            "quote_literal(t.lexeme) || ':*', ' & '), '') FROM unnest(to_tsvector("
            "'simple'::regconfig, :firm_tsq)) AS t))"
        ).bindparams(firm_tsq=" ".join(query.split())[:500])
    conds = []
    for w in ws:
        like = f"%{w}%"
        conds.append(or_(*(func.lower(getattr(Firm, c)).like(like) for c in COLUMNS)))
    return and_(*conds)
