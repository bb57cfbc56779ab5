"""Plan a whole network around a seed: greedy selection over the recommender's own scores.

Arrays in, a plan out; nothing here knows about HTTP or the database (the benchmark runs it on
synthetic and real pools). The seed's scores (`matching.scoring.score_all`) give a shortlist;
members are then added one at a time, each maximizing

    mean pairwise fit with the members so far (the seed counts twice)
    + coverage of the value chain's stages nobody covers yet
    + how much of the seeker's remaining needs its offers answer,

where the pairwise fit of two firms is the recommender's score of one for the other. The plan
says what role each member plays, what stays uncovered, and offers alternatives per slot.
"""

from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np
from scipy import sparse

from matchmaker.matching.features import FirmArrays
from matchmaker.matching.fit import seed_query
from matchmaker.matching.model import HORIZONTAL_GOALS, RecommenderModel
from matchmaker.matching.scoring import Query, score_all, top_k
from matchmaker.matching.text import shared_terms
from matchmaker.refdata import chains as chains_ref

SHORTLIST = 300
ALTERNATIVES = 3
MIN_SIZE, MAX_SIZE = 2, 10
SEED_WEIGHT = 2.0  # the seeker's own fit counts twice in the mean
W_FIT, W_NEEDS = 1.0, 0.6
W_COVER_VERTICAL, W_COVER_HORIZONTAL = 0.6, 0.0


@dataclass
class Role:
    """Why one firm is in the plan: stages it covers, support it brings, what it offers."""

    row: int
    new_stages: list[str] = field(default_factory=list)
    stages: list[str] = field(default_factory=list)
    support: list[str] = field(default_factory=list)
    offers: list[str] = field(default_factory=list)
    fit: float = 0.0  # mean recommender score with the other members (0-1)
    seed_score: float = 0.0
    gain: float = 0.0
    fixed: bool = False


@dataclass
class Plan:
    seed_row: int
    chain_key: str | None
    members: list[Role]  # the seed first, then fixed members, then the chosen ones in order
    alternatives: dict[int, list[Role]]  # member row -> up to 3 replacements
    covered: list[str]  # chain stage keys covered, in chain order
    uncovered: list[str]
    open_slots: dict[str, list[Role]]  # uncovered stage -> candidates that would cover it
    needs_covered: list[str]
    needs_uncovered: list[str]
    candidates: int
    mean_fit: float


def code_positions(a: FirmArrays, row: int) -> list[chains_ref.Position]:
    """Return every value-chain position of a firm (main and secondary codes)."""
    code_rows = [int(a.code_row[row])]
    if a.sec_row.size:
        code_rows += [int(c) for c in a.sec_code[a.sec_row == row]]
    out: list[chains_ref.Position] = []
    for cr in code_rows:
        info = a.codes.infos[cr]
        code = info.canonical or info.code
        if not code:
            continue
        try:
            out.extend(chains_ref.positions(code, "2022"))
        except (KeyError, ValueError):
            continue
    return out


def _stages_in(
    positions: Sequence[chains_ref.Position], chain_key: str | None
) -> tuple[set[str], set[str]]:
    if chain_key is None:
        return set(), set()
    stages = {
        p.stage_key for p in positions if p.chain_key == chain_key and p.stage_index is not None
    }
    support = {p.stage_key for p in positions if p.chain_key == chain_key and p.stage_index is None}
    return stages, support


def choose_chain(
    a: FirmArrays,
    seed_positions: Sequence[chains_ref.Position],
    fixed_positions: Sequence[Sequence[chains_ref.Position]],
    shortlist_positions: Sequence[Sequence[chains_ref.Position]],
    shortlist_scores: np.ndarray,
) -> str | None:
    """Pick the chain in which the shortlist can add the most stages the seed lacks."""
    seed_chains = {p.chain_key for p in seed_positions if p.stage_index is not None}
    have: dict[str, set[str]] = {}
    for pos in (seed_positions, *fixed_positions):
        for p in pos:
            if p.stage_index is not None:
                have.setdefault(p.chain_key, set()).add(p.stage_key)
    value: dict[str, float] = {}
    for pos, s in zip(shortlist_positions, shortlist_scores, strict=True):
        for p in pos:
            if p.stage_index is None or (seed_chains and p.chain_key not in seed_chains):
                continue
            if p.stage_key not in have.get(p.chain_key, set()):
                value[p.chain_key] = value.get(p.chain_key, 0.0) + float(s)
    if not value:
        return min(seed_chains, key=lambda k: chains_ref.chain(k).order) if seed_chains else None
    return max(value, key=lambda k: (value[k], -chains_ref.chain(k).order))


