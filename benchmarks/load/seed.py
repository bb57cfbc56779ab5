"""Seed a load-test database: N realistic firms (the demo generator), owners and API tokens.

Firms come from `matchmaker.demo.generate_firms` (in parallel chunks), are validated with the
registry's own `validate_firm`, and are written with bulk Core inserts: firm, secondary ATECO
codes, goals and one change-feed row each, as `create_firm` would leave them. Then `users`
owners get one firm each (their profile to save, their suggestions to ask for) and an API
token. Prints how long each step took.

    python benchmarks/load/seed.py URL --firms 100000 --users 50 --out accounts.json
"""

import argparse
import json
import random
import sys
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

CHUNK = 5000
BATCH = 5000


def _chunk(args: tuple[int, int]) -> list[dict[str, Any]]:
    """Generate and validate one chunk of demo firms; return plain insert values."""
    from matchmaker.demo import generate_firms
    from matchmaker.firms.schemas import sme_class, validate_firm

    n, seed = args
    out = []
    for row in generate_firms(n, seed):
        data = validate_firm({k: v for k, v in row.items() if not k.startswith("_")})
        c = data.comune
        secondary, seen = [], set()
        for s in data.secondary:
            if s.code != data.ateco.code and s.code not in seen:
                seen.add(s.code)
                secondary.append((s.code, s.edition, s.sector_division))
        out.append({
            "partita_iva": data.partita_iva, "name": data.name, "legal_form": data.legal_form,
            "ateco_code": data.ateco.code, "ateco_edition": data.ateco.edition,
            "sector_division": data.ateco.sector_division, "comune_istat": c.istat,
            "comune_name": c.name, "province": c.province, "region_code": c.region_code,
            "lat": c.lat, "lng": c.lng, "employees": data.employees,
            "turnover_eur": data.turnover_eur,
            "sme_class": sme_class(data.employees, data.turnover_eur), "offers": data.offers,
            "needs": data.needs, "description": data.description, "email": data.email,
            "website": data.website, "visibility": data.visibility,
            "_secondary": secondary, "_goals": sorted(set(data.goals)),
        })
    return out


def generate(n: int, *, seed: int = 2026, workers: int = 2) -> list[dict[str, Any]]:
    """Return n distinct validated firms (by partita IVA), generated in parallel chunks."""
    rows: dict[str, dict[str, Any]] = {}
    k = 0
    while len(rows) < n:
        want = n - len(rows)
        jobs = [(min(CHUNK, want - i), seed * 1000 + k + j)
                for j, i in enumerate(range(0, want, CHUNK))]
        k += len(jobs)
        with ProcessPoolExecutor(workers) as pool:
            for chunk in pool.map(_chunk, jobs):
                for r in chunk:
                    rows.setdefault(r["partita_iva"], r)
    return list(rows.values())[:n]


def write(url: str, rows: list[dict[str, Any]]) -> None:
    """Create the schema and bulk-insert the firms with their codes, goals and change feed."""
    from sqlalchemy import insert, text

    from matchmaker import migrate
    from matchmaker.db import make_engine, utcnow
    from matchmaker.firms.models import Firm, FirmAteco, FirmChange, FirmGoal
    from matchmaker.models import Base

    migrate.upgrade("head", url=url)
    engine = make_engine(url)
    Base.metadata.create_all(engine)  # tables of models newer than the last migration
    now = utcnow()
    with engine.begin() as conn:
        for start in range(0, len(rows), BATCH):
            part = rows[start:start + BATCH]
            firms, codes, goals, changes = [], [], [], []
            for i, r in enumerate(part, start + 1):
                firms.append({k: v for k, v in r.items() if not k.startswith("_")}
                             | {"id": i, "version": 1, "created_at": now, "updated_at": now})
                codes += [{"firm_id": i, "position": p, "code": c, "edition": e,
                           "sector_division": d} for p, (c, e, d) in enumerate(r["_secondary"])]
                goals += [{"firm_id": i, "goal": g} for g in r["_goals"]]
                changes.append({"firm_id": i, "changed_at": now})
            conn.execute(insert(Firm), firms)
            if codes:
                conn.execute(insert(FirmAteco), codes)
            if goals:
                conn.execute(insert(FirmGoal), goals)
            conn.execute(insert(FirmChange), changes)
        if engine.dialect.name == "postgresql":
            for table in ("firm", "firm_ateco", "firm_change"):
                conn.execute(text(
                    f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), "
                    f"(SELECT max(id) FROM {table}))"))
            conn.execute(text("ANALYZE"))
        else:
            conn.execute(text("ANALYZE"))
    engine.dispose()


def accounts(url: str, n_users: int, *, sample: int = 2000, seed: int = 7) -> dict[str, Any]:
    """Create n owners, each owning one public firm, with API tokens; return what locust needs."""
    from sqlalchemy import select
    from sqlalchemy.orm import Session

    from matchmaker.accounts import service as accounts_service
    from matchmaker.accounts.models import User
    from matchmaker.accounts.security import hash_password
    from matchmaker.db import make_engine
    from matchmaker.firms.models import Firm

    rng = random.Random(seed)
    engine = make_engine(url)
    pw = hash_password("load-test-password")
    out: dict[str, Any] = {"users": [], "firms": []}
    with Session(engine) as s:
        public = list(s.scalars(select(Firm.id).where(Firm.visibility == "public")
                                .order_by(Firm.id)))
        owned = rng.sample(public, n_users)
        pivas = dict(s.execute(select(Firm.id, Firm.partita_iva).where(Firm.id.in_(
            rng.sample(public, min(sample, len(public))) + owned))).all())
        for i, firm_id in enumerate(owned):
            user = User(email=f"load{i:03d}@example.it", password_hash=pw, role="owner",
                        full_name=f"Load {i}", language="it", is_active=True, failed_logins=0)
            s.add(user)
            s.flush()
            accounts_service.add_firm_member(s, user=user, firm_id=firm_id, role="owner")
            token, _ = accounts_service.issue_api_token(s, user=user, name="load", ttl=None)
            out["users"].append({"token": token, "piva": pivas[firm_id]})
        out["firms"] = [p for fid, p in pivas.items() if fid not in set(owned)]
        s.commit()
    engine.dispose()
    return out


def main(argv: list[str] | None = None) -> int:
    """Seed the database at URL and write the accounts file."""
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("url")
    p.add_argument("--firms", type=int, default=100_000)
    p.add_argument("--users", type=int, default=50)
    p.add_argument("--out", type=Path, required=True)
    args = p.parse_args(argv)
    t0 = time.perf_counter()
    rows = generate(args.firms)
    t1 = time.perf_counter()
    print(f"generated and validated {len(rows)} firms in {t1 - t0:.1f} s", flush=True)
    write(args.url, rows)
    t2 = time.perf_counter()
    print(f"bulk-inserted them in {t2 - t1:.1f} s", flush=True)
    data = accounts(args.url, args.users)
    args.out.write_text(json.dumps(data))
    print(f"{args.users} owners with API tokens in {time.perf_counter() - t2:.1f} s; "
          f"seeding took {time.perf_counter() - t0:.1f} s", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
