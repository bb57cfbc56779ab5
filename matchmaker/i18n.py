"""Per-request language: gettext over Babel .po catalogues, chosen by user, cookie or header."""

from contextvars import ContextVar
from functools import lru_cache
from pathlib import Path

from babel import Locale
from babel.messages.pofile import read_po

LANGUAGES = ("it", "en")
DEFAULT_LANGUAGE = "it"
LOCALE_DIR = Path(__file__).parent / "locale"

current_language: ContextVar[str] = ContextVar("current_language", default=DEFAULT_LANGUAGE)


@lru_cache
def catalogue(lang: str) -> dict[str, str]:
    """Return msgid -> translation for one language (empty for the source language)."""
    path = LOCALE_DIR / lang / "LC_MESSAGES" / "messages.po"
    if not path.exists():
        return {}
    with path.open("rb") as fh:
        cat = read_po(fh, locale=lang)
    out: dict[str, str] = {}
    for msg in cat:
        if msg.id and msg.string and not msg.fuzzy:
            key = msg.id if isinstance(msg.id, str) else msg.id[0]
            val = msg.string if isinstance(msg.string, str) else msg.string[0]
            out[key] = val
    return out


def gettext(message: str) -> str:
    """Translate a message into the current request's language."""
    return catalogue(current_language.get()).get(message, message)


def ngettext(singular: str, plural: str, n: int) -> str:
    """Translate a message with a plural form into the current language."""
    return gettext(singular if n == 1 else plural)


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
