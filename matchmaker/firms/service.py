"""Firm registry services: create, update, delete, search, CSV import and export."""

import csv
import io
import math
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import Select, exists, false, func, insert, or_, select
from sqlalchemy.orm import Session, selectinload
from sqlalchemy.orm.exc import StaleDataError

from matchmaker.db import utcnow
from matchmaker.firms import search
from matchmaker.firms.models import Firm, FirmAteco, FirmChange, FirmGoal, FirmImport
from matchmaker.firms.schemas import (
    ALL_COLUMNS,
    CSV_COLUMNS,
    FirmData,
    FirmInvalid,
    sme_class,
    validate_firm,
)
from matchmaker.i18n import gettext as _

# Rows per bulk INSERT when importing (well under SQLite's and PostgreSQL's parameter limits).
BULK_CHUNK = 500
FIRM_TABLE = Firm.__table__
# Called with (session, firm_ids) after firms change, e.g. to refresh the recommender index.
change_listeners: list[Callable[[Session, set[int]], None]] = []


class FirmConflict(Exception):
    """The firm changed since the caller read it."""


@dataclass
class Page:
    items: Sequence[Any]
    total: int
    page: int
    per_page: int

    @property
    def pages(self) -> int:
        """Return the number of pages (at least 1)."""
        return max(1, math.ceil(self.total / self.per_page)) if self.per_page else 1


@dataclass
class FirmFilters:
    q: str | None = None
    region: str | None = None
    province: str | None = None
    ateco: str | None = None
    goal: str | None = None
    sme_class: str | None = None


def _notify(session: Session, ids: Iterable[int]) -> None:
    """Record changed firms in the change feed (same transaction) and tell in-process listeners."""
    ids = [i for i in ids if i is not None]
    if not ids:
        return
    now = utcnow()
    session.execute(insert(FirmChange.__table__), [{"firm_id": i, "changed_at": now} for i in ids])
    for listener in change_listeners:
        listener(session, set(ids))


def change_watermark(session: Session) -> int:
    """Return the id of the latest entry of the change feed (0 when empty)."""
    return int(session.scalar(select(func.max(FirmChange.id))) or 0)


def changes_since(session: Session, watermark: int) -> tuple[int, set[int]]:
    """Return the new watermark and the ids of firms changed after `watermark`."""
    rows = session.execute(
        select(FirmChange.id, FirmChange.firm_id).where(FirmChange.id > watermark)
    ).all()
    if not rows:
        return watermark, set()
    return max(r[0] for r in rows), {r[1] for r in rows}


def firm_rows(session: Session, ids: Iterable[int] | None = None) -> list[dict[str, Any]]:
    """Return plain rows of firms (all, or the given ids) for the recommender index."""
    stmt = select(
        Firm.id, Firm.partita_iva, Firm.name, Firm.ateco_code, Firm.ateco_edition,
        Firm.comune_istat, Firm.sme_class, Firm.offers, Firm.needs, Firm.visibility,
    )
    id_list = list(ids) if ids is not None else None
    out: dict[int, dict[str, Any]] = {}
    chunks = [None] if id_list is None else [id_list[i:i + 900] for i in range(0, len(id_list), 900)]
    for chunk in chunks:
        q = stmt if chunk is None else stmt.where(Firm.id.in_(chunk))
        for r in session.execute(q.order_by(Firm.id)):
            out[r.id] = {**r._mapping, "goals": [], "secondary": []}
        gq = select(FirmGoal.firm_id, FirmGoal.goal)
        sq = select(FirmAteco.firm_id, FirmAteco.code, FirmAteco.edition).order_by(
            FirmAteco.firm_id, FirmAteco.position)
        if chunk is not None:
            gq = gq.where(FirmGoal.firm_id.in_(chunk))
            sq = sq.where(FirmAteco.firm_id.in_(chunk))
        for fid, goal in session.execute(gq):
            if fid in out:
                out[fid]["goals"].append(goal)
        for fid, code, edition in session.execute(sq):
            if fid in out:
                out[fid]["secondary"].append((code, edition))
    return list(out.values())


