"""Capacitated coverage: capacities held, DC demand at DC stations, exact on small cases."""

from __future__ import annotations

import itertools

import numpy as np
import pytest
from scipy.optimize import linprog

from siting.optimize import CapacitatedCoverage
from siting.queueing import daily_capacity, erlang_c, max_arrival_rate, mean_wait_h


def instance(seed: int, n: int = 10, m: int = 5):  # type: ignore[no-untyped-def]
    rng = np.random.default_rng(seed)
    d = rng.uniform(0, 10, (n, 2))
    s = rng.uniform(0, 10, (m, 2))
    cost = np.linalg.norm(d[:, None] - s[None], axis=2)
    return cost, rng.uniform(0, 6, n).round(1), rng.uniform(0, 3, n).round(1)


def best_served(cost, ac, dc, cap, p, threshold):  # type: ignore[no-untyped-def]
    """Brute force: every choice of p sites and their types, the assignment by LP."""
    n, m = cost.shape
    near = cost <= threshold
    best = 0.0
    types = list(cap)
    for sites in itertools.combinations(range(m), p):
        for kinds in itertools.product(types, repeat=p):
            # variables: u_ij and v_ij for i in range(n), j in sites (v only at DC)
            cols, c = [], []
            for i in range(n):
                for j, t in zip(sites, kinds, strict=True):
                    if near[i, j]:
                        cols.append(("u", i, j, t))
                        c.append(-ac[i])
                        if t == "DC":
                            cols.append(("v", i, j, t))
                            c.append(-dc[i])
            if not cols:
                continue
            A, b = [], []
            for i in range(n):
                for kind in ("u", "v"):
                    A.append([1.0 if (k == kind and ii == i) else 0.0 for k, ii, _, _ in cols])
                    b.append(1.0)
            for j, t in zip(sites, kinds, strict=True):
                A.append(
                    [(ac[ii] if k == "u" else dc[ii]) if jj == j else 0.0 for k, ii, jj, _ in cols]
                )
                b.append(cap[t])
            res = linprog(c, A_ub=A, b_ub=b, bounds=(0, 1), method="highs")
            best = max(best, -res.fun)
    return best


@pytest.mark.parametrize("seed", range(3))
@pytest.mark.parametrize("link_rows", [False, True])
def test_matches_brute_force(seed: int, link_rows: bool) -> None:
    cost, ac, dc = instance(seed)
    cap = {"AC": 4.0, "DC": 7.0}
    model = CapacitatedCoverage.from_cost_matrix(
        cost, ac, dc, cap, 2, threshold=4.0, link_rows=link_rows
    )
    res = model.solve(gap=0.0)
    assert res.status == "optimal"
    assert res.objective == pytest.approx(best_served(cost, ac, dc, cap, 2, 4.0), rel=1e-6)


def test_capacity_and_dc_rules_hold() -> None:
    cost, ac, dc = instance(7, n=60, m=15)
    cap = {"AC": 5.0, "DC": 9.0}
    res = CapacitatedCoverage.from_cost_matrix(
        cost, ac, dc, cap, 5, threshold=3.5, fixed=np.array([0])
    ).solve(gap=0.0)
    x = res.extra
    assert 0 in res.selected and len(res.selected) == 5
    assert np.all(x["load"] <= x["capacity"] + 1e-6)
    assert np.all(x["utilisation"] <= 1 + 1e-9)
    assert np.all(x["served_ac"] <= ac + 1e-9) and np.all(x["served_dc"] <= dc + 1e-9)
    assert x["served_ac"].sum() + x["served_dc"].sum() == pytest.approx(res.objective, rel=1e-6)
    # without DC stations, DC demand is never served
    with pytest.warns(UserWarning, match="DC demand cannot be served"):
        ac_only = CapacitatedCoverage.from_cost_matrix(cost, ac, dc, {"AC": 5.0}, 5, threshold=3.5)
    assert ac_only.solve().extra["served_dc"].sum() == 0.0


def test_erlang_c_against_known_values() -> None:
    # M/M/1: P(wait) = rho; M/M/2 with a = 1: C = 1/3
    assert erlang_c(1, 0.5) == pytest.approx(0.5)
    assert erlang_c(2, 1.0) == pytest.approx(1 / 3)
    assert mean_wait_h(1, 0.5, 1.0) == pytest.approx(1.0)  # Wq = rho / (mu - lambda)
    lam = max_arrival_rate(2, 1.0, max_wait_prob=1 / 3)
    assert lam == pytest.approx(1.0, rel=1e-6)
    assert daily_capacity(2, 1.0, 0.1, max_wait_prob=1 / 3) == pytest.approx(10.0, rel=1e-6)
