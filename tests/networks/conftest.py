"""Service-level network tests read English messages; the Italian catalogue has its own test."""

from collections.abc import Iterator

import pytest

from matchmaker import i18n


@pytest.fixture(autouse=True)
def _english() -> Iterator[None]:
    token = i18n.current_language.set("en")
    try:
        yield
    finally:
        i18n.current_language.reset(token)
