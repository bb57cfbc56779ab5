"""Builders for network test data: firms with chosen codes and places, owners, networks."""

import itertools
import uuid
from typing import Any

from matchmaker.firms import service as firms_service
from matchmaker.firms.schemas import validate_firm
from tests.firms.helpers import firm_payload

_serial = itertools.count(int(uuid.uuid4().int % 4_000_000) + 2_000_000)


def make_firm(db: Any, **over: Any) -> Any:
    """Register a firm (ATECO 2022, no goals or texts unless given)."""
    base = {
        "ateco_edition": "2022",
        "goals": [],
        "offers": "",
        "needs": "",
        "employees": None,
        "turnover_eur": None,
    }
    payload = firm_payload(next(_serial), **{**base, **over})
    return firms_service.create_firm(db, data=validate_firm(payload))
