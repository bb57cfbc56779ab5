"""Fixtures for the associations tests: an association with a curator, member firms."""

import pytest

from matchmaker.associations import service


@pytest.fixture(autouse=True)
def _jobs_use_the_test_connection(db, monkeypatch):
    """Background import jobs open their sessions on the test's connection."""
    monkeypatch.setattr(service, "session_factory", db.info["test_factory"])
