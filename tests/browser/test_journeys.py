"""What people do, in a real browser: sign up and find partners, answer, import, draft, no JS."""

import re

import pytest

pytest.importorskip("playwright")

from playwright.sync_api import expect  # noqa: E402

from tests.browser.helpers import (  # noqa: E402
    DEMO_OWNER,
    demo_pair,
    log_in,
    log_out,
    new_partita_iva,
    screenshot,
    watch_console,
)

CSP_OR_SCRIPT_ERROR = re.compile(r"Content Security Policy|Uncaught|ReferenceError|TypeError")


def _no_script_errors(errors: list[str]) -> None:
    bad = [e for e in errors if CSP_OR_SCRIPT_ERROR.search(e)]
    assert not bad, "console errors: " + "; ".join(bad)


def _pick(page, input_selector: str, text: str, option: str) -> None:
    """Type into an HTMX picker, wait for its list, and click the option containing `option`."""
    field = page.locator(input_selector)
    field.click()
    field.press_sequentially(text, delay=30)
    list_id = field.get_attribute("aria-controls")
    choice = page.locator(f"#{list_id} button", has_text=option).first
    expect(choice).to_be_visible(timeout=10_000)
    choice.click()
    expect(page.locator(f"#{list_id} button")).to_have_count(0)


def test_owner_signs_up_registers_a_firm_and_reaches_a_partner(page, output_path) -> None:
    errors = watch_console(page)
    page.goto("/")
    expect(page.locator("html")).to_have_attribute("lang", "it")
    with page.expect_navigation():
        page.locator("main a[href='/register']").first.click()

    email = f"nuova.titolare.{new_partita_iva()[:6]}@example.it"
    page.locator("#f-full_name").fill("Giulia Fumagalli")
    page.locator("#f-email").fill(email)
    page.locator("#f-password").fill("una frase lunga e segreta")
    page.locator("#f-password_confirm").fill("una frase lunga e segreta")
    page.locator("input[name=privacy]").check()
    with page.expect_navigation():
        page.locator("main form[action='/register'] button[type=submit]").click()
    # Sign-up leads straight to registering a firm.
    expect(page).to_have_url(re.compile(r"/firms/new$"))
    expect(page.locator(".toast")).to_have_count(1)

    piva = new_partita_iva()
    page.locator("#f-partita_iva").fill(piva)
    page.locator("#f-name").fill("Imbottiti Fumagalli S.r.l.")
    _pick(page, "#f-ateco", "31.00.31", "31.00.31")
    expect(page.locator("#f-ateco")).to_have_value("31.00.31")
    _pick(page, "#f-comune", "Lisso", "Lissone")
    expect(page.locator("#f-comune_istat")).to_have_value("108028")
    expect(page.locator("#f-comune")).to_have_value("Lissone")
    page.locator("#f-employees").fill("14")
    page.locator("#f-offers").fill("Divani e poltrone imbottiti su misura, rivestimenti in tessuto")
    page.locator("#f-needs").fill("Fornitori di tessuti per imbottiti e di vernici all'acqua per il legno")
    page.locator("input[name=goals]").first.check()
    with page.expect_navigation():
        page.locator("main form button[type=submit]").last.click()
    expect(page).to_have_url(re.compile(rf"/firms/{piva}$"))
    expect(page.locator("h1")).to_contain_text("Imbottiti Fumagalli")

    # The partner panel loads by itself; open the full suggestions page.
    panel = page.locator("#partner-panel")
    expect(panel.locator("li.suggestion").first).to_be_visible(timeout=20_000)
    page.goto(f"/firms/{piva}/suggestions")
    cards = page.locator("#suggestions li.suggestion")
    expect(cards.first).to_be_visible()
    before = cards.count()
    assert before >= 3

    # Filter by radius: HTMX swaps only the list; every partner is within 25 km.
    page.locator("#radius_km").select_option("25")
    expect(page).to_have_url(re.compile(r"radius_km=25"))
    page.wait_for_load_state("networkidle")
    distances = page.locator("#suggestions li.suggestion p.muted").all_inner_texts()
    kms = [int(m.group(1).replace(".", "")) for d in distances
           if (m := re.search(r"([\d.]+) km", d))]
    assert kms and all(k <= 25 for k in kms), kms

    # Why this firm?
    first = cards.first
    partner = first.locator("h2 a").inner_text()
    with page.expect_navigation():
        first.locator("a[href*='/why?other=']").click()
    expect(page.locator("#explanation h2")).to_contain_text(partner)
    expect(page.locator("#explanation table.bars tbody tr")).to_have_count(6)
    expect(page.locator("#explanation ul.reasons li").first).to_be_visible()

    # Express interest (networks) from the suggestion card: the partner sees it in its inbox.
    page.go_back()
    card = page.locator("#suggestions li.suggestion", has=page.locator("h2 a", has_text=partner))
    with page.expect_navigation():
        card.locator("a.interest").click()
    page.locator("#f-message").fill("Buongiorno, cerchiamo un partner come voi per i rivestimenti.")
    with page.expect_navigation():
        page.locator("main form[action='/introductions'] button[type=submit]").click()
    expect(page).to_have_url(re.compile(r"/introductions/\d+$"))
    expect(page.locator("h1")).to_contain_text(partner)

    # The first-run checklist on the home page is now complete.
    page.goto("/")
    expect(page.locator("#first-steps")).to_be_visible()
    expect(page.locator("#first-steps .checklist")).to_have_count(0)
    screenshot(page, output_path, "owner-journey")
    _no_script_errors(errors)


