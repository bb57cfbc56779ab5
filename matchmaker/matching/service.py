"""Partner suggestions for a registered firm: constraints, scores and reasons a person reads."""

import math
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from sqlalchemy import select
from sqlalchemy.orm import Session

from matchmaker.accounts import policy
from matchmaker.accounts import service as accounts_service
from matchmaker.firms.models import Firm
from matchmaker.firms.schemas import GOALS, SME_CLASSES
from matchmaker.i18n import current_language
from matchmaker.i18n import gettext as _
from matchmaker.matching import index as index_mod
from matchmaker.matching.features import GOAL_BIT, GOAL_KEYS, SME_INDEX, VISIBILITY_INDEX
from matchmaker.matching.model import COMPONENTS, goal_modulation
from matchmaker.matching.models import EXCLUSION_KINDS, PartnerExclusion
from matchmaker.matching.scoring import Query, one_way_text, score_all, subfeatures, top_k
from matchmaker.matching.text import shared_terms
from matchmaker.refdata import ateco as ateco_ref
from matchmaker.refdata import places

MAX_LIMIT = 100


class MatchingError(ValueError):
    """A request the recommender cannot serve, with a message for the user."""


@dataclass
class Suggestion:
    rank: int
    firm_id: int
    partita_iva: str
    name: str
    comune: str
    province: str
    ateco: str
    ateco_title: str | None
    sme_class: str | None
    distance_km: float
    score: float
    components: dict[str, float]
    contributions: dict[str, float]
    reasons: list[str] = field(default_factory=list)


@dataclass
class Suggestions:
    items: list[Suggestion]
    weights: dict[str, float]
    io_source: str | None
    candidates: int
    model_trained_on: str


@dataclass
class Explanation:
    partita_iva: str
    name: str
    score: float
    rank: int | None
    components: dict[str, float]
    contributions: dict[str, float]
    reasons: list[str]
    excluded_because: list[str]
    io_source: str | None


def _sector_filter(sector: str | None, divisions: list[str]) -> np.ndarray | None:
    if not sector:
        return None
    s = sector.strip().upper()
    if len(s) == 1 and s.isalpha():
        codes = {c.division for c in ateco_ref.divisions() if c.section == s}
    else:
        codes = {s[:2]}
    idx = np.array([i for i, d in enumerate(divisions) if d in codes], dtype=np.int16)
    if idx.size == 0:
        raise MatchingError(_("unknown sector %(s)s: give an ATECO division (25) or section (C)")
                            % {"s": sector})
    return idx


def _excluded_rows(session: Session, idx: index_mod.RecommenderIndex, firm: Firm) -> tuple[np.ndarray, dict[int, str]]:
    """Rows never suggested to this firm: same owners (group) and named exclusions."""
    reasons: dict[int, str] = {}
    owners = [u for u, role in accounts_service.firm_member_users(session, firm.id) if role == "owner"]
    for owner in owners:
        for fid, role in accounts_service.memberships_for(session, owner).items():
            if fid != firm.id and role == "owner":
                reasons[fid] = _("same group: the two firms have the same owner")
    for ex in session.scalars(select(PartnerExclusion).where(PartnerExclusion.firm_id == firm.id)):
        reasons[ex.excluded_firm_id] = (
            _("you marked it as a competitor") if ex.kind == "competitor"
            else _("you marked it as a firm of your group")
        )
    rows = [idx.arrays.row_of[f] for f in reasons if f in idx.arrays.row_of]
    return np.array(rows, dtype=np.int64), reasons


def _allowed(session: Session, idx: index_mod.RecommenderIndex, viewer: Any) -> np.ndarray:
    a = idx.arrays
    allowed = a.visibility == VISIBILITY_INDEX["public"]
    if viewer is not None:
        assoc = policy.association_firm_ids(session, viewer)
        rows = [a.row_of[f] for f in assoc if f in a.row_of]
        if rows:
            extra = np.zeros(a.size, dtype=bool)
            extra[rows] = True
            allowed |= extra & (a.visibility == VISIBILITY_INDEX["association"])
    return allowed


def visible_rows(session: Session, idx: index_mod.RecommenderIndex, viewer: Any) -> np.ndarray:
    """Return, per index row, whether the firm may be proposed to this viewer as a partner."""
    return _allowed(session, idx, viewer)


