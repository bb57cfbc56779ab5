"""Benchmark the reference data: cold and warm load, memory, and distances_from.

Run with ``.venv/bin/python benchmarks/refdata.py``.  Cold and warm loads each run in a fresh
subprocess sharing a temporary cache directory, so the user's cache is left untouched.
Exits non-zero when a target is missed (warm < 1 s, memory < 100 MB, distances < 5 ms).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
WARM_TARGET_S = 1.0
MEMORY_TARGET_MB = 100.0
DISTANCE_TARGET_MS = 5.0


def _rss_mb() -> float:
    """Current resident set size in MB (Linux /proc, else peak RSS from resource)."""
    try:
        with open("/proc/self/statm") as fh:
            pages = int(fh.read().split()[1])
        return pages * os.sysconf("SC_PAGE_SIZE") / 2**20
    except (OSError, ValueError):
        import resource

        return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def _load_everything() -> int:
    """Load all reference data the app uses; return the number of records touched."""
    from matchmaker.refdata import ateco, places

    n = 0
    for edition in ateco.EDITIONS:
        n += sum(1 for _ in ateco.all_codes(edition))
    n += len(ateco.divisions())
    n += len(places.all_comuni())
    places.coordinates()
    return n


def child(mode: str) -> None:
    """Measure one load in this (fresh) process and print a JSON report."""
    sys.path.insert(0, str(ROOT))
    report: dict[str, float] = {}
    if mode == "trace":
        import tracemalloc

        tracemalloc.start()
        _load_everything()
        report["trace_peak_mb"] = tracemalloc.get_traced_memory()[1] / 2**20
        tracemalloc.stop()
    else:
        rss0 = _rss_mb()
        start = time.perf_counter()
        report["records"] = _load_everything()
        report["load_s"] = time.perf_counter() - start
        report["rss_delta_mb"] = _rss_mb() - rss0
        if mode == "warm":
            import numpy as np

            from matchmaker.refdata import places

            milano = places.find("Milano").istat
            places.distances_from(milano)
            runs = []
            for _ in range(200):
                t = time.perf_counter()
                places.distances_from(milano)
                runs.append(time.perf_counter() - t)
            report["distances_ms"] = float(np.median(runs)) * 1000
            report["geopandas_imported"] = float("geopandas" in sys.modules)
    print(json.dumps(report))


def _run(mode: str, cache_dir: str) -> tuple[dict[str, float], float]:
    """Run a child process, returning its report and its wall-clock time."""
    env = {**os.environ, "MATCHMAKER_CACHE_DIR": cache_dir}
    start = time.perf_counter()
    out = subprocess.run(
        [sys.executable, __file__, "--child", mode],
        check=True, capture_output=True, text=True, cwd=ROOT, env=env,
    )
    wall = time.perf_counter() - start
    return json.loads(out.stdout.strip().splitlines()[-1]), wall


def main() -> int:
    """Print the benchmark table; return 1 if a target is missed."""
    with tempfile.TemporaryDirectory(prefix="mm-refdata-bench-") as cache_dir:
        cold, cold_wall = _run("cold", cache_dir)
        warm, warm_wall = _run("warm", cache_dir)
        trace, _ = _run("trace", cache_dir)

    rows = [
        ("cold load (build centroid cache)", f"{cold['load_s']:.2f} s "
         f"(process {cold_wall:.2f} s)", "-", True),
        ("warm load (new process, cache)", f"{warm['load_s']:.3f} s "
         f"(process {warm_wall:.2f} s)", f"< {WARM_TARGET_S:.0f} s",
         warm_wall < WARM_TARGET_S),
        ("memory, warm (RSS delta)", f"{warm['rss_delta_mb']:.1f} MB",
         f"< {MEMORY_TARGET_MB:.0f} MB", warm["rss_delta_mb"] < MEMORY_TARGET_MB),
        ("memory, warm (tracemalloc peak)", f"{trace['trace_peak_mb']:.1f} MB",
         f"< {MEMORY_TARGET_MB:.0f} MB", trace["trace_peak_mb"] < MEMORY_TARGET_MB),
        ("memory, cold (RSS delta)", f"{cold['rss_delta_mb']:.1f} MB", "-", True),
        ("distances_from, 7,896 comuni (median of 200)", f"{warm['distances_ms']:.3f} ms",
         f"< {DISTANCE_TARGET_MS:.0f} ms", warm["distances_ms"] < DISTANCE_TARGET_MS),
        ("geopandas imported on warm path", "yes" if warm["geopandas_imported"] else "no",
         "no", not warm["geopandas_imported"]),
    ]
    width = max(len(r[0]) for r in rows)
    vwidth = max(len(r[1]) for r in rows)
    print(f"refdata benchmark ({int(warm['records'])} records: ATECO 2007/2022/2025 + comuni)")
    print(f"{'measure':<{width}}  {'value':<{vwidth}}  {'target':<8}  ok")
    print(f"{'-' * width}  {'-' * vwidth}  {'-' * 8}  --")
    for name, value, target, ok in rows:
        print(f"{name:<{width}}  {value:<{vwidth}}  {target:<8}  {'yes' if ok else 'NO'}")
    return 0 if all(r[3] for r in rows) else 1


if __name__ == "__main__":
    if len(sys.argv) == 3 and sys.argv[1] == "--child":
        child(sys.argv[2])
    else:
        sys.exit(main())
