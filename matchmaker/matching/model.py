"""The fitted recommender model: sub-feature weights and the sector co-membership affinity.

The weights are fitted by `matchmaker recommend fit` (see matching/fit.py) on real networks and,
when users have acted, on accepted and declined introductions; the artifact ships in
matchmaker/matching/data/model.json with the command and metrics that produced it.
"""

import json
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any

import numpy as np

MODEL_PATH = Path(__file__).parent / "data" / "model.json"

COMPONENTS = ("sector", "supply_chain", "geography", "needs_offers", "goals", "size")
SUBFEATURES: dict[str, str] = {
    "same_division": "sector",
    "same_group": "sector",
    "same_class": "sector",
    "same_code": "sector",
    "io_link": "sector",
    "comember": "sector",
    "chain_adjacent": "supply_chain",
    "chain_same": "supply_chain",
    "near_10": "geography",
    "near_50": "geography",
    "near_300": "geography",
    "near_local": "geography",
    "near_wide": "geography",
    "same_comune_rare": "geography",
    "same_province": "geography",
    "same_region": "geography",
    "needs_offers": "needs_offers",
    "goals": "goals",
    "size": "size",
}
HORIZONTAL = ("same_division", "same_group", "same_class", "same_code")
VERTICAL = ("io_link", "chain_adjacent", "chain_same")
# Goals that call for firms of the same sector (horizontal networks) or of linked sectors.
HORIZONTAL_GOALS = {"joint_purchasing", "joint_marketing", "public_tenders",
                    "production_capacity", "access_to_credit"}
VERTICAL_GOALS = {"innovation", "joint_rnd", "internationalisation", "digitalisation",
                  "sustainability", "shared_logistics"}


@dataclass
class RecommenderModel:
    weights: dict[str, float]
    comember: np.ndarray  # divisions x divisions, in [0, 1]
    divisions: list[str]
    io_scale: float = 0.05
    metrics: dict[str, Any] = field(default_factory=dict)
    trained_on: str = ""
    command: str = ""
    notes: str = ""

    def component_weights(self, mult: dict[str, float] | None = None) -> dict[str, float]:
        """Return each component's share of the total weight (they sum to 1)."""
        w = self.effective(mult)
        total = sum(w.values()) or 1.0
        out = dict.fromkeys(COMPONENTS, 0.0)
        for name, value in w.items():
            out[SUBFEATURES[name]] += value / total
        return out

    def effective(self, mult: dict[str, float] | None = None) -> dict[str, float]:
        """Return the sub-feature weights after a per-query modulation."""
        mult = mult or {}
        return {k: max(0.0, v) * mult.get(k, 1.0) for k, v in self.weights.items()}

    def to_json(self) -> dict[str, Any]:
        """Return the artifact as JSON data."""
        return {
            "weights": self.weights,
            "divisions": self.divisions,
            "comember": np.round(self.comember, 4).tolist(),
            "io_scale": self.io_scale,
            "metrics": self.metrics,
            "trained_on": self.trained_on,
            "command": self.command,
            "notes": self.notes,
        }

    def save(self, path: Path = MODEL_PATH) -> None:
        """Write the artifact."""
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(self.to_json(), indent=1, ensure_ascii=False) + "\n")

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> "RecommenderModel":
        """Read an artifact."""
        weights = {k: float(data["weights"].get(k, 0.0)) for k in SUBFEATURES}
        return cls(
            weights=weights,
            comember=np.asarray(data["comember"], dtype=np.float32),
            divisions=list(data["divisions"]),
            io_scale=float(data.get("io_scale", 0.05)),
            metrics=data.get("metrics", {}),
            trained_on=data.get("trained_on", ""),
            command=data.get("command", ""),
            notes=data.get("notes", ""),
        )


def goal_modulation(goals: set[str]) -> dict[str, float]:
    """Weight multipliers: horizontal goals favour same-sector firms, vertical ones linked sectors."""
    h = len(goals & HORIZONTAL_GOALS)
    v = len(goals & VERTICAL_GOALS)
    if h == v:
        return {}
    hm, vm = (1.5, 0.75) if h > v else (0.75, 1.5)
    return {**dict.fromkeys(HORIZONTAL, hm), **dict.fromkeys(VERTICAL, vm)}


@lru_cache
def load_model(path: str | None = None) -> RecommenderModel:
    """Load the shipped (or given) model artifact."""
    p = Path(path) if path else MODEL_PATH
    return RecommenderModel.from_json(json.loads(p.read_text()))
