"""Turn firms into arrays: one row per firm, plus per-code and per-comune tables.

Sector and supply-chain features depend only on the two firms' ATECO codes, and geographic
features only on their comuni, so they are computed once per distinct code or comune and
gathered to the firms: a query touches a few thousand codes and 7,896 comuni, then gathers.
"""

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

import numpy as np
from scipy import sparse

from matchmaker.matching.text import TextModel
from matchmaker.refdata import ateco as ateco_ref
from matchmaker.refdata import places

GOAL_KEYS = (
    "innovation", "internationalisation", "joint_rnd", "joint_purchasing", "shared_logistics",
    "joint_marketing", "training", "sustainability", "digitalisation", "public_tenders",
    "access_to_credit", "production_capacity",
)
GOAL_BIT = {k: 1 << i for i, k in enumerate(GOAL_KEYS)}
SME_INDEX = {"micro": 0, "small": 1, "medium": 2, "large": 3}
VISIBILITY_INDEX = {"public": 0, "association": 1, "hidden": 2}
POPCOUNT = np.array([i.bit_count() for i in range(1 << len(GOAL_KEYS))], dtype=np.float32)


@dataclass(frozen=True)
class FirmRecord:
    """What the recommender knows of a firm (from the database or from a data file)."""

    id: int
    partita_iva: str
    name: str
    ateco_code: str | None
    ateco_edition: str
    comune_istat: str
    sme_class: str | None = None
    goals: tuple[str, ...] = ()
    offers: str = ""
    needs: str = ""
    visibility: str = "public"
    secondary: tuple[tuple[str, str], ...] = ()


@dataclass
class CodeInfo:
    """A distinct ATECO code as the features see it (in ATECO 2007/2022 terms)."""

    code: str
    edition: str
    division: str | None
    group: str | None
    klass: str | None
    canonical: str | None
    positions: list[tuple[str, int, str]] = field(default_factory=list)


def divisions() -> list[str]:
    """Return the ATECO 2022 divisions in index order."""
    return [d.code for d in ateco_ref.divisions()]


_CODE_CACHE: dict[tuple[str, str], CodeInfo] = {}


def code_info(code: str | None, edition: str) -> CodeInfo:
    """Describe a code: its division, group, class and value-chain positions (cached)."""
    key = (code or "", edition)
    hit = _CODE_CACHE.get(key)
    if hit is not None:
        return hit
    info = CodeInfo(code=code or "", edition=edition, division=None, group=None, klass=None,
                    canonical=None)
    if code:
        canon = code
        parsed = ateco_ref.lookup(code, edition)
        if parsed is not None:
            info.division = parsed.sector_division
            if edition == "2025":
                conv = ateco_ref.convert(code, "2025", "2022")
                canon = conv.targets[0] if conv.targets else None
        else:
            info.division = code[:2] if code[:2].isdigit() else None
        if canon:
            info.canonical = canon
            info.group = canon[:4] if len(canon) >= 4 else None
            info.klass = canon[:5] if len(canon) >= 5 else None
            if info.division is None:
                info.division = canon[:2]
        info.positions = _chain_positions(canon or code)
    _CODE_CACHE[key] = info
    return info


def _chain_positions(code: str) -> list[tuple[str, int, str]]:
    from matchmaker.refdata import chains

    try:
        found = chains.positions(code, "2022")
    except (KeyError, ValueError):
        return []
    return [(p.chain_key, -1 if p.stage_index is None else int(p.stage_index), p.position)
            for p in found]


@dataclass
class CodeTable:
    """Distinct codes with integer ids for vectorized comparison."""

    infos: list[CodeInfo]
    division_idx: np.ndarray  # int16, -1 unknown
    group_id: np.ndarray  # int32, -1 unknown
    class_id: np.ndarray
    code_id: np.ndarray
    pos_code: np.ndarray  # value-chain positions, flattened: code row of each position
    pos_chain: np.ndarray
    pos_stage: np.ndarray
    pos_support: np.ndarray
    chain_keys: list[str]

    @property
    def size(self) -> int:
        """Return the number of distinct codes."""
        return len(self.infos)


