"""The program siting hands to HiGHS in bulk is PuLP's own, column for column."""

from __future__ import annotations

from typing import Any

import numpy as np
import pulp
import pytest


def _random_problem(seed: int) -> pulp.LpProblem:
    """Integer and continuous columns, free and unbounded ones, rows of every sense
    with zero coefficients, and columns outside the objective or outside every row."""
    rng = np.random.default_rng(seed)
    sense = pulp.LpMaximize if seed % 2 else pulp.LpMinimize
    prob = pulp.LpProblem(f"p{seed}", sense)
    n = int(rng.integers(3, 25))
    xs = []
    for i in range(n):
        low = [None, 0, -2.5, 1][int(rng.integers(4))]
        up = [None, 1, 7.25][int(rng.integers(3))]
        if low is not None and up is not None and low > up:
            low, up = up, low
        cat = pulp.LpInteger if rng.random() < 0.5 else pulp.LpContinuous
        xs.append(prob.add_variable(f"x{i}", lowBound=low, upBound=up, cat=cat))
    senses = [pulp.LpConstraintLE, pulp.LpConstraintGE, pulp.LpConstraintEQ]
    for r in range(int(rng.integers(1, 12))):
        chosen = rng.choice(n, size=int(rng.integers(1, n + 1)), replace=False)
        coefs = rng.integers(-3, 4, size=len(chosen)).astype(float)  # some are 0
        expr = pulp.LpAffineExpression([(xs[i], c) for i, c in zip(chosen, coefs, strict=True)])
        prob += pulp.LpConstraint(expr, senses[r % 3], f"r{r}", float(rng.integers(-5, 6)))
    in_objective = rng.random(n) < 0.7
    prob += pulp.LpAffineExpression(
        [(x, float(rng.normal())) for x, keep in zip(xs, in_objective, strict=True) if keep]
    )
    return prob


def _built(prob: pulp.LpProblem, solver: Any) -> dict[str, np.ndarray]:
    solver.createAndConfigureSolver(prob)
    solver.buildSolverModel(prob)
    lp = prob.solverModel.getLp()
    out = {
        f: np.asarray(getattr(lp, f))
        for f in ("col_cost_", "col_lower_", "col_upper_", "row_lower_", "row_upper_")
    }
    out["integrality"] = np.asarray([int(v.value) for v in lp.integrality_])
    out["format"] = np.asarray([int(lp.a_matrix_.format_.value)])
    for f in ("start_", "index_", "value_"):
        out[f] = np.asarray(getattr(lp.a_matrix_, f))
    out["var_index"] = np.asarray([v.index for v in prob.variables()])
    out["row_index"] = np.asarray([c.index for c in prob._constraints.values()])
    return out


@pytest.mark.parametrize("seed", range(12))
def test_bulk_build_is_pulps_model(seed: int) -> None:
    from siting.optimize._solvers import _WarmHiGHS

    pulps = _built(_random_problem(seed), pulp.HiGHS(msg=False))
    ours = _built(_random_problem(seed), _WarmHiGHS(msg=False))
    assert pulps.keys() == ours.keys()
    for key, value in pulps.items():
        np.testing.assert_array_equal(ours[key], value, err_msg=key)


def test_bulk_build_solves_to_the_known_optimum() -> None:
    """max 3a + 2b, a + b <= 4, a + 3b <= 6, a <= 3 (a integer): a = 3, b = 1."""
    from siting.optimize import SolveOptions, _solvers

    prob = pulp.LpProblem("small", pulp.LpMaximize)
    a = prob.add_variable("a", lowBound=0, upBound=3, cat=pulp.LpInteger)
    b = prob.add_variable("b", lowBound=0)
    unused = prob.add_variable("unused", lowBound=None)
    prob += 3 * a + 2 * b
    prob += a + b + 0 * unused <= 4, "sum"
    prob += a + 3 * b <= 6, "second"
    info = _solvers.run(prob, SolveOptions("highs", time_limit=30.0))
    assert info.status == "optimal"
    assert info.objective == pytest.approx(11.0)
    assert (a.varValue, b.varValue) == pytest.approx((3.0, 1.0))
