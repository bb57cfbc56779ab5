"""Authorization matrix rows for partner suggestions: exclusions are the firm editors' call."""

from typing import Any

from matchmaker.firms import service as firms_service
from matchmaker.firms.schemas import validate_firm
from matchmaker.matching import service
from tests.authz import Ctx, Row, owner_or_admin, target
from tests.firms.authz_rows import _firm, _serial
from tests.firms.helpers import firm_payload


def _other(ctx: Ctx) -> Any:
    return firms_service.create_firm(ctx.db, data=validate_firm(firm_payload(_serial())))


@target("firm_with_exclusion")
def firm_with_exclusion(ctx: Ctx, owner: Any) -> dict[str, Any]:
    """A public firm (owned by the actor when owned) that excludes one competitor."""
    out = _firm(ctx, owner, "public")
    ex = service.add_exclusion(ctx.db, firm=out["firm"], other=_other(ctx), kind="competitor",
                               user=None)
    return {**out, "exclusion_id": ex.id}


ROWS = [
    Row("POST", "/firms/{piva}/exclusions", owner_or_admin(), target="firm",
        body=lambda ctx: {"other": _other(ctx).partita_iva, "kind": "competitor"}),
    Row("POST", "/firms/{piva}/exclusions/{exclusion_id}/delete", owner_or_admin(),
        target="firm_with_exclusion"),
    Row("POST", "/api/v1/firms/{piva}/exclusions", owner_or_admin(), target="firm",
        body=lambda ctx: {"partita_iva": _other(ctx).partita_iva, "kind": "same_group"}),
    Row("DELETE", "/api/v1/firms/{piva}/exclusions/{exclusion_id}", owner_or_admin(),
        target="firm_with_exclusion"),
]
