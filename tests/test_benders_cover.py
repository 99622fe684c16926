"""The maximal covering model by Benders decomposition (siting._benders_cover).

Against brute force on random instances (with and without existing sites, points
out of reach, zero weights), its cuts valid at every plan, a forced time limit
reporting a bound no lower than the optimum, and the model's own solve taking the
decomposition and giving the present path's optimum.
"""

from __future__ import annotations

import itertools

import numpy as np
import pytest
import scipy.sparse as sp
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from siting import _benders_cover
from siting import settings as siting_settings
from siting.optimize import MaximalCovering


def _instance(seed: int) -> tuple[sp.csr_array, sp.csr_array, np.ndarray, int, np.ndarray]:
    rng = np.random.default_rng(seed)
    n, m = int(rng.integers(3, 30)), int(rng.integers(2, 9))
    p = int(rng.integers(1, m + 1))
    reach = rng.random((n, m)) < rng.uniform(0.1, 0.6)
    times = np.where(reach, rng.integers(1, 300, size=(n, m)), 0).astype(float)
    w = rng.integers(0, 6, size=n).astype(float)
    fixed = np.sort(rng.choice(m, int(rng.integers(0, min(p, 2) + 1)), replace=False))
    return sp.csr_array(reach.astype(float)), sp.csr_array(times), w, p, fixed.astype(np.int64)


def _covered(nb: sp.csr_array, w: np.ndarray, plan: tuple[int, ...] | np.ndarray) -> float:
    hit = nb.toarray()[:, list(plan)].sum(axis=1) > 0
    return float(w[hit].sum())


def _brute(nb: sp.csr_array, w: np.ndarray, p: int, fixed: np.ndarray) -> float:
    plans = [c for c in itertools.combinations(range(nb.shape[1]), p) if set(fixed) <= set(c)]
    return max(_covered(nb, w, c) for c in plans)


@settings(
    max_examples=80, deadline=None, derandomize=True, suppress_health_check=[HealthCheck.too_slow]
)
@given(st.integers(0, 100_000), st.booleans())
def test_benders_matches_brute_force(seed: int, by_time: bool) -> None:
    nb, times, w, p, fixed = _instance(seed)
    best = _brute(nb, w, p, fixed)
    clients = _benders_cover.Clients.from_neighbours(nb, w, fixed, costs=times if by_time else None)
    free = [j for j in range(nb.shape[1]) if j not in set(fixed.tolist())]
    start = np.concatenate([fixed, free[: p - len(fixed)]]).astype(np.int64)
    res = _benders_cover.solve(clients, p, fixed, start, gap=0.0)
    assert res.status == "optimal"
    assert res.value == pytest.approx(best, abs=1e-9)
    assert res.bound >= best - 1e-9
    assert _covered(nb, w, res.selected) == pytest.approx(res.value, abs=1e-9)
    assert set(fixed.tolist()) <= set(res.selected.tolist()) and len(res.selected) == p


@settings(max_examples=40, deadline=None, derandomize=True)
@given(st.integers(0, 100_000))
def test_every_cut_holds_at_every_plan(seed: int) -> None:
    """The dual cut (at a fractional point) and both cuts at a plan never cut off
    a plan's true cover, group by group."""
    nb, _, w, _, _ = _instance(seed)
    clients = _benders_cover.Clients.from_neighbours(nb, w, np.zeros(0, dtype=np.int64))
    rng = np.random.default_rng(seed)
    n_s = nb.shape[1]
    points = [rng.random(n_s), (rng.random(n_s) < 0.5).astype(float)]
    every = np.arange(clients.n_groups)
    for y in points:
        s = clients.nb @ y
        groups, rhs, a = _benders_cover.cuts_at(clients, y, s, every)
        for plan in itertools.product([0.0, 1.0], repeat=n_s):
            x = np.array(plan)
            _, per = clients.cover(x)
            assert (per[groups] <= rhs + a @ x + 1e-9).all()
        # the dual cut is tight where it was made
        _, per = clients.cover(y)
        k = len(every)
        assert np.allclose(rhs[:k] + a[:k] @ y, per)


def test_a_time_limit_reports_feasible_with_a_bound_above_the_optimum() -> None:
    rng = np.random.default_rng(5)
    pts, sites = rng.uniform(0, 100, (600, 2)), rng.uniform(0, 100, (60, 2))
    d = np.linalg.norm(pts[:, None] - sites[None], axis=2)
    w = rng.integers(1, 5, size=len(pts)).astype(float)
    none = np.zeros(0, dtype=np.int64)
    nb = sp.csr_array((d <= 12).astype(float))
    clients = _benders_cover.Clients.from_neighbours(nb, w, none)
    short = _benders_cover.solve(clients, 8, none, np.arange(8), gap=0.0, time_limit=1e-3)
    # the optimum by the present path (Lagrangian bound and integer program)
    full = MaximalCovering.from_cost_matrix(d, w, 8, threshold=12.0).solve(gap=0.0)
    assert full.status == "optimal"
    assert short.status == "feasible" and short.stopped_by is not None
    assert short.bound >= full.objective - 1e-6
    assert short.value <= full.objective + 1e-6


def test_the_model_takes_the_decomposition_and_finds_the_present_optimum(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    rng = np.random.default_rng(11)
    pts, sites = rng.uniform(0, 60, (800, 2)), rng.uniform(0, 60, (120, 2))
    cost = np.linalg.norm(pts[:, None] - sites[None], axis=2)
    w = rng.integers(1, 4, size=len(pts)).astype(float)
    fixed = np.array([3, 40])
    present = MaximalCovering.from_cost_matrix(cost, w, 12, threshold=8.0, fixed=fixed).solve()
    monkeypatch.setattr(siting_settings, "COVER_BENDERS_MIN_PAIRS", 0)
    res = MaximalCovering.from_cost_matrix(cost, w, 12, threshold=8.0, fixed=fixed).solve()
    assert "benders" in res.extra and "lagrangian" not in res.extra
    assert present.status == res.status == "optimal"
    assert res.objective == pytest.approx(present.objective, rel=1e-4)
    assert set(fixed.tolist()) <= set(res.selected.tolist()) and len(res.selected) == 12
    # CBC, or a side constraint, keeps the present path
    cbc = MaximalCovering.from_cost_matrix(cost, w, 12, threshold=8.0, fixed=fixed).solve("cbc")
    assert "lagrangian" in cbc.extra


def test_side_constraints_fall_back_and_say_so(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    rng = np.random.default_rng(2)
    pts, sites = rng.uniform(0, 30, (200, 2)), rng.uniform(0, 30, (40, 2))
    cost = np.linalg.norm(pts[:, None] - sites[None], axis=2)
    w = np.ones(len(pts))
    monkeypatch.setattr(siting_settings, "COVER_BENDERS_MIN_PAIRS", 0)
    model = MaximalCovering.from_cost_matrix(cost, w, 6, threshold=6.0)
    model.set_side_constraints(
        spacing_pairs=np.array([[0, 1]]),
        groups=None,
        equity_share=0.0,
        fixed=model.fixed,
        weights=w,
        reachable=np.diff(model.neighbours.indptr) > 0,
    )
    with caplog.at_level("INFO", logger="siting"):
        res = model.solve()
    assert "benders" not in res.extra
    assert "rule out the Benders decomposition" in caplog.text
    assert not {0, 1} <= set(res.selected.tolist())