def _firm_values(data: FirmData) -> dict[str, Any]:
    """Return the firm's own columns (not its codes and goals) for validated data."""
    c = data.comune
    return {
        "name": data.name,
        "legal_form": data.legal_form,
        "ateco_code": data.ateco.code,
        "ateco_edition": data.ateco.edition,
        "sector_division": data.ateco.sector_division,
        "comune_istat": c.istat,
        "comune_name": c.name,
        "province": c.province,
        "region_code": c.region_code,
        "lat": c.lat,
        "lng": c.lng,
        "employees": data.employees,
        "turnover_eur": data.turnover_eur,
        "sme_class": sme_class(data.employees, data.turnover_eur),
        "offers": data.offers,
        "needs": data.needs,
        "description": data.description,
        "email": data.email,
        "website": data.website,
        "visibility": data.visibility,
    }


def _secondary_values(data: FirmData) -> list[tuple[str, str, str]]:
    """Return the distinct secondary (code, edition, division), without the primary code."""
    wanted = [(s.code, s.edition, s.sector_division) for s in data.secondary
              if s.code != data.ateco.code]
    seen: set[str] = set()
    return [w for w in wanted if not (w[0] in seen or seen.add(w[0]))]


def _apply(firm: Firm, data: FirmData) -> None:
    for key, value in _firm_values(data).items():
        setattr(firm, key, value)
    unique = _secondary_values(data)
    current = [(s.code, s.edition, s.sector_division) for s in firm.secondary_codes]
    if current != unique:
        firm.secondary_codes.clear()
        for pos, (code, edition, division) in enumerate(unique):
            firm.secondary_codes.append(
                FirmAteco(position=pos, code=code, edition=edition, sector_division=division)
            )
    if sorted(firm.goals) != sorted(data.goals):
        keep = {g.goal: g for g in firm.goal_links}
        firm.goal_links[:] = [keep.get(g) or FirmGoal(goal=g) for g in sorted(set(data.goals))]


def _insert_new(session: Session, batch: list[FirmData]) -> dict[str, int]:
    """Insert new firms with their codes and goals in bulk; return partita IVA -> id.

    The ORM unit of work costs about a millisecond per firm; bulk INSERTs keep a 50,000-row
    import well under a minute.
    """
    # Core (table) INSERTs: the ORM's bulk path splits rows by which values are None.
    ids: dict[str, int] = {}
    now = utcnow()
    for start in range(0, len(batch), BULK_CHUNK):
        chunk = batch[start:start + BULK_CHUNK]
        rows = [{"partita_iva": d.partita_iva, **_firm_values(d), "version": 1,
                 "created_at": now, "updated_at": now} for d in chunk]
        result = session.execute(
            insert(FIRM_TABLE).returning(FIRM_TABLE.c.id, FIRM_TABLE.c.partita_iva), rows
        )
        ids.update({piva: fid for fid, piva in result})
        codes = [{"firm_id": ids[d.partita_iva], "position": pos, "code": code,
                  "edition": edition, "sector_division": division}
                 for d in chunk for pos, (code, edition, division) in enumerate(_secondary_values(d))]
        goals = [{"firm_id": ids[d.partita_iva], "goal": g} for d in chunk for g in sorted(set(d.goals))]
        if codes:
            session.execute(insert(FirmAteco.__table__), codes)
        if goals:
            session.execute(insert(FirmGoal.__table__), goals)
    return ids


def get_firm(session: Session, partita_iva: str) -> Firm | None:
    """Return the firm with this partita IVA (11 digits, IT prefix tolerated), or None."""
    piva = partita_iva.upper().removeprefix("IT").replace(" ", "")
    return session.scalars(
        select(Firm)
        .where(Firm.partita_iva == piva)
        .options(selectinload(Firm.secondary_codes), selectinload(Firm.goal_links))
    ).one_or_none()


def create_firm(session: Session, *, data: FirmData) -> Firm:
    """Register a new firm, refusing a partita IVA that is already registered."""
    taken = session.scalar(select(Firm.id).where(Firm.partita_iva == data.partita_iva))
    if taken is not None:
        raise FirmInvalid(
            {"partita_iva": _("a firm with partita IVA %(piva)s is already registered")
             % {"piva": data.partita_iva}}
        )
    firm = Firm(partita_iva=data.partita_iva)
    firm.secondary_codes = []
    firm.goal_links = []
    _apply(firm, data)
    session.add(firm)
    session.flush()
    _notify(session, [firm.id])
    return firm


