"""Builders for associations tests."""

import csv
import io
from typing import Any

from matchmaker.accounts import service as accounts_service
from matchmaker.associations import service
from matchmaker.firms import service as firms_service
from matchmaker.firms.schemas import ALL_COLUMNS, validate_firm
from tests.firms.helpers import firm_payload


def association(db, *, slug: str = "cna-monza", curator=None, region: str | None = "03",
                province: str | None = None, name: str = "CNA Monza e Brianza"):
    """Create an association (Lombardia by default), with `curator` as its curator."""
    a = service.create_association(db, slug=slug, name=name, kind="trade", region_code=region,
                                   province=province)
    if curator is not None:
        service.add_curator(db, association=a, email=curator.email)
    return a


def firm(db, serial: int, **over: Any):
    """Register a firm from firm_payload(serial, **over)."""
    return firms_service.create_firm(db, data=validate_firm(firm_payload(serial, **over)))


def members(db, a, firms, *, source: str = "added") -> None:
    """Make firms active members of an association."""
    service.add_members(db, association=a, firm_ids=[f.id for f in firms], source=source,
                        user=None)


def owner_of(db, make_user, f):
    """Return a new owner account of a firm."""
    user = make_user("owner")
    accounts_service.add_firm_member(db, user=user, firm_id=f.id, role="owner")
    return user


def csv_text(rows: list[dict[str, Any]], columns: list[str] | None = None) -> str:
    """Write firm dicts (firm_payload or demo shape) as firms CSV text."""
    columns = columns or ALL_COLUMNS
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=columns, lineterminator="\n", extrasaction="ignore")
    writer.writeheader()
    for row in rows:
        values = {}
        for k in columns:
            v = row.get(k)
            if isinstance(v, list | tuple):
                v = ";".join(v)
            values[k] = "" if v is None else v
        writer.writerow(values)
    return out.getvalue()
