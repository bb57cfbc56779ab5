"""CSV import and export as in interfaces.md: every bad row reported, all-or-nothing by default."""

import csv
import io

from sqlalchemy import func, select

from matchmaker.firms import service
from matchmaker.firms.models import Firm
from matchmaker.firms.schemas import CSV_COLUMNS
from tests.firms.helpers import piva

HEADER = "partita_iva,name,ateco,ateco_secondary,comune_istat,comune,province,employees,turnover_eur,offers,needs,goals,email,website,description\n"


def _count(db) -> int:
    return db.scalar(select(func.count()).select_from(Firm))


def _rows(*lines: str) -> bytes:
    return (HEADER + "".join(line + "\n" for line in lines)).encode()


GOOD1 = f"{piva(1)},Mobilificio Uno S.r.l.,31.09.10,16.23.10,108028,,,12,1500000,Cucine su misura,Tessuti,innovation;training,info@uno.it,uno.it,"
GOOD2 = f"IT{piva(2)},Tessitura Due,13.20,,,Como,CO,4,,Tessuti per arredo,,,,,"
BAD_PIVA = f"{piva(3)[:-1]}0,Bad Checksum,31.09,,108028,,,,,,,,,,"
BAD_MANY = f"{piva(4)},Bad Many,99.99,,,Atlantide,XX,-5,,,,world_domination,,,"


def test_good_file_creates_firms_and_reimport_updates_instead_of_duplicating(db):
    report = service.import_csv(db, content=_rows(GOOD1, GOOD2))
    assert report.ok and report.committed and (report.created, report.updated) == (2, 0)
    assert _count(db) == 2
    changed = GOOD1.replace(",12,", ",60,")
    report = service.import_csv(db, content=_rows(changed, GOOD2))
    assert (report.created, report.updated, report.unchanged) == (0, 1, 1)
    assert _count(db) == 2
    assert service.get_firm(db, piva(1)).sme_class == "medium"
    assert service.get_firm(db, piva(2)).comune_name == "Como"


def test_bad_rows_are_reported_by_line_and_column_and_nothing_is_written(db):
    report = service.import_csv(db, content=_rows(GOOD1, BAD_PIVA, GOOD2, BAD_MANY))
    assert not report.committed and _count(db) == 0
    lines = {(e.line, e.column) for e in report.errors}
    assert (3, "partita_iva") in lines
    assert {(5, "ateco"), (5, "employees"), (5, "goals")} <= lines
    assert report.rejected_rows == 2


def test_skip_invalid_commits_the_good_rows(db):
    report = service.import_csv(db, content=_rows(GOOD1, BAD_PIVA, GOOD2), skip_invalid=True)
    assert report.committed and report.created == 2 and report.rejected_rows == 1
    assert [e.line for e in report.errors] == [3]
    assert _count(db) == 2


def test_dry_run_writes_nothing(db):
    report = service.import_csv(db, content=_rows(GOOD1, GOOD2), dry_run=True)
    assert report.ok and report.created == 2 and not report.committed
    assert _count(db) == 0


def test_duplicate_partita_iva_inside_the_file_names_the_first_line(db):
    report = service.import_csv(db, content=_rows(GOOD1, GOOD1.replace("Uno", "Bis")))
    assert [(e.line, e.column) for e in report.errors] == [(3, "partita_iva")]
    assert "line 2" in report.errors[0].reason


def test_malformed_files_get_a_file_level_error(db):
    latin1 = _rows(GOOD1.replace("Uno", "Uno Più")).decode().encode("latin-1")
    cases = {
        "not UTF-8": latin1,
        "missing header": (GOOD1 + "\n").encode(),
        "unknown columns: colour": HEADER.replace("description", "colour").encode() + b"x\n",
        "separated by commas": HEADER.replace(",", ";").encode(),
        "empty": b"",
        "no rows": HEADER.encode(),
    }
    for expected, content in cases.items():
        report = service.import_csv(db, content=content)
        assert not report.committed
        assert any(expected in m for m in report.file_errors), (expected, report.file_errors)
    assert _count(db) == 0


def test_multiline_quoted_text_keeps_line_numbers_right(db):
    multi = f'{piva(5)},Five,31.09,,108028,,,,,"Cucine\nsu misura\nin legno",,,,,'
    report = service.import_csv(db, content=_rows(multi, BAD_PIVA), skip_invalid=True)
    assert [e.line for e in report.errors] == [5]
    assert service.get_firm(db, piva(5)).offers == "Cucine\nsu misura\nin legno"


def test_export_then_import_gives_the_same_firms(db):
    service.import_csv(db, content=_rows(GOOD1, GOOD2))
    exported = service.export_csv(db)
    header = next(csv.reader(io.StringIO(exported)))
    assert header[: len(CSV_COLUMNS)] == CSV_COLUMNS
    before = {r["partita_iva"]: r for r in csv.DictReader(io.StringIO(exported))}
    for firm in db.scalars(select(Firm)):
        db.delete(firm)
    db.flush()
    report = service.import_csv(db, content=exported.encode())
    assert report.created == 2
    after = {r["partita_iva"]: r for r in csv.DictReader(io.StringIO(service.export_csv(db)))}
    assert after == before


def test_a_file_of_older_codes_is_read_in_its_edition(db):
    # 25.62.00 is general machining in ATECO 2007/2022 but locks and hinges in 2025; the other
    # codes of the file exist only in the older editions, so the file is read as such.
    head = "partita_iva,name,ateco,comune_istat\n"
    rows = [f"{piva(10)},Officina,25.62.00,108028", f"{piva(11)},Agricola,01.11.10,108028",
            f"{piva(12)},Panificio,10.71.10,108028", f"{piva(13)},Bar,56.30.00,108028"]
    report = service.import_csv(db, content=(head + "\n".join(rows) + "\n").encode())
    assert report.committed and report.detected_edition in ("2007", "2022")
    firm = service.get_firm(db, piva(10))
    assert firm.ateco_edition in ("2007", "2022") and firm.sector_division == "25"
    # Without that evidence a lone code is read as ATECO 2025.
    report = service.import_csv(db, content=(head + f"{piva(14)},Officina Due,25.62.00,108028\n").encode())
    assert report.detected_edition is None and service.get_firm(db, piva(14)).ateco_edition == "2025"