def update_firm(
    session: Session, *, firm: Firm, data: FirmData, expected_version: int | None = None
) -> Firm:
    """Save new values over a firm; a stale expected_version raises FirmConflict."""
    if data.partita_iva != firm.partita_iva:
        raise FirmInvalid({"partita_iva": _("the partita IVA of a registered firm cannot change")})
    if expected_version is not None and expected_version != firm.version:
        raise FirmConflict(firm.version)
    try:
        # In a savepoint: when a concurrent save won the race past the check above (the
        # version column makes the UPDATE match no row), only this save is undone and the
        # session can still read the firm's current version.
        with session.begin_nested():
            _apply(firm, data)
            session.flush()
    except StaleDataError as exc:
        raise FirmConflict(firm.version) from exc
    _notify(session, [firm.id])
    return firm


def firm_to_input(firm: Firm) -> dict[str, Any]:
    """Return a firm as FirmIn-shaped values (for edit forms and PATCH merges)."""
    return {
        "partita_iva": firm.partita_iva,
        "name": firm.name,
        "legal_form": firm.legal_form,
        "ateco": firm.ateco_code,
        "ateco_edition": firm.ateco_edition,
        "ateco_secondary": [s.code for s in firm.secondary_codes],
        "comune_istat": firm.comune_istat,
        "employees": firm.employees,
        "turnover_eur": firm.turnover_eur,
        "offers": firm.offers,
        "needs": firm.needs,
        "goals": firm.goals,
        "email": firm.email,
        "website": firm.website,
        "description": firm.description,
        "visibility": firm.visibility,
    }


def patch_firm(session: Session, *, firm: Firm, changes: dict[str, Any]) -> Firm:
    """Apply a partial change (API PATCH): merge, revalidate everything, save."""
    changes = dict(changes)
    expected = changes.pop("version", None)
    merged = firm_to_input(firm)
    if "comune" in changes or "province" in changes:
        merged.pop("comune_istat", None)
    if "ateco" in changes and "ateco_edition" not in changes:
        merged["ateco_edition"] = None
    merged.update(changes)
    data = validate_firm(merged)
    return update_firm(session, firm=firm, data=data, expected_version=expected)


def delete_firm(session: Session, *, firm: Firm) -> None:
    """Delete a firm and everything that hangs off it."""
    fid = firm.id
    session.delete(firm)
    session.flush()
    _notify(session, [fid])


def _filtered(stmt: Select, f: FirmFilters, dialect: str) -> Select:
    if f.q:
        digits = f.q.strip().upper().removeprefix("IT").replace(" ", "")
        stmt = stmt.where(or_(search.match(dialect, f.q), Firm.partita_iva == digits))
    if f.region:
        stmt = stmt.where(Firm.region_code == f.region.zfill(2))
    if f.province:
        stmt = stmt.where(Firm.province == f.province.upper())
    if f.ateco:
        prefix = f.ateco.strip()
        stmt = stmt.where(
            or_(
                Firm.ateco_code.startswith(prefix),
                exists().where(FirmAteco.firm_id == Firm.id, FirmAteco.code.startswith(prefix)),
            )
        )
    if f.goal:
        stmt = stmt.where(exists().where(FirmGoal.firm_id == Firm.id, FirmGoal.goal == f.goal))
    if f.sme_class:
        stmt = stmt.where(Firm.sme_class == f.sme_class)
    return stmt


def visibility_clause(*, see_all: bool, own_firm_ids: Iterable[int] = (),
                      association_firm_ids: Iterable[int] = ()) -> Any:
    """Return the SQL condition for the firms a viewer may see in lists."""
    if see_all:
        return ~false()
    own = list(own_firm_ids)
    assoc = list(association_firm_ids)
    cond = Firm.visibility == "public"
    if own:
        cond = or_(cond, Firm.id.in_(own))
    if assoc:
        cond = or_(cond, (Firm.id.in_(assoc)) & (Firm.visibility == "association"))
    return cond


