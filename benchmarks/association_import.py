"""Benchmark: an association imports 50,000 members (CSV and XLSX) through the background job.

Generates realistic firms with `matchmaker.demo.generate_firms(n, seed)`, writes them as a
firms CSV (and, with --xlsx, as a workbook), then runs what the import page runs: the upload
through the app's form (session, CSRF, the members-file size limit, multipart; --direct calls
the service instead), the check (preview) phase and the commit phase, each in a background
thread with its own sessions, while the main thread polls the job row once a second as the
page does. Prints the time and memory of every phase.

    .venv/bin/python benchmarks/association_import.py                 # 50,000 rows, SQLite
    .venv/bin/python benchmarks/association_import.py --rows 5000 --xlsx
    .venv/bin/python benchmarks/association_import.py --database-url postgresql+psycopg://…

The database is a new SQLite file in a temporary folder unless --database-url is given (an
empty PostgreSQL database: the schema is created in it).
"""

from __future__ import annotations

import argparse
import csv
import gc
import io
import os
import resource
import sys
import tempfile
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


def reset_peak() -> None:
    """Start measuring the peak resident memory afresh (Linux; elsewhere it stays the max)."""
    try:
        Path("/proc/self/clear_refs").write_text("5")
    except OSError:
        pass


def rss_mb() -> float:
    """Return the peak resident memory since the last reset_peak(), in MB."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return peak / 1024 if sys.platform != "darwin" else peak / 1024 / 1024


def firms_csv(rows: list[dict]) -> str:
    """Write demo firm dicts in the firms CSV format."""
    from matchmaker.firms.schemas import ALL_COLUMNS

    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=ALL_COLUMNS, lineterminator="\n",
                            extrasaction="ignore")
    writer.writeheader()
    for r in rows:
        writer.writerow({k: (";".join(v) if isinstance(v, list) else ("" if v is None else v))
                         for k, v in r.items() if not k.startswith("_")})
    return out.getvalue()


def workbook(rows: list[dict]) -> bytes:
    """Write demo firms as an association's spreadsheet (Italian headers, a title row)."""
    from openpyxl import Workbook

    wb = Workbook(write_only=True)
    ws = wb.create_sheet("Soci")
    ws.append(["Elenco soci"])
    ws.append(["Ragione sociale", "Partita IVA", "Codice ATECO", "Codice ISTAT", "Dipendenti",
               "Fatturato", "Offerta", "Cerca", "E-mail", "Tessera"])
    for i, r in enumerate(rows):
        ws.append([r["name"], r["partita_iva"], r["ateco"], r["comune_istat"], r["employees"],
                   r["turnover_eur"], r["offers"], r["needs"], r["email"], f"T-{i:06d}"])
    buf = io.BytesIO()
    wb.save(buf)
    return buf.getvalue()


PASSWORD = "bench-password-2026"


def http_upload(email: str, slug: str, filename: str, content: bytes,
                ctype: str) -> tuple[float, int, str]:
    """Post a members file through the whole app (session, CSRF, body limit, multipart), as
    the import form does; the background check is left for `run_phase`. Return (s, job, note).

    The client builds the multipart body in memory, so the peak memory includes it.
    """
    import re

    from fastapi.testclient import TestClient

    from matchmaker.associations import service
    from matchmaker.associations.models import AssociationImport
    from matchmaker.db import get_sessionmaker
    from matchmaker.main import create_app

    def token(html: str) -> str:
        return re.search(r'name="csrf_token" value="([^"]+)"', html).group(1)

    queued = service.run_import_job
    service.run_import_job = lambda job_id, phase: None  # the benchmark runs it in run_phase
    try:
        with TestClient(create_app(), base_url="http://127.0.0.1") as client:
            client.post("/login", data={"email": email, "password": PASSWORD,
                                        "csrf_token": token(client.get("/login").text)})
            form = {"csrf_token": token(client.get(f"/associations/{slug}/imports").text)}
            t0 = time.perf_counter()
            resp = client.post(f"/associations/{slug}/imports", data=form,
                               files={"file": (filename, content, ctype)},
                               follow_redirects=False)
            secs = time.perf_counter() - t0
    finally:
        service.run_import_job = queued
    if resp.status_code != 303:
        raise SystemExit(f"upload answered {resp.status_code}: {resp.text[:200]}")
    job_id = int(resp.headers["location"].rstrip("/").rsplit("/", 1)[1])
    with get_sessionmaker()() as s:
        job = s.get(AssociationImport, job_id)
        note = (f"{len(content) / 1e6:.1f} MB accepted (HTTP {resp.status_code}), "
                f"status={job.status}, background={job.background}")
    return secs, job_id, note