def build_query(session: Session, idx: index_mod.RecommenderIndex, firm: Firm, viewer: Any, *,
                radius_km: float | None = None, goal: str | None = None,
                sector: str | None = None, size: str | None = None) -> tuple[Query, dict[int, str]]:
    """Turn a firm and the filters into the recommender's query."""
    a = idx.arrays
    row = a.row_of.get(firm.id)
    if row is None:
        raise MatchingError(_("this firm is not in the recommender index yet"))
    if radius_km is not None and not (0 < radius_km <= 2000):
        raise MatchingError(_("radius_km must be between 1 and 2000"))
    if goal is not None and goal not in GOAL_BIT:
        raise MatchingError(_("unknown goal %(g)s") % {"g": goal})
    if size is not None and size not in SME_INDEX:
        raise MatchingError(_("unknown size %(s)s: micro, small, medium or large") % {"s": size})
    secondary = [int(c) for c in a.sec_code[a.sec_row == row]]
    seeker_goals = {g for g in GOAL_KEYS if int(a.goals[row]) & GOAL_BIT[g]}
    if goal:
        seeker_goals.add(goal)
    excluded, why = _excluded_rows(session, idx, firm)
    q = Query(
        code_rows=[int(a.code_row[row]), *secondary], comune_idx=int(a.comune_idx[row]),
        goals=sum(GOAL_BIT[g] for g in seeker_goals), sme=int(a.sme[row]),
        needs=a.needs[row], offers=a.offers[row], seed_row=row, radius_km=radius_km,
        excluded_rows=excluded, allowed=_allowed(session, idx, viewer),
        goal_filter=GOAL_BIT[goal] if goal else 0,
        division_filter=_sector_filter(sector, idx.model.divisions),
        size_filter=SME_INDEX[size] if size else None,
        modulation=goal_modulation(seeker_goals),
    )
    return q, why


def recommend(session: Session, *, firm: Firm, viewer: Any, limit: int = 10, offset: int = 0,
              radius_km: float | None = None, goal: str | None = None, sector: str | None = None,
              size: str | None = None, explain: bool = True) -> Suggestions:
    """Rank every other registered firm as a partner for this one."""
    limit = max(1, min(limit, MAX_LIMIT))
    idx = index_mod.get_index(session)
    with idx.lock:
        q, _why = build_query(session, idx, firm, viewer, radius_km=radius_km, goal=goal,
                              sector=sector, size=size)
        scored = score_all(idx.arrays, q, idx.model, idx.io_link)
        rows = top_k(scored, offset + limit, idx.arrays.tiebreak)[offset:]
        candidates = int(np.isfinite(scored.total).sum())
        feats = subfeatures(idx.arrays, q, idx.model, idx.io_link, rows) if explain and len(rows) else {}
        items = []
        for i, row in enumerate(rows):
            items.append(_suggestion(idx, q, scored, int(row), offset + i + 1,
                                     {k: float(v[i]) for k, v in feats.items()} if feats else None))
    return Suggestions(items=items, weights=scored.weights, io_source=idx.io_source,
                       candidates=candidates, model_trained_on=idx.model.trained_on)


def _suggestion(idx: index_mod.RecommenderIndex, q: Query, scored: Any, row: int, rank: int,
                feats: dict[str, float] | None) -> Suggestion:
    a = idx.arrays
    info = a.codes.infos[a.code_row[row]]
    comune = places.all_comuni()[a.comune_idx[row]]
    comps = {c: round(float(scored.components[c][row]), 4) for c in COMPONENTS}
    contrib = {c: round(scored.weights[c] * comps[c], 4) for c in COMPONENTS}
    code = ateco_ref.lookup(info.code, info.edition) if info.code else None
    sme = int(a.sme[row])
    return Suggestion(
        rank=rank, firm_id=int(a.ids[row]), partita_iva=str(a.piva[row]), name=a.names[row],
        comune=comune.name, province=comune.province, ateco=info.code,
        ateco_title=code.title if code else None,
        sme_class=next(k for k, v in SME_INDEX.items() if v == sme) if sme >= 0 else None,
        distance_km=round(float(scored.distance_km[row]), 1),
        score=round(float(scored.total[row]), 4), components=comps, contributions=contrib,
        reasons=reasons(idx, q, row, feats) if feats is not None else [],
    )


