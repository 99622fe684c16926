"""The robust plan (siting.optimize.futures.robust) against brute force, and never worse in
its worst future than any future's own plan."""

from __future__ import annotations

import itertools

import numpy as np
import pytest
import scipy.sparse as sp
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from siting.optimize import CapacitatedCoverage
from siting.optimize.futures.robust import RobustPlan, plan_share


def _futures(seed: int, types: tuple[str, ...] = ("AC",)) -> list[CapacitatedCoverage]:
    rng = np.random.default_rng(seed)
    n, m = int(rng.integers(4, 10)), int(rng.integers(3, 6))
    nb = sp.csr_array((rng.random((n, m)) < 0.5).astype(float))
    p = int(rng.integers(1, m + 1))
    capacity = {t: c for t, c in (("AC", 3.0), ("DC", 4.0)) if t in types}
    fixed = np.array([0]) if rng.random() < 0.3 else np.zeros(0, dtype=np.int64)
    out = []
    for _ in range(int(rng.integers(2, 4))):  # futures: demand moves and grows unevenly
        ac = rng.integers(0, 5, size=n).astype(float)
        dc = rng.integers(0, 3, size=n).astype(float) if "DC" in types else np.zeros(n)
        out.append(CapacitatedCoverage(nb, ac, dc, capacity, p, fixed=fixed))
    return out


def _brute(models: list[CapacitatedCoverage], criterion: str, q: float = 0.0) -> float:
    first = models[0]
    m = first.neighbours.shape[1]
    fixed = set(first.fixed.tolist())
    rest = [j for j in range(m) if j not in fixed]
    best = -np.inf
    for add in itertools.combinations(rest, first.p - len(fixed)):
        sites = np.array(sorted(fixed | set(add)))
        shares = [plan_share(mod, sites, np.array(["AC"] * len(sites))) for mod in models]
        if criterion == "mean":
            value = float(np.mean(shares))
        else:  # the best share met by all but the q share of the futures
            keep = int(np.ceil((1 - q) * len(shares) - 1e-9))
            value = sorted(shares, reverse=True)[keep - 1]
        best = max(best, value)
    return best


@settings(
    max_examples=25, deadline=None, derandomize=True, suppress_health_check=[HealthCheck.too_slow]
)
@given(st.integers(0, 100_000), st.sampled_from(["worst", "mean", "quantile"]))
def test_robust_plan_matches_brute_force(seed: int, criterion: str) -> None:
    models = _futures(seed)
    q = 0.4 if criterion == "quantile" else 0.0
    res = RobustPlan(models, criterion=criterion, quantile=q).solve(gap=0.0)  # type: ignore[arg-type]
    assert res.status == "optimal"
    assert res.objective == pytest.approx(_brute(models, criterion, q), abs=1e-6)
    # the shares it reports are what its stations serve in each future
    for model, share in zip(models, res.shares, strict=True):
        assert plan_share(model, res.selected, res.types) == pytest.approx(share, abs=1e-6)


@settings(max_examples=15, deadline=None, derandomize=True)
@given(st.integers(0, 100_000), st.sampled_from(["highs", "cbc"]))
def test_worst_case_no_worse_than_any_futures_own_plan(seed: int, solver: str) -> None:
    models = _futures(seed, types=("AC", "DC"))
    robust = RobustPlan(models, criterion="worst").solve(solver, gap=0.0)
    for own_model in models:
        own = own_model.solve(solver, gap=0.0)
        types = np.asarray(own.extra["types"])
        worst = min(plan_share(m, own.selected, types, solver=solver) for m in models)
        assert robust.objective >= worst - 1e-6
    assert len(robust.selected) == models[0].p
    assert set(models[0].fixed.tolist()) <= set(robust.selected.tolist())
