"""axe-core finds no serious or critical violation on the main pages; keyboard use works."""

import re

import pytest

pytest.importorskip("playwright")

from playwright.sync_api import expect

from tests.browser.helpers import (
    DEMO_ADMIN,
    DEMO_FACILITATOR,
    DEMO_OWNER,
    audit,
    demo_pair,
    describe,
    log_in,
)

PUBLIC_PAGES = [
    "/", "/login", "/register", "/password-reset", "/privacy", "/firms", "/firms?q=mobili",
    "/sectors", "/sectors?q=mobili", "/sectors/31.09?edition=2022", "/chains",
    "/chains/wood_furniture",
]
# {a}: a firm of the demo owner, {b}: a firm of another owner.
OWNER_PAGES = [
    "/", "/firms/{a}", "/firms/{a}/edit", "/firms/new", "/firms/{a}/suggestions",
    "/firms/{a}/suggestions?radius_km=50", "/firms/{a}/why?other={b}", "/account",
    "/firms/{a}/members", "/networks", "/inbox", "/introductions/new?from_firm={a}&to_firm={b}",
]

# {c}: a rete-soggetto draft the facilitator started for {a} and {b}.
FACILITATOR_PAGES = [
    "/contracts", "/contracts/new", "/contracts/{c}", "/contracts/{c}/steps/participants",
    "/contracts/{c}/steps/programme", "/contracts/{c}/steps/fund", "/contracts/{c}/steps/signature",
    "/contracts/{c}/versions", "/contract-templates",
]
# {s}: an association the administrator registered.
ADMIN_PAGES = [
    "/admin/users", "/admin/audit", "/associations", "/associations/{s}",
    "/associations/{s}/members", "/associations/{s}/imports", "/associations/{s}/networks",
    "/associations/{s}/campaigns",
]


def _signed_in(browser, browser_context_args, email):
    context = browser.new_context(**browser_context_args)
    page = context.new_page()
    log_in(page, email)
    return context, page


@pytest.fixture(scope="module")
def owner_page(browser, browser_context_args, server):
    """A page signed in as the demo owner, shared by the owner-page audits."""
    context, page = _signed_in(browser, browser_context_args, DEMO_OWNER)
    yield page
    context.close()


@pytest.fixture(scope="module")
def facilitator_page(browser, browser_context_args, pivas):
    """The demo facilitator, with a rete-soggetto draft for two demo firms."""
    context, page = _signed_in(browser, browser_context_args, DEMO_FACILITATOR)
    page.goto("/contracts/new")
    page.locator("#f-title").fill("Rete per la verifica di accessibilità")
    page.locator("input[name=kind][value=rete_soggetto]").check()
    page.locator("#f-partite_iva").fill(f"{pivas['a']}\n{pivas['b']}")
    with page.expect_navigation():
        page.locator("main form[action='/contracts/new'] button[type=submit]").click()
    pivas["c"] = re.search(r"/contracts/(\d+)/", page.url).group(1)
    yield page
    context.close()


@pytest.fixture(scope="module")
def admin_page(browser, browser_context_args, pivas):
    """The demo administrator, with an association registered."""
    context, page = _signed_in(browser, browser_context_args, DEMO_ADMIN)
    pivas["s"] = "verifica-accessibilita"
    page.goto("/associations")
    page.locator("#f-name").fill("Associazione di prova")
    page.locator("#f-slug").fill(pivas["s"])
    with page.expect_navigation():
        page.locator("main form[action='/associations'] button[type=submit]").click()
    yield page
    context.close()


@pytest.fixture(scope="module")
def pivas(server) -> dict[str, str]:
    """Partite IVA (and later ids) that the page templates are filled with."""
    (a, _name), (b, _other, _email) = demo_pair(server)
    return {"a": a, "b": b}


def _check(page, url: str, axe_source: str) -> None:
    resp = page.goto(url)
    assert resp is not None and resp.status == 200, (url, resp and resp.status)
    page.wait_for_load_state("networkidle")  # HTMX panels that load by themselves
    violations = audit(page, axe_source)
    assert not violations, f"{url}:\n{describe(violations)}"