def _label(vocab: dict[str, dict[str, str]], key: str) -> str:
    return vocab.get(key, {}).get(current_language.get(), key)


def _code_label(info: Any) -> str:
    code = ateco_ref.lookup(info.code, info.edition) if info.code else None
    return f"{info.code} {code.title}" if code else (info.code or "?")


def reasons(idx: index_mod.RecommenderIndex, q: Query, row: int, f: dict[str, float]) -> list[str]:
    """Say, in sentences, why a candidate scores as it does (strongest evidence first)."""
    a = idx.arrays
    out: list[tuple[float, str]] = []
    w = idx.model.effective(q.modulation)
    seed_info = a.codes.infos[q.code_rows[0]]
    cand_info = a.codes.infos[a.code_row[row]]
    # Sector.
    if f.get("same_code", 0) > 0 or f.get("same_class", 0) > 0:
        out.append((w["same_class"] + w["same_code"], _("Same activity: %(code)s")
                    % {"code": _code_label(cand_info)}))
    elif f.get("same_group", 0) > 0:
        out.append((w["same_group"], _("Same line of business (ATECO group %(g)s): %(code)s")
                    % {"g": cand_info.group, "code": _code_label(cand_info)}))
    elif f.get("same_division", 0) > 0:
        out.append((w["same_division"], _("Same sector (ATECO division %(d)s)")
                    % {"d": cand_info.division}))
    if f.get("io_link", 0) > 0.05 and seed_info.division and cand_info.division:
        out.append((w["io_link"] * f["io_link"], _io_sentence(idx, seed_info.division, cand_info.division)))
    if f.get("comember", 0) > 0.55 and seed_info.division and cand_info.division:
        lift = math.exp((f["comember"] - 0.5) * 2 * math.log(8.0))
        if seed_info.division == cand_info.division:
            text = _("Firms of division %(a)s form networks among themselves %(x).1f times more "
                     "often than chance (registered networks)") % {"a": seed_info.division, "x": lift}
        else:
            text = _("Firms of divisions %(a)s and %(b)s form networks together %(x).1f times "
                     "more often than chance (registered networks)") % {
                "a": seed_info.division, "b": cand_info.division, "x": lift}
        out.append((w["comember"] * (f["comember"] - 0.5), text))
    # Supply chain.
    chain_sentence = _chain_sentence(seed_info, cand_info)
    if chain_sentence and (f.get("chain_adjacent", 0) > 0 or f.get("chain_same", 0) > 0):
        out.append((w["chain_adjacent"] * f.get("chain_adjacent", 0)
                    + w["chain_same"] * f.get("chain_same", 0), chain_sentence))
    # Geography.
    seed_c = places.all_comuni()[q.comune_idx]
    cand_c = places.all_comuni()[a.comune_idx[row]]
    km = float(places.haversine_km(seed_c.lat, seed_c.lng, cand_c.lat, cand_c.lng))
    if seed_c.istat == cand_c.istat:
        geo = _("In your comune, %(c)s") % {"c": cand_c.name}
    elif seed_c.province == cand_c.province:
        geo = _("%(km).0f km away, in your province (%(p)s)") % {"km": km, "p": cand_c.province_name}
    elif seed_c.region == cand_c.region:
        geo = _("%(km).0f km away, in your region (%(r)s)") % {"km": km, "r": cand_c.region}
    else:
        geo = _("%(km).0f km away, in %(c)s (%(p)s)") % {"km": km, "c": cand_c.name, "p": cand_c.province}
    geo_w = sum(w[k] * f.get(k, 0) for k in ("near_10", "near_50", "near_300", "near_local",
                                              "near_wide", "same_comune_rare", "same_province",
                                              "same_region"))
    out.append((geo_w, geo))
    # Needs and offers.
    they, we = one_way_text(a, q, row)
    if they > 0.05:
        terms = shared_terms(a.text, q.needs, a.offers[row])
        out.append((w["needs_offers"] * they, _("They offer what you need: %(t)s")
                    % {"t": ", ".join(terms)}))
    if we > 0.05:
        terms = shared_terms(a.text, q.offers, a.needs[row])
        out.append((w["needs_offers"] * we, _("They need what you offer: %(t)s")
                    % {"t": ", ".join(terms)}))
    # Goals and size.
    shared = [g for g in GOAL_KEYS if (q.goals & int(a.goals[row])) & GOAL_BIT[g]]
    if shared:
        out.append((w["goals"] * f.get("goals", 0), _("Shared goals: %(g)s")
                    % {"g": ", ".join(_label(GOALS, g) for g in shared)}))
    sme = int(a.sme[row])
    if q.sme >= 0 and sme >= 0:
        names = list(SME_INDEX)
        if sme == q.sme:
            text = _("Same size: %(s)s") % {"s": _label(SME_CLASSES, names[sme]).lower()}
        else:
            text = _("Sizes: you are a %(a)s, they are a %(b)s") % {
                "a": _label(SME_CLASSES, names[q.sme]).lower(),
                "b": _label(SME_CLASSES, names[sme]).lower()}
        out.append((w["size"] * f.get("size", 0), text))
    out.sort(key=lambda t: -t[0])
    return [text for _w, text in out]


