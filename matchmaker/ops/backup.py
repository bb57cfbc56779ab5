"""Backup and restore of the whole database, consistent while the server is serving.

Formats:

- ``sqlite``: a SQLite database file made with SQLite's online backup API, which copies a
  single snapshot (in WAL mode writers go on meanwhile). Restored into SQLite the same way.
- ``pg_dump``: a PostgreSQL custom-format archive from ``pg_dump`` (one snapshot), restored
  with ``pg_restore`` in a single transaction.
- ``jsonl``: a logical dump that any backend reads and writes: one header line, then per table
  (foreign-key order) a line naming it and its columns and one JSON array per row. It is
  written inside one REPEATABLE READ transaction (one read transaction on SQLite) and used
  for PostgreSQL when ``pg_dump`` is not on PATH, or on request; ``.gz`` names are gzipped.

A restore refuses a database that holds any row (the Alembic version aside) unless forced,
refuses a backup whose tables or columns the target lacks (that would lose data), and writes
everything in one transaction, so a failed restore leaves the target as it was.
"""

import base64
import gzip
import json
import os
import shutil
import sqlite3
import subprocess
import time
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import date, datetime
from datetime import time as dtime
from decimal import Decimal
from pathlib import Path
from typing import IO, Any

from sqlalchemy import (
    Connection,
    Engine,
    MetaData,
    Table,
    create_engine,
    func,
    inspect,
    select,
    text,
)
from sqlalchemy.engine import make_url

from matchmaker.firms import search

FORMATS = ("auto", "native", "jsonl")
JSONL_FORMAT = "matchmaker-jsonl"
JSONL_VERSION = 1
ALEMBIC_TABLE = "alembic_version"
BATCH = 1000


class BackupError(Exception):
    """A backup or restore that cannot be done, with the reason for a person."""


class RestoreRefused(BackupError):
    """A restore that would overwrite or lose data."""


@dataclass
class Result:
    """What a backup or restore did."""

    action: str
    path: Path
    format: str
    tables: int
    rows: int | None
    seconds: float

    def describe(self) -> str:
        """Return a one-line summary."""
        rows = "" if self.rows is None else f", {self.rows} rows"
        size = ""
        if self.action == "backup" and self.path.exists():
            size = f", {self.path.stat().st_size / 1e6:.1f} MB"
        verb = "Backed up to" if self.action == "backup" else "Restored from"
        return (f"{verb} {self.path} ({self.format}): {self.tables} tables{rows}{size} "
                f"in {self.seconds:.2f} s")


# ------------------------------------------------------------------------------- helpers


def _is_sqlite(url: str) -> bool:
    return make_url(url).get_backend_name() == "sqlite"


def _sqlite_file(url: str) -> Path:
    database = make_url(url).database
    if not database or database == ":memory:" or database.startswith("file::memory:"):
        raise BackupError("an in-memory SQLite database cannot be backed up or restored")
    return Path(database)


def _engine(url: str) -> Engine:
    from matchmaker.db import make_engine

    return make_engine(url)


def _pg_dsn_env(url: str) -> tuple[str, dict[str, str]]:
    """Return a libpq URL without the password, and an environment carrying it."""
    u = make_url(url)
    env = dict(os.environ)
    if u.password:
        env["PGPASSWORD"] = str(u.password)
    dsn = u.set(drivername="postgresql", password=None).render_as_string(hide_password=False)
    return dsn, env


def detect_format(path: Path) -> str:
    """Tell a backup file's format from its first bytes."""
    with open(path, "rb") as fh:
        head = fh.read(64)
    if head.startswith(b"SQLite format 3\x00"):
        return "sqlite"
    if head.startswith(b"PGDMP"):
        return "pg_dump"
    if head.startswith(b"\x1f\x8b"):
        return "jsonl"
    if head.lstrip().startswith(b"{"):
        return "jsonl"
    raise BackupError(f"{path} is not a Matchmaker backup (SQLite file, pg_dump archive or "
                      "JSON lines)")


def _data_table(name: str, _meta: MetaData) -> bool:
    """Reflect the tables that hold data, not the search index's (rebuilt from `firm`)."""
    return not search.is_search_object(name, "table")


