"""What the browser journeys share: logging in, the accessibility audit, screenshots."""

import random
from pathlib import Path
from typing import Any

from stdnum import luhn

DEMO_PASSWORD = "demo-password"
DEMO_OWNER = "titolare@demo.matchmaker.it"
DEMO_CURATOR = "curatore@demo.matchmaker.it"
DEMO_FACILITATOR = "facilitatore@demo.matchmaker.it"
DEMO_ADMIN = "admin@demo.matchmaker.it"
SERIOUS = ("serious", "critical")


def new_partita_iva(rng: random.Random | None = None) -> str:
    """Return a valid partita IVA that the demo data does not use (serials from 9000000)."""
    rng = rng or random.Random()
    body = f"{rng.randrange(9_000_000, 9_999_999):07d}015"
    return body + luhn.calc_check_digit(body)


def log_in(page: Any, email: str, password: str = DEMO_PASSWORD) -> None:
    """Sign in through the login form and wait for the next page."""
    page.goto("/login")
    page.get_by_label("Email").fill(email)
    page.locator("#f-password").fill(password)
    with page.expect_navigation():
        page.locator("main form[action='/login'] button[type=submit]").click()
    assert "/login" not in page.url, f"login as {email} failed: {page.url}"


def log_out(page: Any) -> None:
    """Sign out with the header button."""
    with page.expect_navigation():
        page.locator("form[action='/logout'] button").click()


def audit(page: Any, axe_source: str) -> list[dict[str, Any]]:
    """Run axe-core on the current page; return the serious and critical violations."""
    if not page.evaluate("() => typeof window.axe !== 'undefined'"):
        page.evaluate(axe_source)  # through the DevTools protocol: the page's CSP stays strict
    result = page.evaluate(
        """async () => {
            const r = await axe.run(document, {resultTypes: ['violations']});
            return r.violations.map(v => ({id: v.id, impact: v.impact, help: v.help,
                nodes: v.nodes.slice(0, 5).map(n => n.target.join(' ') + ' :: ' +
                       (n.failureSummary || '').replace(/\\s+/g, ' ').slice(0, 200))}));
        }"""
    )
    return [v for v in result if v["impact"] in SERIOUS]


def describe(violations: list[dict[str, Any]]) -> str:
    """Format violations for an assertion message."""
    return "\n".join(f"[{v['impact']}] {v['id']}: {v['help']}\n    " + "\n    ".join(v["nodes"])
                     for v in violations)


def screenshot(page: Any, output_path: str, name: str) -> Path:
    """Save a full-page screenshot of the journey's last page under the test output folder."""
    path = Path(output_path) / f"{name}.png"
    path.parent.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(path), full_page=True)
    return path


def watch_console(page: Any) -> list[str]:
    """Collect the page's console errors (CSP refusals, script errors, failed loads)."""
    errors: list[str] = []
    page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    page.on("pageerror", lambda e: errors.append(str(e)))
    return errors


def demo_pair(server: Any) -> tuple[tuple[str, str], tuple[str, str, str]]:
    """Return a firm of the demo owner and a firm of another demo owner, with its email."""
    from sqlalchemy import create_engine, text

    engine = create_engine(server.database_url)
    query = text(
        "SELECT f.partita_iva, f.name, u.email FROM firm f "
        "JOIN firm_membership m ON m.firm_id = f.id JOIN user_account u ON u.id = m.user_id "
        "WHERE u.role = 'owner' AND m.role = 'owner' AND f.visibility = 'public' "
        "ORDER BY u.email, f.partita_iva"
    )
    try:
        with engine.connect() as conn:
            rows = conn.execute(query).all()
    finally:
        engine.dispose()
    mine = next((p, n) for p, n, e in rows if e == DEMO_OWNER)
    other = next((p, n, e) for p, n, e in rows if e != DEMO_OWNER and e.endswith("demo.matchmaker.it"))
    return mine, other
