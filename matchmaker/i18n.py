"""Per-request language: gettext over Babel .po catalogues, chosen by user, cookie or header."""

from contextvars import ContextVar
from functools import lru_cache
from pathlib import Path

from babel import Locale
from babel.messages.pofile import read_po

from matchmaker.config import get_settings

LANGUAGES = ("it", "en")
# Pages without a choice, user or matching Accept-Language, and the CLI: MATCHMAKER_LANGUAGE.
DEFAULT_LANGUAGE = get_settings().language if get_settings().language in LANGUAGES else "it"
SOURCE_LANGUAGE = "en"  # msgids are English: English needs no catalogue
LOCALE_DIR = Path(__file__).parent / "locale"

current_language: ContextVar[str] = ContextVar("current_language", default=DEFAULT_LANGUAGE)


# Messages asked for in a translated language but missing from its catalogue (bounded), so
# tests can fail on any untranslated string a page really shows, even a computed one.
MISSING_LIMIT = 2000
missing: dict[str, set[str]] = {}


@lru_cache
def catalogue(lang: str) -> dict[str, str]:
    """Return msgid -> translation for one language (empty for the source language).

    Plural entries (msgid / msgid_plural) give two keys: the singular and the plural text.
    """
    path = LOCALE_DIR / lang / "LC_MESSAGES" / "messages.po"
    if not path.exists():
        return {}
    with path.open("rb") as fh:
        cat = read_po(fh, locale=lang)
    out: dict[str, str] = {}
    for msg in cat:
        if not msg.id or not msg.string or msg.fuzzy:
            continue
        if isinstance(msg.id, str):
            out[msg.id] = msg.string if isinstance(msg.string, str) else msg.string[0]
            continue
        strings = [msg.string] if isinstance(msg.string, str) else list(msg.string)
        for i, key in enumerate(msg.id[:2]):
            value = strings[min(i, len(strings) - 1)]
            if value:
                out[key] = value
    return out


def gettext(message: str) -> str:
    """Translate a message into the current request's language."""
    lang = current_language.get()
    if lang == SOURCE_LANGUAGE or not message:
        return message
    translated = catalogue(lang).get(message)
    if translated is None:
        seen = missing.setdefault(lang, set())
        if len(seen) < MISSING_LIMIT:
            seen.add(message)
        return message
    return translated


def ngettext(singular: str, plural: str, n: int) -> str:
    """Translate a message with a plural form into the current language."""
    return gettext(singular if n == 1 else plural)


def N_(message: str) -> str:
    """Mark a message for extraction without translating it (translate it where it is shown)."""
    return message


_ = gettext


def pick_language(*, explicit: str | None, accept_language: str | None) -> str:
    """Choose the language: an explicit choice, else the best Accept-Language match, else it."""
    if explicit in LANGUAGES:
        return explicit  # type: ignore[return-value]
    if accept_language:
        weighted: list[tuple[float, str]] = []
        for part in accept_language.split(","):
            bits = part.strip().split(";")
            tag = bits[0].strip().lower()
            q = 1.0
            for b in bits[1:]:
                if b.strip().startswith("q="):
                    try:
                        q = float(b.strip()[2:])
                    except ValueError:
                        q = 0.0
            weighted.append((q, tag))
        for _q, tag in sorted(weighted, key=lambda t: -t[0]):
            base = tag.split("-")[0]
            if base in LANGUAGES:
                return base
    return DEFAULT_LANGUAGE


def babel_locale() -> Locale:
    """Return the Babel locale for the current language (for numbers, dates, currency)."""
    return Locale.parse("it_IT" if current_language.get() == "it" else "en_GB")