def data_tables(conn: Connection) -> list[str]:
    """Return the database's tables that hold data (not Alembic's, not SQLite's own)."""
    names = inspect(conn).get_table_names()
    return [n for n in names if n != ALEMBIC_TABLE and not n.startswith("sqlite_")
            and not search.is_search_object(n, "table")]


def is_empty(url: str) -> bool:
    """Tell whether the database holds no row outside the Alembic version table."""
    if _is_sqlite(url) and not _sqlite_file(url).exists():
        return True
    engine = _engine(url)
    try:
        with engine.connect() as conn:
            for name in data_tables(conn):
                if conn.execute(text(f"SELECT 1 FROM {_quoted(conn, name)} LIMIT 1")).first():
                    return False
        return True
    finally:
        engine.dispose()


def _quoted(conn: Connection, name: str) -> str:
    return conn.dialect.identifier_preparer.quote(name)


def _refuse_unless_empty(url: str, force: bool) -> None:
    if not force and not is_empty(url):
        raise RestoreRefused("the target database is not empty; restore over it only with "
                             "--force (its current content will be replaced)")


# ------------------------------------------------------------------------------- backup


def backup(url: str, path: str | Path, *, fmt: str = "auto") -> Result:
    """Write a consistent copy of the database at `url` to `path` (atomically replaced)."""
    if fmt not in FORMATS:
        raise BackupError(f"unknown format {fmt!r}: use one of {', '.join(FORMATS)}")
    dest = Path(path)
    if dest.parent and not dest.parent.exists():
        raise BackupError(f"folder {dest.parent} does not exist")
    partial = dest.with_name(dest.name + ".partial")
    t0 = time.perf_counter()
    try:
        if fmt == "jsonl":
            kind, tables, rows = "jsonl", *_dump_jsonl(url, partial, gz=dest.suffix == ".gz")
        elif _is_sqlite(url):
            kind, tables, rows = "sqlite", *_backup_sqlite(url, partial)
        elif shutil.which("pg_dump") and _pg_dump(url, partial):
            kind, tables, rows = "pg_dump", _pg_archive_tables(partial), None
        else:
            kind, tables, rows = "jsonl", *_dump_jsonl(url, partial, gz=dest.suffix == ".gz")
        os.replace(partial, dest)
    finally:
        partial.unlink(missing_ok=True)
    return Result("backup", dest, kind, tables, rows, time.perf_counter() - t0)


def _backup_sqlite(url: str, partial: Path) -> tuple[int, int]:
    source = _sqlite_file(url)
    if not source.exists():
        raise BackupError(f"no database at {source}")
    partial.unlink(missing_ok=True)
    src = sqlite3.connect(source, timeout=30)
    dst = sqlite3.connect(partial)
    try:
        # pages=-1: one step, one read snapshot; in WAL mode writers are not blocked.
        src.backup(dst, pages=-1)
        dst.execute("PRAGMA journal_mode=DELETE")  # a single self-contained file
        problem = dst.execute("PRAGMA quick_check").fetchone()[0]
        if problem != "ok":
            raise BackupError(f"the copy failed its integrity check: {problem}")
        return _sqlite_counts(dst)
    finally:
        src.close()
        dst.close()


def _sqlite_counts(conn: sqlite3.Connection) -> tuple[int, int]:
    names = [r[0] for r in conn.execute(
        "SELECT name FROM sqlite_master WHERE type='table' AND name NOT LIKE 'sqlite_%'")
        if not search.is_search_object(r[0], "table")]
    rows = sum(conn.execute(f'SELECT count(*) FROM "{n}"').fetchone()[0] for n in names)
    return len(names), rows


def _pg_dump(url: str, partial: Path) -> bool:
    """Run pg_dump; False when its version cannot dump this server (then use JSON lines)."""
    dsn, env = _pg_dsn_env(url)
    proc = subprocess.run(
        ["pg_dump", "--format=custom", "--no-owner", "--no-privileges", "--file", str(partial),
         "--dbname", dsn],
        env=env, capture_output=True, text=True, check=False,
    )
    if proc.returncode == 0:
        return True
    if "version mismatch" in proc.stderr:
        return False
    raise BackupError(f"pg_dump failed: {proc.stderr.strip()}")


