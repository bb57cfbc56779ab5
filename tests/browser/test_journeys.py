"""What people do, in a real browser: sign up and find partners, answer, import, draft, no JS."""

import re

import pytest

pytest.importorskip("playwright")

from playwright.sync_api import expect

from tests.browser.helpers import (
    DEMO_ADMIN,
    DEMO_CURATOR,
    DEMO_FACILITATOR,
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
    expect(page.locator("#first-steps .first-steps-list")).to_have_count(0)
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


def _members_csv(pivas: list[str], *, bad: bool) -> bytes:
    """A members file of five firms; with `bad`, rows 3 and 5 are wrong (check digit, comune)."""
    rows = ["partita_iva,name,ateco,comune_istat,offers"]
    for i, piva in enumerate(pivas):
        comune = "108028"
        if bad and i == 1:
            piva = piva[:-1] + str((int(piva[-1]) + 1) % 10)  # wrong check digit
        if bad and i == 3:
            comune = "999999"  # no such comune
        rows.append(f"{piva},Socio Brianza {i + 1} S.r.l.,31.00.31,{comune},Arredi su misura")
    return ("\n".join(rows) + "\n").encode()


def test_a_curator_imports_members_fixes_two_rows_and_sees_the_dashboard(page, output_path) -> None:
    errors = watch_console(page)
    slug = f"artigiani-brianza-{new_partita_iva()[:5]}"
    log_in(page, DEMO_ADMIN)
    page.goto("/associations")
    page.locator("#f-name").fill("Artigiani della Brianza")
    page.locator("#f-slug").fill(slug)
    page.locator("#f-region_code").select_option(label="Lombardia")
    with page.expect_navigation():
        page.locator("main form[action='/associations'] button[type=submit]").click()
    expect(page).to_have_url(re.compile(rf"/associations/{slug}/members$"))
    page.locator("form[action$='/curators'] input[name=email]").fill(DEMO_CURATOR)
    with page.expect_navigation():
        page.locator("form[action$='/curators'] button[type=submit]").click()
    log_out(page)

    log_in(page, DEMO_CURATOR)
    pivas = [new_partita_iva() for _ in range(5)]
    page.goto(f"/associations/{slug}/imports")
    page.locator("#file").set_input_files(files=[{
        "name": "soci.csv", "mimeType": "text/csv", "buffer": _members_csv(pivas, bad=True)}])
    with page.expect_navigation():
        page.locator("main form[enctype] button[type=submit]").click()
    job = page.locator("#import-job")
    expect(job).to_have_attribute("data-status", "preview", timeout=20_000)
    problems = job.locator("table.errors-table tbody tr")
    expect(problems).to_have_count(2)
    lines = sorted(int(t) for t in problems.locator("td:first-child").all_inner_texts())
    assert lines == [3, 5], lines
    expect(job.locator("form[action$='/confirm']")).to_have_count(0)

    # The curator fixes the two rows and uploads the file again.
    page.goto(f"/associations/{slug}/imports")
    page.locator("#file").set_input_files(files=[{
        "name": "soci-corretto.csv", "mimeType": "text/csv",
        "buffer": _members_csv(pivas, bad=False)}])
    with page.expect_navigation():
        page.locator("main form[enctype] button[type=submit]").click()
    expect(job).to_have_attribute("data-status", "preview", timeout=20_000)
    expect(job.locator("table.errors-table")).to_have_count(0)
    with page.expect_navigation():
        job.locator("form[action$='/confirm'] button").click()
    expect(job).to_have_attribute("data-status", "committed", timeout=30_000)
    with page.expect_navigation():
        job.locator(f"a[href='/associations/{slug}']").click()
    expect(page.locator(".stats .stat")).to_have_text("5")
    expect(page.locator("#gaps")).to_be_visible()
    screenshot(page, output_path, "association-dashboard")
    _no_script_errors(errors)
    log_out(page)


def _fill(page, values: dict[str, str]) -> None:
    for name, value in values.items():
        field = page.locator(f"#step-form [name='{name}']").first
        if field.evaluate("e => e.tagName") == "SELECT":
            field.select_option(value)
        else:
            field.fill(value)


def _choose(page, name: str, value: str, then: str | None = None) -> None:
    """Pick a radio; when it reveals questions, wait for the autosave to show `then`."""
    page.locator(f"#step-form input[name='{name}'][value='{value}']").check()
    if then:
        expect(page.locator(f"#step-form [name='{then}']").first).to_be_visible(timeout=10_000)


def _next_step(page) -> None:
    page.wait_for_load_state("networkidle")
    with page.expect_navigation():
        page.locator("#step-form button[name=action][value=next]").click()


def _missing(page) -> int:
    return page.locator("#checklist li.ck-missing").count()


def test_a_facilitator_drafts_a_rete_soggetto_until_the_checklist_is_green(
    page, server, output_path
) -> None:
    from tests.contracts.helpers import cf

    errors = watch_console(page)
    (a_piva, _a), (b_piva, _b, _owner) = demo_pair(server)
    log_in(page, DEMO_FACILITATOR)
    page.goto("/contracts/new")
    page.locator("#f-title").fill("Rete Arredo Brianza")
    page.locator("input[name=kind][value=rete_soggetto]").check()
    page.locator("#f-partite_iva").fill(f"{a_piva}\n{b_piva}")
    with page.expect_navigation():
        page.locator("main form[action='/contracts/new'] button[type=submit]").click()
    expect(page).to_have_url(re.compile(r"/contracts/\d+/steps/participants$"))
    contract_url = page.url.rsplit("/steps/", 1)[0]
    start_missing = _missing(page)
    assert start_missing > 5

    people = [("Anna Bianchi", cf(0)), ("Marco Rossi", cf(1))]
    for i, (name, code) in enumerate(people):
        _fill(page, {f"participants.{i}.rea": f"MB-{123450 + i}",
                     f"participants.{i}.registered_office": f"Via Roma {i + 1}, Lissone",
                     f"participants.{i}.representative.name": name,
                     f"participants.{i}.representative.tax_code": code,
                     f"participants.{i}.representative.role": "Amministratore unico"})
    _next_step(page)

    _fill(page, {"objectives.0.text": "Entrare nel mercato tedesco dell'arredo su misura",
                 "objectives.0.indicators.0.indicator": "Fatturato in Germania",
                 "objectives.0.indicators.0.baseline": "0 EUR",
                 "objectives.0.indicators.0.target": "500.000 EUR",
                 "objectives.0.indicators.0.due_date": "2028-12-31"})
    _next_step(page)
    assert _missing(page) < start_missing

    for box in page.locator("#step-form input[name='programme.collaboration_forms']").all()[:2]:
        box.check()
    _fill(page, {"programme.purpose": "Le parti progettano e vendono insieme arredi su misura.",
                 "programme.activities.0.title": "Catalogo comune",
                 "programme.activities.0.lead": a_piva,
                 "programme.activities.0.description": "Un catalogo e un sito comuni"})
    for i in range(2):
        _fill(page, {f"programme.parties.{i}.obligations": "Fornire i propri prodotti",
                     f"programme.parties.{i}.rights": "Usare il marchio comune",
                     f"programme.parties.{i}.contributions.0.kind": "money",
                     f"programme.parties.{i}.contributions.0.value_eur": "1000"})
    _next_step(page)

    _fill(page, {"duration.years": "5", "accession.procedure": "Domanda scritta all'organo comune",
                 "accession.decided_by": "unanimity"})
    _next_step(page)

    _choose(page, "common_fund.present", "yes", then="common_fund.amount_eur")
    _fill(page, {"common_fund.amount_eur": "20000",
                 "common_fund.contributions.0.amount_eur": "10000",
                 "common_fund.contributions.1.amount_eur": "10000",
                 "common_fund.valuation_criteria": "Valore nominale",
                 "common_fund.management_rules": "Gestito dall'organo comune"})
    _next_step(page)

    _choose(page, "common_body.present", "yes", then="common_body.kind")
    _choose(page, "common_body.kind", "participant", then="common_body.participant")
    _fill(page, {"common_body.participant": a_piva,
                 "common_body.powers_management": "Gestione ordinaria del programma",
                 "common_body.powers_representation": "Rappresenta la rete verso terzi",
                 "common_body.replacement": "Per decisione unanime"})
    page.locator("#step-form input[type=checkbox][name='common_body.acts_for_third_parties']").check()
    _next_step(page)

    _fill(page, {"network.name": "Rete Arredo Brianza", "network.seat_address": "Via Cavour 3",
                 "network.seat_comune": "Lissone", "network.seat_province": "MB"})
    _next_step(page)

    _fill(page, {"decisions.rules.0.matter": "Approvazione del rendiconto",
                 "decisions.rules.0.rule": "simple_majority"})
    _next_step(page)

    _fill(page, {"disputes.forum": "court", "disputes.court": "Monza"})
    _next_step(page)

    _choose(page, "form", "notarial_deed")
    _next_step(page)  # "save and finish": back to the contract page

    assert page.url == contract_url
    expect(page.locator("#checklist .checklist-summary .ok, .checklist-summary .ok").first).to_be_visible()
    expect(page.locator("li.ck-missing")).to_have_count(0)
    with page.expect_download() as download:
        page.locator("a[href$='document.docx?draft=true']").click()
    path = download.value.path()
    import zipfile

    with zipfile.ZipFile(path) as docx:
        xml = docx.read("word/document.xml").decode("utf-8")
    assert "Rete Arredo Brianza" in xml and "Anna Bianchi" in xml
    screenshot(page, output_path, "contract-complete")
    _no_script_errors(errors)
    log_out(page)