@pytest.mark.parametrize("url", PUBLIC_PAGES)
def test_public_page_has_no_serious_violations(page, url, axe_source) -> None:
    _check(page, url, axe_source)


@pytest.mark.parametrize("url", OWNER_PAGES)
def test_owner_page_has_no_serious_violations(owner_page, pivas, url, axe_source) -> None:
    _check(owner_page, url.format(**pivas), axe_source)


@pytest.mark.parametrize("url", FACILITATOR_PAGES)
def test_facilitator_page_has_no_serious_violations(facilitator_page, pivas, url, axe_source) -> None:
    _check(facilitator_page, url.format(**pivas), axe_source)


@pytest.mark.parametrize("url", ADMIN_PAGES)
def test_admin_and_association_page_has_no_serious_violations(admin_page, pivas, url,
                                                              axe_source) -> None:
    _check(admin_page, url.format(**pivas), axe_source)


def test_english_pages_and_a_form_with_errors(owner_page, pivas, axe_source) -> None:
    page = owner_page
    _check(page, "/firms?lang=en", axe_source)
    page.goto("/firms/new")
    page.locator("#f-partita_iva").fill("123")
    page.locator("#f-email").fill("not-an-email")
    with page.expect_navigation():
        page.locator("main form button[type=submit]").last.click()
    expect(page.locator("#form-errors")).to_be_visible()
    violations = audit(page, axe_source)
    assert not violations, describe(violations)


def test_keyboard_skip_link_focus_ring_and_picker(owner_page) -> None:
    page = owner_page
    page.goto("/firms/new")
    page.keyboard.press("Tab")
    skip = page.locator("a.skip-link")
    expect(skip).to_be_focused()
    assert skip.bounding_box()["y"] >= 0, "the skip link shows when focused"
    page.keyboard.press("Enter")
    expect(page).to_have_url(re.compile(r"#main$"))

    # Every focused control gets a visible ring.
    page.locator("#f-name").focus()
    outline = page.evaluate(
        "() => { const s = getComputedStyle(document.activeElement);"
        " return [s.outlineStyle, s.outlineWidth, s.boxShadow]; }"
    )
    assert outline[0] != "none" and outline[1] != "0px", outline

    # The ATECO picker: type, arrow down into the list, Enter picks, focus comes back.
    field = page.locator("#f-ateco")
    field.focus()
    field.press_sequentially("31.00.3", delay=30)
    first = page.locator("#ateco-options button").first
    expect(first).to_be_visible(timeout=10_000)
    page.keyboard.press("ArrowDown")
    expect(first).to_be_focused()
    code = first.get_attribute("data-pick-value")
    page.keyboard.press("Enter")
    expect(field).to_have_value(code)
    expect(field).to_be_focused()
    expect(page.locator("#ateco-options button")).to_have_count(0)


def test_htmx_regions_announce_their_updates(owner_page, pivas) -> None:
    page = owner_page
    page.goto(f"/firms/{pivas['a']}/suggestions")
    for region in ("#suggestions", "#toasts"):
        expect(page.locator(region)).to_have_attribute("aria-live", "polite")
    page.goto("/firms")
    expect(page.locator("#firm-results")).to_have_attribute("aria-live", "polite")
    # Every HTMX target on the firm form is a live region.
    page.goto("/firms/new")
    for target in page.locator("[hx-target]").evaluate_all("els => els.map(e => e.getAttribute('hx-target'))"):
        if target.startswith("#"):
            expect(page.locator(target)).to_have_attribute("aria-live", re.compile("polite|assertive"))


def test_phone_width_has_no_horizontal_scroll(browser, browser_context_args, pivas) -> None:
    context = browser.new_context(**{**browser_context_args, "viewport": {"width": 375, "height": 740},
                                     "is_mobile": True, "has_touch": True})
    page = context.new_page()
    try:
        for url in ("/", "/firms", "/register", f"/firms/{pivas['a']}", "/chains"):
            page.goto(url)
            width = page.evaluate("() => document.documentElement.scrollWidth")
            assert width <= 376, f"{url} is {width}px wide on a 375px phone"
    finally:
        context.close()
