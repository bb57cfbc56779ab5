"""Associations: curators, members, member imports, dashboards, shortlists, campaigns.

Functions take a `Session` and keyword-only inputs; they `flush()`, never `commit()` — except
`run_import_job`, which is the body of a background thread and owns its sessions.

Importing this module installs the answer to "which firms share an association with this
user" in `matchmaker.accounts.policy` (curators see their members' association-only profiles,
and so do the people of member firms).
"""

from __future__ import annotations

import csv
import io
import logging
import math
import re
import unicodedata
from collections import Counter
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from itsdangerous import BadSignature, SignatureExpired, URLSafeTimedSerializer
from sqlalchemy import Select, func, insert, inspect, select, update
from sqlalchemy.orm import Session

from matchmaker.accounts import policy
from matchmaker.accounts import service as accounts_service
from matchmaker.accounts.models import User
from matchmaker.associations import charts
from matchmaker.associations.models import (
    ASSOCIATION_KINDS,
    Association,
    AssociationCurator,
    AssociationImport,
    AssociationMember,
    Campaign,
    CampaignInvite,
    Shortlist,
    ShortlistFirm,
)
from matchmaker.config import get_settings
from matchmaker.db import get_sessionmaker, utcnow
from matchmaker.firms import service as firms_service
from matchmaker.firms.models import Firm
from matchmaker.firms.schemas import ALL_COLUMNS, GOALS, FirmInvalid
from matchmaker.i18n import current_language
from matchmaker.i18n import gettext as _
from matchmaker.refdata import ateco as ateco_ref
from matchmaker.refdata import chains as chains_ref
from matchmaker.refdata import places

log = logging.getLogger("matchmaker.associations")

SLUG_RE = re.compile(r"^[a-z0-9](?:[a-z0-9-]{0,58}[a-z0-9])?$")
# Files with more data rows than this are checked and written by a background job.
BACKGROUND_ROWS = 1000
# A running job that has not reported progress for this long died with its process.
STALE_JOB = timedelta(minutes=2)
RUNNING = ("reading", "checking", "writing")
XLSX_MAGIC = b"PK\x03\x04"
MAX_SHORTLIST = 20
# A value-chain stage with fewer member firms than this (or under a tenth of the chain's
# members) is "thin": too few to choose partners from.
THIN_STAGE = 3
TOP_SECTORS = 20
MAIN_CHAINS = 3
# Firms in a potential network among the members (chain planner), unless the stages with
# members ask for more room.
MIN_POTENTIAL, MAX_POTENTIAL = 4, 10
CAMPAIGN_TOKEN_DAYS = 90
_TOKEN_SALT = "matchmaker.associations.campaign"

# Which firm field a spreadsheet column holds, guessed from its (folded) header.
FIELD_ALIASES: dict[str, str] = {
    "partita iva": "partita_iva", "p iva": "partita_iva", "piva": "partita_iva",
    "partita_iva": "partita_iva", "p iva cf": "partita_iva", "vat": "partita_iva",
    "vat number": "partita_iva", "codice fiscale partita iva": "partita_iva",
    "ragione sociale": "name", "denominazione": "name", "nome": "name", "impresa": "name",
    "azienda": "name", "name": "name", "company": "name", "company name": "name",
    "ateco": "ateco", "codice ateco": "ateco", "ateco primario": "ateco", "attivita ateco": "ateco",
    "ateco code": "ateco", "codice attivita": "ateco",
    "ateco secondari": "ateco_secondary", "ateco secondario": "ateco_secondary",
    "codici ateco secondari": "ateco_secondary", "ateco_secondary": "ateco_secondary",
    "comune": "comune", "citta": "comune", "localita": "comune", "sede": "comune",
    "comune sede": "comune", "city": "comune", "municipality": "comune",
    "provincia": "province", "prov": "province", "sigla provincia": "province",
    "province": "province",
    "codice istat": "comune_istat", "istat": "comune_istat", "codice comune": "comune_istat",
    "comune istat": "comune_istat", "comune_istat": "comune_istat",
    "dipendenti": "employees", "addetti": "employees", "numero dipendenti": "employees",
    "n dipendenti": "employees", "employees": "employees",
    "fatturato": "turnover_eur", "fatturato eur": "turnover_eur", "ricavi": "turnover_eur",
    "turnover": "turnover_eur", "turnover_eur": "turnover_eur",
    "offerta": "offers", "offre": "offers", "prodotti e servizi": "offers", "offers": "offers",
    "competenze": "offers",
    "cerca": "needs", "fabbisogni": "needs", "esigenze": "needs", "needs": "needs",
    "obiettivi": "goals", "goals": "goals",
    "email": "email", "e mail": "email", "posta elettronica": "email", "mail": "email",
    "pec": "email",
    "sito": "website", "sito web": "website", "sito internet": "website", "website": "website",
    "web": "website",
    "descrizione": "description", "note": "description", "description": "description",
    "forma giuridica": "legal_form", "natura giuridica": "legal_form",
    "legal_form": "legal_form",
    "edizione ateco": "ateco_edition", "ateco_edition": "ateco_edition",
    "visibilita": "visibility", "visibility": "visibility",
}
REQUIRED_FIELDS = ("partita_iva", "name", "ateco")