def scope_clause(*, ids: Any = None, exclude_ids: Any = None, region: str | None = None,
                 province: str | None = None, visibility: str | None = None) -> Any:
    """Return an SQL condition for `visible=` arguments: firm ids in (or not in) a list or a
    SELECT of ids, a region, a province, a visibility (any of them, all combined)."""
    cond: Any = ~false()
    if visibility is not None:
        cond = cond & (Firm.visibility == visibility)
    if ids is not None:
        cond = cond & Firm.id.in_(ids)
    if exclude_ids is not None:
        cond = cond & Firm.id.not_in(exclude_ids)
    if region:
        cond = cond & (Firm.region_code == region.zfill(2))
    if province:
        cond = cond & (Firm.province == province.upper())
    return cond


def firm_ids(session: Session, *, where: Any) -> list[int]:
    """Return the ids of the firms matching an SQL condition (from these helpers)."""
    return list(session.scalars(select(Firm.id).where(where).order_by(Firm.id)))


def list_firms(
    session: Session,
    *,
    filters: FirmFilters,
    page: int = 1,
    per_page: int = 25,
    visible: Any = None,
    order: str = "name",
) -> Page:
    """Return one page of firms matching the filters, among those the viewer may see."""
    page = max(1, page)
    per_page = min(max(1, per_page), 200)
    base = _filtered(select(Firm), filters, session.get_bind().dialect.name)
    if visible is not None:
        base = base.where(visible)
    total = session.scalar(select(func.count()).select_from(base.subquery())) or 0
    order_by = {"name": Firm.name, "-name": Firm.name.desc(), "-updated": Firm.updated_at.desc(),
                "comune": Firm.comune_name, "-comune": Firm.comune_name.desc(),
                "ateco": Firm.ateco_code, "-ateco": Firm.ateco_code.desc()}
    items = session.scalars(
        base.order_by(order_by.get(order, Firm.name), Firm.id)
        .options(selectinload(Firm.secondary_codes), selectinload(Firm.goal_links))
        .offset((page - 1) * per_page)
        .limit(per_page)
    ).all()
    return Page(items=items, total=total, page=page, per_page=per_page)


# ---------------------------------------------------------------- CSV import / export


@dataclass
class RowError:
    line: int
    column: str
    reason: str


@dataclass
class ImportReport:
    rows: int = 0
    created: int = 0
    updated: int = 0
    unchanged: int = 0
    rejected_rows: int = 0
    errors: list[RowError] = field(default_factory=list)
    file_errors: list[str] = field(default_factory=list)
    committed: bool = False
    dry_run: bool = False
    firm_ids: list[int] = field(default_factory=list)
    detected_edition: str | None = None

    @property
    def ok(self) -> bool:
        """Tell whether the file had no bad row and no file-level problem."""
        return not self.errors and not self.file_errors


def firm_to_row(firm: Firm) -> dict[str, str]:
    """Return a firm as one CSV row (all columns, strings)."""
    return {
        "partita_iva": firm.partita_iva,
        "name": firm.name,
        "ateco": firm.ateco_code,
        "ateco_secondary": ";".join(s.code for s in firm.secondary_codes),
        "comune_istat": firm.comune_istat,
        "comune": firm.comune_name,
        "province": firm.province,
        "employees": "" if firm.employees is None else str(firm.employees),
        "turnover_eur": "" if firm.turnover_eur is None else str(firm.turnover_eur),
        "offers": firm.offers or "",
        "needs": firm.needs or "",
        "goals": ";".join(firm.goals),
        "email": firm.email or "",
        "website": firm.website or "",
        "description": firm.description or "",
        "legal_form": firm.legal_form or "",
        "ateco_edition": firm.ateco_edition,
        "visibility": firm.visibility,
    }


def export_csv(session: Session, *, visible: Any = None, filters: FirmFilters | None = None) -> str:
    """Write firms to CSV text in the import format."""
    stmt = _filtered(select(Firm), filters or FirmFilters(), session.get_bind().dialect.name)
    if visible is not None:
        stmt = stmt.where(visible)
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=ALL_COLUMNS, lineterminator="\n")
    writer.writeheader()
    for firm in session.scalars(
        stmt.order_by(Firm.partita_iva).options(
            selectinload(Firm.secondary_codes), selectinload(Firm.goal_links)
        )
    ).yield_per(1000):
        writer.writerow(firm_to_row(firm))
    return out.getvalue()