def build_code_table(keys: Sequence[tuple[str, str]]) -> CodeTable:
    """Build the code table for a list of distinct (code, edition) keys."""
    div_index = {d: i for i, d in enumerate(divisions())}
    infos = [code_info(c, e) for c, e in keys]
    vocab: dict[str, int] = {}

    def _id(v: str | None) -> int:
        if not v:
            return -1
        return vocab.setdefault(v, len(vocab))

    chain_keys: dict[str, int] = {}
    pc, pch, pst, psu = [], [], [], []
    for row, info in enumerate(infos):
        for chain, stage, position in info.positions:
            pc.append(row)
            pch.append(chain_keys.setdefault(chain, len(chain_keys)))
            pst.append(stage)
            psu.append(position == "support")
    return CodeTable(
        infos=infos,
        division_idx=np.array([div_index.get(i.division or "", -1) for i in infos], dtype=np.int16),
        group_id=np.array([_id(i.group) for i in infos], dtype=np.int32),
        class_id=np.array([_id(i.klass) for i in infos], dtype=np.int32),
        code_id=np.array([_id(i.canonical or i.code) for i in infos], dtype=np.int32),
        pos_code=np.array(pc, dtype=np.int32),
        pos_chain=np.array(pch, dtype=np.int16),
        pos_stage=np.array(pst, dtype=np.int16),
        pos_support=np.array(psu, dtype=bool),
        chain_keys=list(chain_keys),
    )


@dataclass
class FirmArrays:
    """The whole pool as arrays aligned by row."""

    ids: np.ndarray  # int64 firm ids
    piva: np.ndarray  # object
    names: list[str]
    code_row: np.ndarray  # int32 row in codes
    comune_idx: np.ndarray  # int32 index in places.all_comuni()
    sme: np.ndarray  # int8, -1 unknown
    goals: np.ndarray  # uint16 bitmask
    visibility: np.ndarray  # int8
    alive: np.ndarray  # bool
    sec_row: np.ndarray  # secondary codes: firm row, code row
    sec_code: np.ndarray
    offers: sparse.csr_matrix
    needs: sparse.csr_matrix
    codes: CodeTable
    text: TextModel
    comune_count: np.ndarray  # firms per comune (all comuni)
    local_radius: np.ndarray  # km around each comune that holds ~LOCAL_K firms
    wide_radius: np.ndarray  # km around each comune that holds ~WIDE_K firms
    comune_province: np.ndarray  # int16 province id per comune
    comune_region: np.ndarray  # int8 region id per comune
    exposure: np.ndarray  # float32 multiplier capping over-exposed firms (1 = none)
    tiebreak: np.ndarray  # float64 in [0, 1) from the partita IVA: breaks ties without bias
    row_of: dict[int, int] = field(default_factory=dict)

    @property
    def size(self) -> int:
        """Return the number of rows (deleted ones included, see `alive`)."""
        return len(self.ids)


LOCAL_K = 20
WIDE_K = 100


def comune_tables() -> tuple[np.ndarray, np.ndarray, list[str]]:
    """Return province id and region id per comune, and the istat codes, in places order."""
    comuni = places.all_comuni()
    prov: dict[str, int] = {}
    province = np.array([prov.setdefault(c.province, len(prov)) for c in comuni], dtype=np.int16)
    region = np.array([int(c.region_code) for c in comuni], dtype=np.int8)
    return province, region, [c.istat for c in comuni]


