"""The recommender core: pure, vectorized scoring of every candidate for one seed.

Arrays in, scores and explanations out; nothing here knows about HTTP or the database. A
component's value is the weighted mean of its sub-features (all in [0, 1]); the total is the
weighted mean of all sub-features, so each component contributes `weight * value` to it.
"""

from dataclasses import dataclass, field

import numpy as np
from scipy import sparse

from matchmaker.matching.features import POPCOUNT, FirmArrays
from matchmaker.matching.model import COMPONENTS, SUBFEATURES, RecommenderModel
from matchmaker.matching.text import reciprocal
from matchmaker.refdata import places

SIZE_AFFINITY = np.array([1.0, 0.7, 0.4, 0.2], dtype=np.float32)
UNKNOWN_SIZE = 0.5
CODE_SUBS = [k for k, c in SUBFEATURES.items() if c in ("sector", "supply_chain")]
GEO_SUBS = [k for k, c in SUBFEATURES.items() if c == "geography"]


@dataclass
class Query:
    """One seeker: its codes, place, goals, size and texts, and the hard constraints."""

    code_rows: list[int]
    comune_idx: int
    goals: int = 0
    sme: int = -1
    needs: sparse.csr_matrix | None = None
    offers: sparse.csr_matrix | None = None
    seed_row: int | None = None
    radius_km: float | None = None
    excluded_rows: np.ndarray | None = None
    allowed: np.ndarray | None = None  # bool per row: visibility for this seeker
    goal_filter: int = 0
    division_filter: np.ndarray | None = None  # division indexes a candidate must be in
    size_filter: int | None = None
    modulation: dict[str, float] = field(default_factory=dict)
    apply_exposure: bool = True


def io_link_matrix(tech: np.ndarray | None, share: np.ndarray | None, scale: float,
                   n: int) -> np.ndarray:
    """Return the symmetric complementarity of two divisions in [0, 1] (0 on the diagonal)."""
    if tech is None or share is None:
        return np.zeros((n, n), dtype=np.float32)
    m = np.maximum.reduce([tech, tech.T, share, share.T]).astype(np.float32)
    np.fill_diagonal(m, 0.0)
    return np.clip(m / max(scale, 1e-9), 0.0, 1.0)


def code_features(a: FirmArrays, q: Query, model: RecommenderModel,
                  io_link: np.ndarray) -> dict[str, np.ndarray]:
    """Return sector and supply-chain sub-features of every distinct code against the seed."""
    t = a.codes
    u = t.size
    out = {k: np.zeros(u, dtype=np.float32) for k in CODE_SUBS}
    div_ok = t.division_idx >= 0
    for s in q.code_rows:
        sd = int(t.division_idx[s])
        if sd >= 0:
            np.maximum(out["same_division"], (div_ok & (t.division_idx == sd)), out=out["same_division"])
            cand = np.where(div_ok, t.division_idx, 0)
            io = np.where(div_ok, io_link[sd, cand], 0.0)
            np.maximum(out["io_link"], io, out=out["io_link"])
            cm = np.where(div_ok, model.comember[sd, cand], 0.0)
            np.maximum(out["comember"], cm, out=out["comember"])
        for name, ids in (("same_group", t.group_id), ("same_class", t.class_id),
                          ("same_code", t.code_id)):
            v = ids[s]
            if v >= 0:
                np.maximum(out[name], ids == v, out=out[name])
        mine = np.flatnonzero(t.pos_code == s)
        for p in mine:
            chain, stage, support = t.pos_chain[p], t.pos_stage[p], t.pos_support[p]
            same = t.pos_chain == chain
            if not same.any():
                continue
            rows = t.pos_code[same]
            diff = np.abs(t.pos_stage[same].astype(np.int32) - int(stage))
            other_support = t.pos_support[same]
            adj = np.where(support ^ other_support, 0.8,
                           np.where(~support & ~other_support & (diff == 1), 1.0, 0.0))
            far = np.where(~support & ~other_support & (diff >= 2), 1.0, 0.0)
            np.maximum.at(out["chain_adjacent"], rows, adj.astype(np.float32))
            np.maximum.at(out["chain_same"], rows, far.astype(np.float32))
    return out