class AssociationError(ValueError):
    """A request the rules refuse, with a message for the user and the field it concerns."""

    def __init__(self, message: str, field: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.field = field


def _lang() -> str:
    return current_language.get()


# ------------------------------------------------------------------------------ associations


def create_association(
    session: Session, *, slug: str, name: str, kind: str = "trade",
    region_code: str | None = None, province: str | None = None, description: str = "",
) -> Association:
    """Register an association and the area it covers (a region, optionally one province)."""
    errors: dict[str, str] = {}
    slug = slug.strip().lower()
    if not SLUG_RE.match(slug):
        errors["slug"] = _("use 1-60 lowercase letters, digits and dashes (e.g. cna-bergamo)")
    elif session.scalar(select(Association.id).where(Association.slug == slug)) is not None:
        errors["slug"] = _("another association already uses this short name")
    name = name.strip()
    if not 2 <= len(name) <= 200:
        errors["name"] = _("give the association's name (2 to 200 characters)")
    if kind not in ASSOCIATION_KINDS:
        errors["kind"] = _("choose a kind from the list")
    region_code = (region_code or "").strip().zfill(2) if (region_code or "").strip() else None
    province = (province or "").strip().upper() or None
    regions = {r.code for r in places.regions()}
    if region_code and region_code not in regions:
        errors["region_code"] = _("choose a region from the list")
    if province:
        prov = next((p for p in places.provinces() if p.sigla == province), None)
        if prov is None:
            errors["province"] = _("choose a province from the list")
        elif region_code and prov.region_code != region_code:
            errors["province"] = _("this province is not in the chosen region")
        else:
            region_code = prov.region_code
    if errors:
        field, message = next(iter(errors.items()))
        err = AssociationError(message, field)
        err.errors = errors  # type: ignore[attr-defined]
        raise err
    assoc = Association(slug=slug, name=name, kind=kind, region_code=region_code,
                        province=province, description=description.strip())
    session.add(assoc)
    session.flush()
    return assoc


def get_association(session: Session, slug: str) -> Association | None:
    """Return the association with this short name."""
    return session.scalar(select(Association).where(Association.slug == slug.strip().lower()))


def list_associations(session: Session, *, user: User, see_all: bool = False) -> list[Association]:
    """Return the associations the user curates (all of them with `see_all`), by name."""
    stmt = select(Association)
    if not see_all:
        stmt = stmt.where(Association.id.in_(
            select(AssociationCurator.association_id).where(AssociationCurator.user_id == user.id)
        ))
    return list(session.scalars(stmt.order_by(Association.name)))


def area_label(association: Association) -> str:
    """Return the area an association covers, for people ("Lombardia", "Bergamo (BG)")."""
    if association.province:
        prov = next((p for p in places.provinces() if p.sigla == association.province), None)
        return f"{prov.name} ({prov.sigla})" if prov else association.province
    if association.region_code:
        reg = next((r for r in places.regions() if r.code == association.region_code), None)
        return reg.name if reg else association.region_code
    return _("Italy")


def curator_ids(session: Session, association: Association) -> set[int]:
    """Return the ids of the association's curators."""
    return set(session.scalars(
        select(AssociationCurator.user_id).where(
            AssociationCurator.association_id == association.id)
    ))


def curators(session: Session, association: Association) -> list[User]:
    """Return the association's curators."""
    ids = sorted(curator_ids(session, association))
    users = [accounts_service.get_user(session, uid) for uid in ids]
    return [u for u in users if u is not None]


def add_curator(session: Session, *, association: Association, email: str) -> User:
    """Make an existing user with the curator role a curator of the association."""
    user = accounts_service.get_user_by_email(session, email)
    if user is None or user.role != "curator" or not user.is_active:
        raise AssociationError(
            _("no active account with the curator role has this e-mail address"), "email")
    if user.id not in curator_ids(session, association):
        session.add(AssociationCurator(association_id=association.id, user_id=user.id))
        session.flush()
    return user


def remove_curator(session: Session, *, association: Association, user_id: int) -> None:
    """Take a curator off the association."""
    row = session.scalar(select(AssociationCurator).where(
        AssociationCurator.association_id == association.id,
        AssociationCurator.user_id == user_id))
    if row is not None:
        session.delete(row)
        session.flush()


DEMO_SLUG = "confartigianato-lombardia"


def seed_demo_association(session: Session, *, curator: User) -> Association | None:
    """Create the demo association (Lombardy) curated by the demo curator: three firms in four
    of the region's registry are its members, so its dashboard has firms left to invite.

    Does nothing (returns None) on a database whose schema has no association tables yet.
    """
    if not inspect(session.connection()).has_table(Association.__tablename__):
        return None
    association = get_association(session, DEMO_SLUG)
    if association is None:
        association = create_association(
            session, slug=DEMO_SLUG, name="Confartigianato Lombardia (demo)", kind="trade",
            region_code="03",
            description="Associazione dimostrativa: i suoi associati sono imprese del demo.")
    if curator.id not in curator_ids(session, association):
        session.add(AssociationCurator(association_id=association.id, user_id=curator.id))
    in_region = firms_service.firm_ids(session, where=firms_service.scope_clause(region="03"))
    add_members(session, association=association, source="import", user=None,
                firm_ids=[fid for i, fid in enumerate(in_region) if i % 4 != 3])
    return association


# ------------------------------------------------------------------------------ visibility


def _member_select(association_id: int | Select, status: str = "active") -> Select:
    """SELECT the firm ids of an association's members (or of several: a SELECT of ids)."""
    stmt = select(AssociationMember.firm_id).where(AssociationMember.status == status)
    if isinstance(association_id, int):
        return stmt.where(AssociationMember.association_id == association_id)
    return stmt.where(AssociationMember.association_id.in_(association_id))


def shared_association_firm_ids(session: Session, user: User) -> set[int]:
    """Return the association-only firms that share an association with the user.

    The user shares an association by curating it or through a firm of theirs that is an
    active member. Only firms whose visibility is "association" are returned: public ones are
    visible anyway and hidden ones stay hidden, and this keeps the set small.
    """
    curated = select(AssociationCurator.association_id).where(
        AssociationCurator.user_id == user.id)
    own_firms = list(accounts_service.memberships_for(session, user))
    assoc_ids = curated
    if own_firms:
        through_firms = select(AssociationMember.association_id).where(
            AssociationMember.firm_id.in_(own_firms), AssociationMember.status == "active")
        assoc_ids = curated.union(through_firms)
    members = _member_select(select(assoc_ids.subquery().c[0]))
    return set(firms_service.firm_ids(
        session, where=firms_service.scope_clause(ids=members, visibility="association")))


policy.set_association_firms_provider(shared_association_firm_ids)


def viewer_clause(session: Session, viewer: User | None) -> Any:
    """Return the SQL condition for the firms this viewer may see (as the firm pages do)."""
    if viewer is not None and policy.can_view_all_firms(viewer):
        return firms_service.visibility_clause(see_all=True)
    own = accounts_service.memberships_for(session, viewer) if viewer is not None else {}
    assoc = policy.association_firm_ids(session, viewer) if viewer is not None else set()
    return firms_service.visibility_clause(see_all=False, own_firm_ids=own.keys(),
                                           association_firm_ids=assoc)


# ------------------------------------------------------------------------------ members


def member_status(session: Session, association: Association, firm_id: int) -> str | None:
    """Return "active", "invited" or None for a firm in an association."""
    return session.scalar(select(AssociationMember.status).where(
        AssociationMember.association_id == association.id,
        AssociationMember.firm_id == firm_id))


def member_count(session: Session, association: Association, status: str = "active") -> int:
    """Count the association's members (active, or invited)."""
    return int(session.scalar(
        select(func.count()).select_from(AssociationMember).where(
            AssociationMember.association_id == association.id,
            AssociationMember.status == status)
    ) or 0)


def list_members(
    session: Session, *, association: Association, viewer: User | None, q: str | None = None,
    province: str | None = None, page: int = 1, per_page: int = 25,
) -> firms_service.Page:
    """Return one page of the association's members that the viewer may see, by name."""
    visible = firms_service.scope_clause(ids=_member_select(association.id)) & viewer_clause(
        session, viewer)
    return firms_service.list_firms(
        session, filters=firms_service.FirmFilters(q=q or None, province=province or None),
        page=page, per_page=per_page, visible=visible)


def hidden_member_count(session: Session, *, association: Association, viewer: User | None) -> int:
    """Count the active members the viewer may not see (hidden profiles)."""
    visible = firms_service.scope_clause(ids=_member_select(association.id)) & viewer_clause(
        session, viewer)
    return member_count(session, association) - len(firms_service.firm_ids(session, where=visible))


def add_members(
    session: Session, *, association: Association, firm_ids: Iterable[int], source: str,
    user: User | None,
) -> int:
    """Make firms active members (an invitation becomes a membership); return how many joined."""
    wanted = list(dict.fromkeys(int(f) for f in firm_ids))
    if not wanted:
        return 0
    current: dict[int, str] = {}
    for start in range(0, len(wanted), 900):
        chunk = wanted[start:start + 900]
        current.update(session.execute(
            select(AssociationMember.firm_id, AssociationMember.status).where(
                AssociationMember.association_id == association.id,
                AssociationMember.firm_id.in_(chunk))
        ).tuples().all())
    invited = [f for f in wanted if current.get(f) == "invited"]
    for start in range(0, len(invited), 900):
        session.execute(
            update(AssociationMember)
            .where(AssociationMember.association_id == association.id,
                   AssociationMember.firm_id.in_(invited[start:start + 900]))
            .values(status="active"))
    new = [f for f in wanted if f not in current]
    now = utcnow()
    table = AssociationMember.__table__
    for start in range(0, len(new), 1000):
        session.execute(insert(table), [
            {"association_id": association.id, "firm_id": f, "status": "active",
             "source": source, "invited_by": user.id if user else None, "created_at": now}
            for f in new[start:start + 1000]
        ])
    session.flush()
    return len(new) + len(invited)


def invite_firm(session: Session, *, association: Association, partita_iva: str,
                user: User) -> tuple[AssociationMember, dict[str, Any]]:
    """Invite a registered firm to join; its owners or representatives answer."""
    firm = firms_service.get_firm(session, partita_iva or "")
    memberships = accounts_service.memberships_for(session, user)
    if firm is None or not policy.can_view_firm(user, firm, memberships=memberships,
                                                session=session):
        raise AssociationError(_("no registered firm has this partita IVA"), "partita_iva")
    status = member_status(session, association, firm.id)
    if status == "active":
        raise AssociationError(_("%(name)s is already a member") % {"name": firm.name},
                               "partita_iva")
    if status == "invited":
        raise AssociationError(_("%(name)s is already invited") % {"name": firm.name},
                               "partita_iva")
    member = AssociationMember(association_id=association.id, firm_id=firm.id, status="invited",
                               source="invitation", invited_by=user.id)
    session.add(member)
    session.flush()
    return member, {"partita_iva": firm.partita_iva, "name": firm.name, "id": firm.id}


def answer_invitation(session: Session, *, association: Association, firm_id: int,
                      accept: bool) -> None:
    """Accept (the firm joins) or decline (the invitation is dropped) a membership invitation."""
    member = session.scalar(select(AssociationMember).where(
        AssociationMember.association_id == association.id,
        AssociationMember.firm_id == firm_id, AssociationMember.status == "invited"))
    if member is None:
        raise AssociationError(_("there is no pending invitation for this firm"))
    if accept:
        member.status = "active"
    else:
        session.delete(member)
    session.flush()


def remove_member(session: Session, *, association: Association, firm_id: int) -> bool:
    """Take a firm out of the association (or drop its invitation); tell whether it was in."""
    member = session.scalar(select(AssociationMember).where(
        AssociationMember.association_id == association.id,
        AssociationMember.firm_id == firm_id))
    if member is None:
        return False
    session.delete(member)
    session.flush()
    return True


@dataclass
class FirmAssociation:
    """An association one of the user's firms belongs to or is invited to."""

    association: Association
    firm_id: int
    firm_name: str
    partita_iva: str
    status: str


def associations_of_user_firms(session: Session, *, user: User) -> list[FirmAssociation]:
    """Return the associations the user's firms belong to or are invited to."""
    firm_ids = list(accounts_service.memberships_for(session, user))
    if not firm_ids:
        return []
    rows = session.execute(
        select(Association, AssociationMember.firm_id, AssociationMember.status)
        .join(AssociationMember, AssociationMember.association_id == Association.id)
        .where(AssociationMember.firm_id.in_(firm_ids))
        .order_by(AssociationMember.status.desc(), Association.name)
    ).all()
    firms = {r["id"]: r for r in firms_service.firm_rows(session, {r[1] for r in rows})}
    return [FirmAssociation(a, fid, firms[fid]["name"], firms[fid]["partita_iva"], status)
            for a, fid, status in rows if fid in firms]


# ------------------------------------------------------------------------------ imports


@dataclass
class MemberImport:
    """What importing a members file did: the firms import report and how many joined."""

    report: firms_service.ImportReport
    joined: int = 0


def import_members(
    session: Session, *, association: Association, content: bytes | str, user: User | None,
    skip_invalid: bool = False, dry_run: bool = False,
    on_progress: Callable[[int], None] | None = None,
) -> MemberImport:
    """Import firms in the firms CSV format and make every imported firm a member.

    New firms are created; a registered firm is updated only if it already is a member (or
    the user may edit it); `user=None` (the command line) may update any firm.
    """
    members = set(session.scalars(_member_select(association.id)))
    memberships = accounts_service.memberships_for(session, user) if user is not None else {}
    curator = curator_ids(session, association)

    def can_update(firm: Any) -> bool:
        if user is None:
            return True
        return policy.can_import_update_firm(user, firm, memberships=memberships,
                                             member_firm_ids=members, curator_ids=curator)

    report = firms_service.import_csv(session, content=content, skip_invalid=skip_invalid,
                                      dry_run=dry_run, on_progress=on_progress,
                                      can_update=can_update)
    result = MemberImport(report=report)
    if report.committed:
        result.joined = add_members(session, association=association,
                                    firm_ids=report.firm_ids, source="import", user=user)
    return result


def _fold(text: str) -> str:
    plain = unicodedata.normalize("NFKD", str(text).casefold()).encode("ascii", "ignore").decode()
    return " ".join(re.sub(r"[^a-z0-9_]+", " ", plain).split())


def guess_mapping(headers: Sequence[str], remembered: dict[str, str] | None = None) -> dict[str, str]:
    """Return column index (as text) -> firm field for a sheet's headers.

    The association's remembered choices (by header) come first, then well-known header names;
    a field is given to one column only.
    """
    remembered = {_fold(k): v for k, v in (remembered or {}).items()}
    out: dict[str, str] = {}
    used: set[str] = set()
    for i, header in enumerate(headers):
        key = _fold(header)
        target = remembered.get(key) if key in remembered else FIELD_ALIASES.get(key, "")
        if target and target in ALL_COLUMNS and target not in used:
            out[str(i)] = target
            used.add(target)
        else:
            out[str(i)] = ""
    return out


def _column_name(i: int) -> str:
    from openpyxl.utils import get_column_letter

    return get_column_letter(i + 1)


def _open_sheet(raw: bytes) -> Any:
    from zipfile import BadZipFile

    from openpyxl import load_workbook
    from openpyxl.utils.exceptions import InvalidFileException

    try:
        wb = load_workbook(io.BytesIO(raw), read_only=True, data_only=True)
    except (InvalidFileException, BadZipFile, KeyError, ValueError, OSError, TypeError):
        raise AssociationError(_("the file is not an Excel workbook (.xlsx) that can be read; "
                                 "save it again as .xlsx or as CSV UTF-8"), "file") from None
    return wb, wb.worksheets[0]


def _cell_text(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "1" if value else "0"
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    if isinstance(value, datetime):
        return value.date().isoformat()
    # A line break inside a cell would shift the line numbers of every following row.
    return " ".join(str(value).split())


def read_sheet_header(raw: bytes) -> tuple[list[str], int, int]:
    """Return the first sheet's headers, the sheet row they are on, and the data row count.

    The header is the first row with at least two filled cells among the first 20 rows (a
    title may sit above it).
    """
    wb, ws = _open_sheet(raw)
    try:
        header_row, headers = 0, []
        for n, row in enumerate(ws.iter_rows(max_row=20, values_only=True), start=1):
            cells = [_cell_text(v) for v in row]
            if sum(1 for c in cells if c) >= 2:
                header_row = n
                while cells and not cells[-1]:
                    cells.pop()
                headers = [c or _("Column %(c)s") % {"c": _column_name(i)}
                           for i, c in enumerate(cells)]
                break
        if not header_row:
            raise AssociationError(_("no header row found: the first sheet needs a row naming "
                                     "its columns"), "file")
        total = max(0, _sheet_rows(raw, ws) - header_row)
    finally:
        wb.close()
    return headers, header_row, total


_ROW_TAG = re.compile(rb"<(?:\w+:)?row[\s>]")


def _sheet_rows(raw: bytes, ws: Any) -> int:
    """Return the sheet's last row: its stated dimension, else a count of its row elements.

    Files written by streaming tools often state no dimension; counting the tags in the
    sheet's XML is much faster than parsing every cell.
    """
    if ws.max_row and ws.max_row > 1:
        return int(ws.max_row)
    from zipfile import ZipFile

    path = getattr(ws, "_worksheet_path", None)
    if not path:
        return int(ws.max_row or 0)
    with ZipFile(io.BytesIO(raw)) as zf:
        data = zf.read(path.lstrip("/"))
    return len(_ROW_TAG.findall(data))


def check_mapping(mapping: dict[str, str], headers: Sequence[str]) -> dict[str, str]:
    """Return the mapping cleaned, or raise AssociationError naming what is missing."""
    clean: dict[str, str] = {}
    seen: dict[str, int] = {}
    for key, target in mapping.items():
        if not key.isdigit() or int(key) >= len(headers):
            continue
        target = (target or "").strip()
        if target and target not in ALL_COLUMNS:
            raise AssociationError(_("unknown field %(f)s") % {"f": target}, f"col-{key}")
        if target and target in seen:
            raise AssociationError(
                _("two columns (%(a)s and %(b)s) are mapped to the same field %(f)s")
                % {"a": headers[seen[target]], "b": headers[int(key)], "f": target},
                f"col-{key}")
        if target:
            seen[target] = int(key)
        clean[key] = target
    missing = [f for f in REQUIRED_FIELDS if f not in seen]
    if "comune_istat" not in seen and "comune" not in seen:
        missing.append("comune / comune_istat")
    if missing:
        raise AssociationError(_("choose a column for: %(f)s") % {"f": ", ".join(missing)},
                               "mapping")
    return clean


def sheet_to_csv(raw: bytes, *, mapping: dict[str, str], header_row: int,
                 on_progress: Callable[[int], None] | None = None) -> str:
    """Convert the first sheet's rows below the header to the firms CSV format.

    Every sheet row becomes one CSV line (blank rows stay as empty lines), so a CSV line
    number plus `header_row - 1` is the sheet row.
    """
    columns = sorted(((int(k), v) for k, v in mapping.items() if v), key=lambda kv: kv[0])
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow([target for _i, target in columns])
    wb, ws = _open_sheet(raw)
    try:
        n = 0
        for n, row in enumerate(ws.iter_rows(min_row=header_row + 1, values_only=True), 1):
            cells = []
            for i, target in columns:
                text = _cell_text(row[i]) if i < len(row) else ""
                # Spreadsheets turn codes into numbers and drop their leading zeros.
                if text.isdigit() and target == "partita_iva":
                    text = text.zfill(11)
                elif text.isdigit() and target == "comune_istat":
                    text = text.zfill(6)
                cells.append(text)
            if any(cells):
                writer.writerow(cells)
            else:
                out.write(",".join([""] * len(columns)) + "\n")
            if on_progress and n % 500 == 0:
                on_progress(n)
    finally:
        wb.close()
    return out.getvalue()


def _is_workbook(head: bytes, filename: str) -> bool:
    return head[:4] == XLSX_MAGIC or (filename or "").lower().endswith((".xlsx", ".xlsm"))


def read_upload(fileobj: Any, filename: str) -> bytes | str:
    """Read an uploaded members file: a workbook as bytes, a CSV decoded to text.

    A CSV is decoded while it is read, so its bytes are never in memory next to its text;
    a file that is not UTF-8 raises AssociationError naming the line.
    """
    head = fileobj.read(4)
    fileobj.seek(0)
    if _is_workbook(head, filename):
        return fileobj.read()
    wrapper = io.TextIOWrapper(fileobj, encoding="utf-8-sig", newline="")
    try:
        return wrapper.read()
    except UnicodeDecodeError:
        fileobj.seek(0)
        try:
            return firms_service.decode_csv(fileobj.read())
        except FirmInvalid as exc:
            raise AssociationError(exc.errors["file"], "file") from None
    finally:
        wrapper.detach()  # leave the upload's file open: its owner closes it


def start_import(
    session: Session, *, association: Association, user: User | None, filename: str,
    content: bytes | str, skip_invalid: bool = False,
) -> AssociationImport:
    """Keep an uploaded members file: a workbook waits for its column mapping, a CSV is queued.

    `content` is the file's bytes, or a CSV's text already decoded (see `read_upload`).
    """
    if not content.strip():
        raise AssociationError(_("the file is empty"), "file")
    job = AssociationImport(association_id=association.id, user_id=user.id if user else None,
                            filename=(filename or "members")[:255], skip_invalid=skip_invalid)
    if isinstance(content, bytes) and _is_workbook(content, filename):
        headers, header_row, total = read_sheet_header(content)
        job.file_kind, job.raw, job.headers = "xlsx", content, headers
        job.line_offset, job.total, job.status = header_row - 1, total, "mapping"
        job.mapping = guess_mapping(headers, association.column_mapping)
    else:
        try:
            text = content if isinstance(content, str) else firms_service.decode_csv(content)
        except FirmInvalid as exc:
            raise AssociationError(exc.errors["file"], "file") from None
        job.file_kind, job.content, job.status = "csv", text, "queued"
        job.total = max(0, text.count("\n") - (0 if text.endswith("\n") else -1) - 1)
    job.background = job.total > BACKGROUND_ROWS
    session.add(job)
    session.flush()
    return job


def set_mapping(session: Session, *, job: AssociationImport, association: Association,
                mapping: dict[str, str]) -> AssociationImport:
    """Save a workbook's column mapping (remembered for the association's next file); queue it."""
    if job.status not in ("mapping", "queued", "preview", "failed") or job.raw is None:
        raise AssociationError(_("this import can no longer be changed"))
    headers = job.headers or []
    clean = check_mapping(mapping, headers)
    job.mapping = clean
    job.content = ""
    job.status = "queued"
    job.report = None
    remembered = dict(association.column_mapping or {})
    remembered.update({headers[int(k)]: v for k, v in clean.items()})
    association.column_mapping = remembered
    session.flush()
    return job


def _store_report(job: AssociationImport, result: MemberImport) -> None:
    report = result.report
    data = firms_service.report_to_dict(report)
    for err in data["errors"]:
        err["line"] = int(err["line"]) + job.line_offset
    job.report = data
    job.rows, job.rejected = report.rows, report.rejected_rows
    job.created, job.updated = report.created, report.updated
    job.joined = result.joined


def check_import(session: Session, *, job: AssociationImport, association: Association,
                 user: User | None, on_progress: Callable[[int], None] | None = None,
                 on_phase: Callable[[str], None] | None = None) -> AssociationImport:
    """Check every row without writing firms: the preview, with each bad row's line number."""
    if job.status not in ("queued", "reading", "checking"):
        raise AssociationError(_("this import was already checked"))
    if job.file_kind == "xlsx" and not job.content:
        if job.raw is None or not job.mapping:
            raise AssociationError(_("choose the columns first"))
        job.content = sheet_to_csv(job.raw, mapping=job.mapping,
                                   header_row=job.line_offset + 1, on_progress=on_progress)
        if on_phase:
            on_phase("checking")
    result = import_members(session, association=association, content=job.content, user=user,
                            skip_invalid=job.skip_invalid, dry_run=True, on_progress=on_progress)
    _store_report(job, result)
    job.status = "failed" if result.report.file_errors else "preview"
    job.progress = job.total = result.report.rows or job.total
    job.finished_at = utcnow()
    session.flush()
    return job


def can_commit(job: AssociationImport) -> bool:
    """Tell whether a previewed import may be written (no bad row, or good rows only)."""
    report = job.report or {}
    return (job.status == "preview" and not report.get("file_errors")
            and (not report.get("errors") or job.skip_invalid)
            and (job.created + job.updated) > 0)


def commit_import(session: Session, *, job: AssociationImport, association: Association,
                  user: User | None,
                  on_progress: Callable[[int], None] | None = None) -> MemberImport:
    """Write a previewed import: create and update the firms, make them members."""
    if job.status not in ("preview", "writing"):
        raise AssociationError(_("this import was already %(s)s") % {"s": job.status})
    result = import_members(session, association=association, content=job.content, user=user,
                            skip_invalid=job.skip_invalid, on_progress=on_progress)
    _store_report(job, result)
    if result.report.committed:
        job.status = "committed"
        job.content, job.raw = "", None
        accounts_service.audit(
            session, actor=user, action="association.import", object_type="association",
            object_id=association.slug,
            detail={"import": job.id, "created": job.created, "updated": job.updated,
                    "joined": job.joined})
    else:
        job.status = "rejected"
    job.progress = job.total
    job.finished_at = utcnow()
    session.flush()
    return result


def errors_csv(job: AssociationImport) -> str:
    """Return every row problem of an import as CSV (line, column, reason)."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(["line", "column", "reason"])
    report = job.report or {}
    for message in report.get("file_errors") or []:
        writer.writerow(["", "", message])
    for err in report.get("errors") or []:
        writer.writerow([err["line"], err["column"], err["reason"]])
    return out.getvalue()


def get_import(session: Session, *, association: Association, import_id: int) -> AssociationImport | None:
    """Return one of the association's imports."""
    job = session.get(AssociationImport, import_id)
    return job if job is not None and job.association_id == association.id else None


def list_imports(session: Session, *, association: Association, limit: int = 10) -> list[AssociationImport]:
    """Return the association's latest imports."""
    return list(session.scalars(
        select(AssociationImport).where(AssociationImport.association_id == association.id)
        .order_by(AssociationImport.id.desc()).limit(limit)))


def recover_stale(session: Session, *, job: AssociationImport) -> bool:
    """Put back a job whose process died mid-way (no progress for a while); tell if it did."""
    beat = accounts_service.aware(job.heartbeat_at or job.created_at)
    if job.status not in RUNNING or beat is None or utcnow() - beat < STALE_JOB:
        return False
    job.status = "preview" if job.status == "writing" else "queued"
    job.content = job.content if job.file_kind == "csv" or job.status == "preview" else ""
    job.message = _("The import stopped before it finished (the server restarted); nothing "
                    "was written. Start it again.")
    session.flush()
    return True


def queue_commit(session: Session, *, job: AssociationImport) -> None:
    """Mark a previewed import as being written (a background job will do it)."""
    if not can_commit(job):
        raise AssociationError(_("this import cannot be written"))
    job.status, job.progress, job.heartbeat_at, job.message = "writing", 0, utcnow(), ""
    session.flush()


def queue_check(session: Session, *, job: AssociationImport) -> None:
    """Mark an import as being checked (a background job will do it)."""
    job.status = "reading" if job.file_kind == "xlsx" and not job.content else "checking"
    job.progress, job.heartbeat_at, job.message = 0, utcnow(), ""
    session.flush()


def _open_session() -> Session:
    return get_sessionmaker()()


# The background job's sessions; the tests point this at their own connection.
session_factory: Callable[[], Session] = _open_session


def run_import_job(job_id: int, phase: str) -> None:
    """Check ("check") or write ("commit") an import in this thread, with its own sessions.

    Progress goes to the job row in short separate transactions, so the page polling it sees
    it; the work itself is one transaction, committed at the end (all or nothing).
    """
    work = session_factory()
    progress_session = session_factory()

    def save(**values: Any) -> None:
        try:
            progress_session.execute(update(AssociationImport)
                                     .where(AssociationImport.id == job_id)
                                     .values(heartbeat_at=utcnow(), **values))
            progress_session.commit()
        except Exception:  # progress is best effort; the work goes on
            progress_session.rollback()
            log.warning("import %s: progress not saved", job_id, exc_info=True)

    try:
        job = work.get(AssociationImport, job_id)
        if job is None:
            return
        association = work.get(Association, job.association_id)
        user = work.get(User, job.user_id) if job.user_id else None
        assert association is not None
        # End this read transaction before progress is written elsewhere: on SQLite a read
        # transaction that saw an older snapshot could not turn into a write later.
        work.commit()

        def progress(n: int) -> None:
            # The work has only read so far (rows are checked before anything is written);
            # end that read before progress is committed elsewhere, for the same reason.
            work.commit()
            save(progress=n)

        def phase_changed(status: str) -> None:
            work.commit()
            save(status=status, progress=0)

        if phase == "check":
            check_import(work, job=job, association=association, user=user,
                         on_progress=progress, on_phase=phase_changed)
        else:
            commit_import(work, job=job, association=association, user=user,
                          on_progress=progress)
        work.commit()
    except Exception as exc:
        work.rollback()
        log.exception("import %s failed", job_id)
        message = exc.message if isinstance(exc, AssociationError) else _(
            "The import failed because of an unexpected error; nothing was written.")
        save(status="failed" if phase == "check" else "preview", message=message,
             finished_at=utcnow())
    finally:
        work.close()
        progress_session.close()


def run_now(session: Session, *, job: AssociationImport, association: Association,
            user: User | None, phase: str) -> None:
    """Check or write a small import right away, inside the caller's transaction."""
    if phase == "check":
        check_import(session, job=job, association=association, user=user)
    else:
        commit_import(session, job=job, association=association, user=user)


# ------------------------------------------------------------------------------ dashboard


@dataclass
class StageCount:
    key: str
    name: str
    members: int
    region_firms: int | None
    level: str  # "missing", "thin" or "ok"


@dataclass
class ChainGaps:
    key: str
    name: str
    members: int
    stages: list[StageCount]

    @property
    def gaps(self) -> list[StageCount]:
        """Return the thin and missing stages."""
        return [s for s in self.stages if s.level != "ok"]


@dataclass
class Dashboard:
    association: Association
    province: str | None
    members: int  # active members the viewer may see, in scope
    hidden: int  # active members with hidden profiles (not counted anywhere else)
    invited: int
    charts: dict[str, charts.Chart]
    chains: list[ChainGaps]


def _division_label(division: str) -> str:
    code = ateco_ref.lookup(division, "2022")
    title = (code.title_en or code.title) if code and _lang() == "en" else (code.title if code else "")
    return f"{division} {title.capitalize()}".strip()


def _positions(code: str, edition: str) -> list[chains_ref.Position]:
    try:
        return chains_ref.positions(code, edition)
    except (KeyError, ValueError):
        return []


def _scope(session: Session, association: Association, viewer: User | None,
           province: str | None) -> Any:
    return firms_service.scope_clause(ids=_member_select(association.id),
                                      province=province) & viewer_clause(session, viewer)


def dashboard(session: Session, *, association: Association, viewer: User | None,
              province: str | None = None) -> Dashboard:
    """Count the members (the viewer may see) by sector, value chain, province and comune,
    and find the thin and missing stages of their main value chains."""
    lang = _lang()
    province = province.upper() if province else None
    scope = _scope(session, association, viewer, province)
    by_code = firms_service.count_firms_by_code(session, visible=scope)
    by_comune = firms_service.count_firms_by_comune(session, visible=scope)
    total = sum(n for _c, _e, n in by_code)

    # Sectors: the primary code's division (ATECO 2007/2022 numbering, whatever the edition).
    divisions: Counter[str] = Counter()
    for code, edition, n in by_code:
        info = ateco_ref.lookup(code, edition)
        divisions[(info.sector_division if info else None) or code[:2]] += n
    top = divisions.most_common()
    sector_rows = [charts.Category(d, _division_label(d), n, f"/sectors/{d}?edition=2022")
                   for d, n in top[:TOP_SECTORS]]
    rest = sum(n for _d, n in top[TOP_SECTORS:])
    if rest:
        sector_rows.append(charts.Category("other", _("Other divisions (%(n)s)")
                                           % {"n": len(top) - TOP_SECTORS}, rest))

    # Value chains and their stages, from each code's positions.
    chain_firms: Counter[str] = Counter()
    stage_firms: Counter[tuple[str, str]] = Counter()
    for code, edition, n in by_code:
        found = [p for p in _positions(code, edition) if p.stage_index is not None]
        for key in {p.chain_key for p in found}:
            chain_firms[key] += n
        for pair in {(p.chain_key, p.stage_key) for p in found}:
            stage_firms[pair] += n
    chain_rows = [charts.Category(k, chains_ref.chain(k).name(lang), n, f"/chains/{k}")
                  for k, n in chain_firms.most_common()]

    # Provinces and comuni.
    by_province: Counter[str] = Counter()
    points: list[charts.Point] = []
    for istat, n in by_comune.items():
        c = places.get(istat)
        if c is None:
            continue
        by_province[c.province] += n
        points.append(charts.Point(c.istat, f"{c.name} ({c.province})", c.lat, c.lng, n))
    prov_names = {p.sigla: p.name for p in places.provinces()}
    slug = association.slug
    province_rows = [
        charts.Category(p, f"{prov_names.get(p, p)} ({p})", n,
                        f"/associations/{slug}?province={p}")
        for p, n in sorted(by_province.items(), key=lambda kv: (-kv[1], kv[0]))
    ]
    points.sort(key=lambda p: (-p.value, p.key))

    # The map's backdrop: the comuni of the area in view.
    if province:
        area = [c for c in places.all_comuni() if c.province == province]
    elif association.province or association.region_code:
        area = [c for c in places.all_comuni()
                if (c.province == association.province if association.province
                    else c.region_code == association.region_code)]
    else:
        area = places.all_comuni()
    # Members outside the association's area widen the view (the backdrop still shows it).
    backdrop = [(c.lat, c.lng) for c in area] + [(p.lat, p.lng) for p in points]

    n_members = _("Members")
    built = {
        "sectors": charts.Chart("sectors", _("Members by sector (ATECO division)"), "bar",
                                _("Sector"), n_members, list(sector_rows)),
        "chains": charts.Chart("chains", _("Members by value chain"), "bar", _("Value chain"),
                               n_members, list(chain_rows),
                               _("A firm counts in every value chain its main activity is "
                                 "a stage of.")),
        "provinces": charts.Chart("provinces", _("Members by province"), "bar", _("Province"),
                                  n_members, list(province_rows)),
        "map": charts.Chart("map", _("Where the members are"), "map", _("Comune"), n_members,
                            list(points),
                            _("One dot per comune; its area grows with the number of members."),
                            backdrop=backdrop),
    }

    # The main chains' stages: members at each, and the region's other registered firms.
    region = association.region_code
    region_by_code: list[tuple[str, str, int]] = []
    if region:
        others = firms_service.scope_clause(exclude_ids=_member_select(association.id),
                                            province=province) & viewer_clause(session, viewer)
        region_by_code = firms_service.count_firms_by_code(session, region=region, visible=others)
    region_stage: Counter[tuple[str, str]] = Counter()
    for code, edition, n in region_by_code:
        for pair in {(p.chain_key, p.stage_key) for p in _positions(code, edition)
                     if p.stage_index is not None}:
            region_stage[pair] += n
    gaps: list[ChainGaps] = []
    for key, n in chain_firms.most_common(MAIN_CHAINS):
        chain = chains_ref.chain(key)
        thin = max(THIN_STAGE, math.ceil(n / 10))
        stages = []
        for st in chain.stages:
            count = stage_firms[(key, st.key)]
            level = "missing" if count == 0 else "thin" if count < thin else "ok"
            stages.append(StageCount(st.key, st.name(lang), count,
                                     region_stage[(key, st.key)] if region else None, level))
        gaps.append(ChainGaps(key, chain.name(lang), n, stages))

    hidden = 0
    if province is None:
        hidden = max(0, member_count(session, association) - total)
    return Dashboard(association=association, province=province, members=total, hidden=hidden,
                     invited=member_count(session, association, "invited"), charts=built,
                     chains=gaps)


def dashboard_summary(board: Dashboard) -> dict[str, Any]:
    """Return the dashboard's numbers as JSON-ready data (the API's answer)."""
    a = board.association
    return {
        "association": {"slug": a.slug, "name": a.name, "kind": a.kind,
                        "region_code": a.region_code, "province": a.province},
        "scope": {"province": board.province},
        "members": board.members,
        "hidden_members": board.hidden,
        "invited": board.invited,
        "by_sector": [{"division": c.key, "label": c.label, "members": int(c.value)}
                      for c in board.charts["sectors"].rows],
        "by_chain": [{"chain": c.key, "label": c.label, "members": int(c.value)}
                     for c in board.charts["chains"].rows],
        "by_province": [{"province": c.key, "label": c.label, "members": int(c.value)}
                        for c in board.charts["provinces"].rows],
        "by_comune": [{"istat": p.key, "label": p.label, "members": int(p.value)}
                      for p in board.charts["map"].rows],
        "chain_gaps": [
            {"chain": g.key, "label": g.name, "members": g.members,
             "stages": [{"stage": s.key, "label": s.name, "members": s.members,
                         "region_firms": s.region_firms, "level": s.level} for s in g.stages]}
            for g in board.chains
        ],
    }


# ------------------------------------------------------------------------------ networks


def networks_service() -> Any:
    """Return the networks domain's service module, or None where it is not installed."""
    try:
        from matchmaker.networks import service as networks
    except ImportError:
        return None
    return networks if hasattr(networks, "suggest") else None


@dataclass
class PotentialMember:
    firm_id: int
    partita_iva: str
    name: str
    comune: str
    province: str
    stage: str
    roles: list[str]


@dataclass
class PotentialNetwork:
    chain_key: str | None
    chain_name: str | None
    members: list[PotentialMember]
    covered: list[str]  # stage names, in chain order
    uncovered: list[str]  # every stage the network leaves out (absent ones included)
    fit: float
    absent: list[str] = field(default_factory=list)  # stages no member (in scope) is in

    @property
    def firm_ids(self) -> list[int]:
        """Return the member firm ids, the anchor (the would-be promoter) first."""
        return [m.firm_id for m in self.members]

    @property
    def left_out(self) -> list[str]:
        """Return the uncovered stages that members do cover: room ran out for them."""
        return [s for s in self.uncovered if s not in self.absent]


def _potential(s: Any) -> PotentialNetwork:
    members = [PotentialMember(m.firm.firm_id, m.firm.partita_iva, m.firm.name, m.firm.comune,
                               m.firm.province, (m.new_stages or m.stages or [""])[0],
                               list(m.roles))
               for m in s.members]
    return PotentialNetwork(s.chain_key, s.chain_name, members, [n for _k, n in s.covered],
                            [n for _k, n in s.uncovered], float(s.mean_fit),
                            [n for _k, n in s.absent])


def potential_networks(
    session: Session, *, association: Association, viewer: User | None, province: str | None,
    board: Dashboard | None = None, size: int | None = None,
) -> list[PotentialNetwork]:
    """Return, for each main value chain of the members in scope, the strongest network the
    chain planner finds among them (no seed: it picks the anchor); the networks covering
    the most stages first, then the best fitting (the planner's own order).

    The scope is the dashboard's: the active members the viewer may see, in the province when
    one is chosen (members outside the association's area count, as on the dashboard). Only
    they are candidates, so a firm that is not a member is never proposed. Unless `size` is
    given, a network has room for every stage that has a member (4 firms at least, 10 at
    most), so it covers all of them; the stages no member is in are its gaps (`absent`).
    """
    networks = networks_service()
    if networks is None or not hasattr(networks, "suggest_for_chain"):
        return []
    province = province.upper() if province else None
    if board is None:
        board = dashboard(session, association=association, viewer=viewer, province=province)
    if not board.chains:
        return []
    in_scope = firms_service.firm_ids(session, where=_scope(session, association, viewer,
                                                            province))
    if len(in_scope) < 2:
        return []
    found: dict[frozenset[int], PotentialNetwork] = {}
    for chain in board.chains:
        present = sum(1 for st in chain.stages if st.members)
        want = size or min(MAX_POTENTIAL, max(MIN_POTENTIAL, present))
        try:
            s = networks.suggest_for_chain(session, chain_key=chain.key, province=province,
                                           viewer=viewer, size=want,
                                           restrict_firm_ids=in_scope)
            left = [k for k, _n in s.uncovered if k not in {a for a, _m in s.absent}]
            if size is None and left and len(s.members) == want < MAX_POTENTIAL:
                # Secondary activities put members in more stages than their main one says:
                # make room for them.
                s = networks.suggest_for_chain(
                    session, chain_key=chain.key, province=province, viewer=viewer,
                    size=min(MAX_POTENTIAL, want + len(left)), restrict_firm_ids=in_scope)
        except ValueError as exc:  # fewer than two members in the chain: nothing to propose
            log.info("no potential %s network for %s: %s", chain.key, association.slug, exc)
            continue
        if len(s.members) < 2:
            continue
        net = _potential(s)
        found.setdefault(frozenset(net.firm_ids), net)
    return sorted(found.values(), key=lambda n: (-len(n.covered), -n.fit))


# ------------------------------------------------------------------------------ shortlists


def create_shortlist(
    session: Session, *, association: Association, firm_ids: Sequence[int], user: User,
    name: str = "", chain_key: str | None = None, goal: str | None = None,
    score: float | None = None, roles: dict[int, str] | None = None,
) -> Shortlist:
    """Keep a set of members as a possible network (the first firm would promote it)."""
    ids = list(dict.fromkeys(int(f) for f in firm_ids))
    if len(ids) < 2:
        raise AssociationError(_("a shortlist needs at least two firms"), "firms")
    if len(ids) > MAX_SHORTLIST:
        raise AssociationError(_("a shortlist has at most %(n)s firms") % {"n": MAX_SHORTLIST},
                               "firms")
    members = set(session.scalars(_member_select(association.id).where(
        AssociationMember.firm_id.in_(ids))))
    if set(ids) - members:
        raise AssociationError(_("only member firms can be shortlisted"), "firms")
    goal = goal if goal in GOALS else None
    rows = {r["id"]: r for r in firms_service.firm_rows(session, ids)}
    if not name.strip():
        chain = chains_ref.chain(chain_key).name(_lang()) if chain_key else None
        first = rows[ids[0]]["name"] if ids[0] in rows else ""
        name = (_("%(chain)s around %(firm)s") % {"chain": chain, "firm": first} if chain
                else _("Network around %(firm)s") % {"firm": first})
    shortlist = Shortlist(association_id=association.id, name=name.strip()[:200], goal=goal,
                          score=score, created_by=user.id, note=chain_key or "")
    for pos, fid in enumerate(ids):
        shortlist.firms.append(ShortlistFirm(firm_id=fid, position=pos,
                                             role=((roles or {}).get(fid) or "")[:60]))
    session.add(shortlist)
    session.flush()
    return shortlist


def get_shortlist(session: Session, *, association: Association, shortlist_id: int) -> Shortlist | None:
    """Return one of the association's shortlists."""
    sl = session.get(Shortlist, shortlist_id)
    return sl if sl is not None and sl.association_id == association.id else None


def list_shortlists(session: Session, *, association: Association) -> list[Shortlist]:
    """Return the association's shortlists, newest first."""
    return list(session.scalars(select(Shortlist).where(
        Shortlist.association_id == association.id).order_by(Shortlist.id.desc())))


def delete_shortlist(session: Session, *, shortlist: Shortlist) -> None:
    """Drop a shortlist (a network built from it stays)."""
    session.delete(shortlist)
    session.flush()


def shortlist_firms(session: Session, *, shortlist: Shortlist) -> list[dict[str, Any]]:
    """Return the shortlisted firms' rows in order, with their stage in the chain."""
    ids = [f.firm_id for f in shortlist.firms]
    rows = {r["id"]: r for r in firms_service.firm_rows(session, ids)}
    chain_key = shortlist.note or None
    out = []
    for f in shortlist.firms:
        row = rows.get(f.firm_id)
        if row is None:
            continue
        comune = places.get(row["comune_istat"])
        stage = ""
        if chain_key:
            pos = [p for p in _positions(row["ateco_code"], row["ateco_edition"])
                   if p.chain_key == chain_key and p.stage_index is not None]
            if pos:
                stage = chains_ref.chain(chain_key).stage(pos[0].stage_key).name(_lang())
        out.append({**row, "comune": comune.name if comune else "",
                    "province": comune.province if comune else "", "stage": stage,
                    "stage_key": pos[0].stage_key if chain_key and pos else None,
                    "role": f.role})
    return out


def build_network(session: Session, *, shortlist: Shortlist, user: User, name: str = "") -> Any:
    """Propose a network from a shortlist: its first firm promotes it, the others are invited
    (drafts until the curator sends them)."""
    networks = networks_service()
    if networks is None:
        raise AssociationError(_("Networks are not available on this installation yet."))
    if shortlist.network_id is not None:
        raise AssociationError(_("A network was already built from this shortlist."))
    rows = shortlist_firms(session, shortlist=shortlist)
    if len(rows) < 2:
        raise AssociationError(_("a shortlist needs at least two firms"), "firms")
    firms = [firms_service.get_firm(session, r["partita_iva"]) for r in rows]
    seed = firms[0]
    members = [(f, r["stage_key"], r["stage"] or r["role"] or "")
               for f, r in zip(firms[1:], rows[1:], strict=True) if f is not None]
    try:
        network = networks.create_network(
            session, seed=seed, user=user, name=name.strip() or shortlist.name,
            goal=shortlist.goal, chain_key=shortlist.note or None, members=members)
    except networks.NetworkError as exc:
        raise AssociationError(str(exc), getattr(exc, "field", None)) from None
    shortlist.network_id = network.id
    session.flush()
    return network


def send_network_invitations(session: Session, *, shortlist: Shortlist, user: User) -> Any:
    """Send the invitations of the network built from a shortlist."""
    networks = networks_service()
    network = networks.get_network(session, shortlist.network_id) if (
        networks is not None and shortlist.network_id) else None
    if network is None:
        raise AssociationError(_("Build the network first."))
    try:
        return networks.transition(session, network=network, to="forming", user=user)
    except networks.NetworkError as exc:
        raise AssociationError(str(exc)) from None


def hand_to_facilitator(session: Session, *, shortlist: Shortlist, user: User,
                        email: str) -> Any:
    """Start the contract draft of an agreed network and assign a facilitator to it."""
    networks = networks_service()
    if networks is None or shortlist.network_id is None:
        raise AssociationError(_("Build the network first."))
    try:
        from matchmaker.contracts import service as contracts
    except ImportError:
        raise AssociationError(_("Contracts are not available on this installation yet.")) from None
    network = networks.get_network(session, shortlist.network_id)
    if network is None or network.status != "agreed":
        raise AssociationError(_("The network can go to a facilitator once its firms have "
                                 "agreed (every invitation answered, at least two members)."))
    facilitator = accounts_service.get_user_by_email(session, email or "")
    if facilitator is None or facilitator.role != "facilitator" or not facilitator.is_active:
        raise AssociationError(_("no active facilitator has this e-mail address"), "email")
    try:
        contract = contracts.create_from_network(session, author=user, network_id=network.id)
        contracts.assign_facilitator(session, contract=contract, email=facilitator.email)
    except contracts.ContractError as exc:
        raise AssociationError(str(exc)) from None
    return contract


@dataclass
class NetworkRow:
    shortlist: Shortlist
    network_id: int | None
    name: str
    status: str | None
    status_label: str
    members: int
    pending: int
    declined: int


def association_networks(session: Session, *, association: Association) -> list[NetworkRow]:
    """Return every shortlist of the association with the state of the network built from it."""
    networks = networks_service()
    out = []
    for sl in list_shortlists(session, association=association):
        network = networks.get_network(session, sl.network_id) if (
            networks is not None and sl.network_id) else None
        if network is None:
            out.append(NetworkRow(sl, None, sl.name, None, _("Shortlist"), len(sl.firms), 0, 0))
            continue
        active = [m for m in network.members if m.status == "active"]
        statuses = [networks.effective_status(i) for i in network.invitations]
        out.append(NetworkRow(sl, network.id, network.name, network.status,
                              _(networks.STATUS_LABELS.get(network.status, network.status)),
                              len(active), statuses.count("pending"),
                              statuses.count("declined")))
    return out


# Networks of member firms: the states listed (a cancelled network no longer exists).
LISTED_NETWORK_STATES = ("proposed", "forming", "agreed", "contract_drafting", "registered")


@dataclass
class MemberNetwork:
    """A network in which member firms take part, as its association sees it."""

    id: int
    name: str
    status: str
    status_label: str
    members: int  # active member firms of the network
    association_members: int  # of them, active members of the association the viewer sees
    updated_at: datetime | None
    shortlist_id: int | None = None


@dataclass
class MemberNetworks:
    """One page of the networks of member firms, and how many there are in each state."""

    page: firms_service.Page
    by_state: list[tuple[str, str, int]]  # (state, label, networks), every listed state

    @property
    def total(self) -> int:
        return self.page.total


def _visible_members(session: Session, association: Association, viewer: User | None,
                     province: str | None = None) -> Select:
    """SELECT the ids of the association's active members the viewer may see (in a province)."""
    return select(Firm.id).where(_scope(session, association, viewer, province))


def _member_networks_select(session: Session, association: Association, viewer: User | None,
                            province: str | None) -> Select:
    from matchmaker.networks.models import Network, NetworkMember

    # The rule: a network is listed when at least one of its active member firms is an active
    # member of the association that the viewer may see (and, with a province, is there).
    # A hidden member's networks stay unknown, as the hidden firm itself does.
    firms = _visible_members(session, association, viewer, province)
    ids = select(NetworkMember.network_id).where(NetworkMember.status == "active",
                                                 NetworkMember.firm_id.in_(firms))
    return select(Network.id).where(Network.id.in_(ids),
                                    Network.status.in_(LISTED_NETWORK_STATES))


def member_networks(
    session: Session, *, association: Association, viewer: User | None,
    province: str | None = None, status: str | None = None, page: int = 1, per_page: int = 20,
) -> MemberNetworks:
    """Return one page of the networks in which the association's member firms take part.

    A network counts when one of its active members is a member firm the viewer may see (in
    the province, when one is chosen); each row tells the network's state, its active member
    firms and how many of them are the association's members (that the viewer may see).
    Cancelled networks are left out. Newest activity first.
    """
    networks = networks_service()
    empty = MemberNetworks(firms_service.Page([], 0, 1, per_page), [])
    if networks is None:
        return empty
    from matchmaker.networks.models import Network, NetworkMember

    base = _member_networks_select(session, association, viewer, province)
    counts = dict(session.execute(
        select(Network.status, func.count()).where(Network.id.in_(base))
        .group_by(Network.status)).all())
    by_state = [(s, _(networks.STATUS_LABELS.get(s, s)), int(counts.get(s, 0)))
                for s in LISTED_NETWORK_STATES]
    if status in LISTED_NETWORK_STATES:
        base = base.where(Network.status == status)
    total = int(session.scalar(select(func.count()).select_from(base.subquery())) or 0)
    per_page = max(1, per_page)
    pages = max(1, math.ceil(total / per_page))
    page = min(max(1, page), pages)
    rows = session.execute(
        select(Network.id, Network.name, Network.status, Network.updated_at)
        .where(Network.id.in_(base))
        .order_by(Network.updated_at.desc(), Network.id.desc())
        .offset((page - 1) * per_page).limit(per_page)).all()
    ids = [r.id for r in rows]
    sizes: dict[int, int] = {}
    ours: dict[int, int] = {}
    shortlists: dict[int, int] = {}
    if ids:
        active = (NetworkMember.status == "active") & NetworkMember.network_id.in_(ids)
        sizes = dict(session.execute(select(NetworkMember.network_id, func.count())
                                     .where(active).group_by(NetworkMember.network_id)).all())
        visible = _visible_members(session, association, viewer)
        ours = dict(session.execute(
            select(NetworkMember.network_id, func.count())
            .where(active, NetworkMember.firm_id.in_(visible))
            .group_by(NetworkMember.network_id)).all())
        shortlists = {nid: sid for sid, nid in session.execute(
            select(Shortlist.id, Shortlist.network_id).where(
                Shortlist.association_id == association.id, Shortlist.network_id.in_(ids)))}
    items = [MemberNetwork(r.id, r.name, r.status,
                           _(networks.STATUS_LABELS.get(r.status, r.status)),
                           int(sizes.get(r.id, 0)), int(ours.get(r.id, 0)), r.updated_at,
                           shortlists.get(r.id))
             for r in rows]
    return MemberNetworks(firms_service.Page(items, total, page, per_page), by_state)


@dataclass
class MemberNetworkDetail:
    """A network of member firms: its state and the members the curator may name."""

    network: Any
    status_label: str
    members: list[dict[str, Any]]  # the association's members in it, that the viewer sees
    others: int  # the network's other active member firms (not named here)
    shortlist_id: int | None


def member_network(session: Session, *, association: Association, viewer: User | None,
                   network_id: int) -> MemberNetworkDetail | None:
    """Return a network listed by `member_networks` (None when the viewer may not see it)."""
    networks = networks_service()
    if networks is None:
        return None
    from matchmaker.networks.models import Network

    allowed = _member_networks_select(session, association, viewer, None)
    if session.scalar(allowed.where(Network.id == network_id)) is None:
        return None
    network = networks.get_network(session, network_id)
    if network is None:
        return None
    active = [m for m in network.members if m.status == "active"]
    visible = set(session.scalars(_visible_members(session, association, viewer).where(
        Firm.id.in_([m.firm_id for m in active]))))
    rows = {r["id"]: r for r in firms_service.firm_rows(session, visible)}
    named = [{"partita_iva": rows[m.firm_id]["partita_iva"], "name": rows[m.firm_id]["name"],
              "role": m.role, "stage": (networks.stage_name(network.chain_key, m.stage_key)
                                        if m.stage_key else "")}
             for m in active if m.firm_id in rows]
    shortlist_id = session.scalar(select(Shortlist.id).where(
        Shortlist.association_id == association.id, Shortlist.network_id == network_id))
    return MemberNetworkDetail(network, _(networks.STATUS_LABELS.get(network.status,
                                                                     network.status)),
                               named, len(active) - len(named), shortlist_id)


# ------------------------------------------------------------------------------ campaigns


def _serializer() -> URLSafeTimedSerializer:
    return URLSafeTimedSerializer(get_settings().secret_key, salt=_TOKEN_SALT)


def campaign_token(campaign_id: int, firm_id: int) -> str:
    """Return the signed token of one firm's campaign link."""
    return _serializer().dumps([campaign_id, firm_id])


def read_campaign_token(token: str) -> tuple[int, int]:
    """Return (campaign id, firm id) of a valid link, or raise AssociationError."""
    try:
        data = _serializer().loads(token, max_age=CAMPAIGN_TOKEN_DAYS * 86400)
    except SignatureExpired:
        raise AssociationError(_("This link has expired: ask your association for a new "
                                 "one.")) from None
    except BadSignature:
        raise AssociationError(_("This link is not valid.")) from None
    if not (isinstance(data, list) and len(data) == 2 and all(isinstance(x, int) for x in data)):
        raise AssociationError(_("This link is not valid."))
    return data[0], data[1]


def profile_complete(row: dict[str, Any]) -> bool:
    """Tell whether a firm's profile has offers, needs and goals filled."""
    return bool((row.get("offers") or "").strip() and (row.get("needs") or "").strip()
                and row.get("goals"))


def create_campaign(session: Session, *, association: Association, user: User, name: str,
                    message: str = "", only_incomplete: bool = True) -> Campaign:
    """Invite the members the curator can see (those with incomplete profiles, or all)."""
    name = name.strip()
    if not 2 <= len(name) <= 200:
        raise AssociationError(_("give the campaign a name (2 to 200 characters)"), "name")
    if len(message) > 4000:
        raise AssociationError(_("the message is too long (4000 characters at most)"), "message")
    visible = firms_service.scope_clause(ids=_member_select(association.id)) & viewer_clause(
        session, user)
    ids = firms_service.firm_ids(session, where=visible)
    rows = firms_service.firm_rows(session, ids)
    chosen = [r for r in rows if not (only_incomplete and profile_complete(r))]
    if not chosen:
        raise AssociationError(_("every member you can see has a complete profile already")
                               if rows else _("the association has no members yet"), "name")
    campaign = Campaign(association_id=association.id, name=name, message=message.strip(),
                        created_by=user.id)
    session.add(campaign)
    session.flush()
    table = CampaignInvite.__table__
    values = [{"campaign_id": campaign.id, "firm_id": r["id"],
               "complete_at_start": profile_complete(r)} for r in chosen]
    for start in range(0, len(values), 1000):
        session.execute(insert(table), values[start:start + 1000])
    session.flush()
    return campaign


def list_campaigns(session: Session, *, association: Association) -> list[Campaign]:
    """Return the association's campaigns, newest first."""
    return list(session.scalars(select(Campaign).where(
        Campaign.association_id == association.id).order_by(Campaign.id.desc())))


def get_campaign(session: Session, *, association: Association, campaign_id: int) -> Campaign | None:
    """Return one of the association's campaigns."""
    c = session.get(Campaign, campaign_id)
    return c if c is not None and c.association_id == association.id else None


def close_campaign(session: Session, *, campaign: Campaign) -> None:
    """Close a campaign: its links stop working."""
    campaign.closed = True
    session.flush()


@dataclass
class CampaignProgress:
    invited: int
    opened: int
    offers: int
    needs: int
    goals: int
    complete: int
    complete_at_start: int

    @property
    def share(self) -> float:
        """Return the share (0-1) of invited firms whose profile is now complete."""
        return self.complete / self.invited if self.invited else 0.0


@dataclass
class CampaignFirm:
    firm_id: int
    partita_iva: str
    name: str
    email: str | None
    token: str
    opened_at: datetime | None
    offers: bool
    needs: bool
    goals: bool

    @property
    def complete(self) -> bool:
        """Tell whether offers, needs and goals are all filled."""
        return self.offers and self.needs and self.goals


def campaign_firms(session: Session, *, campaign: Campaign) -> list[CampaignFirm]:
    """Return every invited firm with its link and what its profile has now, by name."""
    invites = session.execute(select(CampaignInvite.firm_id, CampaignInvite.opened_at).where(
        CampaignInvite.campaign_id == campaign.id)).all()
    opened = dict(invites)
    rows = firms_service.firm_rows(session, list(opened))
    emails = {}
    if rows:
        emails = {f["id"]: f.get("email") for f in _emails(session, [r["id"] for r in rows])}
    out = [CampaignFirm(r["id"], r["partita_iva"], r["name"], emails.get(r["id"]),
                        campaign_token(campaign.id, r["id"]), opened.get(r["id"]),
                        bool((r["offers"] or "").strip()), bool((r["needs"] or "").strip()),
                        bool(r["goals"]))
           for r in rows]
    return sorted(out, key=lambda f: (f.name.casefold(), f.firm_id))


def _emails(session: Session, ids: list[int]) -> list[dict[str, Any]]:
    out = []
    for start in range(0, len(ids), 200):
        page = firms_service.list_firms(
            session, filters=firms_service.FirmFilters(), per_page=200,
            visible=firms_service.scope_clause(ids=ids[start:start + 200]))
        out += [{"id": f.id, "email": f.email} for f in page.items]
    return out


def campaign_progress(session: Session, *, campaign: Campaign,
                      firms: Sequence[CampaignFirm] | None = None) -> CampaignProgress:
    """Count the invited firms, the links opened and the profiles filled now."""
    firms = campaign_firms(session, campaign=campaign) if firms is None else firms
    at_start = int(session.scalar(select(func.count()).select_from(CampaignInvite).where(
        CampaignInvite.campaign_id == campaign.id, CampaignInvite.complete_at_start)) or 0)
    return CampaignProgress(
        invited=len(firms), opened=sum(1 for f in firms if f.opened_at is not None),
        offers=sum(f.offers for f in firms), needs=sum(f.needs for f in firms),
        goals=sum(f.goals for f in firms), complete=sum(f.complete for f in firms),
        complete_at_start=at_start)


def campaign_links_csv(firms: Sequence[CampaignFirm], *, base_url: str) -> str:
    """Return name, partita IVA, e-mail and link of every invited firm (for a mail merge)."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(["partita_iva", "name", "email", "link", "opened", "complete"])
    for f in firms:
        writer.writerow([f.partita_iva, f.name, f.email or "",
                         f"{base_url.rstrip('/')}/campaign-links/{f.token}",
                         "yes" if f.opened_at else "no", "yes" if f.complete else "no"])
    return out.getvalue()


@dataclass
class LinkOutcome:
    """Where a campaign link leads: the firm, and whether the visitor just claimed it."""

    partita_iva: str
    name: str
    claimed: bool


def open_campaign_link(session: Session, *, token: str, user: User) -> LinkOutcome:
    """Follow a firm's campaign link: its editors go to the edit page; a firm nobody runs yet
    is claimed by the signed-in owner account that opens its link."""
    campaign_id, firm_id = read_campaign_token(token)
    campaign = session.get(Campaign, campaign_id)
    invite = session.scalar(select(CampaignInvite).where(
        CampaignInvite.campaign_id == campaign_id, CampaignInvite.firm_id == firm_id))
    if campaign is None or invite is None or campaign.closed:
        raise AssociationError(_("This campaign is over: ask your association for a new link."))
    row = next(iter(firms_service.firm_rows(session, [firm_id])), None)
    if row is None:
        raise AssociationError(_("This firm is no longer registered."))
    memberships = accounts_service.memberships_for(session, user)
    claimed = False
    if not policy.can_edit_firm(user, _FirmRef(firm_id, row["visibility"]),
                                memberships=memberships):
        people = accounts_service.firm_member_users(session, firm_id)
        if not policy.can_claim_firm(user, firm_has_people=bool(people)):
            raise PermissionError(
                _("This link is for the people of %(name)s: sign in with the account that "
                  "runs the firm.") % {"name": row["name"]})
        accounts_service.add_firm_member(session, user=user, firm_id=firm_id, role="owner")
        accounts_service.audit(session, actor=user, action="firm.claimed", object_type="firm",
                               object_id=firm_id, detail={"campaign": campaign_id})
        claimed = True
    if invite.opened_at is None:
        invite.opened_at = utcnow()
    session.flush()
    return LinkOutcome(row["partita_iva"], row["name"], claimed)


@dataclass
class _FirmRef:
    id: int
    visibility: str
