"""Refitting on introductions: accepted partners teach the model what this market values."""

import numpy as np
import pytest

from matchmaker.matching.features import FirmRecord, build_arrays
from matchmaker.matching.fit import MIN_FEEDBACK, fit_from_feedback
from matchmaker.matching.model import load_model
from matchmaker.matching.scoring import io_link_matrix


def _pool():
    recs = []
    for i in range(60):
        goals = ("innovation", "joint_rnd") if i % 2 else ()
        recs.append(FirmRecord(id=i + 1, partita_iva=f"{i + 1:011d}", name=f"F{i}",
                               ateco_code="25.62", ateco_edition="2022",
                               comune_istat="015146" if i % 3 else "016024", goals=goals))
    return build_arrays(recs)


def test_accepting_firms_with_shared_goals_raises_the_goals_weight():
    a = _pool()
    model = load_model()
    io = io_link_matrix(None, None, model.io_scale, len(model.divisions))
    seekers = [1, 3, 5, 7, 9]  # all have goals
    pairs = [(s, c, bool(c % 2)) for s in seekers for c in range(20, 40)]
    refit = fit_from_feedback(a, model, io, pairs, prior_strength=5.0)
    assert refit.component_weights()["goals"] > model.component_weights()["goals"]
    assert all(v >= 0 for v in refit.weights.values())
    assert refit.metrics["feedback"]["decisions"] == len(pairs)


def test_too_little_feedback_is_refused_with_a_reason():
    a = _pool()
    model = load_model()
    io = io_link_matrix(None, None, model.io_scale, len(model.divisions))
    with pytest.raises(ValueError, match=str(MIN_FEEDBACK)):
        fit_from_feedback(a, model, io, [(1, 2, True)] * 5)
    with pytest.raises(ValueError):
        fit_from_feedback(a, model, io, [(1, c, True) for c in range(2, 40)])  # no declines
    assert np.isfinite(list(model.weights.values())).all()
