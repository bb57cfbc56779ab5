"""Fit the recommender on real co-membership and evaluate it against baselines.

Training data: business networks (one row per network and member firm, the layout of the
business register's list of reti, see shared/data/networks/README.md) and, later, accepted and
declined introductions. The model is a logistic regression with non-negative weights over the
sub-features of matching/scoring.py, so every weight reads as "how much this kind of evidence
counts" and every score splits into per-component contributions.
"""

import csv
import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from scipy.optimize import minimize

from matchmaker.matching.features import FirmArrays, FirmRecord, build_arrays, divisions
from matchmaker.matching.model import SUBFEATURES, RecommenderModel
from matchmaker.matching.scoring import Query, io_link_matrix, score_all, subfeatures, top_k
from matchmaker.refdata import places

FITTED = [k for k, c in SUBFEATURES.items() if c in ("sector", "supply_chain", "geography")]
# Components the networks data cannot inform (no texts, goals or sizes there): their weight is
# set relative to the strongest fitted component until feedback from introductions refits them.
HARD_NEGATIVES = 0
PRIOR_SHARE = {"needs_offers": 1.0, "goals": 0.4, "size": 0.15}


@dataclass
class NetworkData:
    records: list[FirmRecord]
    networks: list[list[int]]  # rows of members, in file order
    keys: list[str]


def load_network_csv(path: str, *, min_size: int = 1) -> NetworkData:
    """Read a networks file into firm records (one per distinct firm) and member lists."""
    rows_by_firm: dict[str, int] = {}
    records: list[FirmRecord] = []
    members: dict[str, list[int]] = {}
    with open(path, newline="", encoding="utf-8") as fh:
        for r in csv.DictReader(fh):
            key = r["firm_key"]
            if key not in rows_by_firm:
                istat = (r.get("comune_istat") or "").strip()
                if places.get(istat) is None:
                    try:  # codes change when comuni merge: try the name and province
                        istat = places.find(r.get("comune") or "", r.get("province") or None).istat
                    except places.PlaceError:
                        continue
                code = (r.get("ateco") or "").strip() or None
                rows_by_firm[key] = len(records)
                records.append(FirmRecord(
                    id=len(records) + 1, partita_iva=r["partita_iva"], name=key,
                    ateco_code=code, ateco_edition="2007", comune_istat=istat,
                ))
            members.setdefault(r["network_key"], [])
            row = rows_by_firm[key]
            if row not in members[r["network_key"]]:
                members[r["network_key"]].append(row)
    keys = [k for k in sorted(members) if len(members[k]) >= min_size]
    return NetworkData(records=records, networks=[members[k] for k in keys], keys=keys)


def comember_matrix(a: FirmArrays, networks: Sequence[Sequence[int]], *, prior: float = 0.25,
                    scale: float = 8.0, max_members: int = 40) -> np.ndarray:
    """Return how much more often two divisions meet in a network than chance, in [0, 1]."""
    n = len(divisions())
    counts = np.zeros((n, n), dtype=np.float64)
    for mem in networks:
        divs = a.codes.division_idx[a.code_row[np.asarray(mem[:max_members])]]
        divs = divs[divs >= 0]
        if len(divs) < 2:
            continue
        w = 1.0 / (len(divs) - 1)
        onehot = np.bincount(divs, minlength=n).astype(np.float64)
        counts += w * (np.outer(onehot, onehot) - np.diag(onehot))
    total = counts.sum()
    if total <= 0:
        return np.zeros((n, n), dtype=np.float32)
    p = counts.sum(1) / total
    expected = np.outer(p, p) * total
    lift = np.log((counts + prior) / (expected + prior))
    return np.clip(0.5 + 0.5 * lift / math.log(scale), 0.0, 1.0).astype(np.float32)


def seed_query(a: FirmArrays, row: int, **kw) -> Query:
    """Return the query for a firm of the pool as the seeker."""
    secondary = [int(c) for c in a.sec_code[a.sec_row == row]]
    return Query(
        code_rows=[int(a.code_row[row]), *secondary], comune_idx=int(a.comune_idx[row]),
        goals=int(a.goals[row]), sme=int(a.sme[row]), needs=a.needs[row], offers=a.offers[row],
        seed_row=row, **kw,
    )