def test_the_other_owner_accepts_and_both_see_the_introduction(page, server, output_path) -> None:
    errors = watch_console(page)
    (a_piva, a_name), (b_piva, b_name, b_owner) = demo_pair(server)
    log_in(page, DEMO_OWNER)
    page.goto(f"/introductions/new?from_firm={a_piva}&to_firm={b_piva}")
    page.locator("#f-message").fill("Potremmo lavorare insieme sulle forniture?")
    with page.expect_navigation():
        page.locator("main form[action='/introductions'] button[type=submit]").click()
    intro_url = page.url
    assert re.search(r"/introductions/\d+$", intro_url)
    log_out(page)

    log_in(page, b_owner)
    page.goto("/inbox")
    row = page.locator("main table tbody tr", has_text=a_name)
    expect(row).to_have_count(1)
    with page.expect_navigation():
        row.locator("a[href^='/introductions/']").click()
    assert page.url == intro_url
    page.locator("#f-reason").fill("Siamo interessati")
    with page.expect_navigation():
        page.locator("button[name=decision][value=accept]").click()
    expect(page.locator("#messages")).to_be_visible()
    page.locator("#f-body").fill("Benvenuti! Sentiamoci la prossima settimana.")
    with page.expect_navigation():
        page.locator("#messages form button[type=submit]").click()
    expect(page.locator("#messages ol.messages li")).to_have_count(1)
    log_out(page)

    log_in(page, DEMO_OWNER)
    page.goto("/inbox")
    row = page.locator("main table tbody tr", has_text=b_name)
    expect(row).to_be_visible()
    with page.expect_navigation():
        row.locator("a[href^='/introductions/']").click()
    expect(page.locator("#messages ol.messages li")).to_contain_text("Benvenuti")
    screenshot(page, output_path, "introduction-accepted")
    _no_script_errors(errors)
    log_out(page)


def test_the_same_pages_work_without_javascript(new_context, server, output_path) -> None:
    context = new_context(java_script_enabled=False)
    page = context.new_page()
    page.goto("/")
    expect(page.locator("h1")).to_be_visible()
    log_in(page, DEMO_OWNER)

    # Filters and sorting are plain GET forms and links.
    page.goto("/firms")
    page.locator("#q").fill("mobili")
    with page.expect_navigation():
        page.locator("form[role=search] button[type=submit]").click()
    expect(page).to_have_url(re.compile(r"q=mobili"))
    expect(page.locator("#firm-results tbody tr").first).to_be_visible()
    with page.expect_navigation():
        page.locator("th a.sort").first.click()
    expect(page.locator("th[aria-sort]").first).to_have_attribute("aria-sort", "descending")

    # Registering a firm: without the pickers, the code and the comune are typed.
    piva = new_partita_iva()
    page.goto("/firms/new")
    page.locator("#f-partita_iva").fill(piva)
    page.locator("#f-name").fill("Senza Script S.r.l.")
    page.locator("#f-ateco").fill("31.00.31")
    page.locator("#f-comune").fill("Lissone")
    page.locator("#f-province").select_option("MB")
    with page.expect_navigation():
        page.locator("main form button[type=submit]").last.click()
    expect(page).to_have_url(re.compile(rf"/firms/{piva}$"))

    # A validation error comes back as the form with the message beside the field.
    page.goto("/firms/new")
    page.locator("#f-partita_iva").fill("12345678901")
    with page.expect_navigation():
        page.locator("main form button[type=submit]").last.click()
    expect(page.locator("#e-partita_iva")).to_be_visible()
    expect(page.locator("#f-partita_iva")).to_have_attribute("aria-invalid", "true")
    expect(page.locator("#form-errors a[href='#f-partita_iva']")).to_be_visible()

    # Suggestions: the filter form submits, the why form explains.
    (a_piva, _a), (b_piva, b_name, _owner) = demo_pair(server)
    page.goto(f"/firms/{a_piva}/suggestions")
    page.locator("#radius_km").select_option("100")
    with page.expect_navigation():
        page.locator("form.filters button[type=submit]").click()
    expect(page).to_have_url(re.compile(r"radius_km=100"))
    expect(page.locator("#suggestions li.suggestion").first).to_be_visible()
    page.goto(f"/firms/{a_piva}/why")
    page.locator("#other").fill(b_piva)
    with page.expect_navigation():
        page.locator("main form button[type=submit]").first.click()
    expect(page.locator("#explanation h2")).to_contain_text(b_name)

    # The language switch is a form too.
    with page.expect_navigation():
        page.locator("form.lang-switch button").click()
    expect(page.locator("html")).to_have_attribute("lang", "en")
    expect(page.locator("nav.nav ul a[href='/firms']")).to_have_text("Firms")
    screenshot(page, output_path, "no-javascript")
    with page.expect_navigation():
        page.locator("form.lang-switch button").click()
    expect(page.locator("html")).to_have_attribute("lang", "it")
    log_out(page)