def local_radii(comune_count: np.ndarray, ks: Sequence[int] = (LOCAL_K, WIDE_K)) -> list[np.ndarray]:
    """Return, for each k and per comune, the radius (km) within which at least k firms are registered.

    The comuni are sorted by distance once for all k.
    """
    lat, lng = places.coordinates()
    outs = [np.full(len(lat), 50.0, dtype=np.float32) for _k in ks]
    occupied = np.flatnonzero(comune_count > 0)
    if occupied.size == 0:
        return outs
    olat, olng, ocount = lat[occupied], lng[occupied], comune_count[occupied]
    todo = []
    for out, k in zip(outs, ks, strict=True):
        if ocount.sum() <= k:
            out[:] = 300.0
        else:
            todo.append((out, k))
    if not todo:
        return outs
    chunk = 256
    for start in range(0, len(lat), chunk):
        d = places.haversine_km(lat[start:start + chunk, None], lng[start:start + chunk, None],
                                olat[None, :], olng[None, :])
        order = np.argsort(d, axis=1)
        cum = np.cumsum(ocount[order], axis=1)
        nearest = np.take_along_axis(d, order, 1)
        for out, k in todo:
            pos = np.argmax(cum >= k, axis=1)
            out[start:start + chunk] = np.maximum(nearest[np.arange(len(pos)), pos], 1.0)
    return outs


def tiebreak_values(pivas: Sequence[str]) -> np.ndarray:
    """Return a stable pseudo-random number per firm, so equal scores are not ordered by age."""
    import hashlib

    return np.array(
        [int.from_bytes(hashlib.blake2b(p.encode(), digest_size=6).digest(), "big") / 2**48
         for p in pivas], dtype=np.float64)


def goals_mask(goals: Iterable[str]) -> int:
    """Return the bitmask of a set of goal keys."""
    m = 0
    for g in goals:
        m |= GOAL_BIT.get(g, 0)
    return m


def build_arrays(records: Sequence[FirmRecord], *, text_model: TextModel | None = None) -> FirmArrays:
    """Build the arrays for a pool of firms."""
    n = len(records)
    keys: dict[tuple[str, str], int] = {}
    code_row = np.empty(n, dtype=np.int32)
    sec_r, sec_c = [], []
    for i, r in enumerate(records):
        code_row[i] = keys.setdefault((r.ateco_code or "", r.ateco_edition), len(keys))
        for code, edition in r.secondary:
            sec_r.append(i)
            sec_c.append(keys.setdefault((code, edition), len(keys)))
    codes = build_code_table(list(keys))
    comune_idx = np.array([places.index_of(r.comune_istat) for r in records], dtype=np.int32)
    n_comuni = len(places.all_comuni())
    comune_count = np.bincount(comune_idx, minlength=n_comuni).astype(np.int32)
    province, region, _istat = comune_tables()
    local_radius, wide_radius = local_radii(comune_count, (LOCAL_K, WIDE_K))
    offer_texts = [r.offers for r in records]
    need_texts = [r.needs for r in records]
    if text_model is None:
        text_model = TextModel()
        offers, needs = text_model.fit_transform(offer_texts, need_texts)
    else:
        offers, needs = text_model.transform(offer_texts), text_model.transform(need_texts)
    return FirmArrays(
        ids=np.array([r.id for r in records], dtype=np.int64),
        piva=np.array([r.partita_iva for r in records], dtype=object),
        names=[r.name for r in records],
        code_row=code_row,
        comune_idx=comune_idx,
        sme=np.array([SME_INDEX.get(r.sme_class or "", -1) for r in records], dtype=np.int8),
        goals=np.array([goals_mask(r.goals) for r in records], dtype=np.uint16),
        visibility=np.array([VISIBILITY_INDEX.get(r.visibility, 0) for r in records], dtype=np.int8),
        alive=np.ones(n, dtype=bool),
        sec_row=np.array(sec_r, dtype=np.int32),
        sec_code=np.array(sec_c, dtype=np.int32),
        offers=offers,
        needs=needs,
        codes=codes,
        text=text_model,
        comune_count=comune_count,
        local_radius=local_radius,
        wide_radius=wide_radius,
        comune_province=province,
        comune_region=region,
        exposure=np.ones(n, dtype=np.float32),
        tiebreak=tiebreak_values([r.partita_iva for r in records]),
        row_of={int(fid): i for i, fid in enumerate(np.array([r.id for r in records]))},
    )
