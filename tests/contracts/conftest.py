"""Contract page tests read the English interface (one test checks the Italian one)."""

import pytest


@pytest.fixture()
def make_user(make_user):
    """The accounts factory, with users who chose English unless a test says otherwise."""

    def _make(role: str = "owner", email: str | None = None, **fields):
        fields.setdefault("language", "en")
        return make_user(role, email, **fields)

    return _make


@pytest.fixture()
def api_headers(api_headers):
    """Bearer headers for a user, asking for English messages."""
    return lambda user: {**api_headers(user), "Accept-Language": "en"}