def _io_sentence(idx: index_mod.RecommenderIndex, seed_div: str, cand_div: str) -> str:
    source = idx.io_source or ""
    names = {d.code: d.title.capitalize() for d in ateco_ref.divisions()}
    links = idx.io_links
    if links is not None:
        buy = links.tech_coef(cand_div, seed_div)
        sell = links.tech_coef(seed_div, cand_div)
        if buy >= sell:
            return _("Supply link: division %(b)s spends %(p).1f%% of its output on products of "
                     "division %(a)s (%(src)s)") % {"a": cand_div, "b": seed_div, "p": 100 * buy,
                                                     "src": source}
        return _("Supply link: division %(b)s spends %(p).1f%% of its output on products of "
                 "division %(a)s (%(src)s)") % {"a": seed_div, "b": cand_div, "p": 100 * sell,
                                                 "src": source}
    return _("Linked sectors in the input-output table: %(a)s and %(b)s (%(src)s)") % {
        "a": names.get(seed_div, seed_div), "b": names.get(cand_div, cand_div), "src": source}


def _chain_sentence(seed_info: Any, cand_info: Any) -> str | None:
    from matchmaker.refdata import chains

    lang = current_language.get()
    for sc, ss, sp in seed_info.positions:
        for cc, cs, cp in cand_info.positions:
            if sc != cc:
                continue
            chain = chains.chain(sc)
            cname = chain.name_it if lang == "it" else chain.name_en
            stages = {**{s.index: s for s in chain.stages}}
            if sp == "support" or cp == "support":
                return _("Support function for the %(chain)s chain") % {"chain": cname}
            a, b = stages.get(ss), stages.get(cs)
            if a is None or b is None or ss == cs:
                continue
            an = a.name_it if lang == "it" else a.name_en
            bn = b.name_it if lang == "it" else b.name_en
            if abs(ss - cs) == 1:
                return _("Adjacent stages of the %(chain)s chain: %(a)s and %(b)s") % {
                    "chain": cname, "a": an, "b": bn}
            return _("Same value chain (%(chain)s): %(a)s and %(b)s") % {
                "chain": cname, "a": an, "b": bn}
    return None


