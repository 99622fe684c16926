"""Private: the rows of the capacitated model (:class:`~siting.optimize.CapacitatedCoverage`).

Station variables and their rows, assignment variables with their share,
capacity and DC rows, the terms of the secondary order and the warm start;
:func:`build` puts them together.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Literal

import numpy as np
import pulp

from siting import settings
from siting.optimize._common import _summed

if TYPE_CHECKING:
    from siting.optimize.capacitated.model import CapacitatedCoverage


def site_rows(
    model: CapacitatedCoverage, prob: pulp.LpProblem, *, at_most: bool
) -> tuple[list[str], dict[str, list[pulp.LpVariable]], list[tuple[pulp.LpVariable, float]]]:
    """Station variables per type and their rows (existing kept, one type per
    site, p, new DC stations, budget); returns the types, the variables and the
    capital-cost terms."""
    n_s = model.neighbours.shape[1]
    types: list[str] = sorted({t for j in range(n_s) for t in model.site_types(j)})
    y: dict[str, list[pulp.LpVariable]] = {}
    for t in types:
        y[t] = [
            prob.add_variable(
                f"y{t}_{j}",
                lowBound=0,
                upBound=1 if t in model.site_types(j) else 0,
                cat=pulp.LpInteger,
            )
            for j in range(n_s)
        ]
    for j in range(n_s):
        both = pulp.LpAffineExpression([(y[t][j], 1.0) for t in types])
        if j in model.fixed_set:
            prob += pulp.LpConstraint(both, pulp.LpConstraintEQ, f"fixed_{j}", 1.0)
        elif len(types) > 1:
            prob += pulp.LpConstraint(both, pulp.LpConstraintLE, f"one_type_{j}", 1.0)
    # with a budget (or a floor on served), p is an upper bound on the stations
    prob += pulp.LpConstraint(
        pulp.LpAffineExpression([(v, 1.0) for t in types for v in y[t]]),
        pulp.LpConstraintLE if at_most else pulp.LpConstraintEQ,
        "p_sites",
        float(model.p),
    )
    cost_terms = [
        (y[t][j], model.cost_of(j, t))
        for t in types
        for j in range(n_s)
        if model.cost_of(j, t) > 0 and t in model.site_types(j)
    ]
    if model.max_dc is not None and ("DC" in y or model.dc_exact):
        new_dc = [(y["DC"][j], 1.0) for j in range(n_s) if "DC" in y and j not in model.fixed_set]
        prob += pulp.LpConstraint(
            pulp.LpAffineExpression(new_dc),
            pulp.LpConstraintEQ if model.dc_exact else pulp.LpConstraintLE,
            "max_dc",
            float(model.max_dc),
        )
    if model.budget is not None:
        prob += pulp.LpConstraint(
            pulp.LpAffineExpression(cost_terms),
            pulp.LpConstraintLE,
            "budget",
            float(model.budget),
        )
    return types, y, cost_terms


def assignment_rows(
    model: CapacitatedCoverage,
    prob: pulp.LpProblem,
    y: dict[str, list[pulp.LpVariable]],
    types: list[str],
) -> tuple[
    dict[str, Any], list[tuple[pulp.LpVariable, float]], list[tuple[pulp.LpVariable, float]]
]:
    """Assignment variables and their rows (shares, capacities, DC at DC stations,
    side constraints); returns the variables, the served terms and the
    access-time terms."""
    nb = model.neighbours
    n_d, n_s = nb.shape
    load: list[list[tuple[pulp.LpVariable, float]]] = [[] for _ in range(n_s)]
    dc_load: list[list[tuple[pulp.LpVariable, float]]] = [[] for _ in range(n_s)]
    objective: list[tuple[pulp.LpVariable, float]] = []
    access: list[tuple[pulp.LpVariable, float]] = []
    assign: dict[str, Any] = {"u": {}, "v": {}}
    for i in range(n_d):
        lo, hi = nb.indptr[i], nb.indptr[i + 1]
        js = nb.indices[lo:hi].tolist()
        if not js:
            continue
        for kind, amount in (("u", model.ac[i]), ("v", model.dc[i])):
            if amount <= 0 or (kind == "v" and "DC" not in types):
                continue
            xs = []
            for k, j in enumerate(js):
                x = prob.add_variable(f"{kind}_{i}_{j}", lowBound=0, upBound=1)
                xs.append(x)
                assign[kind][(i, j)] = x
                load[j].append((x, float(amount)))
                if kind == "v":
                    dc_load[j].append((x, float(amount)))
                objective.append((x, float(amount)))
                if model.times is not None:
                    access.append((x, float(amount) * float(model.times[lo + k])))
                if model.link_rows:
                    allowed = ["DC"] if kind == "v" else types
                    link = [(x, 1.0)] + [(y[t][j], -1.0) for t in allowed]
                    prob += pulp.LpConstraint(
                        pulp.LpAffineExpression(link),
                        pulp.LpConstraintLE,
                        f"link_{kind}_{i}_{j}",
                        0.0,
                    )
            prob += pulp.LpConstraint(
                pulp.LpAffineExpression([(x, 1.0) for x in xs]),
                pulp.LpConstraintLE,
                f"share_{kind}_{i}",
                1.0,
            )
    for j in range(n_s):
        if not load[j]:
            continue
        cap = [(y[t][j], -model.capacity_of(j, t)) for t in types if t in model.site_types(j)]
        prob += pulp.LpConstraint(
            pulp.LpAffineExpression(load[j] + cap), pulp.LpConstraintLE, f"capacity_{j}", 0.0
        )
        if dc_load[j]:
            # DC demand only at a DC station (v_ij <= y^DC_j, aggregated per site)
            prob += pulp.LpConstraint(
                pulp.LpAffineExpression(dc_load[j] + [(y["DC"][j], -model.capacity_of(j, "DC"))]),
                pulp.LpConstraintLE,
                f"dc_capacity_{j}",
                0.0,
            )
    served: dict[int, list[tuple[pulp.LpVariable, float]]] = {}
    for kind, amounts in (("u", model.ac), ("v", model.dc)):
        for (i, _), x in assign[kind].items():
            served.setdefault(i, []).append((x, float(amounts[i])))
    opened = [pulp.LpAffineExpression([(y[t][j], 1.0) for t in types]) for j in range(n_s)]
    model.add_side_constraints(prob, opened, served, model.ac + model.dc)
    return assign, objective, access


def secondary_terms(
    model: CapacitatedCoverage,
    prob: pulp.LpProblem,
    y: dict[str, list[pulp.LpVariable]],
    assign: dict[str, Any],
    access: list[tuple[pulp.LpVariable, float]],
    cost_terms: list[tuple[pulp.LpVariable, float]],
) -> list[tuple[pulp.LpVariable, float]]:
    """Objective terms of the secondary order, adding the cover variables z_i."""
    nb = model.neighbours
    alpha, beta = settings.SECONDARY_WEIGHTS
    w = model.ac + model.dc
    terms: list[tuple[pulp.LpVariable, float]] = []
    for i in range(nb.shape[0]) if model.secondary != "cost" else []:
        js = nb.indices[nb.indptr[i] : nb.indptr[i + 1]].tolist()
        if not js or w[i] <= 0:
            continue
        z = prob.add_variable(f"z_{i}", lowBound=0, upBound=1)
        terms.append((z, float(w[i])))
        row = [(z, 1.0)] + [(y[t][j], -1.0) for t in y for j in js]
        prob += pulp.LpConstraint(
            pulp.LpAffineExpression(row), pulp.LpConstraintLE, f"cover_{i}", 0.0
        )
        assign.setdefault("z", {})[i] = z
    scale_t = float(model.times.max()) if model.times is not None and len(model.times) else 1.0
    terms += [(x, -alpha * c / max(scale_t, 1e-9)) for x, c in access]
    top = max((c for _, c in cost_terms), default=0.0)
    if top > 0:
        terms += [(v, -beta * c / top) for v, c in cost_terms]
    return terms


def chosen_types(y: dict[str, list[pulp.LpVariable]], n_sites: int) -> np.ndarray:
    """Each site's station type in the solved plan ("" where no station)."""
    site_type = np.full(n_sites, "", dtype=object)
    for t, vs in y.items():
        for j, v in enumerate(vs):
            if (v.varValue or 0.0) > 0.5:
                site_type[j] = t
    return site_type


