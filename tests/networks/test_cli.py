"""`matchmaker network suggest` through the real argument parser."""

import json

import pytest

from matchmaker.cli import main
from matchmaker.networks import cli as networks_cli
from tests.networks.helpers import make_firm


@pytest.fixture()
def seed(db, monkeypatch):
    """A builder with partners for two other stages; the CLI runs in the test transaction."""
    monkeypatch.setattr(networks_cli, "open_session", db.info["test_factory"])
    firm = make_firm(db, name="Edile Orobica", ateco="41.20.00", comune_istat="016024")
    make_firm(db, name="Finiture Treviglio", ateco="43.31.00", comune_istat="016219")
    make_firm(db, name="Impianti Lombardi", ateco="43.21.01", comune_istat="016194")
    db.flush()
    return firm


def test_suggest_prints_roles_and_stages(seed, capsys):
    assert main(["network", "suggest", seed.partita_iva, "--size", "3"]) == 0
    out = capsys.readouterr().out
    assert "Network of 3 around Edile Orobica" in out
    assert "Finiture Treviglio" in out and "covers stage:" in out
    assert "uncovered stages:" in out


def test_suggest_json(seed, capsys):
    assert (
        main(
            [
                "network",
                "suggest",
                seed.partita_iva,
                "--size",
                "3",
                "--goal",
                "innovation",
                "--json",
            ]
        )
        == 0
    )
    data = json.loads(capsys.readouterr().out)
    assert data["chain_key"] == "construction" and len(data["members"]) == 3
    assert data["members"][0]["role"] == "promoter"


def test_suggest_errors(seed, capsys):
    assert main(["network", "suggest", "00000000000"]) == 1
    assert main(["network", "suggest", seed.partita_iva, "--size", "20"]) == 2
    assert "size must be between" in capsys.readouterr().err
