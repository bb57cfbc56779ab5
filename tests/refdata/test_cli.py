"""`matchmaker refdata io FILE` and `matchmaker refdata chains`."""

from pathlib import Path

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from matchmaker import cli
from matchmaker.refdata import cli as refdata_cli
from matchmaker.refdata import io
from matchmaker.refdata.models import IOTable
from tests.refdata.test_io import _cells, _write_long


@pytest.fixture()
def cli_db(db: Session, monkeypatch: pytest.MonkeyPatch) -> Session:
    """Make the command's sessions join the test transaction."""
    monkeypatch.setattr(refdata_cli, "session_factory", db.info["test_factory"])
    return db


def test_cli_loads_a_table_and_makes_it_active(
    cli_db: Session, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = _write_long(tmp_path / "table.csv", _cells())
    assert cli.main(["refdata", "io", str(path), "--source", "Test IO"]) == 0
    out = capsys.readouterr().out
    assert "Loaded Test IO (year 2016)" in out and "now active" in out
    links = io.active_links(cli_db)
    assert links is not None and links.source == "Test IO"


def test_cli_rejects_a_bad_table_naming_the_row(
    cli_db: Session, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    rows = _cells()
    rows[10] = (2016, rows[10][1], rows[10][2], -1.5)
    path = _write_long(tmp_path / "bad.csv", rows)
    assert cli.main(["refdata", "io", str(path)]) == 1
    err = capsys.readouterr().err
    assert "nothing loaded" in err and "line 12: negative value -1.5" in err
    assert cli_db.scalar(select(func.count()).select_from(IOTable)) == 0


def test_cli_year_option(
    cli_db: Session, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = _write_long(tmp_path / "two.csv", _cells(2015) + _cells(2016))
    assert cli.main(["refdata", "io", str(path), "--year", "2015"]) == 0
    assert "(year 2015)" in capsys.readouterr().out
    assert cli.main(["refdata", "io", str(path), "--year", "2014"]) == 1
    assert "year 2014 is not in the file" in capsys.readouterr().err


def test_cli_chains_reports_full_coverage(capsys: pytest.CaptureFixture[str]) -> None:
    assert cli.main(["refdata", "chains"]) == 0
    out = capsys.readouterr().out
    assert "wood_furniture: forestry -> sawmills" in out
    assert "0 unclassified" in out