def comune_features(a: FirmArrays, comune_idx: int) -> tuple[np.ndarray, dict[str, np.ndarray]]:
    """Return the distance (km) from the seed's comune to every comune, and geo sub-features."""
    lat, lng = places.coordinates()
    d = places.haversine_km(lat[comune_idx], lng[comune_idx], lat, lng).astype(np.float32)
    same = np.zeros(len(d), dtype=np.float32)
    same[comune_idx] = 1.0 / np.log2(2.0 + a.comune_count[comune_idx])
    other = np.ones(len(d), dtype=np.float32)
    other[comune_idx] = 0.0
    feats = {
        "near_10": np.exp(-d / 10.0) * other,
        "near_50": np.exp(-d / 50.0),
        "near_300": np.exp(-d / 300.0),
        "near_local": np.exp(-d / a.local_radius[comune_idx]),
        "near_wide": np.exp(-d / a.wide_radius[comune_idx]),
        "same_comune_rare": same,
        "same_province": (a.comune_province == a.comune_province[comune_idx]).astype(np.float32),
        "same_region": (a.comune_region == a.comune_region[comune_idx]).astype(np.float32),
    }
    return d, feats


def _text_scores(a: FirmArrays, q: Query, rows: np.ndarray | None) -> np.ndarray:
    n = a.size if rows is None else len(rows)
    if q.needs is None or q.offers is None or (q.needs.nnz == 0 and q.offers.nnz == 0):
        return np.zeros(n, dtype=np.float32)
    offers = a.offers if rows is None else a.offers[rows]
    needs = a.needs if rows is None else a.needs[rows]
    they_offer_what_i_need = np.asarray(offers @ q.needs.T.toarray()).ravel() if q.needs.nnz else np.zeros(n, np.float32)
    i_offer_what_they_need = np.asarray(needs @ q.offers.T.toarray()).ravel() if q.offers.nnz else np.zeros(n, np.float32)
    return reciprocal(np.clip(they_offer_what_i_need, 0, 1), np.clip(i_offer_what_they_need, 0, 1)).astype(np.float32)


def one_way_text(a: FirmArrays, q: Query, row: int) -> tuple[float, float]:
    """Return (candidate offers vs seeker needs, seeker offers vs candidate needs) cosines."""
    x = float(a.offers[row].multiply(q.needs).sum()) if q.needs is not None and q.needs.nnz else 0.0
    y = float(a.needs[row].multiply(q.offers).sum()) if q.offers is not None and q.offers.nnz else 0.0
    return x, y


def _goal_scores(a: FirmArrays, q: Query, rows: np.ndarray | None) -> np.ndarray:
    g = a.goals if rows is None else a.goals[rows]
    if not q.goals:
        return np.zeros(len(g), dtype=np.float32)
    # The Jaccard index of every possible goal mask against the seeker's, then one gather
    # (the same float32 arithmetic as computing it per firm, without five passes over the pool).
    masks = np.arange(len(POPCOUNT), dtype=np.uint16)
    inter = POPCOUNT[masks & q.goals]
    union = POPCOUNT[masks | q.goals]
    table = np.where(union > 0, inter / np.maximum(union, 1), 0.0).astype(np.float32)
    return table[g]


