"""CLI: `matchmaker recommend` (one seed or a batch) and `matchmaker recommender fit`."""

import argparse
import json
import shlex
import sys
import time
from pathlib import Path
from typing import Any


def _session():
    from matchmaker.db import get_sessionmaker

    return get_sessionmaker()()


def cmd_recommend(args: argparse.Namespace) -> int:
    """Print ranked partners for one firm, or a JSONL batch for a file of seeds."""
    from matchmaker import migrate
    from matchmaker.firms import service as firms_service
    from matchmaker.matching import service

    migrate.upgrade()
    with _session() as s:
        if args.seeds:
            pivas = [line.strip() for line in Path(args.seeds).read_text().splitlines()
                     if line.strip() and not line.startswith("#")]
            for row in service.recommend_batch(s, pivas=pivas, top=args.top):
                print(json.dumps(row, ensure_ascii=False))
            return 0
        if not args.piva:
            print("error: give a partita IVA or --seeds FILE", file=sys.stderr)
            return 2
        firm = firms_service.get_firm(s, args.piva)
        if firm is None:
            print(f"error: no firm with partita IVA {args.piva}", file=sys.stderr)
            return 1
        try:
            result = service.recommend(s, firm=firm, viewer=None, limit=args.top,
                                       radius_km=args.radius_km, goal=args.goal)
        except service.MatchingError as exc:
            print(f"error: {exc}", file=sys.stderr)
            return 2
    if args.json:
        print(json.dumps({
            "seed": firm.partita_iva,
            "weights": result.weights,
            "io_source": result.io_source,
            "partners": [item.__dict__ for item in result.items],
        }, ensure_ascii=False, indent=1))
        return 0
    print(f"Partners for {firm.name} ({firm.partita_iva}), {result.candidates} candidates")
    print("weights: " + ", ".join(f"{k} {v:.2f}" for k, v in result.weights.items()))
    for item in result.items:
        comps = " ".join(f"{k[:6]}={v:.2f}" for k, v in item.components.items())
        print(f"{item.rank:>3}. {item.score:.3f} {item.partita_iva} {item.name} "
              f"({item.comune} {item.province}, {item.ateco}) {comps}")
        for reason in item.reasons[:3]:
            print(f"       - {reason}")
    return 0


def cmd_fit(args: argparse.Namespace) -> int:
    """Fit the weights and co-membership affinity on real networks and write the artifact."""
    from matchmaker.matching import fit
    from matchmaker.matching.features import build_arrays
    from matchmaker.matching.model import MODEL_PATH

    t0 = time.perf_counter()
    data = fit.load_network_csv(args.networks)
    tech = share = None
    io_source = "none"
    if args.io:
        from matchmaker.refdata.io import links_from_file

        links = links_from_file(args.io, year=args.year)
        tech, share, io_source = links.tech, links.share, links.source
    print(f"{len(data.records)} firms, {len(data.networks)} networks; cross-validating "
          f"({args.folds} folds)…", flush=True)
    cv = fit.cross_validate(data, io_tech=tech, io_share=share, folds=args.folds)
    a = build_arrays(data.records)
    model = fit.fit_model(a, data.networks, io_tech=tech, io_share=share)
    model.metrics = {"cross_validation": cv, "folds": args.folds, "seconds": 0.0}
    model.trained_on = (f"{Path(args.networks).name}: {len(data.networks)} networks, "
                        f"{len(data.records)} firms; input-output: {io_source}")
    model.command = "matchmaker recommender fit --networks " + shlex.quote(args.networks) + (
        f" --io {shlex.quote(args.io)}" if args.io else "") + (
        f" --year {args.year}" if args.year else "") + f" --folds {args.folds}"
    model.notes = ("Weights of sector, supply_chain and geography fitted (non-negative logistic "
                   "regression) on co-membership; needs_offers, goals and size are set relative "
                   "to the strongest fitted component until introductions give feedback.")
    model.metrics["seconds"] = round(time.perf_counter() - t0, 1)
    out = Path(args.output) if args.output else MODEL_PATH
    model.save(out)
    _print_cv(cv)
    print(f"model written to {out}")
    return 0


def cmd_refit_feedback(args: argparse.Namespace) -> int:
    """Refit the weights on the introductions users accepted or declined."""
    from matchmaker.matching import fit, index
    from matchmaker.matching.model import MODEL_PATH, load_model
    from matchmaker.networks import service as networks_service

    with _session() as s:
        idx = index.build(s, load_model())
        pairs = [(idx.arrays.row_of[a], idx.arrays.row_of[b], y)
                 for a, b, y in networks_service.feedback_pairs(s)
                 if a in idx.arrays.row_of and b in idx.arrays.row_of]
    try:
        model = fit.fit_from_feedback(idx.arrays, idx.model, idx.io_link, pairs,
                                      prior_strength=args.prior_strength)
    except ValueError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    out = Path(args.output) if args.output else MODEL_PATH
    model.save(out)
    print(f"{len(pairs)} introductions; weights now:")
    for k, v in model.component_weights().items():
        print(f"  {k:<14}{v:.3f}")
    print(f"model written to {out}")
    return 0


def _print_cv(cv: dict[str, Any]) -> None:
    best = max(cv[b]["recall@10"] for b in ("random", "nearest", "nearest_same_division"))
    print(f"{'ranker':<24}{'recall@10':>10}{'nDCG@10':>10}{'seeds':>7}")
    for name, m in cv.items():
        print(f"{name:<24}{m['recall@10']:>10.3f}{m['ndcg@10']:>10.3f}{m['seeds']:>7}")
    print(f"model vs best baseline: {cv['model']['recall@10'] / best - 1:+.1%}")


def add_cli(sub: Any) -> None:
    """Register the recommend and recommender commands."""
    p = sub.add_parser("recommend", help="ranked partners for a firm, or a batch of seeds")
    p.add_argument("piva", nargs="?")
    p.add_argument("--top", type=int, default=10)
    p.add_argument("--json", action="store_true")
    p.add_argument("--seeds", help="file with one partita IVA per line")
    p.add_argument("--format", choices=["jsonl"], default="jsonl")
    p.add_argument("--radius-km", type=float, default=None)
    p.add_argument("--goal", default=None)
    p.set_defaults(func=cmd_recommend)

    p = sub.add_parser("recommender", help="fit the recommender")
    rsub = p.add_subparsers(dest="recommender_command", required=True)
    f = rsub.add_parser("fit", help="fit weights on real networks and write the model artifact")
    f.add_argument("--networks", required=True, help="networks CSV (register layout)")
    f.add_argument("--io", help="input-output use table (Eurostat or long CSV)")
    f.add_argument("--year", type=int, default=None)
    f.add_argument("--folds", type=int, default=5)
    f.add_argument("--output", help="where to write the model (default: the shipped artifact)")
    f.set_defaults(func=cmd_fit)
    r = rsub.add_parser("refit-feedback",
                        help="refit the weights on accepted and declined introductions")
    r.add_argument("--prior-strength", type=float, default=50.0,
                   help="how many decisions the current weights are worth")
    r.add_argument("--output", help="where to write the model (default: the shipped artifact)")
    r.set_defaults(func=cmd_refit_feedback)
