"""Templates, HTMX detection, rendering helpers and flash messages."""

from typing import Any

from babel.dates import format_date, format_datetime
from babel.numbers import format_currency, format_decimal
from fastapi import Request
from fastapi.responses import RedirectResponse, Response
from jinja2_fragments.fastapi import Jinja2Blocks

from matchmaker import i18n
from matchmaker.config import get_settings

templates = Jinja2Blocks(directory=str(get_settings().templates_dir))
templates.env.add_extension("jinja2.ext.i18n")
templates.env.install_gettext_callables(i18n.gettext, i18n.ngettext, newstyle=True)  # type: ignore[attr-defined]
templates.env.globals["current_language"] = lambda: i18n.current_language.get()
templates.env.filters["number"] = lambda v, digits=0: (
    "" if v is None else format_decimal(v, format=f"#,##0{'.' + '0' * digits if digits else ''}",
                                        locale=i18n.babel_locale())
)
templates.env.filters["eur"] = lambda v: (
    "" if v is None else format_currency(v, "EUR", locale=i18n.babel_locale())
)
templates.env.filters["date"] = lambda v: "" if v is None else format_date(v, locale=i18n.babel_locale())
templates.env.filters["datetime"] = lambda v: (
    "" if v is None else format_datetime(v, "short", locale=i18n.babel_locale())
)


def is_htmx(request: Request) -> bool:
    """Tell whether the request wants a fragment: HTMX, not boosted, not a history restore."""
    h = request.headers
    return (
        h.get("HX-Request") == "true"
        and h.get("HX-Boosted") != "true"
        and h.get("HX-History-Restore-Request") != "true"
    )


def flash(request: Request, message: str, kind: str = "success") -> None:
    """Queue a message to show on the next rendered page."""
    request.session.setdefault("_flashes", []).append({"message": message, "kind": kind})


def pop_flashes(request: Request) -> list[dict[str, str]]:
    """Take the queued messages out of the session."""
    return request.session.pop("_flashes", []) if "session" in request.scope else []


def render(
    request: Request,
    template: str,
    context: dict[str, Any] | None = None,
    *,
    block: str | None = None,
    status_code: int = 200,
) -> Response:
    """Render a page, or only `block` when HTMX asks for a fragment."""
    ctx = dict(context or {})
    ctx.setdefault("flashes", pop_flashes(request))
    ctx.setdefault("user", getattr(request.state, "user_view", None))
    ctx.setdefault("csrf_token", getattr(request.state, "csrf_token", ""))
    if block is not None and is_htmx(request):
        resp = templates.TemplateResponse(
            request, template, ctx, block_name=block, status_code=status_code
        )
    else:
        resp = templates.TemplateResponse(request, template, ctx, status_code=status_code)
    resp.headers["Vary"] = "HX-Request"
    return resp


def redirect(url: str) -> RedirectResponse:
    """Return the 303 that ends every successful form post."""
    return RedirectResponse(url, status_code=303)
