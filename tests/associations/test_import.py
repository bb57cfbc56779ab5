"""Member imports: CSV and XLSX (column mapping remembered), bad rows with line numbers,
a 2,000-row file through the background job, and the command line."""

import io

from bs4 import BeautifulSoup
from openpyxl import Workbook

from matchmaker.associations import service
from matchmaker.demo import generate_firms
from matchmaker.firms import service as firms_service
from tests.associations.helpers import association, csv_text, firm, members, owner_of
from tests.firms.helpers import firm_payload, piva

COLUMNS = ["partita_iva", "name", "ateco", "comune_istat", "offers", "goals", "visibility"]


def _soup(resp) -> BeautifulSoup:
    return BeautifulSoup(resp.text, "html.parser")


def _upload(client, slug, name, content, ctype="text/csv", **data):
    return client.post(f"/associations/{slug}/imports", files={"file": (name, content, ctype)},
                       data=data, follow_redirects=True)


def test_bad_rows_are_listed_with_their_line_numbers_and_nothing_is_written(
        client, db, make_user, login):
    curator = make_user("curator")
    a = association(db, curator=curator)
    db.flush()
    rows = [firm_payload(i) for i in range(1, 6)]
    rows[1]["partita_iva"] = "12345678901"  # bad check digit: line 3
    rows[3]["ateco"] = "99.99"  # unknown code: line 5
    text = csv_text(rows, COLUMNS)
    login(client, curator)
    page = _upload(client, a.slug, "soci.csv", text.encode())
    assert page.status_code == 200
    soup = _soup(page)
    errors = [(tr.select("td")[0].get_text(), tr.select("td")[1].get_text())
              for tr in soup.select("#import-job .errors-table tbody tr")]
    assert errors == [("3", "partita_iva"), ("5", "ateco")]
    assert soup.select_one("#import-job form") is None  # no confirm button
    assert firms_service.get_firm(db, piva(1)) is None
    assert service.member_count(db, a) == 0
    job = service.list_imports(db, association=a)[0]
    assert service.errors_csv(job).splitlines()[1].startswith("3,partita_iva,")

    # Uploaded again to import only the good rows: three firms join.
    page = _upload(client, a.slug, "soci.csv", text.encode(), skip_invalid="true")
    action = _soup(page).select_one("#import-job form")["action"]
    done = client.post(action, follow_redirects=True)
    assert done.status_code == 200
    assert service.member_count(db, a) == 3
    assert firms_service.get_firm(db, piva(1)).offers == rows[0]["offers"]


def test_curator_updates_members_but_not_other_firms(db, make_user):
    curator = make_user("curator")
    a = association(db, curator=curator)
    member = firm(db, 1, offers="vecchia offerta")
    stranger = firm(db, 2, offers="non toccare")
    owner_of(db, make_user, stranger)
    members(db, a, [member])
    rows = [firm_payload(1, offers="nuova offerta"), firm_payload(2, offers="cambiata")]
    result = service.import_members(db, association=a, content=csv_text(rows, COLUMNS),
                                    user=curator)
    assert not result.report.committed
    assert [(e.line, e.column) for e in result.report.errors] == [(3, "partita_iva")]
    result = service.import_members(db, association=a, content=csv_text(rows[:1], COLUMNS),
                                    user=curator)
    assert result.report.committed and result.report.updated == 1 and result.joined == 0
    assert firms_service.get_firm(db, piva(1)).offers == "nuova offerta"
    assert firms_service.get_firm(db, piva(2)).offers == "non toccare"


def _workbook(rows: list[list]) -> bytes:
    wb = Workbook()
    ws = wb.active
    for row in rows:
        ws.append(row)
    buf = io.BytesIO()
    wb.save(buf)
    return buf.getvalue()


XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


