"""Private: the integer program of the maximal covering model
(:class:`~siting.optimize.MaximalCovering`), built sparsely in PuLP: one row per
reachable point (points an existing site covers are a constant, points with the
same sites in reach share a row), and the tie-break stage's assignment rows.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np
import pulp

from siting._invariants import present
from siting.errors import InputError
from siting.optimize._common import _site_variables
from siting.optimize._rows import cover_rows as _cover_rows

if TYPE_CHECKING:
    from siting.optimize.covering.model import MaximalCovering


def build(
    model: MaximalCovering, *, min_coverage: float | None = None, start: np.ndarray | None = None
) -> tuple[pulp.LpProblem, list[pulp.LpVariable]]:
    """The problem of :meth:`MaximalCovering.build`: covering rows, or with
    ``min_coverage`` the tie-break stage; ``start`` (site indices) warm-starts it."""
    nb = model.neighbours
    n_s = nb.shape[1]
    stage2 = min_coverage is not None
    if stage2 and model.costs is None:
        raise InputError("min_coverage: the tie-break stage needs costs")
    prob = pulp.LpProblem(model.name, pulp.LpMinimize if stage2 else pulp.LpMaximize)
    y = _site_variables(prob, n_s, model.fixed)
    counts = np.diff(nb.indptr)
    rows = np.flatnonzero((counts > 0) & (model.weights > 0))
    row_weight = model.weights
    served_constant = None
    constant = 0.0
    if not stage2:
        # exact reductions: points an existing site covers are covered in every plan,
        # and points with the same sites in reach (and district) share one row
        rows, row_weight, by_fixed = _cover_rows(nb, model.weights, model.fixed, model.groups)
        served_constant = np.where(by_fixed, model.weights, 0.0)
        constant = float(served_constant.sum())
    z = {i: prob.add_variable(f"z_{i}", lowBound=0, upBound=1) for i in rows.tolist()}
    is_open = np.zeros(n_s, dtype=bool)
    hit = np.zeros(nb.shape[0], dtype=bool)
    if start is not None:
        is_open[np.asarray(start, dtype=np.int64)] = True
        hit = np.asarray(nb[:, is_open].sum(axis=1) > 0).ravel()
        for j, v in enumerate(y):
            v.setInitialValue(1.0 if is_open[j] else 0.0)
        for i, v in z.items():
            v.setInitialValue(1.0 if hit[i] else 0.0)
    covered = pulp.LpAffineExpression([(z[i], float(row_weight[i])) for i in z], constant=constant)
    indptr, indices = nb.indptr, nb.indices
    if min_coverage is not None:  # stage 2
        prob += covered >= min_coverage, "coverage_floor"
        obj = access_rows(model, prob, y, z, rows, is_open, hit, start)
        prob += pulp.LpAffineExpression(obj), "weighted_access_s"
    else:
        prob += covered, "covered"
    for i in rows.tolist():
        terms = [(y[j], -1.0) for j in indices[indptr[i] : indptr[i + 1]].tolist()]
        terms.append((z[i], 1.0))
        prob += pulp.LpConstraint(
            pulp.LpAffineExpression(terms), pulp.LpConstraintLE, f"cover_{i}", 0.0
        )
    model.add_site_rows(
        prob,
        y,
        model.p,
        {i: [(z[i], float(row_weight[i]))] for i in z},
        model.weights,
        served_constant,
    )
    return prob, y


def access_rows(
    model: MaximalCovering,
    prob: pulp.LpProblem,
    y: list[pulp.LpVariable],
    z: dict[int, pulp.LpVariable],
    rows: np.ndarray,
    is_open: np.ndarray,
    hit: np.ndarray,
    start: np.ndarray | None,
) -> list[tuple[pulp.LpVariable, float]]:
    """The tie-break stage's assignment: each covered point to one open site in
    reach; returns the demand-weighted access-time terms (warm-started at the
    nearest open site when ``start`` is given)."""
    costs = present(model.costs, "model.costs")  # build() checked it
    indptr, indices = model.neighbours.indptr, model.neighbours.indices
    obj: list[tuple[pulp.LpVariable, float]] = []
    for i in rows.tolist():
        lo, hi = indptr[i], indptr[i + 1]
        xs = [
            prob.add_variable(f"x_{i}_{j}", lowBound=0, upBound=1) for j in indices[lo:hi].tolist()
        ]
        if start is not None:
            js = indices[lo:hi]
            t = np.where(is_open[js], costs.data[lo:hi], np.inf)
            best = int(np.argmin(t)) if hit[i] else -1
            for k, x in enumerate(xs):
                x.setInitialValue(1.0 if k == best else 0.0)
        w = float(model.weights[i])
        obj.extend((x, w * float(t)) for x, t in zip(xs, costs.data[lo:hi], strict=True))
        prob += pulp.LpConstraint(
            pulp.LpAffineExpression([(x, 1.0) for x in xs] + [(z[i], -1.0)]),
            pulp.LpConstraintEQ,
            f"assign_{i}",
            0.0,
        )
        for x, j in zip(xs, indices[lo:hi].tolist(), strict=True):
            prob += pulp.LpConstraint(
                pulp.LpAffineExpression([(x, 1.0), (y[j], -1.0)]),
                pulp.LpConstraintLE,
                f"open_{i}_{j}",
                0.0,
            )
    return obj
