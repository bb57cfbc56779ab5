"""Evaluate the recommender on real networks (reti-soggetto), against the obvious baselines.

Seeds one member of each network with 3+ members, ranks the whole pool, and reports recall@10
(hits / min(10, co-members)) and nDCG@10 of the co-members, cross-validated by network (the
co-membership affinity and the weights are fitted on the other folds). Also measures exposure:
how concentrated the top-10 lists are on a few popular firms, with and without the cap.

    .venv/bin/python benchmarks/evaluate_realnets.py [--networks FILE] [--io FILE] [--folds 5]

Reads ../shared/data/networks and ../shared/data/io when present; exits cleanly without them.
"""

import argparse
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
SHARED = ROOT.parent / "shared" / "data"


def gini(x: np.ndarray) -> float:
    """Return the Gini coefficient of non-negative counts."""
    x = np.sort(x.astype(float))
    if x.sum() == 0:
        return 0.0
    n = len(x)
    return float((2 * np.arange(1, n + 1) - n - 1) @ x / (n * x.sum()))


def exposure_table(a, model, io_link, seeds: np.ndarray) -> dict[str, dict[str, float]]:
    """Top-10 concentration over many seeds, without and with the exposure cap."""
    from matchmaker.matching.fit import seed_query
    from matchmaker.matching.index import compute_exposure
    from matchmaker.matching.scoring import score_all, top_k

    out = {}
    capped = compute_exposure(a, model, io_link)
    for label, mult in (("no cap", np.ones(a.size, np.float32)), ("with cap", capped)):
        a.exposure = mult
        counts = np.zeros(a.size)
        for s in seeds:
            rows = top_k(score_all(a, seed_query(a, int(s), apply_exposure=True), model, io_link),
                         10, a.tiebreak)
            counts[rows] += 1
        top1 = np.sort(counts)[::-1][: max(1, a.size // 100)].sum() / counts.sum()
        out[label] = {"gini": gini(counts), "top1%_share": float(top1),
                      "max_lists": float(counts.max()), "firms_shown": float((counts > 0).mean())}
    a.exposure = np.ones(a.size, np.float32)
    return out


def main() -> int:
    """Run the evaluation and print the tables."""
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--networks", default=str(SHARED / "networks" / "rete_soggetto_dev.csv"))
    p.add_argument("--io", default=str(SHARED / "io" / "italy_use_table_basic_prices_2010_2016.csv"))
    p.add_argument("--folds", type=int, default=5)
    args = p.parse_args()
    if not Path(args.networks).exists():
        print(f"skipped: {args.networks} is not here (the team's shared data)")
        return 0
    from matchmaker.matching import fit
    from matchmaker.matching.features import build_arrays
    from matchmaker.matching.model import load_model
    from matchmaker.matching.scoring import io_link_matrix

    t0 = time.perf_counter()
    data = fit.load_network_csv(args.networks)
    tech = share = None
    io_label = "none (value chains only)"
    if Path(args.io).exists():
        from matchmaker.refdata.io import links_from_file

        links = links_from_file(args.io)
        tech, share, io_label = links.tech, links.share, links.source
    n3 = sum(1 for m in data.networks if len(m) >= 3)
    print(f"pool: {len(data.records)} firms; networks: {len(data.networks)} ({n3} with 3+ "
          f"members, seeded); input-output: {io_label}")
    for label, t, s in (("with input-output links", tech, share), ("value chains only", None, None)):
        if label.startswith("with") and tech is None:
            continue
        cv = fit.cross_validate(data, io_tech=t, io_share=s, folds=args.folds)
        best = max(cv[b]["recall@10"] for b in ("random", "nearest", "nearest_same_division"))
        print(f"\n{args.folds}-fold cross-validation by network, {label}")
        print(f"{'ranker':<24}{'recall@10':>10}{'nDCG@10':>10}{'seeds':>7}")
        for name, m in cv.items():
            print(f"{name:<24}{m['recall@10']:>10.3f}{m['ndcg@10']:>10.3f}{m['seeds']:>7}")
        print(f"{'model vs best baseline':<24}{cv['model']['recall@10'] / best - 1:>+10.1%}")

    model = load_model()
    a = build_arrays(data.records)
    io_link = io_link_matrix(tech, share, model.io_scale, len(model.divisions))
    full = fit.evaluate(a, model, io_link, data.networks)
    capped = fit.evaluate(a, model, io_link, data.networks, apply_exposure=False)
    print(f"\nshipped model on all networks (in-sample): recall@10 {full['recall']:.3f}, "
          f"nDCG@10 {full['ndcg']:.3f} ({capped['seeds']} seeds)")
    rng = np.random.default_rng(0)
    seeds = rng.choice(a.size, size=min(1000, a.size), replace=False)
    exp = exposure_table(a, model, io_link, seeds)
    print(f"\nexposure over {len(seeds)} seekers' top-10 lists")
    print(f"{'':<10}{'gini':>8}{'top 1% share':>14}{'max lists':>11}{'firms shown':>13}")
    for label, m in exp.items():
        print(f"{label:<10}{m['gini']:>8.3f}{m['top1%_share']:>14.1%}{m['max_lists']:>11.0f}"
              f"{m['firms_shown']:>13.1%}")
    from matchmaker.matching.index import compute_exposure

    a.exposure = compute_exposure(a, model, io_link)
    with_cap = fit.evaluate(a, model, io_link, data.networks, apply_exposure=True)
    print(f"recall@10 with the cap: {with_cap['recall']:.3f} (without: {full['recall']:.3f})")
    print(f"\n{time.perf_counter() - t0:.0f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