def warm(
    model: CapacitatedCoverage,
    y: dict[str, list[pulp.LpVariable]],
    assign: dict[str, Any],
    start: dict[str, Any],
) -> None:
    for t, vs in y.items():
        for j, v in enumerate(vs):
            v.setInitialValue(1.0 if start["types"].get(j) == t else 0.0)
    for kind in ("u", "v"):
        for key, x in assign[kind].items():
            x.setInitialValue(min(1.0, max(0.0, start[kind].get(key, 0.0))))
    nb = model.neighbours
    for i, z in assign.get("z", {}).items():
        js = nb.indices[nb.indptr[i] : nb.indptr[i + 1]].tolist()
        z.setInitialValue(1.0 if any(j in start["types"] for j in js) else 0.0)


def build(
    model: CapacitatedCoverage,
    *,
    floor: float | None = None,
    start: dict[str, Any] | None = None,
    mode: Literal["secondary", "cost", "stations"] = "secondary",
    weight: float | None = None,
) -> tuple[pulp.LpProblem, dict[str, list[pulp.LpVariable]], dict[str, Any]]:
    """The problem of :meth:`CapacitatedCoverage.build` from the rows above."""
    prob = pulp.LpProblem(model.name, pulp.LpMaximize)
    at_most = model.budget is not None or (floor is not None and mode != "secondary")
    types, y, cost_terms = site_rows(model, prob, at_most=at_most)
    assign, objective, access = assignment_rows(model, prob, y, types)
    n_s = model.neighbours.shape[1]
    if floor is None and weight is None:
        prob += pulp.LpAffineExpression(objective), "served"
    elif floor is None:
        # served plus the secondary order, weighted so that it can move the served
        # total by at most half the gap tolerance (see the class docstring)
        terms = secondary_terms(model, prob, y, assign, access, cost_terms)
        lam = float(weight or 0.0)
        prob += (
            _summed(objective + [(v, lam * c) for v, c in terms]),
            "served",
        )
    else:
        prob += pulp.LpConstraint(
            pulp.LpAffineExpression(objective), pulp.LpConstraintGE, "served_floor", floor
        )
        if mode == "secondary":
            terms = secondary_terms(model, prob, y, assign, access, cost_terms)
            prob += _summed(terms), "secondary"
        else:
            prob.sense = pulp.LpMinimize
            new_sites = [
                (y[t][j], 1.0) for t in types for j in range(n_s) if j not in model.fixed_set
            ]
            if mode == "cost":
                # least cost, then (a tie-break worth less than any cost step) fewer sites
                top = max((c for _, c in cost_terms), default=0.0)
                tiny = 1e-6 * top if top > 0 else 1.0
                terms = cost_terms + [(v, tiny) for v, _ in new_sites]
            else:
                top = max((c for _, c in cost_terms), default=0.0)
                terms = new_sites + [(v, 1e-4 * c / top) for v, c in cost_terms if top > 0]
            prob += _summed(terms), mode
    if start is not None:
        warm(model, y, assign, start)
    return prob, y, assign
