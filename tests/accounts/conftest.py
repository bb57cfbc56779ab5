"""Fixtures for the accounts tests: firms to belong to, and a parsed-HTML helper."""

import uuid

import pytest
from bs4 import BeautifulSoup

from matchmaker.accounts import service as accounts_service
from matchmaker.firms import service as firms_service
from matchmaker.firms.schemas import validate_firm
from tests.firms.helpers import firm_payload


@pytest.fixture()
def make_firm(db):
    """Factory: `make_firm(owner=None, visibility="public", **members)` -> Firm.

    `members` maps membership roles to lists of users: `colleague=[u1], representative=[u2]`.
    """

    def _make(owner=None, visibility: str = "public", **members):
        serial = uuid.uuid4().int % 9_000_000 + 1_000_000
        firm = firms_service.create_firm(
            db, data=validate_firm(firm_payload(serial, visibility=visibility))
        )
        if owner is not None:
            accounts_service.add_firm_member(db, user=owner, firm_id=firm.id, role="owner")
        for role, users in members.items():
            for user in users:
                accounts_service.add_firm_member(db, user=user, firm_id=firm.id, role=role)
        return firm

    return _make


def soup(html: str) -> BeautifulSoup:
    """Parse a page."""
    return BeautifulSoup(html, "html.parser")
