"""The in-process recommender index: arrays built from the database, kept fresh.

Each process keeps one index per database. Before serving, it reads the registry's change
feed (firm_change) past its watermark: a few changed firms are patched in place, a bulk change
(an import) triggers a full rebuild. So every worker sees every committed change, and a
restarted process rebuilds from the database.
"""

import logging
import threading
import time
from dataclasses import dataclass, field

import numpy as np
from scipy import sparse
from sqlalchemy.orm import Session

from matchmaker.firms import service as firms_service
from matchmaker.matching.features import (
    SME_INDEX,
    VISIBILITY_INDEX,
    FirmArrays,
    FirmRecord,
    build_arrays,
    build_code_table,
    goals_mask,
    tiebreak_values,
)
from matchmaker.matching.model import RecommenderModel, load_model
from matchmaker.matching.scoring import exposure_multiplier, io_link_matrix, score_all, top_k

log = logging.getLogger("matchmaker.matching")

# A change touching more firms than this share of the pool rebuilds the index from scratch.
REBUILD_SHARE = 0.05
REBUILD_MIN = 2000
EXPOSURE_SAMPLE = 400
EXPOSURE_K = 10
EXPOSURE_CAP_FACTOR = 5.0


@dataclass
class RecommenderIndex:
    arrays: FirmArrays
    model: RecommenderModel
    io_link: np.ndarray
    io_source: str | None
    io_links: object | None
    watermark: int
    built_at: float
    build_seconds: float
    refreshed: int = 0
    lock: threading.RLock = field(default_factory=threading.RLock, repr=False)

    @property
    def size(self) -> int:
        """Return the number of live firms in the index."""
        return int(self.arrays.alive.sum())


_indexes: dict[str, RecommenderIndex] = {}
_build_locks: dict[str, threading.Lock] = {}
_global = threading.Lock()


def _key(session: Session) -> str:
    bind = session.get_bind()
    return bind.engine.url.render_as_string(hide_password=True) if hasattr(bind, "engine") else str(bind)


def record_from_row(row: dict) -> FirmRecord:
    """Turn a firm row of the registry into what the recommender knows of it."""
    return FirmRecord(
        id=int(row["id"]), partita_iva=row["partita_iva"], name=row["name"],
        ateco_code=row["ateco_code"], ateco_edition=row["ateco_edition"],
        comune_istat=row["comune_istat"], sme_class=row["sme_class"],
        goals=tuple(row["goals"]), offers=row["offers"] or "", needs=row["needs"] or "",
        visibility=row["visibility"], secondary=tuple(row["secondary"]),
    )


def sector_links(session: Session, n_divisions: int,
                 model: RecommenderModel) -> tuple[np.ndarray, str | None, object | None]:
    """Return the division complementarity from the active input-output table, if any."""
    from matchmaker.refdata import io as io_ref

    try:
        links = io_ref.active_links(session)
    except Exception:  # no table loaded or schema without it: value chains only
        log.exception("input-output table could not be read; using value chains only")
        links = None
    if links is None:
        return io_link_matrix(None, None, model.io_scale, n_divisions), None, None
    return (io_link_matrix(links.tech, links.share, model.io_scale, n_divisions), links.source,
            links)


def compute_exposure(a: FirmArrays, model: RecommenderModel, io_link: np.ndarray,
                     *, sample: int = EXPOSURE_SAMPLE, k: int = EXPOSURE_K,
                     cap_factor: float = EXPOSURE_CAP_FACTOR, seed: int = 0) -> np.ndarray:
    """Count how often each firm lands in a sample of seekers' top k and damp the outliers.

    A firm may appear in up to `cap_factor` times the average number of lists; past that its
    scores are multiplied by (cap / appearances) ** 0.5, so no firm absorbs every seeker.
    """
    from matchmaker.matching.fit import seed_query

    n = a.size
    if n < 50:
        return np.ones(n, dtype=np.float32)
    rng = np.random.default_rng(seed)
    seeds = rng.choice(np.flatnonzero(a.alive), size=min(sample, int(a.alive.sum())), replace=False)
    counts = np.zeros(n, dtype=np.float32)
    for s in seeds:
        rows = top_k(score_all(a, seed_query(a, int(s), apply_exposure=False), model, io_link),
                     k, a.tiebreak)
        counts[rows] += 1
    cap = max(3.0, cap_factor * len(seeds) * k / max(1, int(a.alive.sum())))
    return exposure_multiplier(counts, cap)


def build(session: Session, model: RecommenderModel | None = None) -> RecommenderIndex:
    """Build an index of every firm in the database."""
    t0 = time.perf_counter()
    model = model or load_model()
    watermark = firms_service.change_watermark(session)
    records = [record_from_row(r) for r in firms_service.firm_rows(session)]
    arrays = build_arrays(records)
    io_link, source, links = sector_links(session, len(model.divisions), model)
    arrays.exposure = compute_exposure(arrays, model, io_link)
    idx = RecommenderIndex(arrays=arrays, model=model, io_link=io_link, io_source=source,
                           io_links=links,
                           watermark=watermark, built_at=time.time(),
                           build_seconds=time.perf_counter() - t0)
    log.info("recommender index built: %d firms in %.2fs", len(records), idx.build_seconds)
    return idx


def _append_codes(a: FirmArrays, keys: list[tuple[str, str]]) -> dict[tuple[str, str], int]:
    existing = {(i.code, i.edition): r for r, i in enumerate(a.codes.infos)}
    missing = [k for k in keys if k not in existing]
    if missing:
        a.codes = build_code_table([(i.code, i.edition) for i in a.codes.infos] + missing)
        existing = {(i.code, i.edition): r for r, i in enumerate(a.codes.infos)}
    return existing