def test_workbook_columns_are_mapped_once_and_remembered(client, db, make_user, login):
    curator = make_user("curator")
    a = association(db, curator=curator)
    db.flush()
    p1, p2, p3 = firm_payload(1), firm_payload(2), firm_payload(3)
    content = _workbook([
        ["Elenco soci 2026"],  # a title above the header
        ["Denominazione", "P. IVA", "Codice attività", "Città", "Pr.", "Tessera"],
        [p1["name"], int(p1["partita_iva"]), "31.09.10", "Lissone", "MB", "A-1"],
        [p2["name"], p2["partita_iva"], "31.09.10", "Lisone", "MB", "A-2"],  # misspelt comune
        [p3["name"], p3["partita_iva"], "16.23.10", "Milano", "MI", "A-3"],
    ])
    login(client, curator)
    page = _upload(client, a.slug, "soci.xlsx", content, XLSX)
    soup = _soup(page)
    selects = {s["name"]: s.select_one("option[selected]")["value"]
               for s in soup.select("table.mapping select")}
    # Well-known headers are guessed; the others are left for the curator.
    assert selects == {"col-0": "name", "col-1": "partita_iva", "col-2": "ateco",
                       "col-3": "comune", "col-4": "", "col-5": ""}
    action = soup.select_one("#import-job form")["action"]
    resp = client.post(action, data={**selects, "col-4": "name"})  # two columns on one field
    assert resp.status_code == 422
    assert _soup(resp).select_one("#e-col-4") is not None
    page = client.post(action, data={**selects, "col-4": "province"}, follow_redirects=True)
    soup = _soup(page)
    errors = [(tr.select("td")[0].get_text(), tr.select("td")[1].get_text())
              for tr in soup.select(".errors-table tbody tr")]
    assert errors == [("4", "comune")]  # the sheet's row number

    # The next workbook with the same headers comes with the mapping filled in.
    page = _upload(client, a.slug, "soci-2.xlsx", content, XLSX)
    again = {s["name"]: s.select_one("option[selected]")["value"]
             for s in _soup(page).select("table.mapping select")}
    assert again["col-4"] == "province" and again["col-3"] == "comune"
    db.refresh(a)
    assert a.column_mapping["Pr."] == "province"


def test_large_file_runs_as_a_background_job_and_the_page_polls_it(client, db, make_user,
                                                                   login):
    curator = make_user("curator")
    a = association(db, curator=curator)
    db.flush()
    rows = [{k: v for k, v in r.items() if not k.startswith("_")}
            for r in generate_firms(2000, seed=11)]
    text = csv_text(rows)
    login(client, curator)
    resp = client.post(f"/associations/{a.slug}/imports",
                       files={"file": ("soci.csv", text.encode(), "text/csv")},
                       follow_redirects=False)
    assert resp.status_code == 303
    job_url = resp.headers["location"]
    job = service.list_imports(db, association=a)[0]
    db.refresh(job)
    assert job.background and job.status == "preview"
    assert job.rows == 2000 and job.created == 2000 and job.progress == 2000
    # While a job runs, its block asks HTMX to poll it every second and shows a <progress>.
    job.status, job.progress = "checking", 500
    db.flush()
    block = _soup(client.get(job_url, headers={"HX-Request": "true"}))
    section = block.select_one("#import-job")
    assert section["hx-trigger"] == "every 1s" and section["hx-get"] == job_url
    bar = section.select_one("progress")
    assert (bar["value"], bar["max"]) == ("500", "2000")
    assert block.find("html") is None
    job.status = "preview"
    db.flush()
    page = _soup(client.get(job_url))
    assert page.select_one("#import-job").get("hx-trigger") is None
    done = client.post(page.select_one("#import-job form")["action"], follow_redirects=True)
    assert done.status_code == 200
    db.refresh(job)
    assert job.status == "committed" and job.joined == 2000
    assert service.member_count(db, a) == 2000


def test_a_job_whose_process_died_can_be_started_again(db, make_user):
    from datetime import timedelta

    from matchmaker.db import utcnow

    curator = make_user("curator")
    a = association(db, curator=curator)
    job = service.start_import(db, association=a, user=curator, filename="x.csv",
                               content=csv_text([firm_payload(1)], COLUMNS).encode())
    service.queue_check(db, job=job)
    job.heartbeat_at = utcnow() - timedelta(minutes=10)
    assert service.recover_stale(db, job=job)
    assert job.status == "queued" and "restarted" in job.message
    service.run_import_job(job.id, "check")
    db.refresh(job)
    assert job.status == "preview" and job.created == 1


def test_cli_imports_into_an_association(db, make_user, monkeypatch, tmp_path, capsys):
    from matchmaker import cli

    a = association(db)
    db.flush()
    path = tmp_path / "soci.csv"
    path.write_text(csv_text([firm_payload(1), firm_payload(2)], COLUMNS), encoding="utf-8")
    monkeypatch.setattr(cli, "_session", db.info["test_factory"])
    assert cli.main(["firms", "import", str(path), "--association", a.slug]) == 0
    assert "2 firms joined the association" in capsys.readouterr().out
    assert service.member_count(db, a) == 2
    assert cli.main(["firms", "import", str(path), "--association", "nope"]) == 1