def _neg_sample(rng: np.random.Generator, n: int, exclude: set[int], k: int) -> np.ndarray:
    cand = rng.choice(n, size=min(n, k + len(exclude) + 5), replace=False)
    return np.array([c for c in cand if c not in exclude][:k], dtype=np.int64)


def training_pairs(a: FirmArrays, model: RecommenderModel, io_link: np.ndarray,
                   networks: Sequence[Sequence[int]], *, seeds_per_network: int = 15,
                   negatives: int = 300, hard: int = 0, seed: int = 0) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Return sub-feature rows X, labels y and sample weights for seeds of the networks."""
    rng = np.random.default_rng(seed)
    xs, ys, ws = [], [], []
    for mem in networks:
        if len(mem) < 2:
            continue
        for s in mem[:seeds_per_network]:
            pos = np.array([m for m in mem if m != s][:20], dtype=np.int64)
            neg = _neg_sample(rng, a.size, set(mem), negatives)
            if hard:
                lat, lng = places.coordinates()
                ci = a.comune_idx
                d = places.haversine_km(lat[ci[s]], lng[ci[s]], lat[ci], lng[ci])
                near = np.argsort(d + rng.random(a.size) * 1e-3)[: hard * 4]
                near = np.array([c for c in rng.permutation(near) if c not in set(mem)][:hard])
                neg = np.concatenate([neg, near]).astype(np.int64)
            rows = np.concatenate([pos, neg])
            f = subfeatures(a, seed_query(a, s), model, io_link, rows)
            xs.append(np.column_stack([f[k] for k in FITTED]))
            ys.append(np.concatenate([np.ones(len(pos)), np.zeros(len(neg))]))
            # Each seed counts once, whatever its network's size.
            ws.append(np.concatenate([np.full(len(pos), 0.5 / len(pos)),
                                      np.full(len(neg), 0.5 / len(neg))]))
    return np.vstack(xs), np.concatenate(ys), np.concatenate(ws)


def fit_nonnegative_logistic(x: np.ndarray, y: np.ndarray, w: np.ndarray,
                             l2: float = 1e-3) -> tuple[np.ndarray, float]:
    """Fit a weighted logistic regression with weights >= 0 (L-BFGS-B); return (w, bias)."""
    m = x.shape[1]
    w = w / w.sum()

    def loss(theta: np.ndarray) -> tuple[float, np.ndarray]:
        coef, b = theta[:m], theta[m]
        z = x @ coef + b
        p = 1.0 / (1.0 + np.exp(-z))
        eps = 1e-12
        ll = -(w * (y * np.log(p + eps) + (1 - y) * np.log(1 - p + eps))).sum()
        g = w * (p - y)
        grad = np.concatenate([x.T @ g + 2 * l2 * coef, [g.sum()]])
        return ll + l2 * float(coef @ coef), grad

    theta0 = np.concatenate([np.full(m, 0.1), [-2.0]])
    bounds = [(0.0, None)] * m + [(None, None)]
    res = minimize(loss, theta0, jac=True, method="L-BFGS-B", bounds=bounds)
    return res.x[:m], float(res.x[m])


def fit_model(a: FirmArrays, networks: Sequence[Sequence[int]], *, io_tech: np.ndarray | None,
              io_share: np.ndarray | None, seed: int = 0) -> RecommenderModel:
    """Fit co-membership affinity and weights on the given networks."""
    divs = divisions()
    io_scale = _io_scale(io_tech, io_share)
    io_link = io_link_matrix(io_tech, io_share, io_scale, len(divs))
    model = RecommenderModel(weights=dict.fromkeys(SUBFEATURES, 1.0),
                             comember=comember_matrix(a, networks), divisions=divs,
                             io_scale=io_scale)
    x, y, w = training_pairs(a, model, io_link, networks, seed=seed, hard=HARD_NEGATIVES)
    coef, _b = fit_nonnegative_logistic(x, y, w)
    weights = dict(zip(FITTED, (float(c) for c in coef), strict=True))
    sums = {}
    for k, v in weights.items():
        sums[SUBFEATURES[k]] = sums.get(SUBFEATURES[k], 0.0) + v
    strongest = max(sums.values()) if sums else 1.0
    for k, share in PRIOR_SHARE.items():
        weights[k] = share * strongest
    model.weights = {k: round(weights.get(k, 0.0), 5) for k in SUBFEATURES}
    return model


def _io_scale(tech: np.ndarray | None, share: np.ndarray | None) -> float:
    if tech is None or share is None:
        return 0.05
    m = np.maximum.reduce([tech, tech.T, share, share.T])
    np.fill_diagonal(m, 0)
    vals = m[m > 0]
    return float(np.quantile(vals, 0.95)) if vals.size else 0.05


# ------------------------------------------------------------------ evaluation


def ranking_metrics(ranked: np.ndarray, relevant: set[int], k: int = 10) -> tuple[float, float]:
    """Return recall@k (hits / min(k, relevant)) and nDCG@k of one ranked list."""
    top = [int(r) for r in ranked[:k]]
    hits = [1.0 if r in relevant else 0.0 for r in top]
    recall = sum(hits) / max(1, min(k, len(relevant)))
    dcg = sum(h / math.log2(i + 2) for i, h in enumerate(hits))
    ideal = sum(1.0 / math.log2(i + 2) for i in range(min(k, len(relevant))))
    return recall, (dcg / ideal if ideal else 0.0)


def baseline_ranking(a: FirmArrays, seed_row: int, kind: str, rng: np.random.Generator) -> np.ndarray:
    """Rank the pool by a baseline: random, nearest, or nearest of the same division."""
    n = a.size
    tie = rng.random(n)
    if kind == "random":
        key = tie
    else:
        lat, lng = places.coordinates()
        ci = a.comune_idx
        d = places.haversine_km(lat[ci[seed_row]], lng[ci[seed_row]], lat[ci], lng[ci])
        key = d + tie * 1e-6
        if kind == "nearest_same_division":
            div = a.codes.division_idx[a.code_row]
            sd = div[seed_row]
            if sd >= 0:
                key = key + np.where(div == sd, 0.0, 1e6)
    key = key.astype(np.float64)
    key[seed_row] = np.inf
    return np.argsort(key, kind="stable")[:50]


def evaluate(a: FirmArrays, model: RecommenderModel, io_link: np.ndarray,
             networks: Sequence[Sequence[int]], *, k: int = 10, min_size: int = 3,
             apply_exposure: bool = False) -> dict[str, float]:
    """Seed the first member of each network, rank the whole pool, score the co-members."""
    rec, ndcg = [], []
    for mem in networks:
        if len(mem) < min_size:
            continue
        s = mem[0]
        scored = score_all(a, seed_query(a, s, apply_exposure=apply_exposure), model, io_link)
        r, g = ranking_metrics(top_k(scored, k, a.tiebreak), set(mem[1:]), k)
        rec.append(r)
        ndcg.append(g)
    return {"recall": float(np.mean(rec)) if rec else 0.0,
            "ndcg": float(np.mean(ndcg)) if ndcg else 0.0, "seeds": len(rec)}


def evaluate_baselines(a: FirmArrays, networks: Sequence[Sequence[int]], *, k: int = 10,
                       min_size: int = 3, seed: int = 0) -> dict[str, dict[str, float]]:
    """Score the three baselines on the same seeds."""
    rng = np.random.default_rng(seed)
    out = {}
    for kind in ("random", "nearest", "nearest_same_division"):
        rec, ndcg = [], []
        for mem in networks:
            if len(mem) < min_size:
                continue
            r, g = ranking_metrics(baseline_ranking(a, mem[0], kind, rng), set(mem[1:]), k)
            rec.append(r)
            ndcg.append(g)
        out[kind] = {"recall": float(np.mean(rec)), "ndcg": float(np.mean(ndcg)), "seeds": len(rec)}
    return out


def cross_validate(data: NetworkData, *, io_tech: np.ndarray | None, io_share: np.ndarray | None,
                   folds: int = 5, seed: int = 0) -> dict[str, object]:
    """Fit on some networks and score the others, fold by fold (networks never split)."""
    a = build_arrays(data.records)
    rng = np.random.default_rng(seed)
    order = rng.permutation(len(data.networks))
    fold_of = np.empty(len(order), dtype=int)
    fold_of[order] = np.arange(len(order)) % folds
    per_fold = []
    for f in range(folds):
        train = [m for i, m in enumerate(data.networks) if fold_of[i] != f]
        test = [m for i, m in enumerate(data.networks) if fold_of[i] == f]
        model = fit_model(a, train, io_tech=io_tech, io_share=io_share, seed=seed + f)
        io_link = io_link_matrix(io_tech, io_share, model.io_scale, len(model.divisions))
        res = evaluate(a, model, io_link, test)
        base = evaluate_baselines(a, test, seed=seed + f)
        per_fold.append({"model": res, **base})
    summary: dict[str, object] = {}
    for name in ("model", "random", "nearest", "nearest_same_division"):
        seeds = sum(p[name]["seeds"] for p in per_fold)
        summary[name] = {
            "recall@10": sum(p[name]["recall"] * p[name]["seeds"] for p in per_fold) / seeds,
            "ndcg@10": sum(p[name]["ndcg"] * p[name]["seeds"] for p in per_fold) / seeds,
            "seeds": seeds,
        }
    return summary


# ------------------------------------------------------------------ feedback from introductions

MIN_FEEDBACK = 20


def fit_from_feedback(a: FirmArrays, model: RecommenderModel, io_link: np.ndarray,
                      pairs: Sequence[tuple[int, int, bool]], *, prior_strength: float = 50.0,
                      ) -> RecommenderModel:
    """Refit every weight on accepted (1) and declined (0) introductions.

    `pairs` are (seeker row, candidate row, accepted). The fit is pulled toward the current
    weights with a strength worth `prior_strength` decisions, so a few answers nudge the model
    and many answers steer it; weights stay non-negative.
    """
    pairs = [(s, c, y) for s, c, y in pairs if s != c]
    labels = {bool(y) for _s, _c, y in pairs}
    if len(pairs) < MIN_FEEDBACK or labels != {True, False}:
        raise ValueError(
            f"need at least {MIN_FEEDBACK} answered introductions, some accepted and some "
            f"declined (have {len(pairs)})")
    names = list(SUBFEATURES)
    by_seeker: dict[int, list[tuple[int, bool]]] = {}
    for s, c, y in pairs:
        by_seeker.setdefault(s, []).append((c, y))
    xs, ys = [], []
    for s, items in by_seeker.items():
        rows = np.array([c for c, _y in items], dtype=np.int64)
        f = subfeatures(a, seed_query(a, s), model, io_link, rows)
        xs.append(np.column_stack([f[k] for k in names]))
        ys.extend(1.0 if y else 0.0 for _c, y in items)
    x, y = np.vstack(xs), np.array(ys)
    w0 = np.array([model.weights[k] for k in names])
    lam = prior_strength / len(y)

    def loss(theta: np.ndarray) -> tuple[float, np.ndarray]:
        coef, b = theta[:-1], theta[-1]
        p = 1.0 / (1.0 + np.exp(-(x @ coef + b)))
        eps = 1e-12
        ll = -np.mean(y * np.log(p + eps) + (1 - y) * np.log(1 - p + eps))
        g = (p - y) / len(y)
        grad = np.concatenate([x.T @ g + 2 * lam * (coef - w0), [g.sum()]])
        return ll + lam * float((coef - w0) @ (coef - w0)), grad

    res = minimize(loss, np.concatenate([w0, [0.0]]), jac=True, method="L-BFGS-B",
                   bounds=[(0.0, None)] * len(names) + [(None, None)])
    refit = RecommenderModel(
        weights={k: round(float(v), 5) for k, v in zip(names, res.x[:-1], strict=True)},
        comember=model.comember, divisions=model.divisions, io_scale=model.io_scale,
        metrics={**model.metrics, "feedback": {"decisions": len(y), "accepted": int(y.sum())}},
        trained_on=model.trained_on + f"; refitted on {len(y)} introductions",
        command=model.command, notes=model.notes,
    )
    return refit
