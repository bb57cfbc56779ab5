"""Launch-day load test: 50 members against 100k firms, on SQLite or PostgreSQL, 127.0.0.1 only.

Seeds a database once (kept in the cache folder and copied for each run with
`matchmaker.ops.backup`), serves it with `matchmaker serve --workers 2`, waits until /readyz
says the recommender index is built, runs locust headless for a bounded time, and prints per
endpoint: requests, throughput, p50 and p95 as the clients saw them, p95 inside the server
(from the JSON access log), errors, and the targets (pages p95 < 300 ms, recommendations p95
< 500 ms, no errors).

    python benchmarks/load/run.py --backend sqlite
    python benchmarks/load/run.py --backend postgresql --pg-url postgresql+psycopg://postgres@127.0.0.1:5432/postgres
"""

import argparse
import csv
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

import httpx

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[1]
sys.path[:0] = [str(ROOT), str(HERE)]

PAGE_TARGET_MS = 300
RECOMMEND_TARGET_MS = 500


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _bin(name: str) -> str:
    local = Path(sys.executable).parent / name
    found = str(local) if local.exists() else shutil.which(name)
    if not found:
        raise SystemExit(f"{name} not found: pip install -e '.[load]' (or make load)")
    return found


def _percentile(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def prepare(backend: str, args: argparse.Namespace, work: Path) -> tuple[str, Path, str | None]:
    """Return (database URL, accounts file, database to drop) for a fresh copy of the seed."""
    import seed
    from sqlalchemy import create_engine, text
    from sqlalchemy.engine import make_url

    from matchmaker.ops import backup as ops_backup

    cache = Path(args.cache_dir)
    cache.mkdir(parents=True, exist_ok=True)
    stem = f"{backend}-{args.firms}-{args.users}"
    accounts = cache / f"{stem}.accounts.json"
    snapshot = cache / f"{stem}.backup"
    drop = None
    if backend == "sqlite":
        url = f"sqlite:///{work / 'load.db'}"
    else:
        base = make_url(args.pg_url)
        drop = f"mm_load_{uuid.uuid4().hex[:8]}"
        admin = create_engine(base.set(database="postgres"), isolation_level="AUTOCOMMIT")
        with admin.connect() as conn:
            conn.execute(text(f'CREATE DATABASE "{drop}"'))
        admin.dispose()
        url = base.set(database=drop).render_as_string(hide_password=False)
    if snapshot.exists() and accounts.exists():
        t0 = time.perf_counter()
        ops_backup.restore(url, snapshot)
        print(f"restored the seeded database from {snapshot} in "
              f"{time.perf_counter() - t0:.1f} s", flush=True)
        return url, accounts, drop
    print(f"seeding {args.firms} firms and {args.users} owners (once; kept in {cache})",
          flush=True)
    seed.main([url, "--firms", str(args.firms), "--users", str(args.users), "--out",
               str(accounts)])
    result = ops_backup.backup(url, snapshot)
    print(result.describe(), flush=True)
    return url, accounts, drop


def serve(url: str, workers: int, log: Path) -> tuple[subprocess.Popen, str, float]:
    """Start the server and wait until it is ready; return it, its address, seconds to ready."""
    port = _free_port()
    env = {**os.environ, "MATCHMAKER_DATABASE_URL": url, "MATCHMAKER_WARM_INDEX_ON_START": "1",
           "PYTHONUNBUFFERED": "1"}
    t0 = time.perf_counter()
    proc = subprocess.Popen([_bin("matchmaker"), "serve", "--host", "127.0.0.1", "--port",
                             str(port), "--workers", str(workers)], env=env, cwd=ROOT,
                            stdout=open(log, "wb"), stderr=subprocess.STDOUT,  # noqa: SIM115
                            start_new_session=True)
    base = f"http://127.0.0.1:{port}"
    ready_in_a_row = 0
    while ready_in_a_row < 2 * workers + 2:  # every worker answers ready, not just one
        if proc.poll() is not None:
            raise SystemExit(f"server exited:\n{log.read_text()[-3000:]}")
        if time.perf_counter() - t0 > 900:
            raise SystemExit("server not ready in 15 minutes")
        try:
            ok = httpx.get(base + "/readyz", timeout=10).status_code == 200
        except httpx.TransportError:
            ok = False
        ready_in_a_row = ready_in_a_row + 1 if ok else 0
        time.sleep(0.2 if ok else 1.0)
    return proc, base, time.perf_counter() - t0


def run_locust(base: str, accounts: Path, args: argparse.Namespace, work: Path) -> Path:
    """Run locust headless against base and return the stats CSV prefix."""
    prefix = work / "locust"
    env = {**os.environ, "MATCHMAKER_LOAD_ACCOUNTS": str(accounts),
           "MATCHMAKER_LOAD_THINK": args.think}
    cmd = [_bin("locust"), "-f", str(HERE / "locustfile.py"), "--headless", "--host", base,
           "-u", str(args.users), "-r", str(max(1, args.users // 5)), "-t", f"{args.duration}s",
           "--csv", str(prefix), "--only-summary", "--stop-timeout", "10",
           "--loglevel", "WARNING"]
    subprocess.run(cmd, env=env, cwd=HERE, check=False, stdout=subprocess.DEVNULL)
    return prefix


def server_timings(log: Path, since: float) -> dict[str, list[float]]:
    """Return request durations (ms) per 'METHOD path-template' from the JSON access log."""
    out: dict[str, list[float]] = {}
    for line in log.read_text(errors="replace").splitlines():
        if not line.startswith('{"ts"'):
            continue
        entry = json.loads(line)
        if entry.get("event") != "request" or entry.get("path") in ("/readyz", "/healthz"):
            continue
        out.setdefault(f"{entry['method']} {entry['path']}", []).append(entry["duration_ms"])
    return out


def _server_key(name: str) -> str:
    method, path = name.split(" ", 1)
    path = path.split(" (")[0].split("?")[0]
    return f"{method} {path}"


def report(prefix: Path, timings: dict[str, list[float]], backend: str, info: str) -> bool:
    """Print the results table; return whether every target was met."""
    rows = list(csv.DictReader(open(f"{prefix}_stats.csv")))  # noqa: SIM115
    ok = True
    lines = [f"### {backend}: {info}", "",
             ("| endpoint | requests | req/s | p50 ms | p95 ms | p99 ms | server p95 ms | errors "
             "| target |"), "|---|---:|---:|---:|---:|---:|---:|---:|---|"]
    for r in rows:
        name = r["Name"]
        p95 = float(r["95%"])
        errors = int(r["Failure Count"])
        if name == "Aggregated":
            target, verdict = "", ""
        else:
            limit = RECOMMEND_TARGET_MS if "recommendations" in name else PAGE_TARGET_MS
            met = p95 < limit and errors == 0
            ok = ok and met
            target = f"p95 < {limit}: {'met' if met else 'MISSED'}"
            verdict = target
        srv = timings.get(_server_key(name)) if name != "Aggregated" else [
            v for vs in timings.values() for v in vs]
        srv95 = f"{_percentile(srv, 0.95):.0f}" if srv else "-"
        lines.append(f"| {name} | {r['Request Count']} | {float(r['Requests/s']):.1f} | "
                     f"{r['50%']} | {r['95%']} | {r['99%']} | {srv95} | {errors} | {verdict} |")
    failures = Path(f"{prefix}_failures.csv")
    if failures.exists():
        bad = list(csv.DictReader(open(failures)))  # noqa: SIM115
        for b in bad[:10]:
            lines.append(f"\nerror: {b['Method']} {b['Name']}: {b['Error']} x{b['Occurrences']}")
    print("\n".join(lines), flush=True)
    return ok


def main(argv: list[str] | None = None) -> int:
    """Prepare, serve, load, report, clean up."""
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--backend", choices=("sqlite", "postgresql"), default="sqlite")
    p.add_argument("--pg-url", default=os.environ.get("MATCHMAKER_LOAD_PG_URL",
                                                      "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"))
    p.add_argument("--firms", type=int, default=100_000)
    p.add_argument("--users", type=int, default=50)
    p.add_argument("--duration", type=int, default=60, help="seconds of load")
    p.add_argument("--think", default="1,3", help="min,max seconds between a member's actions")
    p.add_argument("--workers", type=int, default=2)
    p.add_argument("--cache-dir", default=str(Path.home() / ".cache" / "matchmaker" / "load"))
    p.add_argument("--seed-only", action="store_true", help="prepare the cached seed and stop")
    p.add_argument("--keep", action="store_true", help="keep the SQLite copy (logs and CSVs "
                                                       "are always kept)")
    args = p.parse_args(argv)
    work = Path(tempfile.mkdtemp(prefix="mm-load-"))
    url, accounts, drop = prepare(args.backend, args, work)
    log = work / "server.log"
    proc = None
    try:
        if args.seed_only:
            return 0
        proc, base, ready_s = serve(url, args.workers, log)
        print(f"server on {base} with {args.workers} workers, ready (index built) in "
              f"{ready_s:.1f} s", flush=True)
        started = time.time()
        prefix = run_locust(base, accounts, args, work)
        info = (f"{args.firms} firms, {args.users} users, think {args.think} s, "
                f"{args.duration} s, {args.workers} workers")
        met = report(prefix, server_timings(log, started), args.backend, info)
        print(f"targets {'met' if met else 'MISSED'}; logs and CSVs in {work}", flush=True)
    finally:
        if proc is not None and proc.poll() is None:
            os.killpg(proc.pid, signal.SIGTERM)
            try:
                proc.wait(30)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
        if drop:
            from sqlalchemy import create_engine, text
            from sqlalchemy.engine import make_url

            admin = create_engine(make_url(args.pg_url).set(database="postgres"),
                                  isolation_level="AUTOCOMMIT")
            with admin.connect() as conn:
                conn.execute(text(f'DROP DATABASE IF EXISTS "{drop}" WITH (FORCE)'))
            admin.dispose()
        if not args.keep:
            for f in work.glob("load.db*"):
                f.unlink()
    return 0


if __name__ == "__main__":
    sys.exit(main())
