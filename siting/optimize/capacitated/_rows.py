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
from siting.optimize._common import Problem, _summed

if TYPE_CHECKING:
    from siting.optimize.capacitated.model import CapacitatedCoverage


def site_rows(
    model: CapacitatedCoverage, prob: pulp.LpProblem, *, at_most: bool
) -> tuple[list[str], dict[str, list[pulp.LpVariable]], list[tuple[pulp.LpVariable, float]]]:
    """Station variables per design and their rows (existing kept, one design per
    site, p, new DC stations, budget); returns the designs, the variables and the
    capital-cost terms."""
    n_s = model.neighbours.shape[1]
    allowed = [model.site_types(j) for j in range(n_s)]
    types: list[str] = sorted({t for ts in allowed for t in ts})
    y: dict[str, list[pulp.LpVariable]] = {}
    for t in types:
        y[t] = [
            prob.add_variable(
                f"y{t}_{j}",
                lowBound=0,
                upBound=1 if t in allowed[j] else 0,
                cat=pulp.LpInteger,
            )
            for j in range(n_s)
        ]
    for j in range(n_s):
        both = pulp.LpAffineExpression([(y[t][j], 1.0) for t in types])
        if j in model.fixed_set or j in model.forced_set:
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
        if t in allowed[j] and model.cost_of(j, t) > 0
    ]
    dc_types = [t for t in types if model.charger_of(t) == "DC"]
    if model.max_dc is not None and (dc_types or model.dc_exact):
        new_dc = [
            (y[t][j], 1.0)
            for t in dc_types
            for j in range(n_s)
            if j not in model.fixed_set and t in allowed[j]
        ]
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


def servable(model: CapacitatedCoverage) -> np.ndarray:
    """(classes, sites): whether class *c* may charge at site *j* as one of its designs."""
    n_c, n_s = model.demand.shape[0], model.neighbours.shape[1]
    out = np.zeros((n_c, n_s), dtype=bool)
    common = [d for d in model.designs.values() if d.sites is None]
    for c in range(n_c):
        out[c] = any(d.serves(c) for d in common)
        for d in model.designs.values():
            if d.sites is not None and d.serves(c):
                out[c, [j for j in d.sites if j not in model.site_design]] = True
    for j, d in model.site_design.items():
        out[:, j] = [d.serves(c) for c in range(n_c)]
    out[:, model.closed] = False
    return out