def _validate_row(values: dict[str, str], default_edition: str | None) -> FirmData:
    """Validate a CSV row, reading its ATECO codes in the file's edition when one was detected."""
    if default_edition and not values.get("ateco_edition"):
        try:
            return validate_firm({**values, "ateco_edition": default_edition}, from_text=True)
        except FirmInvalid as exc:
            if set(exc.errors) - {"ateco", "ateco_secondary"}:
                raise
    return validate_firm(values, from_text=True)


def _row_lines(text: str, n: int) -> list[int]:
    """Return the file line on which each data row starts (quoted cells may span lines)."""
    reader = csv.reader(io.StringIO(text, newline=""))
    next(reader, None)
    starts = []
    prev = reader.line_num
    for row in reader:
        if row != []:  # csv.DictReader skips empty lines too
            starts.append(prev + 1)
        prev = reader.line_num
    return starts[:n]


def decode_csv(content: bytes) -> str:
    """Decode an uploaded CSV as UTF-8 (BOM allowed) or raise FirmInvalid with the position."""
    try:
        return content.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = content[: exc.start].count(b"\n") + 1
        raise FirmInvalid(
            {"file": _("the file is not UTF-8 text (bad byte at line %(line)s); save it as "
                       "CSV UTF-8 and upload it again") % {"line": line}}
        ) from None