def _pg_archive_tables(archive: Path) -> int:
    proc = subprocess.run(["pg_restore", "--list", str(archive)], capture_output=True,
                          text=True, check=False)
    return sum(1 for line in proc.stdout.splitlines() if " TABLE DATA " in line)


def _encode(value: Any) -> Any:
    if isinstance(value, datetime | date | dtime):
        return value.isoformat()
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, bytes | bytearray | memoryview):
        return base64.b64encode(bytes(value)).decode("ascii")
    return value


def _open_write(path: Path, gz: bool) -> IO[str]:
    if gz:
        return gzip.open(path, "wt", encoding="utf-8", compresslevel=5)  # type: ignore[return-value]
    return open(path, "w", encoding="utf-8")


def _dump_jsonl(url: str, partial: Path, *, gz: bool) -> tuple[int, int]:
    engine = _engine(url)
    try:
        conn = engine.connect()
        if engine.dialect.name == "postgresql":
            conn = conn.execution_options(isolation_level="REPEATABLE READ")
        with conn, conn.begin(), _open_write(partial, gz) as out:
            if engine.dialect.name == "postgresql":
                conn.exec_driver_sql("SET TRANSACTION READ ONLY")
            meta = MetaData()
            meta.reflect(conn, only=_data_table)
            tables = list(meta.sorted_tables)
            revision = None
            if ALEMBIC_TABLE in meta.tables:
                revision = conn.execute(select(meta.tables[ALEMBIC_TABLE])).scalar()
            header = {"format": JSONL_FORMAT, "version": JSONL_VERSION,
                      "dialect": engine.dialect.name, "alembic_revision": revision,
                      "created_at": datetime.now().astimezone().isoformat(),
                      "tables": [t.name for t in tables]}
            out.write(json.dumps(header) + "\n")
            total = 0
            for table in tables:
                cols = [c.name for c in table.columns]
                out.write(json.dumps({"table": table.name, "columns": cols}) + "\n")
                order = list(table.primary_key.columns) or list(table.columns)
                result = conn.execution_options(stream_results=True, yield_per=BATCH).execute(
                    select(table).order_by(*order))
                for row in result:
                    out.write(json.dumps([_encode(v) for v in row], ensure_ascii=False) + "\n")
                    total += 1
            return len(tables), total
    finally:
        engine.dispose()


# ------------------------------------------------------------------------------ restore


def restore(url: str, path: str | Path, *, force: bool = False) -> Result:
    """Put a backup back into the database at `url`, refusing to overwrite data unless forced."""
    src = Path(path)
    if not src.exists():
        raise BackupError(f"no backup file at {src}")
    kind = detect_format(src)
    t0 = time.perf_counter()
    _refuse_unless_empty(url, force)
    target_sqlite = _is_sqlite(url)
    if kind == "pg_dump":
        if target_sqlite:
            raise BackupError("a pg_dump archive restores only into PostgreSQL; to move data "
                              "between backends make the backup with --format jsonl")
        tables, rows = _pg_restore(url, src), None
    elif kind == "sqlite" and target_sqlite:
        tables, rows = _restore_sqlite(url, src)
    elif kind == "sqlite":
        tables, rows = _load(url, _sqlite_source(src))
    else:
        tables, rows = _load(url, _jsonl_source(src))
    if kind != "sqlite" or not target_sqlite:  # (a SQLite file copy keeps its statistics)
        _analyze(url)
    return Result("restore", src, kind, tables, rows, time.perf_counter() - t0)


def _analyze(url: str) -> None:
    """Gather planner statistics for the rows just loaded.

    Without them PostgreSQL plans the first minutes of queries blind (the registry list sorted
    100k rows on disk instead of reading the name index) until autovacuum gets to the tables.
    """
    engine = _engine(url)
    try:
        with engine.connect() as conn:
            conn.exec_driver_sql("ANALYZE")
            conn.commit()
    finally:
        engine.dispose()


