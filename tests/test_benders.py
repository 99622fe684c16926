"""The p-median by Benders decomposition (siting.optimize.pmedian._benders): exact and honest.

Against brute force on random instances (dense and sparse, with and without an
unserved cost, with existing sites), and a forced time limit reports a bound no
higher than the optimum.
"""

from __future__ import annotations

import itertools

import numpy as np
import scipy.sparse as sp
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from siting.optimize.options import SolveOptions
from siting.optimize.pmedian import _benders


def _instance(seed: int) -> tuple[sp.csr_array, np.ndarray, int, np.ndarray, float | None]:
    rng = np.random.default_rng(seed)
    n, m = int(rng.integers(3, 12)), int(rng.integers(2, 8))
    p = int(rng.integers(1, m + 1))
    d = rng.integers(0, 20, size=(n, m)).astype(float)
    w = rng.integers(0, 4, size=n).astype(float)
    mask = rng.random((n, m)) < (0.6 if rng.random() < 0.5 else 1.1)
    unserved = float(d.max() + 5) if rng.random() < 0.5 else None
    fixed = np.sort(rng.choice(m, int(rng.integers(0, min(p, 2) + 1)), replace=False))
    r, c = np.nonzero(mask)
    return sp.csr_array((d[r, c], (r, c)), shape=(n, m)), w, p, fixed.astype(np.int64), unserved


def _cost(m: sp.csr_array, w: np.ndarray, plan: tuple[int, ...], unserved: float | None) -> float:
    dense = m.toarray()
    reach = np.zeros(m.shape, dtype=bool)
    reach[np.repeat(np.arange(m.shape[0]), np.diff(m.indptr)), m.indices] = True
    total = 0.0
    for i in np.flatnonzero(w > 0):
        near = [dense[i, j] for j in plan if reach[i, j]]
        if near:
            total += w[i] * min(near)
        elif unserved is None:
            return np.inf
        else:
            total += w[i] * unserved
    return total


def _brute(
    m: sp.csr_array, w: np.ndarray, p: int, fixed: np.ndarray, unserved: float | None
) -> tuple[float, tuple[int, ...], list[tuple[int, ...]], list[float]]:
    plans = [c for c in itertools.combinations(range(m.shape[1]), p) if set(fixed) <= set(c)]
    costs = [_cost(m, w, c, unserved) for c in plans]
    k = int(np.argmin(costs))
    return costs[k], plans[k], plans, costs


@settings(
    max_examples=60, deadline=None, derandomize=True, suppress_health_check=[HealthCheck.too_slow]
)
@given(st.integers(0, 10_000))
def test_benders_matches_brute_force(seed: int) -> None:
    m, w, p, fixed, unserved = _instance(seed)
    best, _, plans, costs = _brute(m, w, p, fixed, unserved)
    if not np.isfinite(best):
        return  # no plan reaches every client: not a p-median instance
    start = next(c for c, v in zip(plans, costs, strict=True) if np.isfinite(v))  # feasible
    rows = _benders.Rows.from_csr(m.indptr, m.indices, m.data, w, m.shape[1], unserved)
    res = _benders.solve(rows, p, fixed, np.array(start), SolveOptions(gap=0.0))
    assert res.status == "optimal"
    assert res.cost == best
    assert res.bound <= best + 1e-9
    assert _cost(m, w, tuple(res.selected.tolist()), unserved) == res.cost
    assert set(fixed.tolist()) <= set(res.selected.tolist()) and len(res.selected) == p


def test_separation_gives_the_nearest_open_site_at_an_integer_plan() -> None:
    m, w, p, _, _ = _instance(7)
    w = np.ones_like(w)
    rows = _benders.Rows.from_csr(m.indptr, m.indices, m.data, w, m.shape[1], 1e6)
    y = np.zeros(m.shape[1])
    y[:p] = 1.0
    value, _, _ = _benders.separate(rows, y)
    assert float(value.sum()) + rows.constant == _cost(m, w, tuple(range(p)), 1e6)


def test_a_time_limit_reports_feasible_with_a_bound_below_the_optimum() -> None:
    rng = np.random.default_rng(3)
    pts, sites = rng.uniform(0, 100, (300, 2)), rng.uniform(0, 100, (120, 2))
    d = np.round(np.linalg.norm(pts[:, None] - sites[None], axis=2))
    m = sp.csr_array(d)
    w = np.ones(len(pts))
    rows = _benders.Rows.from_csr(m.indptr, m.indices, m.data, w, m.shape[1], None)
    start = np.arange(15)
    short = _benders.solve(
        rows, 15, np.zeros(0, dtype=np.int64), start, SolveOptions(gap=0.0, time_limit=1e-3)
    )
    full = _benders.solve(rows, 15, np.zeros(0, dtype=np.int64), start, SolveOptions(gap=0.0))
    assert full.status == "optimal"
    assert short.status == "feasible" and short.stopped_by is not None
    assert np.isfinite(short.bound) and short.bound <= full.cost + 1e-9
    assert short.cost >= full.cost


def test_side_constraints_fall_back_and_say_so(caplog) -> None:  # type: ignore[no-untyped-def]
    from siting.optimize import PMedian

    rng = np.random.default_rng(4)
    pts, sites = rng.uniform(0, 30, (60, 2)), rng.uniform(0, 30, (15, 2))
    d = np.linalg.norm(pts[:, None] - sites[None], axis=2)
    model = PMedian.from_cost_matrix(d, np.ones(len(pts)), 4)
    model.set_side_constraints(
        spacing_pairs=np.array([[0, 1]]),
        groups=None,
        equity_share=0.0,
        fixed=model.fixed,
        weights=model.weights,
        reachable=np.ones(len(pts), dtype=bool),
    )
    with caplog.at_level("INFO", logger="siting"):
        res = model.solve()
    assert "benders" not in res.extra
    assert "rule out the Lagrangian steps and the Benders decomposition" in caplog.text
    assert res.status == "optimal" and not {0, 1} <= set(res.selected.tolist())