def import_csv(
    session: Session,
    *,
    content: bytes | str,
    skip_invalid: bool = False,
    dry_run: bool = False,
    on_progress: Callable[[int], None] | None = None,
    can_update: Callable[[Firm], bool] | None = None,
) -> ImportReport:
    """Import firms from CSV: report every bad row; all-or-nothing unless skip_invalid.

    A row whose partita IVA is registered already updates that firm, if `can_update` allows.
    """
    report = ImportReport(dry_run=dry_run)
    try:
        text = decode_csv(content) if isinstance(content, bytes) else content
    except FirmInvalid as exc:
        report.file_errors.append(exc.errors["file"])
        return report
    if not text.strip():
        report.file_errors.append(_("the file is empty"))
        return report
    try:
        dialect_delim = csv.Sniffer().sniff(text.split("\n", 1)[0], delimiters=",;\t").delimiter
    except csv.Error:
        dialect_delim = ","
    if dialect_delim != ",":
        report.file_errors.append(
            _("columns must be separated by commas (this file uses %(d)r)") % {"d": dialect_delim}
        )
        return report
    reader = csv.DictReader(io.StringIO(text, newline=""))
    header = [h.strip() for h in (reader.fieldnames or [])]
    if not header or "partita_iva" not in header:
        report.file_errors.append(
            _("missing header row: the first line must name the columns (%(cols)s)")
            % {"cols": ", ".join(CSV_COLUMNS)}
        )
        return report
    unknown = [h for h in header if h not in ALL_COLUMNS]
    if unknown:
        report.file_errors.append(_("unknown columns: %(cols)s") % {"cols": ", ".join(unknown)})
    missing = [c for c in ("partita_iva", "name", "ateco") if c not in header]
    if "comune_istat" not in header and "comune" not in header:
        missing.append("comune_istat / comune")
    if missing:
        report.file_errors.append(_("missing columns: %(cols)s") % {"cols": ", ".join(missing)})
    dupes = sorted({h for h in header if header.count(h) > 1})
    if dupes:
        report.file_errors.append(_("repeated columns: %(cols)s") % {"cols": ", ".join(dupes)})
    if report.file_errors:
        return report
    reader.fieldnames = header
    try:
        rows_in = list(reader)
    except csv.Error as exc:
        # A value over the csv module's field limit (128 KB), or a stray NUL: nothing is read.
        if "field limit" in str(exc):
            reason = _("a value is longer than %(n)s characters") % {"n": csv.field_size_limit()}
        else:
            reason = str(exc)
        report.file_errors.append(_("line %(line)s cannot be read: %(reason)s")
                                  % {"line": reader.line_num + 1, "reason": reason})
        return report
    default_edition = None
    if "ateco_edition" not in header:
        from matchmaker.refdata import ateco as ateco_ref

        codes = [r.get("ateco") or "" for r in rows_in]
        codes += [c for r in rows_in for c in (r.get("ateco_secondary") or "").split(";")]
        default_edition, _counts = ateco_ref.detect_edition(codes)
        report.detected_edition = default_edition

    valid: list[tuple[int, FirmData]] = []
    seen: dict[str, int] = {}
    line_nums = _row_lines(text, len(rows_in))
    for row, line in zip(rows_in, line_nums, strict=True):
        report.rows += 1
        if None in row:
            report.errors.append(RowError(line, "", _("more values than columns")))
            report.rejected_rows += 1
            continue
        values = {k: (v if v is not None else "") for k, v in row.items()}
        if not any(v.strip() for v in values.values()):
            report.rows -= 1
            continue
        try:
            data = _validate_row(values, default_edition)
        except FirmInvalid as exc:
            report.rejected_rows += 1
            for col, reason in exc.errors.items():
                report.errors.append(RowError(line, col, reason))
            continue
        if data.partita_iva in seen:
            report.rejected_rows += 1
            report.errors.append(
                RowError(line, "partita_iva",
                         _("same partita IVA as line %(line)s") % {"line": seen[data.partita_iva]})
            )
            continue
        seen[data.partita_iva] = line
        valid.append((line, data))
        if on_progress and report.rows % 500 == 0:
            on_progress(report.rows)

    if report.rows == 0:
        report.file_errors.append(_("the file has a header but no rows"))
        return report

    existing_firms: dict[str, Firm] = {}
    pivas = [d.partita_iva for _l, d in valid]
    for chunk_start in range(0, len(pivas), 900):
        chunk = pivas[chunk_start:chunk_start + 900]
        for firm in session.scalars(
            select(Firm).where(Firm.partita_iva.in_(chunk)).options(
                selectinload(Firm.secondary_codes), selectinload(Firm.goal_links)
            )
        ):
            existing_firms[firm.partita_iva] = firm
    if can_update is not None:
        allowed: list[tuple[int, FirmData]] = []
        for line, data in valid:
            firm = existing_firms.get(data.partita_iva)
            if firm is not None and not can_update(firm):
                report.rejected_rows += 1
                report.errors.append(RowError(
                    line, "partita_iva",
                    _("partita IVA %(piva)s belongs to a firm you cannot change")
                    % {"piva": data.partita_iva}))
            else:
                allowed.append((line, data))
        valid = allowed
        report.errors.sort(key=lambda e: e.line)
    if report.errors and not skip_invalid:
        return report
    if dry_run:
        report.updated = sum(1 for _l, d in valid if d.partita_iva in existing_firms)
        report.created = len(valid) - report.updated
        return report

    touched: list[Firm] = []
    new: list[FirmData] = []
    for _line, data in valid:
        firm = existing_firms.get(data.partita_iva)
        if firm is None:
            new.append(data)
            continue
        before = firm_to_row(firm)
        _apply(firm, data)
        if firm_to_row(firm) == before:
            report.unchanged += 1
        else:
            report.updated += 1
        touched.append(firm)
    session.flush()
    new_ids = _insert_new(session, new)
    report.created = len(new)
    by_piva = {f.partita_iva: f.id for f in touched}
    report.firm_ids = [by_piva.get(d.partita_iva) or new_ids[d.partita_iva] for _l, d in valid]
    report.committed = True
    _notify(session, report.firm_ids)
    return report


def report_to_dict(report: ImportReport) -> dict[str, Any]:
    """Return an import report as JSON-ready data."""
    return {
        "rows": report.rows,
        "created": report.created,
        "updated": report.updated,
        "unchanged": report.unchanged,
        "rejected_rows": report.rejected_rows,
        "committed": report.committed,
        "dry_run": report.dry_run,
        "file_errors": report.file_errors,
        "detected_edition": report.detected_edition,
        "errors": [{"line": e.line, "column": e.column, "reason": e.reason} for e in report.errors],
    }