def _size_scores(a: FirmArrays, q: Query, rows: np.ndarray | None) -> np.ndarray:
    s = a.sme if rows is None else a.sme[rows]
    if q.sme < 0:
        return np.full(len(s), UNKNOWN_SIZE, dtype=np.float32)
    if s.dtype == np.int8:
        # The affinity of every int8 size class, indexed by its byte, then one gather.
        v = np.arange(256, dtype=np.uint8).view(np.int8)
        gap = np.abs(v.astype(np.int16) - q.sme)
        table = np.where(v < 0, UNKNOWN_SIZE, SIZE_AFFINITY[np.minimum(gap, 3)]).astype(np.float32)
        return table[s.view(np.uint8)]
    gap = np.abs(s.astype(np.int16) - q.sme)
    return np.where(s < 0, UNKNOWN_SIZE, SIZE_AFFINITY[np.minimum(gap, 3)]).astype(np.float32)


def _secondary_of(a: FirmArrays, rows: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Return (position in rows, code row) of every secondary code of the given rows.

    A row listed more than once takes its secondary codes at its last position only.
    """
    rows = np.asarray(rows, dtype=np.int64)
    if not a.sec_row.size or not rows.size:
        return np.empty(0, dtype=np.int64), np.empty(0, dtype=np.int32)
    uniq, first_from_end = np.unique(rows[::-1], return_index=True)
    last = len(rows) - 1 - first_from_end
    at = np.minimum(np.searchsorted(uniq, a.sec_row), len(uniq) - 1)
    hit = uniq[at] == a.sec_row
    return last[at[hit]], a.sec_code[hit]


def subfeatures(a: FirmArrays, q: Query, model: RecommenderModel, io_link: np.ndarray,
                rows: np.ndarray) -> dict[str, np.ndarray]:
    """Return every sub-feature for the given candidate rows (for fitting and explanations)."""
    cf = code_features(a, q, model, io_link)
    _d, gf = comune_features(a, q.comune_idx)
    out: dict[str, np.ndarray] = {}
    cr = a.code_row[rows]
    sec_at, sec_code = _secondary_of(a, rows)
    for k, v in cf.items():
        vals = v[cr].copy()
        np.maximum.at(vals, sec_at, v[sec_code])
        out[k] = vals
    ci = a.comune_idx[rows]
    for k, v in gf.items():
        out[k] = v[ci]
    out["needs_offers"] = _text_scores(a, q, rows)
    out["goals"] = _goal_scores(a, q, rows)
    out["size"] = _size_scores(a, q, rows)
    return out


@dataclass
class Scored:
    total: np.ndarray  # float32 per row, -inf where excluded
    components: dict[str, np.ndarray]
    distance_km: np.ndarray  # per row
    weights: dict[str, float]  # component weights used (sum to 1)


def _component_from(feats: dict[str, np.ndarray], eff: dict[str, float], comp: str,
                    size: int) -> np.ndarray:
    names = [k for k, c in SUBFEATURES.items() if c == comp]
    wsum = sum(eff[k] for k in names)
    if wsum <= 0:
        return np.zeros(size, dtype=np.float32)
    acc = np.zeros(size, dtype=np.float32)
    for k in names:
        if eff[k] > 0:
            acc += (eff[k] / wsum) * feats[k]
    return acc


def score_all(a: FirmArrays, q: Query, model: RecommenderModel, io_link: np.ndarray) -> Scored:
    """Score every row for the seed; excluded rows get -inf."""
    eff = model.effective(q.modulation)
    wtot = sum(eff.values()) or 1.0
    cw = model.component_weights(q.modulation)
    n = a.size
    cf = code_features(a, q, model, io_link)
    sector_u = _component_from(cf, eff, "sector", a.codes.size)
    chain_u = _component_from(cf, eff, "supply_chain", a.codes.size)
    d_c, gf = comune_features(a, q.comune_idx)
    geo_c = _component_from(gf, eff, "geography", len(d_c))
    comps = {
        "sector": sector_u[a.code_row],
        "supply_chain": chain_u[a.code_row],
        "geography": geo_c[a.comune_idx],
    }
    if a.sec_row.size:
        np.maximum.at(comps["sector"], a.sec_row, sector_u[a.sec_code])
        np.maximum.at(comps["supply_chain"], a.sec_row, chain_u[a.sec_code])
    comps["needs_offers"] = _text_scores(a, q, None)
    comps["goals"] = _goal_scores(a, q, None)
    comps["size"] = _size_scores(a, q, None)
    total = np.zeros(n, dtype=np.float32)
    for c in COMPONENTS:
        w = sum(eff[k] for k, cc in SUBFEATURES.items() if cc == c) / wtot
        if w > 0:
            total += w * comps[c]
    dist = d_c[a.comune_idx]
    if q.apply_exposure:
        total *= a.exposure
    mask = a.alive.copy()
    if q.seed_row is not None:
        mask[q.seed_row] = False
    if q.excluded_rows is not None and len(q.excluded_rows):
        mask[q.excluded_rows] = False
    if q.allowed is not None:
        mask &= q.allowed
    if q.radius_km is not None:
        mask &= dist <= q.radius_km
    if q.goal_filter:
        mask &= (a.goals & q.goal_filter) != 0
    if q.division_filter is not None:
        divs = a.codes.division_idx[a.code_row]
        mask &= np.isin(divs, q.division_filter)
    if q.size_filter is not None:
        mask &= a.sme == q.size_filter
    total = np.where(mask, total, -np.inf).astype(np.float32, copy=False)
    return Scored(total=total, components=comps, distance_km=dist, weights=cw)


def top_k(scored: Scored, k: int, tiebreak: np.ndarray) -> np.ndarray:
    """Return the rows of the k best scores, best first (ties broken by `tiebreak`)."""
    fast = _top_k_above_sampled_cut(scored.total, k, tiebreak)
    if fast is not None:
        return fast
    finite = np.isfinite(scored.total)
    avail = int(finite.sum())
    k = min(k, avail)
    if k <= 0:
        return np.empty(0, dtype=np.int64)
    # Take a margin past k so that ties at the cut are decided by the tie-break, not by position.
    m = min(len(scored.total), k + 64)
    if m < len(scored.total):
        part = np.argpartition(-scored.total, m - 1)[:m]
    else:
        part = np.arange(len(scored.total))
    part = part[np.isfinite(scored.total[part])]
    kth = np.sort(scored.total[part])[::-1][k - 1]
    ties_at_cut = int((scored.total == kth).sum())
    if ties_at_cut > int((scored.total[part] == kth).sum()):
        part = np.flatnonzero(scored.total >= kth)
    order = np.lexsort((tiebreak[part], -scored.total[part]))
    return part[order][:k]


def _top_k_above_sampled_cut(total: np.ndarray, k: int, tiebreak: np.ndarray) -> np.ndarray | None:
    """Return top_k's answer for a large pool without partitioning it, or None to fall back.

    A cut is read off a strided sample so that a few times k + 64 scores pass it; if at least
    k finite scores pass, the k best of the pool are all among them (the k-th best is at or
    above the cut), so sorting just those by (score, tiebreak) gives the same rows.
    """
    n = len(total)
    m = k + 64
    if k <= 0 or n < 65_536 or 64 * m > n:
        return None
    step = n // 65_536
    sample = total[::step]
    r = -(-4 * m // step)  # expect about 4m scores above the cut
    if r >= len(sample):
        return None
    cut = np.partition(sample, len(sample) - r)[len(sample) - r]
    if not np.isfinite(cut):
        return None
    rows = np.flatnonzero(total >= cut)
    if len(rows) > 32 * m:
        return None
    rows = rows[np.isfinite(total[rows])]
    if len(rows) < k:
        return None
    order = np.lexsort((tiebreak[rows], -total[rows]))
    return rows[order][:k]


def exposure_multiplier(counts: np.ndarray, cap: float, strength: float = 0.5) -> np.ndarray:
    """Return per-firm multipliers that damp firms shown to more seekers than `cap`."""
    counts = counts.astype(np.float32)
    mult = np.ones_like(counts)
    over = counts > cap
    mult[over] = (cap / counts[over]) ** strength
    return mult