def test_a_streamed_workbook_without_dimension_is_still_counted_for_the_background(db):
    from openpyxl import Workbook as StreamedWorkbook

    a = association(db)
    wb = StreamedWorkbook(write_only=True)  # such files state no sheet dimension
    ws = wb.create_sheet("Soci")
    ws.append(["Ragione sociale", "Partita IVA", "Codice ATECO", "Codice ISTAT"])
    for i in range(1, service.BACKGROUND_ROWS + 11):
        p = firm_payload(i)
        ws.append([p["name"], p["partita_iva"], p["ateco"], p["comune_istat"]])
    buf = io.BytesIO()
    wb.save(buf)
    job = service.start_import(db, association=a, user=None, filename="soci.xlsx",
                               content=buf.getvalue())
    assert (job.status, job.total, job.background) == ("mapping", service.BACKGROUND_ROWS + 10,
                                                       True)


def test_a_streamed_workbook_of_thousands_of_rows_goes_through_the_background_job(
        client, db, make_user, login, monkeypatch):
    from openpyxl import Workbook as StreamedWorkbook

    from matchmaker.associations.models import AssociationImport

    curator = make_user("curator", language="en")
    a = association(db, curator=curator)
    db.flush()
    n = 3 * service.BACKGROUND_ROWS
    wb = StreamedWorkbook(write_only=True)  # no sheet dimension: the rows are counted
    ws = wb.create_sheet("Soci")
    ws.append(["Elenco soci 2026"])
    ws.append(["Ragione sociale", "Partita IVA", "Codice ATECO", "Codice ISTAT", "Tessera"])
    for i, r in enumerate(generate_firms(n, seed=5)):
        ws.append([r["name"], int(r["partita_iva"]), r["ateco"], r["comune_istat"], f"T-{i}"])
    buf = io.BytesIO()
    wb.save(buf)

    # What the polling page would read from the job row each time the job reports progress.
    seen: list[tuple[str, int, int]] = []
    fresh = db.info["test_factory"]

    def spying(fn):
        def wrapper(*args, on_progress=None, **kwargs):
            def report(done):
                on_progress(done)
                with fresh() as s:
                    job = s.get(AssociationImport, job_id)
                    seen.append((job.status, job.progress, job.total))
            return fn(*args, on_progress=report if on_progress else None, **kwargs)
        return wrapper

    monkeypatch.setattr(service, "sheet_to_csv", spying(service.sheet_to_csv))
    monkeypatch.setattr(service, "import_members", spying(service.import_members))
    login(client, curator)
    page = _upload(client, a.slug, "soci.xlsx", buf.getvalue(), XLSX)
    assert f"About {n} rows below the header." in _soup(page).get_text(" ")
    job = service.list_imports(db, association=a)[0]
    job_id = job.id
    assert (job.status, job.total, job.background) == ("mapping", n, True)
    soup = _soup(page)
    selects = {s["name"]: s.select_one("option[selected]")["value"]
               for s in soup.select("table.mapping select")}
    assert selects["col-1"] == "partita_iva" and selects["col-4"] == ""
    page = client.post(soup.select_one("#import-job form")["action"], data=selects,
                       follow_redirects=True)
    db.refresh(job)
    assert (job.status, job.rows, job.rejected) == ("preview", n, 0)
    # The sheet is read, then its rows checked, each phase reporting progress to the row.
    reading = [p for status, p, _t in seen if status == "reading"]
    checking = [p for status, p, _t in seen if status == "checking"]
    assert reading and checking and reading == sorted(reading) and max(reading) <= n
    assert all(t == n for _s, _p, t in seen)
    seen.clear()
    done = client.post(_soup(page).select_one("#import-job form")["action"],
                       follow_redirects=True)
    assert done.status_code == 200
    db.refresh(job)
    assert [s for s, _p, _t in seen] and {s for s, _p, _t in seen} == {"writing"}
    assert (job.status, job.created, job.joined, job.progress) == ("committed", n, n, n)
    assert service.member_count(db, a) == n