def refresh(idx: RecommenderIndex, session: Session, firm_ids: set[int]) -> None:
    """Patch changed, new and deleted firms into the index in place."""
    a = idx.arrays
    rows = {int(r["id"]): record_from_row(r) for r in firms_service.firm_rows(session, firm_ids)}
    for fid in firm_ids - set(rows):
        row = a.row_of.get(fid)
        if row is not None:
            a.alive[row] = False
    if not rows:
        return
    recs = list(rows.values())
    keys = [(r.ateco_code or "", r.ateco_edition) for r in recs]
    keys += [k for r in recs for k in r.secondary]
    code_of = _append_codes(a, keys)
    new = [r for r in recs if r.id not in a.row_of]
    if new:
        n0, m = a.size, len(new)
        grow_i = lambda arr, fill, dt: np.concatenate([arr, np.full(m, fill, dtype=dt)])
        a.ids = np.concatenate([a.ids, np.array([r.id for r in new], dtype=np.int64)])
        a.piva = np.concatenate([a.piva, np.array([r.partita_iva for r in new], dtype=object)])
        a.names.extend(r.name for r in new)
        a.code_row = grow_i(a.code_row, 0, np.int32)
        a.comune_idx = grow_i(a.comune_idx, 0, np.int32)
        a.sme = grow_i(a.sme, -1, np.int8)
        a.goals = grow_i(a.goals, 0, np.uint16)
        a.visibility = grow_i(a.visibility, 0, np.int8)
        a.alive = grow_i(a.alive, True, bool)
        a.exposure = grow_i(a.exposure, 1.0, np.float32)
        a.tiebreak = np.concatenate([a.tiebreak, tiebreak_values([r.partita_iva for r in new])])
        empty = sparse.csr_matrix((m, a.offers.shape[1]), dtype=np.float32)
        a.offers = sparse.vstack([a.offers, empty], format="csr")
        a.needs = sparse.vstack([a.needs, empty], format="csr")
        for i, r in enumerate(new):
            a.row_of[r.id] = n0 + i
    from matchmaker.refdata import places

    changed_rows = [a.row_of[r.id] for r in recs]
    for r, row in zip(recs, changed_rows, strict=True):
        old_comune = int(a.comune_idx[row])
        new_comune = places.index_of(r.comune_istat)
        if r.id not in {n.id for n in new}:
            a.comune_count[old_comune] -= 1
        a.comune_count[new_comune] += 1
        a.code_row[row] = code_of[(r.ateco_code or "", r.ateco_edition)]
        a.comune_idx[row] = new_comune
        a.sme[row] = SME_INDEX.get(r.sme_class or "", -1)
        a.goals[row] = goals_mask(r.goals)
        a.visibility[row] = VISIBILITY_INDEX.get(r.visibility, 0)
        a.alive[row] = True
        a.names[row] = r.name
    # Secondary codes of the changed firms: drop old pairs, add the new ones.
    keep = ~np.isin(a.sec_row, changed_rows)
    add_r = [row for r, row in zip(recs, changed_rows, strict=True) for _k in r.secondary]
    add_c = [code_of[k] for r in recs for k in r.secondary]
    a.sec_row = np.concatenate([a.sec_row[keep], np.array(add_r, dtype=np.int32)])
    a.sec_code = np.concatenate([a.sec_code[keep], np.array(add_c, dtype=np.int32)])
    # Texts: re-encode the changed rows with the fitted vocabulary.
    a.offers = _replace_rows(a.offers, changed_rows, a.text.transform([r.offers for r in recs]))
    a.needs = _replace_rows(a.needs, changed_rows, a.text.transform([r.needs for r in recs]))
    idx.refreshed += len(recs)


def _replace_rows(m: sparse.csr_matrix, rows: list[int], new: sparse.csr_matrix) -> sparse.csr_matrix:
    keep = np.ones(m.shape[0], dtype=np.float32)
    keep[rows] = 0.0
    place = sparse.csr_matrix(
        (np.ones(len(rows), dtype=np.float32), (np.asarray(rows), np.arange(len(rows)))),
        shape=(m.shape[0], len(rows)),
    )
    return (sparse.diags(keep) @ m + place @ new).tocsr()


def get_index(session: Session, *, model: RecommenderModel | None = None) -> RecommenderIndex:
    """Return this process's index for the session's database, fresh with every committed change."""
    key = _key(session)
    with _global:
        lock = _build_locks.setdefault(key, threading.Lock())
    # Take a database connection before the lock, never while holding it: requests that wait
    # for the lock hold their connections, and a lock holder waiting for a free connection
    # would stall every one of them until the pool timeout (seen under load on PostgreSQL).
    session.connection()
    with lock:
        idx = _indexes.get(key)
        if idx is None or (model is not None and idx.model is not model):
            idx = build(session, model)
            _indexes[key] = idx
            return idx
        wm = firms_service.change_watermark(session)
        if wm == idx.watermark:
            return idx
        new_wm, ids = firms_service.changes_since(session, idx.watermark)
        too_many = len(ids) > max(REBUILD_MIN, REBUILD_SHARE * idx.arrays.size)
        if wm < idx.watermark or too_many or not idx.arrays.text.fitted:
            idx = build(session, idx.model)
            _indexes[key] = idx
            return idx
        with idx.lock:
            refresh(idx, session, ids)
            idx.watermark = new_wm
        return idx


def is_built(session: Session) -> bool:
    """Tell whether this process has an index for the session's database."""
    return _key(session) in _indexes


def forget(session: Session | None = None) -> None:
    """Drop the index of one database (or all): the next query rebuilds it."""
    with _global:
        if session is None:
            _indexes.clear()
        else:
            _indexes.pop(_key(session), None)