def assignment_rows(
    model: CapacitatedCoverage,
    prob: pulp.LpProblem,
    y: dict[str, list[pulp.LpVariable]],
    types: list[str],
) -> tuple[
    dict[str, Any], list[tuple[pulp.LpVariable, float]], list[tuple[pulp.LpVariable, float]]
]:
    """Assignment variables and their rows (shares, capacities, classes only at the
    designs that serve them, minimum shares, side constraints); returns the
    variables, the served terms (sessions/day, unweighted; ``assign["weighted"]``
    holds them weighted by class) and the access-time terms."""
    nb = model.neighbours
    n_c = model.demand.shape[0]
    n_s = nb.shape[1]
    can = servable(model)
    load: list[dict[int, list[tuple[pulp.LpVariable, float]]]] = [{} for _ in range(n_s)]
    objective: list[tuple[pulp.LpVariable, float]] = []
    weighted: list[tuple[pulp.LpVariable, float]] = []
    access: list[tuple[pulp.LpVariable, float]] = []
    assign: dict[str, Any] = {"x": [{} for _ in range(n_c)]}
    served: dict[int, list[tuple[pulp.LpVariable, float]]] = {}
    by_class: list[list[tuple[pulp.LpVariable, float]]] = []
    for c in range(n_c):
        cnb, dem, w = model.class_nb[c], model.demand[c], float(model.class_weight[c])
        mine: list[tuple[pulp.LpVariable, float]] = []
        times = class_times(model, c)
        for i in np.flatnonzero((dem > 0) & (np.diff(cnb.indptr) > 0)).tolist():
            lo, hi = cnb.indptr[i], cnb.indptr[i + 1]
            pairs = [(j, k) for k, j in enumerate(cnb.indices[lo:hi].tolist(), lo) if can[c, j]]
            if not pairs:
                continue
            amount = float(dem[i])
            xs = []
            for j, k in pairs:
                x = prob.add_variable(f"x{c}_{i}_{j}", lowBound=0, upBound=1)
                xs.append(x)
                assign["x"][c][(i, j)] = x
                load[j].setdefault(c, []).append((x, amount))
                objective.append((x, amount))
                weighted.append((x, w * amount))
                mine.append((x, amount))
                served.setdefault(i, []).append((x, amount))
                if times is not None:
                    access.append((x, amount * float(times[k])))
                if model.link_rows:
                    link = [(x, 1.0)] + [
                        (y[t][j], -1.0)
                        for t in model.site_types(j)
                        if model.design_at(j, t).serves(c)
                    ]
                    prob += pulp.LpConstraint(
                        pulp.LpAffineExpression(link),
                        pulp.LpConstraintLE,
                        f"link_{c}_{i}_{j}",
                        0.0,
                    )
            prob += pulp.LpConstraint(
                pulp.LpAffineExpression([(x, 1.0) for x in xs]),
                pulp.LpConstraintLE,
                f"share_{c}_{i}",
                1.0,
            )
        by_class.append(mine)
        if model.min_share[c] > 0:
            prob += pulp.LpConstraint(
                pulp.LpAffineExpression(mine),
                pulp.LpConstraintGE,
                f"min_share_{c}",
                float(model.min_share[c] * model.class_total[c]),
            )
    equity_rows(model, prob, by_class)
    for j in range(n_s):
        if load[j]:
            capacity_rows(model, prob, y, j, load[j])
        if model.min_use:
            use_rows(model, prob, y, j, load[j])
    opened = [pulp.LpAffineExpression([(y[t][j], 1.0) for t in types]) for j in range(n_s)]
    model.add_side_constraints(prob, opened, served, model.weights)
    assign["weighted"] = weighted
    return assign, objective, access


def equity_rows(
    model: CapacitatedCoverage,
    prob: pulp.LpProblem,
    by_class: list[list[tuple[pulp.LpVariable, float]]],
) -> None:
    r"""Each class's served share at least ``class_equity`` times the plan's share:
    :math:`S_c - \epsilon (D_c / D) \sum_k S_k \ge 0` (always met by serving none).

    ``by_class`` holds each class's served terms, every variable once: the row's
    terms are the class's own, then the other classes' in order.
    """
    total = float(model.class_total.sum())
    if model.class_equity <= 0 or total <= 0:
        return
    for c, mine in enumerate(by_class):
        share = model.class_equity * float(model.class_total[c]) / total
        if share <= 0:
            continue
        terms = [(x, a + -share * a) for x, a in mine]
        for k, theirs in enumerate(by_class):
            if k != c:
                terms.extend([(x, -share * a) for x, a in theirs])
        prob += pulp.LpConstraint(
            pulp.LpAffineExpression(terms), pulp.LpConstraintGE, f"class_equity_{c}", 0.0
        )


def use_rows(
    model: CapacitatedCoverage,
    prob: pulp.LpProblem,
    y: dict[str, list[pulp.LpVariable]],
    j: int,
    load: dict[int, list[tuple[pulp.LpVariable, float]]],
) -> None:
    r"""Site ``j`` open as design *t* is used at least its least use:
    :math:`\sum_c u_c \sum_i d_{ci} x_{cij} \ge \sum_t M_{tj} y_{tj}` (one design
    per site; :math:`u_c` each class's use per session)."""
    least = [(y[t][j], -float(m[j])) for t, m in model.min_use.items() if m[j] > 0]
    if not least:
        return
    used = [(x, float(model.class_use[c]) * a) for c, terms in load.items() for x, a in terms]
    prob += pulp.LpConstraint(_summed(used + least), pulp.LpConstraintGE, f"least_use_{j}", 0.0)