def stage_import(
    session: Session, *, filename: str, content: bytes, user_id: int | None, skip_invalid: bool,
    can_update: Callable[[Firm], bool] | None = None,
) -> tuple[FirmImport, ImportReport]:
    """Check an uploaded file without writing firms, and keep it for confirmation."""
    report = import_csv(session, content=content, skip_invalid=skip_invalid, dry_run=True,
                        can_update=can_update)
    try:
        text = decode_csv(content)
    except FirmInvalid:
        text = ""
    job = FirmImport(
        user_id=user_id,
        filename=filename[:255] or "upload.csv",
        content=text,
        skip_invalid=skip_invalid,
        status="preview" if text else "failed",
        rows=report.rows,
        created=report.created,
        updated=report.updated,
        rejected=report.rejected_rows,
        report=report_to_dict(report),
    )
    session.add(job)
    session.flush()
    return job, report


def get_import(session: Session, import_id: int) -> FirmImport | None:
    """Return a staged or finished import."""
    return session.get(FirmImport, import_id)


def confirm_import(
    session: Session, *, job: FirmImport, can_update: Callable[[Firm], bool] | None = None
) -> ImportReport:
    """Write a previewed import; refuse one already committed."""
    if job.status != "preview":
        raise FirmInvalid({"import": _("this import was already %(status)s") % {"status": job.status}})
    report = import_csv(session, content=job.content, skip_invalid=job.skip_invalid,
                        can_update=can_update)
    job.status = "committed" if report.committed else "rejected"
    job.created, job.updated, job.rejected = report.created, report.updated, report.rejected_rows
    job.report = report_to_dict(report)
    job.content = "" if report.committed else job.content
    session.flush()
    return report


# ---------------------------------------------------------------- counts for reference pages


def count_firms_by_code(
    session: Session, *, region: str | None = None, visible: Any = None
) -> list[tuple[str, str, int]]:
    """Return (primary ATECO code, edition, number of firms) for each code in use."""
    stmt = select(Firm.ateco_code, Firm.ateco_edition, func.count(Firm.id)).group_by(
        Firm.ateco_code, Firm.ateco_edition
    )
    if region:
        stmt = stmt.where(Firm.region_code == region.zfill(2))
    if visible is not None:
        stmt = stmt.where(visible)
    return [(code, edition, int(n)) for code, edition, n in session.execute(stmt)]


def count_firms_by_division(
    session: Session, *, region: str | None = None, visible: Any = None
) -> dict[str, int]:
    """Return the number of firms per sector division (primary code)."""
    stmt = select(Firm.sector_division, func.count(Firm.id)).group_by(Firm.sector_division)
    if region:
        stmt = stmt.where(Firm.region_code == region.zfill(2))
    if visible is not None:
        stmt = stmt.where(visible)
    return {division: int(n) for division, n in session.execute(stmt)}


def count_firms_by_comune(
    session: Session, *, region: str | None = None, visible: Any = None
) -> dict[str, int]:
    """Return the number of firms per comune (ISTAT code)."""
    stmt = select(Firm.comune_istat, func.count(Firm.id)).group_by(Firm.comune_istat)
    if region:
        stmt = stmt.where(Firm.region_code == region.zfill(2))
    if visible is not None:
        stmt = stmt.where(visible)
    return {istat: int(n) for istat, n in session.execute(stmt)}


def firms_with_codes(
    session: Session,
    *,
    codes: Iterable[tuple[str, str]],
    region: str | None = None,
    visible: Any = None,
    limit: int = 5,
) -> list[Firm]:
    """Return up to `limit` firms, by name, whose primary (code, edition) is one of `codes`."""
    pairs = list(codes)
    if not pairs or limit <= 0:
        return []
    cond = or_(*[(Firm.ateco_code == c) & (Firm.ateco_edition == e) for c, e in pairs])
    stmt = select(Firm).where(cond)
    if region:
        stmt = stmt.where(Firm.region_code == region.zfill(2))
    if visible is not None:
        stmt = stmt.where(visible)
    return list(session.scalars(stmt.order_by(Firm.name, Firm.id).limit(limit)))