def _restore_sqlite(url: str, backup_file: Path) -> tuple[int, int]:
    target = _sqlite_file(url)
    src = sqlite3.connect(f"file:{backup_file}?mode=ro", uri=True)
    dst = sqlite3.connect(target, timeout=30)
    try:
        problem = src.execute("PRAGMA quick_check").fetchone()[0]
        if problem != "ok":
            raise BackupError(f"the backup failed its integrity check: {problem}")
        # The backup API replaces every page of the target in one write transaction; other
        # connections (a running server) see the restored database on their next read.
        src.backup(dst, pages=-1)
        return _sqlite_counts(dst)
    finally:
        src.close()
        dst.close()


def _pg_restore(url: str, archive: Path) -> int:
    if not shutil.which("pg_restore"):
        raise BackupError("pg_restore is not on PATH: install the PostgreSQL client tools")
    dsn, env = _pg_dsn_env(url)
    proc = subprocess.run(
        ["pg_restore", "--no-owner", "--no-privileges", "--clean", "--if-exists",
         "--single-transaction", "--exit-on-error", "--dbname", dsn, str(archive)],
        env=env, capture_output=True, text=True, check=False,
    )
    if proc.returncode != 0:
        raise BackupError(f"pg_restore failed (nothing was changed): {proc.stderr.strip()}")
    return _pg_archive_tables(archive)


@dataclass
class _Source:
    revision: str | None
    tables: list[str]
    # (table, columns, rows) in foreign-key order; rows are lists in column order.
    chunks: Iterator[tuple[str, list[str], Iterator[list[Any]]]]


def _jsonl_source(path: Path) -> _Source:
    with open(path, "rb") as fh:
        gz = fh.read(2) == b"\x1f\x8b"
    # Closed by the chunks generator once the restore has read every table.
    fh_text: IO[str] = (gzip.open(path, "rt", encoding="utf-8") if gz  # type: ignore[assignment]  # noqa: SIM115
                        else open(path, encoding="utf-8"))  # noqa: SIM115
    header = json.loads(fh_text.readline() or "{}")
    if header.get("format") != JSONL_FORMAT:
        fh_text.close()
        raise BackupError(f"{path} is not a Matchmaker JSON-lines backup")
    if header.get("version") != JSONL_VERSION:
        fh_text.close()
        raise BackupError(f"backup format version {header.get('version')} is not supported")
    lines = iter(fh_text)

    def chunks() -> Iterator[tuple[str, list[str], Iterator[list[Any]]]]:
        with fh_text:
            pending: str | None = next(lines, None)
            while pending is not None:
                meta = json.loads(pending)
                pending = None

                def rows() -> Iterator[list[Any]]:
                    nonlocal pending
                    for line in lines:
                        if line.startswith("{"):
                            pending = line
                            return
                        yield json.loads(line)

                yield meta["table"], meta["columns"], rows()

    return _Source(header.get("alembic_revision"), list(header.get("tables", [])), chunks())


def _sqlite_source(path: Path) -> _Source:
    # Read-only: reading a backup must not change it (no WAL switch, no journal).
    engine = create_engine(
        "sqlite://", creator=lambda: sqlite3.connect(f"file:{path}?mode=ro", uri=True))
    with engine.connect() as conn:
        meta = MetaData()
        meta.reflect(conn, only=_data_table)
        revision = None
        if ALEMBIC_TABLE in meta.tables:
            revision = conn.execute(select(meta.tables[ALEMBIC_TABLE])).scalar()
    tables = list(meta.sorted_tables)

    def chunks() -> Iterator[tuple[str, list[str], Iterator[list[Any]]]]:
        try:
            with engine.connect() as conn:
                for table in tables:
                    order = list(table.primary_key.columns) or list(table.columns)
                    result = conn.execution_options(yield_per=BATCH).execute(
                        select(table).order_by(*order))
                    yield (table.name, [c.name for c in table.columns],
                           ([_encode(v) for v in row] for row in result))
        finally:
            engine.dispose()

    return _Source(revision, [t.name for t in tables], chunks())


def _decoder(column: Any) -> Any:
    try:
        kind = column.type.python_type
    except NotImplementedError:
        return None
    if kind is datetime:
        return datetime.fromisoformat
    if kind is date:
        return date.fromisoformat
    if kind is dtime:
        return dtime.fromisoformat
    if kind is bytes:
        return base64.b64decode
    if kind is Decimal:
        return Decimal
    return None