def pairwise_fit(
    a: FirmArrays, model: RecommenderModel, io_link: np.ndarray, row: int
) -> np.ndarray:
    """Return the recommender's score of every firm for the firm at `row` (0 where excluded)."""
    s = score_all(a, seed_query(a, row, apply_exposure=False), model, io_link).total
    return np.where(np.isfinite(s), s, 0.0).astype(np.float32)


def _residual(needs: sparse.csr_matrix | None, dim: int) -> np.ndarray:
    if needs is None or needs.nnz == 0 or needs.shape[1] != dim:
        return np.zeros(dim, dtype=np.float64)
    return np.asarray(needs.toarray()).ravel().astype(np.float64)


def plan_network(
    a: FirmArrays,
    model: RecommenderModel,
    io_link: np.ndarray,
    q: Query,
    *,
    size: int,
    chain_key: str | None = None,
    fixed_rows: Sequence[int] = (),
    horizontal: bool | None = None,
    shortlist: int = SHORTLIST,
    alternatives: int = ALTERNATIVES,
    goal: str | None = None,
    cover_weight: float | None = None,
) -> Plan:
    """Build a network of `size` firms (seed and fixed members included) around q's seed."""
    if q.seed_row is None:
        raise ValueError("the query must name its seed row")
    seed = int(q.seed_row)
    fixed = [int(r) for r in fixed_rows if int(r) != seed]
    size = max(len(fixed) + 1, min(int(size), MAX_SIZE))
    if horizontal is None:
        horizontal = goal in HORIZONTAL_GOALS
    w_cover = W_COVER_HORIZONTAL if horizontal else W_COVER_VERTICAL
    if cover_weight is not None:
        w_cover = cover_weight

    scored = score_all(a, q, model, io_link)
    candidates = int(np.isfinite(scored.total).sum())
    s_rows = top_k(scored, shortlist + len(fixed), a.tiebreak)
    s_rows = np.array([r for r in s_rows if int(r) not in set(fixed)], dtype=np.int64)[:shortlist]
    seed_scores = scored.total[s_rows].astype(np.float64)
    scale = float(seed_scores.max()) if s_rows.size and seed_scores.max() > 0 else 1.0

    seed_pos = code_positions(a, seed)
    fixed_pos = [code_positions(a, r) for r in fixed]
    cand_pos = [code_positions(a, int(r)) for r in s_rows]
    if chain_key is None:
        chain_key = choose_chain(a, seed_pos, fixed_pos, cand_pos, seed_scores)
    chain = chains_ref.chain(chain_key) if chain_key else None
    order = [s.key for s in chain.stages] if chain else []

    cand_stages = [_stages_in(p, chain_key) for p in cand_pos]
    covered: set[str] = set(_stages_in(seed_pos, chain_key)[0])
    for p in fixed_pos:
        covered |= _stages_in(p, chain_key)[0]

    # Fit of every shortlisted firm with each member: the seed's own scores, then one
    # recommender query per member.
    fits: dict[int, np.ndarray] = {
        seed: np.where(np.isfinite(scored.total), scored.total, 0.0).astype(np.float32)
    }
    for r in fixed:
        fits[r] = pairwise_fit(a, model, io_link, r)
    fs = {m: v[s_rows].astype(np.float64) for m, v in fits.items()}
    offers_s = a.offers[s_rows] if s_rows.size else None
    residual = _residual(q.needs, a.offers.shape[1])
    for r in fixed:
        residual[a.offers[r].indices] = 0.0

    def gains(
        members: list[int], cov: set[str], res: np.ndarray
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        wsum = sum(SEED_WEIGHT if m == seed else 1.0 for m in members)
        mean_fit = sum((SEED_WEIGHT if m == seed else 1.0) * fs[m] for m in members) / wsum
        new = np.array([len(st - cov) for st, _sup in cand_stages], dtype=np.float64)
        cover = np.where(new > 0, 1.0 + 0.25 * (new - 1), 0.0) if order else np.zeros(len(s_rows))
        need = (
            np.asarray(offers_s @ res).ravel()
            if offers_s is not None and res.any()
            else np.zeros(len(s_rows))
        )
        total = W_FIT * mean_fit / scale + w_cover * cover + W_NEEDS * np.clip(need, 0, 1)
        return total, mean_fit, need

    members = [seed, *fixed]
    chosen: list[int] = []  # indexes into s_rows
    taken = np.zeros(len(s_rows), dtype=bool)
    roles: dict[int, Role] = {}
    while len(members) < size and s_rows.size:
        total, mean_fit, need = gains(members, covered, residual)
        total = np.where(taken, -np.inf, total)
        best = int(np.argmax(total))
        if not np.isfinite(total[best]):
            break
        row = int(s_rows[best])
        stages, support = cand_stages[best]
        roles[row] = Role(
            row=row,
            new_stages=[k for k in order if k in stages - covered],
            stages=[k for k in order if k in stages],
            support=sorted(support),
            offers=_offer_terms(a, q, row) if need[best] > 0.02 else [],
            seed_score=float(seed_scores[best]),
            gain=float(total[best]),
        )
        covered |= stages
        residual[a.offers[row].indices] = 0.0
        taken[best] = True
        chosen.append(best)
        members.append(row)
        fits[row] = pairwise_fit(a, model, io_link, row)
        fs[row] = fits[row][s_rows].astype(np.float64)

    # Pairwise fit of each member with the others (fixed and seed included).
    member_roles = [_member_role(a, q, seed, seed_pos, chain_key, order, fixed=True)]
    member_roles += [
        _member_role(a, q, r, p, chain_key, order, fixed=True)
        for r, p in zip(fixed, fixed_pos, strict=True)
    ]
    member_roles += [roles[int(s_rows[i])] for i in chosen]
    pos_of = {int(r): i for i, r in enumerate(s_rows)}
    _fill_fits(member_roles, fits)

    # Alternatives for each chosen slot: the best replacements given everyone else.
    alts: dict[int, list[Role]] = {}
    for i in chosen:
        row = int(s_rows[i])
        others = [m for m in members if m != row]
        cov = set(_stages_in(seed_pos, chain_key)[0])
        for m in others:
            if m != seed:
                cov |= (
                    cand_stages[pos_of[m]][0]
                    if m in pos_of
                    else _stages_in(code_positions(a, m), chain_key)[0]
                )
        res = _residual(q.needs, a.offers.shape[1])
        for m in others:
            res[a.offers[m].indices] = 0.0
        total, mean_fit, need = gains(others, cov, res)
        same_role = np.array([bool(set(roles[row].new_stages) & st) for st, _s in cand_stages])
        total = np.where(taken, -np.inf, total + 0.3 * same_role)
        picks = [j for j in np.argsort(-total)[:alternatives] if np.isfinite(total[j])]
        alts[row] = [
            Role(
                row=int(s_rows[j]),
                new_stages=[k for k in order if k in cand_stages[j][0] - cov],
                stages=[k for k in order if k in cand_stages[j][0]],
                support=sorted(cand_stages[j][1]),
                offers=_offer_terms(a, q, int(s_rows[j])) if need[j] > 0.02 else [],
                fit=float(mean_fit[j]),
                seed_score=float(seed_scores[j]),
                gain=float(total[j]),
            )
            for j in picks
        ]

    # Open slots: stages nobody covers, with the best firms that would cover each.
    uncovered = [k for k in order if k not in covered]
    open_slots: dict[str, list[Role]] = {}
    if uncovered and s_rows.size:
        total, mean_fit, _need = gains(members, covered, residual)
        for stage in uncovered:
            ok = np.array([stage in st for st, _s in cand_stages]) & ~taken
            idx = [j for j in np.argsort(-np.where(ok, total, -np.inf))[:alternatives] if ok[j]]
            open_slots[stage] = [
                Role(
                    row=int(s_rows[j]),
                    new_stages=[stage],
                    stages=[k for k in order if k in cand_stages[j][0]],
                    fit=float(mean_fit[j]),
                    seed_score=float(seed_scores[j]),
                    gain=float(total[j]),
                )
                for j in idx
            ]

    needs_terms = _terms(a, q.needs)
    left = _residual(q.needs, a.offers.shape[1])
    for m in members[1:]:
        left[a.offers[m].indices] = 0.0
    left_terms = _terms(a, sparse.csr_matrix(left)) if left.any() else []
    fits_all = [r.fit for r in member_roles]
    return Plan(
        seed_row=seed,
        chain_key=chain_key,
        members=member_roles,
        alternatives=alts,
        covered=[k for k in order if k in covered],
        uncovered=uncovered,
        open_slots=open_slots,
        needs_covered=[t for t in needs_terms if t not in left_terms],
        needs_uncovered=left_terms,
        candidates=candidates,
        mean_fit=float(np.mean(fits_all)) if fits_all else 0.0,
    )


def _member_role(
    a: FirmArrays,
    q: Query,
    row: int,
    positions: Sequence[chains_ref.Position],
    chain_key: str | None,
    order: list[str],
    *,
    fixed: bool,
) -> Role:
    stages, support = _stages_in(positions, chain_key)
    return Role(
        row=row,
        new_stages=[k for k in order if k in stages],
        stages=[k for k in order if k in stages],
        support=sorted(support),
        offers=[] if row == q.seed_row else _offer_terms(a, q, row),
        fixed=fixed,
    )


def _fill_fits(roles: list[Role], fits: dict[int, np.ndarray]) -> None:
    """Set each member's mean fit with the others (both directions averaged)."""
    rows = [r.row for r in roles]
    if len(rows) < 2:
        return
    m = np.array([[float(fits[r][x]) if x != r else 0.0 for x in rows] for r in rows])
    sym = (m + m.T) / 2
    for i, role in enumerate(roles):
        role.fit = float(sym[i].sum() / (len(rows) - 1))


def _offer_terms(a: FirmArrays, q: Query, row: int) -> list[str]:
    if q.needs is None or q.needs.nnz == 0:
        return []
    return shared_terms(a.text, q.needs, a.offers[row])


def _terms(a: FirmArrays, v: sparse.csr_matrix | None, k: int = 8) -> list[str]:
    if v is None or v.nnz == 0 or not a.text.fitted:
        return []
    coo = v.tocoo()
    order = np.argsort(-coo.data)[:k]
    terms = a.text.terms()
    return [a.text.surface.get(str(terms[coo.col[i]]), str(terms[coo.col[i]])) for i in order]


# ------------------------------------------------------------------- without a seed (chain mode)

ANCHORS = 4  # anchors tried, each planned in full; the best plan wins
PROBES_PER_STAGE = 6  # firms per stage whose connectivity is measured to pick the anchors
CHAIN_SHORTLIST = 1000
W_COVER_CHAIN = 2.0  # above the largest fit term (1.0): a missing stage beats a better duplicate


@dataclass
class ChainPlan:
    """A network planned from a value chain and an area: the best plan over a few anchors."""

    plan: Plan  # rows are rows of the whole pool; plan.seed_row is the chosen anchor
    available: list[str]  # stage keys with at least one candidate firm, in chain order
    absent: list[str]  # stage keys with no candidate firm at all
    anchors: list[int]  # rows of the anchors tried, best connected first
    connectivity: dict[int, float]  # anchor row -> mean best fit over the other stages


def take(a: FirmArrays, rows: np.ndarray) -> FirmArrays:
    """Return the pool restricted to `rows`, scoring every pair exactly as the whole pool does.

    The code and comune tables (firms per comune, local radii) stay those of the whole pool,
    so a firm's score for another is the same here as there; only the rows are fewer.
    """
    rows = np.asarray(rows, dtype=np.int64)
    new_of = np.full(a.size, -1, dtype=np.int64)
    new_of[rows] = np.arange(len(rows))
    keep = new_of[a.sec_row] >= 0 if a.sec_row.size else np.zeros(0, dtype=bool)
    ids = a.ids[rows]
    return FirmArrays(
        ids=ids,
        piva=a.piva[rows],
        names=[a.names[int(r)] for r in rows],
        code_row=a.code_row[rows],
        comune_idx=a.comune_idx[rows],
        sme=a.sme[rows],
        goals=a.goals[rows],
        visibility=a.visibility[rows],
        alive=a.alive[rows],
        sec_row=new_of[a.sec_row[keep]].astype(np.int32),
        sec_code=a.sec_code[keep],
        offers=a.offers[rows],
        needs=a.needs[rows],
        codes=a.codes,
        text=a.text,
        comune_count=a.comune_count,
        local_radius=a.local_radius,
        wide_radius=a.wide_radius,
        comune_province=a.comune_province,
        comune_region=a.comune_region,
        exposure=a.exposure[rows],
        tiebreak=a.tiebreak[rows],
        row_of={int(f): i for i, f in enumerate(ids)},
    )


def chain_masks(a: FirmArrays, chain_key: str) -> tuple[np.ndarray, np.ndarray]:
    """Return per firm the bitmask of the chain's stages it covers and whether it supports it.

    Main and secondary codes count; bit i is the stage of index i.
    """
    t = a.codes
    stage_u = np.zeros(t.size, dtype=np.int64)
    support_u = np.zeros(t.size, dtype=bool)
    if chain_key in t.chain_keys and t.pos_code.size:
        ci = t.chain_keys.index(chain_key)
        mine = t.pos_chain == ci
        st = mine & ~t.pos_support & (t.pos_stage >= 0)
        np.bitwise_or.at(
            stage_u, t.pos_code[st], np.left_shift(1, t.pos_stage[st].astype(np.int64))
        )
        support_u[t.pos_code[mine & t.pos_support]] = True
    stages = stage_u[a.code_row]
    support = support_u[a.code_row]
    if a.sec_row.size:
        np.bitwise_or.at(stages, a.sec_row, stage_u[a.sec_code])
        np.logical_or.at(support, a.sec_row, support_u[a.sec_code])
    return stages, support


def _anchor_query(a: FirmArrays, row: int, goal: str | None) -> Query:
    """Return the query of a candidate anchor, shaped by the goal as a seeker's would be."""
    from matchmaker.matching.features import GOAL_BIT, GOAL_KEYS
    from matchmaker.matching.model import goal_modulation

    goals = {g for g in GOAL_KEYS if int(a.goals[row]) & GOAL_BIT[g]}
    if goal:
        goals.add(goal)
    q = seed_query(a, row)
    q.goals = sum(GOAL_BIT[g] for g in goals)
    q.modulation = goal_modulation(goals)
    return q


def plan_chain_network(
    a: FirmArrays,
    model: RecommenderModel,
    io_link: np.ndarray,
    *,
    chain_key: str,
    candidates: np.ndarray,
    size: int,
    goal: str | None = None,
    anchors: int = ANCHORS,
    probes_per_stage: int = PROBES_PER_STAGE,
) -> ChainPlan:
    """Build a network of `size` firms of a value chain among the candidate rows, no seed given.

    Candidates are the firms allowed in (the caller's geographic and visibility limits) that
    sit in the chain. The anchors tried are the best-connected of them: per stage, the firms
    with the most other stages present in their province; of those, the ones whose best fit
    in each other stage is highest on average. Each anchor gets a full plan; the plan covering
    the most stages wins, then the one with the highest mean pairwise fit.
    """
    stage_mask, support = chain_masks(a, chain_key)
    order = [s.key for s in chains_ref.chain(chain_key).stages]
    sub_rows = np.flatnonzero(candidates & ((stage_mask != 0) | support))
    if sub_rows.size < 2:
        raise ValueError("fewer than two candidate firms")
    sa = take(a, sub_rows)
    sm = stage_mask[sub_rows]
    has = {i: (sm >> i) & 1 == 1 for i in range(len(order))}
    available = [i for i in range(len(order)) if has[i].any()]

    # Probes: per stage, the firms with the most other stages present in their province.
    prov = sa.comune_province[sa.comune_idx]
    n_prov = int(a.comune_province.max()) + 1
    present = np.zeros(len(sub_rows), dtype=np.float64)
    for i in available:
        in_prov = np.bincount(prov[has[i]], minlength=n_prov) > 0
        present += in_prov[prov] & ~has[i]
    probes: list[int] = []
    for i in available or [None]:
        pool = np.flatnonzero(has[i]) if i is not None else np.arange(len(sub_rows))
        best = pool[np.lexsort((sa.tiebreak[pool], -present[pool]))][:probes_per_stage]
        probes += [int(p) for p in best if int(p) not in probes]

    # Connectivity of a probe: its best fit in each other available stage, averaged.
    conn: dict[int, float] = {}
    fit_of: dict[int, np.ndarray] = {}
    for p in probes:
        s = fit_of[p] = pairwise_fit(sa, model, io_link, p)
        vals = [float(s[has[i]].max()) for i in available if not has[i][p] and has[i].sum()]
        if not vals:  # the probe alone spans every stage there is: judge it by its best partner
            vals = [float(s.max())]
        conn[p] = float(np.mean(vals))
    ranked = sorted(conn, key=lambda p: (-conn[p], float(sa.tiebreak[p])))[: max(1, anchors)]

    best_plan: Plan | None = None
    for p in ranked:
        q = _anchor_query(sa, p, goal)
        shortlist = len(sub_rows)
        if len(sub_rows) > CHAIN_SHORTLIST:
            # The anchor's best firms, plus the best few of every stage, so that no stage
            # present in the area falls off the shortlist of a large pool.
            f = fit_of[p]
            keep = np.zeros(len(sub_rows), dtype=bool)
            keep[np.argpartition(-f, CHAIN_SHORTLIST)[:CHAIN_SHORTLIST]] = True
            for i in available:
                in_stage = np.flatnonzero(has[i])
                k = min(len(in_stage), ALTERNATIVES + 2)
                keep[in_stage[np.argpartition(-f[in_stage], k - 1)[:k]]] = True
            q.allowed = keep
            shortlist = int(keep.sum())
        plan = plan_network(
            sa,
            model,
            io_link,
            q,
            size=size,
            chain_key=chain_key,
            goal=goal,
            shortlist=shortlist,
            cover_weight=W_COVER_CHAIN,
        )
        if best_plan is None or (len(plan.covered), plan.mean_fit) > (
            len(best_plan.covered),
            best_plan.mean_fit,
        ):
            best_plan = plan
    assert best_plan is not None
    best_plan.candidates = len(sub_rows)
    return ChainPlan(
        plan=_remap(best_plan, sub_rows),
        available=[order[i] for i in available],
        absent=[k for i, k in enumerate(order) if i not in available],
        anchors=[int(sub_rows[p]) for p in ranked],
        connectivity={int(sub_rows[p]): conn[p] for p in ranked},
    )


def _remap(plan: Plan, rows: np.ndarray) -> Plan:
    """Return the plan with rows of a restricted pool turned back into rows of the whole pool."""

    def fix(r: Role) -> Role:
        r.row = int(rows[r.row])
        return r

    return Plan(
        seed_row=int(rows[plan.seed_row]),
        chain_key=plan.chain_key,
        members=[fix(r) for r in plan.members],
        alternatives={int(rows[k]): [fix(r) for r in v] for k, v in plan.alternatives.items()},
        covered=plan.covered,
        uncovered=plan.uncovered,
        open_slots={k: [fix(r) for r in v] for k, v in plan.open_slots.items()},
        needs_covered=plan.needs_covered,
        needs_uncovered=plan.needs_uncovered,
        candidates=plan.candidates,
        mean_fit=plan.mean_fit,
    )