def run_phase(job_id: int, phase: str, poll_session_factory) -> tuple[float, int]:
    """Run one phase in a thread, polling the job row every second; return (s, polls seen)."""
    from matchmaker.associations import service
    from matchmaker.associations.models import AssociationImport

    seen: set[int] = set()
    t = threading.Thread(target=service.run_import_job, args=(job_id, phase), daemon=True)
    start = time.perf_counter()
    t.start()
    while t.is_alive():
        t.join(timeout=1.0)
        with poll_session_factory() as s:
            job = s.get(AssociationImport, job_id)
            seen.add(job.progress)
    return time.perf_counter() - start, len(seen)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--rows", type=int, default=50_000)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--xlsx", action="store_true", help="also import the rows as a workbook")
    parser.add_argument("--database-url", default=None)
    parser.add_argument("--direct", action="store_true",
                        help="store the CSV by calling the service, not through the upload form")
    args = parser.parse_args(argv)

    tmp = Path(tempfile.mkdtemp(prefix="mm-bench-assoc-"))
    url = args.database_url or f"sqlite:///{tmp / 'bench.db'}"
    os.environ["MATCHMAKER_DATABASE_URL"] = url
    os.environ["MATCHMAKER_WARM_INDEX_ON_START"] = "0"

    from matchmaker.accounts.models import User
    from matchmaker.associations import service
    from matchmaker.associations.models import AssociationImport
    from matchmaker.db import get_engine, get_sessionmaker
    from matchmaker.demo import generate_firms
    from matchmaker.models import Base

    Base.metadata.create_all(get_engine())
    factory = get_sessionmaker()
    results: list[tuple[str, float, float, str]] = []

    t0 = time.perf_counter()
    rows = generate_firms(args.rows, args.seed)
    text = firms_csv(rows)
    results.append(("generate + write CSV", time.perf_counter() - t0, rss_mb(),
                    f"{len(text.encode()) / 1e6:.1f} MB of CSV"))
    data = b""
    if args.xlsx:
        t0 = time.perf_counter()
        data = workbook(rows)
        results.append(("write XLSX", time.perf_counter() - t0, rss_mb(),
                        f"{len(data) / 1e6:.1f} MB of XLSX"))
    del rows
    gc.collect()
    reset_peak()

    from matchmaker.accounts.security import hash_password

    with factory() as s:
        curator = User(email="curatore@bench.example", password_hash=hash_password(PASSWORD),
                       role="curator", full_name="Bench", language="it", is_active=True,
                       failed_logins=0)
        s.add(curator)
        s.flush()
        a = service.create_association(s, slug="bench", name="Bench", region_code=None)
        service.add_curator(s, association=a, email=curator.email)
        s.commit()
        if args.direct:
            t0 = time.perf_counter()
            job = service.start_import(s, association=a, user=curator, filename="soci.csv",
                                       content=text.encode())
            service.queue_check(s, job=job)
            s.commit()
            job_id = job.id
            results.append(("upload (store the file)", time.perf_counter() - t0, rss_mb(),
                            f"background={job.background}"))
    if not args.direct:
        secs, job_id, note = http_upload(curator.email, "bench", "soci.csv", text.encode(),
                                         "text/csv")
        results.append(("upload over HTTP (form, store file)", secs, rss_mb(), note))

    reset_peak()
    secs, polls = run_phase(job_id, "check", factory)
    with factory() as s:
        job = s.get(AssociationImport, job_id)
        results.append(("check: preview of every row", secs, rss_mb(),
                        (f"{job.status}, {job.rows} rows, {job.rejected} rejected, "
                        f"{polls} progress values seen")))
        service.queue_commit(s, job=job)
        s.commit()
    reset_peak()
    secs, polls = run_phase(job_id, "commit", factory)
    with factory() as s:
        job = s.get(AssociationImport, job_id)
        results.append(("commit: write firms + members", secs, rss_mb(),
                        (f"{job.status}, {job.created} created, {job.joined} joined, "
                        f"{polls} progress values seen")))
        assert job.status == "committed", job.message

    if args.xlsx:
        from sqlalchemy import delete

        from matchmaker.associations.models import AssociationMember
        from matchmaker.firms.models import Firm

        with factory() as s:
            s.execute(delete(AssociationMember))
            s.execute(delete(Firm))
            s.commit()
            a = service.get_association(s, "bench")
            user = s.get(User, curator.id)
            reset_peak()
            t0 = time.perf_counter()
            if args.direct:
                job = service.start_import(s, association=a, user=user, filename="soci.xlsx",
                                           content=data)
            else:
                _secs, xlsx_id, _note = http_upload(
                    user.email, "bench", "soci.xlsx", data,
                    "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet")
                s.commit()  # a new snapshot, one that sees the uploaded job
                job = s.get(AssociationImport, xlsx_id)
            service.set_mapping(s, job=job, association=a, mapping=job.mapping or {})
            service.queue_check(s, job=job)
            s.commit()
            job_id = job.id
            results.append(("XLSX upload + guessed mapping", time.perf_counter() - t0, rss_mb(),
                            ", ".join(f"{job.headers[int(k)]}→{v}"
                                      for k, v in job.mapping.items() if v)))
        reset_peak()
        secs, polls = run_phase(job_id, "check", factory)
        with factory() as s:
            job = s.get(AssociationImport, job_id)
            results.append(("XLSX check (read sheet + preview)", secs, rss_mb(),
                            f"{job.status}, {job.rows} rows, {job.rejected} rejected"))
            service.queue_commit(s, job=job)
            s.commit()
        reset_peak()
        secs, polls = run_phase(job_id, "commit", factory)
        with factory() as s:
            job = s.get(AssociationImport, job_id)
            results.append(("XLSX commit", secs, rss_mb(),
                            f"{job.status}, {job.created} created, {job.joined} joined"))

    backend = url.split(":", 1)[0]
    print(f"\nAssociation member import, {args.rows:,} rows, {backend}, "
          f"{os.cpu_count()} CPUs, Python {sys.version.split()[0]}\n")
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    print(f"(load average {load:.1f} when done; peak RSS is per phase, the whole process)\n")
    print(f"{'phase':<36} {'seconds':>8} {'peak RSS MB':>12}  notes")
    print("-" * 100)
    for name, secs, mem, note in results:
        print(f"{name:<36} {secs:>8.1f} {mem:>12.0f}  {note}")
    upload_to_done = sum(r[1] for r in results if r[0].startswith(("upload", "check", "commit")))
    print("-" * 100)
    print(f"{'CSV: upload + check + commit':<36} {upload_to_done:>8.1f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