def _ensure_schema(url: str, engine: Engine, source: _Source) -> None:
    """Create the schema in a target that has none of the backup's tables."""
    with engine.connect() as conn:
        existing = set(inspect(conn).get_table_names())
    if existing & (set(source.tables) - {ALEMBIC_TABLE}):
        return
    from matchmaker import migrate
    from matchmaker.models import Base

    if source.revision:
        try:
            migrate.upgrade(source.revision, url=url)
            return
        except Exception as exc:
            raise BackupError(f"cannot create the schema at revision {source.revision}: {exc}"
                              ) from exc
    Base.metadata.create_all(engine)


def _load(url: str, source: _Source) -> tuple[int, int]:
    engine = _engine(url)
    try:
        _ensure_schema(url, engine, source)
        with engine.connect() as conn, conn.begin():
            meta = MetaData()
            meta.reflect(conn, only=_data_table)
            if ALEMBIC_TABLE in source.tables and ALEMBIC_TABLE not in meta.tables:
                conn.execute(text(f"CREATE TABLE {ALEMBIC_TABLE} (version_num VARCHAR(32) NOT "
                                  f"NULL, CONSTRAINT {ALEMBIC_TABLE}_pkc PRIMARY KEY "
                                  "(version_num))"))
                meta.reflect(conn, only=[ALEMBIC_TABLE], extend_existing=True)
            missing = [t for t in source.tables if t not in meta.tables]
            if missing:
                raise RestoreRefused("the target database lacks tables the backup has: "
                                     + ", ".join(missing) + " (upgrade it first)")
            _clear(conn, meta)
            total = 0
            for name, columns, rows in source.chunks:
                table = meta.tables[name]
                absent = [c for c in columns if c not in table.columns]
                if absent:
                    raise RestoreRefused(f"table {name} of the target lacks columns "
                                         f"{', '.join(absent)} (upgrade it first)")
                total += _insert(conn, table, columns, rows)
            if conn.dialect.name == "postgresql":
                _reset_sequences(conn, meta.sorted_tables)
        return len(source.tables), total
    finally:
        engine.dispose()


def _clear(conn: Connection, meta: MetaData) -> None:
    """Delete every row of the target (it was found empty, or the restore is forced)."""
    tables = list(meta.sorted_tables)
    if not tables:
        return
    if conn.dialect.name == "postgresql":
        names = ", ".join(_quoted(conn, t.name) for t in tables)
        conn.execute(text(f"TRUNCATE {names} RESTART IDENTITY CASCADE"))
        return
    if conn.dialect.name == "sqlite":
        conn.exec_driver_sql("PRAGMA defer_foreign_keys=ON")
    for table in reversed(tables):
        conn.execute(table.delete())


def _insert(conn: Connection, table: Table, columns: list[str],
            rows: Iterable[list[Any]]) -> int:
    decoders = [_decoder(table.columns[c]) for c in columns]
    batch: list[dict[str, Any]] = []
    count = 0
    for row in rows:
        batch.append({c: (d(v) if d is not None and v is not None else v)
                      for c, d, v in zip(columns, decoders, row, strict=True)})
        if len(batch) >= BATCH:
            conn.execute(table.insert(), batch)
            count += len(batch)
            batch = []
    if batch:
        conn.execute(table.insert(), batch)
        count += len(batch)
    return count


def _reset_sequences(conn: Connection, tables: Iterable[Table]) -> None:
    """Move each serial/identity sequence past the highest restored id."""
    for table in tables:
        pk = list(table.primary_key.columns)
        if len(pk) != 1:
            continue
        col = pk[0]
        seq = conn.execute(select(func.pg_get_serial_sequence(
            _quoted(conn, table.name), col.name))).scalar()
        if seq is None:
            continue
        top = conn.execute(select(func.max(col))).scalar()
        if top is None:
            conn.execute(select(func.setval(seq, 1, False)))
        else:
            conn.execute(select(func.setval(seq, int(top), True)))