def capacity_rows(
    model: CapacitatedCoverage,
    prob: pulp.LpProblem,
    y: dict[str, list[pulp.LpVariable]],
    j: int,
    load: dict[int, list[tuple[pulp.LpVariable, float]]],
) -> None:
    """Site ``j``'s capacity rows for the load of each class there.

    When a class's session takes the same units at every design of the site that
    serves it, aggregated rows are exact (one design per site): the units of all
    the load within the capacity of the open design, and for each set of designs
    serving a class, the load of the classes served only within that set within
    their capacities. Otherwise each class's load is split among the designs
    (:math:`L_{cjt}`), each design's units within its own capacity.
    """
    designs = {t: model.design_at(j, t) for t in model.site_types(j)}
    serving = {c: tuple(t for t, d in designs.items() if d.serves(c)) for c in load}
    units: dict[int, float] = {}
    uniform = True
    for c, ts in serving.items():
        vals = {designs[t].units[c] for t in ts}
        uniform &= len(vals) == 1
        units[c] = next(iter(vals))
    if uniform:
        every = tuple(designs)
        for k, ts in enumerate(dict.fromkeys([every, *sorted(serving.values(), key=len)])):
            inside = [c for c, s in serving.items() if set(s) <= set(ts)]
            within = [(x, units[c] * a) for c in inside for x, a in load[c]]
            cap = [(y[t][j], -designs[t].capacity) for t in ts]
            prob += pulp.LpConstraint(
                pulp.LpAffineExpression(within + cap),
                pulp.LpConstraintLE,
                f"capacity_{j}" if k == 0 else f"capacity_{j}_{k}",
                0.0,
            )
        return
    split: dict[str, list[tuple[pulp.LpVariable, float]]] = {t: [] for t in designs}
    for c, ts in serving.items():
        parts = []
        for t in ts:
            part = prob.add_variable(f"L{c}_{t}_{j}", lowBound=0)
            parts.append((part, -1.0))
            split[t].append((part, designs[t].units[c]))
        prob += pulp.LpConstraint(
            pulp.LpAffineExpression(load[c] + parts), pulp.LpConstraintEQ, f"split_{c}_{j}", 0.0
        )
    for t, terms in split.items():
        if terms:
            prob += pulp.LpConstraint(
                pulp.LpAffineExpression([*terms, (y[t][j], -designs[t].capacity)]),
                pulp.LpConstraintLE,
                f"capacity_{j}_{t}",
                0.0,
            )


def class_times(model: CapacitatedCoverage, c: int) -> np.ndarray | None:
    """Drive times of class ``c``'s pairs, in the order of its stored entries (None
    without times): its pairs lie within the model's, both sorted by row then site,
    so one search over their keys finds them."""
    if model.times is None:
        return None
    nb, cnb = model.neighbours, model.class_nb[c]
    if cnb is nb:
        return model.times
    n_s = nb.shape[1]
    key = np.repeat(np.arange(nb.shape[0]), np.diff(nb.indptr)) * n_s + nb.indices
    mine = np.repeat(np.arange(cnb.shape[0]), np.diff(cnb.indptr)) * n_s + cnb.indices
    return model.times[np.searchsorted(key, mine)]


