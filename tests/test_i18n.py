"""Every UI string is in the Italian catalogue; pages switch language by choice, user and browser."""

import re
from collections import Counter
from pathlib import Path

import pytest
from babel.messages.extract import extract_from_dir
from babel.messages.frontend import parse_mapping_cfg
from babel.messages.pofile import read_po
from bs4 import BeautifulSoup

from matchmaker import i18n
from tests.matching.test_recommend import brianza  # noqa: F401  (fixture)

ROOT = Path(__file__).resolve().parents[1]
PO = ROOT / "matchmaker" / "locale" / "it" / "LC_MESSAGES" / "messages.po"
KEYWORDS = {"_": None, "gettext": None, "ngettext": (1, 2), "N_": None}
PLACEHOLDER = re.compile(r"%\((\w+)\)[-#0 +]*\d*(?:\.\d+)?[sdifr]")


def extracted_messages() -> dict[str, str]:
    """Return every msgid in the Python code and the templates, with its first location."""
    with (ROOT / "babel.cfg").open() as fh:
        method_map, options_map = parse_mapping_cfg(fh)
    found: dict[str, str] = {}
    for filename, lineno, message, _comments, _context in extract_from_dir(
        str(ROOT), method_map, options_map, keywords=KEYWORDS
    ):
        for msgid in message if isinstance(message, tuple) else (message,):
            if msgid:
                found.setdefault(msgid, f"{filename}:{lineno}")
    return found


def italian_catalogue() -> dict[str, str]:
    """Return msgid -> Italian text as the app reads it."""
    i18n.catalogue.cache_clear()
    return i18n.catalogue("it")


def test_every_message_has_an_italian_translation() -> None:
    messages = extracted_messages()
    assert len(messages) > 300, "the extractor found too few messages: check babel.cfg"
    italian = italian_catalogue()
    missing = sorted((where, msgid) for msgid, where in messages.items() if msgid not in italian)
    assert not missing, (
        f"{len(missing)} UI strings have no Italian translation; add them to {PO.relative_to(ROOT)}:\n"
        + "\n".join(f"  {where}: {msgid!r}" for where, msgid in missing)
    )


def test_catalogue_is_valid_without_duplicates_or_fuzzy_entries() -> None:
    with PO.open("rb") as fh:
        catalogue = read_po(fh, locale="it")
    assert catalogue.plural_forms == "nplurals=2; plural=(n != 1);"
    ids = re.findall(r'^msgid "(.*)"\n', PO.read_text(encoding="utf-8"), flags=re.MULTILINE)
    duplicates = [m for m, n in Counter(ids).items() if n > 1 and m]
    assert not duplicates, f"msgids that appear twice (the first one wins): {duplicates}"
    fuzzy = [m.id for m in catalogue if m.id and m.fuzzy]
    assert not fuzzy, f"fuzzy entries are ignored at run time: {fuzzy}"


def test_translations_keep_the_placeholders() -> None:
    broken = []
    for msgid, text in italian_catalogue().items():
        if set(PLACEHOLDER.findall(msgid)) != set(PLACEHOLDER.findall(text)):
            broken.append(f"{msgid!r} -> {text!r}")
    assert not broken, "translations whose %(name)s placeholders differ:\n" + "\n".join(broken)


def test_plural_entries_translate_both_forms() -> None:
    token = i18n.current_language.set("it")
    try:
        assert i18n.ngettext("%(num)s firm", "%(num)s firms", 1) == "%(num)s impresa"
        assert i18n.ngettext("%(num)s firm", "%(num)s firms", 3) == "%(num)s imprese"
    finally:
        i18n.current_language.reset(token)


@pytest.mark.parametrize(
    ("explicit", "header", "expected"),
    [(None, None, "it"), (None, "en-GB,en;q=0.9", "en"), (None, "de-DE,en;q=0.5", "en"),
     (None, "fr-FR,de;q=0.8", "it"), ("it", "en", "it"), ("en", "it", "en"), ("xx", "en", "en")],
)
def test_pick_language(explicit, header, expected) -> None:
    assert i18n.pick_language(explicit=explicit, accept_language=header) == expected


# --------------------------------------------------------------------- over HTTP


def _soup(resp) -> BeautifulSoup:
    return BeautifulSoup(resp.text, "html.parser")


def _nav(resp) -> list[str]:
    return [a.get_text(strip=True) for a in _soup(resp).select("nav.nav ul a")]


def test_browser_language_then_switch_then_user_preference(client, make_user, login, db) -> None:
    assert _soup(client.get("/")).html["lang"] == "it"
    english = client.get("/", headers={"Accept-Language": "en-US,en;q=0.9"})
    assert _soup(english).html["lang"] == "en" and "Firms" in _nav(english)
    assert english.headers["content-language"] == "en"
    assert "Imprese" in _nav(client.get("/?lang=it", headers={"Accept-Language": "en"}))

    token = _soup(client.get("/")).find("input", {"name": "csrf_token"})["value"]
    resp = client.post("/language", data={"lang": "en", "next": "/firms?q=x",
                                          "csrf_token": token}, follow_redirects=False)
    assert resp.status_code == 303 and resp.headers["location"] == "/firms?q=x"
    assert "Firms" in _nav(client.get("/firms"))

    # Signing in brings the account's own language, whatever the browser says.
    user = make_user("owner", language="it")
    login(client, user)
    assert "Imprese" in _nav(client.get("/", headers={"Accept-Language": "en"}))
    # The switch, signed in, becomes the account's preference.
    token = _soup(client.get("/")).find("input", {"name": "csrf_token"})["value"]
    client.post("/language", data={"lang": "en", "next": "/", "csrf_token": token})
    db.refresh(user)
    assert user.language == "en"


def _main_pages(firm, other) -> list[str]:
    piva = firm.partita_iva
    return [
        "/", "/firms", f"/firms/{piva}", f"/firms/{piva}/edit", "/firms/new",
        f"/firms/{piva}/suggestions", f"/firms/{piva}/why?other={other.partita_iva}",
        "/sectors", "/sectors/31.09", "/chains", "/chains/wood_furniture", "/account", "/privacy",
    ]


def _visible_text(resp) -> str:
    soup = _soup(resp)
    for tag in soup(["script", "style", "code"]):
        tag.decompose()
    return " ".join(soup.get_text(" ").split())


def test_main_pages_are_fully_translated(client, brianza, make_user, login) -> None:  # noqa: F811
    seeker, como, *_ = brianza
    login(client, make_user("owner", firms=[seeker.id], language="it"))
    pages = _main_pages(seeker, como)
    i18n.missing.clear()
    italian = {}
    for url in pages:
        resp = client.get(url)
        assert resp.status_code == 200, (url, resp.status_code)
        italian[url] = _visible_text(resp)
    assert not i18n.missing.get("it"), (
        "strings shown on Italian pages without a translation: "
        + ", ".join(sorted(i18n.missing["it"]))
    )
    token = _soup(client.get("/")).find("input", {"name": "csrf_token"})["value"]
    client.post("/language", data={"lang": "en", "next": "/", "csrf_token": token})
    for url in pages:
        resp = client.get(url)
        assert resp.status_code == 200 and _soup(resp).html["lang"] == "en", url
        assert _visible_text(resp) != italian[url], f"{url} looks the same in both languages"
    # English navigation labels never leak into Italian pages, and the other way round.
    client.post("/language", data={"lang": "it", "next": "/", "csrf_token": token})
    assert _nav(client.get("/firms"))[:3] == ["Imprese", "Settori", "Filiere"]