def explain(session: Session, *, firm: Firm, other: Firm, viewer: Any,
            radius_km: float | None = None, goal: str | None = None, sector: str | None = None,
            size: str | None = None) -> Explanation:
    """Explain one candidate's score and rank, and which constraint (if any) hides it."""
    idx = index_mod.get_index(session)
    with idx.lock:
        a = idx.arrays
        q, why = build_query(session, idx, firm, viewer, radius_km=radius_km, goal=goal,
                             sector=sector, size=size)
        row = a.row_of.get(other.id)
        if row is None:
            raise MatchingError(_("that firm is not in the recommender index yet"))
        scored = score_all(a, q, idx.model, idx.io_link)
        excluded: list[str] = []
        if other.id == firm.id:
            excluded.append(_("a firm is never suggested to itself"))
        if other.id in why:
            excluded.append(why[other.id])
        if a.visibility[row] == VISIBILITY_INDEX["hidden"]:
            excluded.append(_("its profile is hidden"))
        elif q.allowed is not None and not q.allowed[row]:
            excluded.append(_("its profile is visible to its associations only"))
        if radius_km is not None and scored.distance_km[row] > radius_km:
            excluded.append(_("it is %(km).0f km away, beyond your %(r).0f km radius")
                            % {"km": scored.distance_km[row], "r": radius_km})
        if q.goal_filter and not (int(a.goals[row]) & q.goal_filter):
            excluded.append(_("it does not have the goal you filtered on"))
        if q.division_filter is not None and a.codes.division_idx[a.code_row[row]] not in q.division_filter:
            excluded.append(_("it is outside the sector you filtered on"))
        if q.size_filter is not None and a.sme[row] != q.size_filter:
            excluded.append(_("it is not of the size you filtered on"))
        # Score it as if nothing excluded it, to say how it would rank.
        q_open = Query(**{**q.__dict__, "excluded_rows": None, "allowed": None, "radius_km": None,
                          "goal_filter": 0, "division_filter": None, "size_filter": None})
        if other.id != firm.id:
            open_scored = score_all(a, q_open, idx.model, idx.io_link)
            value = float(open_scored.total[row])
            rank = None if excluded else int((scored.total > scored.total[row]).sum()) + 1
        else:
            open_scored, value, rank = scored, 0.0, None
        feats = subfeatures(a, q, idx.model, idx.io_link, np.array([row]))
        f = {k: float(v[0]) for k, v in feats.items()}
        comps = {c: round(float(open_scored.components[c][row]), 4) for c in COMPONENTS}
        return Explanation(
            partita_iva=other.partita_iva, name=other.name, score=round(value, 4), rank=rank,
            components=comps,
            contributions={c: round(open_scored.weights[c] * comps[c], 4) for c in COMPONENTS},
            reasons=reasons(idx, q, row, f) if other.id != firm.id else [],
            excluded_because=excluded, io_source=idx.io_source,
        )


def add_exclusion(session: Session, *, firm: Firm, other: Firm, kind: str, user: Any) -> PartnerExclusion:
    """Never suggest `other` to `firm` (a competitor, or a firm of the same group)."""
    if kind not in EXCLUSION_KINDS:
        raise MatchingError(_("kind must be competitor or same_group"))
    if other.id == firm.id:
        raise MatchingError(_("a firm cannot exclude itself"))
    existing = session.scalar(select(PartnerExclusion).where(
        PartnerExclusion.firm_id == firm.id, PartnerExclusion.excluded_firm_id == other.id))
    if existing is not None:
        existing.kind = kind
        session.flush()
        return existing
    ex = PartnerExclusion(firm_id=firm.id, excluded_firm_id=other.id, kind=kind,
                          created_by=getattr(user, "id", None))
    session.add(ex)
    session.flush()
    return ex


def list_exclusions(session: Session, *, firm: Firm) -> list[tuple[PartnerExclusion, Firm]]:
    """Return the firm's exclusions with the excluded firms."""
    rows = session.execute(
        select(PartnerExclusion, Firm).join(Firm, Firm.id == PartnerExclusion.excluded_firm_id)
        .where(PartnerExclusion.firm_id == firm.id).order_by(Firm.name)
    ).all()
    return [(r[0], r[1]) for r in rows]


def remove_exclusion(session: Session, *, firm: Firm, exclusion_id: int) -> None:
    """Remove one of the firm's exclusions."""
    ex = session.get(PartnerExclusion, exclusion_id)
    if ex is None or ex.firm_id != firm.id:
        raise MatchingError(_("no such exclusion"))
    session.delete(ex)
    session.flush()


def recommend_batch(session: Session, *, pivas: list[str], top: int = 10) -> list[dict[str, Any]]:
    """Rank partners for many seeds (the JSONL batch): seeds not registered get an error."""
    from matchmaker.firms import service as firms_service

    out = []
    idx = index_mod.get_index(session)
    for piva in pivas:
        firm = firms_service.get_firm(session, piva)
        if firm is None:
            out.append({"seed": piva, "error": "not registered"})
            continue
        with idx.lock:
            a = idx.arrays
            q, _why = build_query(session, idx, firm, None)
            q.allowed = a.visibility != VISIBILITY_INDEX["hidden"]
            scored = score_all(a, q, idx.model, idx.io_link)
            rows = top_k(scored, top, a.tiebreak)
        out.append({"seed": firm.partita_iva, "partners": [str(a.piva[r]) for r in rows],
                    "scores": [round(float(scored.total[r]), 6) for r in rows]})
    return out