def secondary_terms(
    model: CapacitatedCoverage,
    prob: pulp.LpProblem,
    y: dict[str, list[pulp.LpVariable]],
    assign: dict[str, Any],
    access: list[tuple[pulp.LpVariable, float]],
    cost_terms: list[tuple[pulp.LpVariable, float]],
) -> list[tuple[pulp.LpVariable, float]]:
    """Objective terms of the secondary order, adding the cover variables z.

    The legacy form covers a point when any station is within its reach (one
    ``z_i``); with designs, each class's demand is covered by a station within its
    own reach of a design it may use (one ``z_ci``)."""
    alpha, beta = settings.SECONDARY_WEIGHTS
    terms: list[tuple[pulp.LpVariable, float]] = []
    if model.secondary != "cost":
        groups: list[tuple[int | None, Any, np.ndarray]] = (
            [(None, model.neighbours, model.weights)]
            if model.legacy
            else [(c, model.class_nb[c], model.demand[c]) for c in range(len(model.classes))]
        )
        for c, cnb, w in groups:
            for i in range(cnb.shape[0]):
                js = cnb.indices[cnb.indptr[i] : cnb.indptr[i + 1]].tolist()
                if not js or w[i] <= 0:
                    continue
                ys = [
                    y[t][j]
                    for j in js
                    for t in model.site_types(j)
                    if c is None or model.design_at(j, t).serves(c)
                ]
                if not ys:
                    continue
                name = f"z_{i}" if c is None else f"z{c}_{i}"
                z = prob.add_variable(name, lowBound=0, upBound=1)
                terms.append((z, float(w[i])))
                row = [(z, 1.0)] + [(v, -1.0) for v in ys]
                prob += pulp.LpConstraint(
                    pulp.LpAffineExpression(row), pulp.LpConstraintLE, f"cover_{name}", 0.0
                )
                assign.setdefault("z", {})[(c, i)] = z
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
    for c, xs in enumerate(assign["x"]):
        given = start["x"][c] if c < len(start["x"]) else {}
        for key, x in xs.items():
            x.setInitialValue(min(1.0, max(0.0, given.get(key, 0.0))))
    for (c, i), z in assign.get("z", {}).items():
        cnb = model.neighbours if c is None else model.class_nb[c]
        js = cnb.indices[cnb.indptr[i] : cnb.indptr[i + 1]].tolist()
        z.setInitialValue(
            1.0
            if any(
                j in start["types"]
                and (c is None or model.design_at(j, start["types"][j]).serves(c))
                for j in js
            )
            else 0.0
        )


def build(
    model: CapacitatedCoverage,
    *,
    floor: float | None = None,
    start: dict[str, Any] | None = None,
    mode: Literal["secondary", "cost", "stations"] = "secondary",
    weight: float | None = None,
) -> tuple[pulp.LpProblem, dict[str, list[pulp.LpVariable]], dict[str, Any]]:
    """The problem of :meth:`CapacitatedCoverage.build` from the rows above."""
    prob = Problem(model.name, pulp.LpMaximize)
    at_most = not model.exact_p or (floor is not None and mode != "secondary")
    types, y, cost_terms = site_rows(model, prob, at_most=at_most)
    assign, objective, access = assignment_rows(model, prob, y, types)
    n_s = model.neighbours.shape[1]
    weighted = assign["weighted"]
    if floor is None and weight is None:
        prob += pulp.LpAffineExpression(weighted), "served"
    elif floor is None:
        # served plus the secondary order, weighted so that it can move the served
        # total by at most half the gap tolerance (see the class docstring)
        terms = secondary_terms(model, prob, y, assign, access, cost_terms)
        lam = float(weight or 0.0)
        prob += (
            _summed(weighted + [(v, lam * c) for v, c in terms]),
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


def uses_met(model: CapacitatedCoverage, plan: dict[str, Any]) -> bool:
    """Whether every new station of a plan (:meth:`~CapacitatedCoverage.greedy`'s
    form) is used at least its least use."""
    used: dict[int, float] = {}
    for c, xs in enumerate(plan["x"]):
        for (i, j), share in xs.items():
            used[j] = used.get(j, 0.0) + float(model.class_use[c]) * share * model.demand[c, i]
    return all(
        used.get(j, 0.0) >= model.min_use[t][j] * (1 - 1e-9) - 1e-9
        for j, t in plan["types"].items()
        if t in model.min_use
    )
