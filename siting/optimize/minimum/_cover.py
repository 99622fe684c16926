r"""Private: the set covering form of :class:`~siting.optimize.MinimumPlan`.

AC demand may charge at any station, DC demand only at a DC station, so with costs
per station type a site is a column per type it may take (:math:`y^t_j`) and each
point a row for its AC and one for its DC demand. A type no dearer than another that
serves at least as much replaces it (DC no dearer than AC; AC when no point needs
DC): most instances keep one column per site, the plain set covering problem.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np
import pulp
import scipy.sparse as sp

from siting.errors import InfeasibleError
from siting.optimize import _solvers
from siting.optimize.result import SolveResult

if TYPE_CHECKING:
    from siting.optimize.minimum.model import MinimumPlan
    from siting.optimize.options import SolveOptions

#: The type of a column of the untyped form (no costs per type): serves any demand.
ANY = ""


@dataclass
class Columns:
    """The site columns: site, type (``ANY`` untyped) and cost of a new station."""

    site: list[int] = field(default_factory=list)
    kind: list[str] = field(default_factory=list)
    cost: list[float] = field(default_factory=list)
    fixed: list[bool] = field(default_factory=list)

    def serves_dc(self, k: int) -> bool:
        """Whether column ``k`` can serve DC demand."""
        return self.kind[k] in ("DC", ANY)


def columns(
    n_sites: int,
    fixed: np.ndarray,
    site_capacity: dict[int, tuple[str, float]],
    station_cost: dict[str, float],
    *,
    dc_needed: bool,
) -> Columns:
    """The columns of every site, dominated types dropped.

    Parameters
    ----------
    n_sites
        Candidate sites.
    fixed, site_capacity
        Existing sites (kept, cost nothing) and those of known type.
    station_cost
        Capital cost of a new station per type; empty for the untyped form (every
        station serves any demand at a cost of 1).
    dc_needed
        Whether some point within reach has DC demand.
    """
    keep = set(fixed.tolist())
    out = Columns()
    for j in range(n_sites):
        opts: dict[str, float]
        if j in site_capacity:
            opts = {site_capacity[j][0]: 0.0}
        elif not station_cost:
            opts = {ANY: 0.0 if j in keep else 1.0}
        else:
            opts = {t: 0.0 if j in keep else c for t, c in sorted(station_cost.items())}
        if "AC" in opts and "DC" in opts and opts["DC"] <= opts["AC"]:
            del opts["AC"]  # DC serves what AC does, for no more
        elif "AC" in opts and "DC" in opts and not dc_needed:
            del opts["DC"]  # AC serves everything when nobody needs DC
        for t, c in opts.items():
            out.site.append(j)
            out.kind.append(t)
            out.cost.append(c)
            out.fixed.append(j in keep)
    return out


@dataclass
class Part:
    """Demand of one point that the same columns cover (its AC, DC, or both)."""

    point: int
    dc: bool
    weight: float
    cols: list[int]
    name: str


def parts(nb: sp.csr_array, ac: np.ndarray, dc: np.ndarray, cols: Columns) -> list[Part]:
    """Each point's AC demand (any column within reach) and DC demand (DC columns
    within reach), one part when the two have the same columns."""
    by_site: dict[int, list[int]] = {}
    for k, j in enumerate(cols.site):
        by_site.setdefault(j, []).append(k)
    one_each = len(cols.site) == nb.shape[1]  # column k is site k
    serves_dc = [cols.serves_dc(k) for k in range(len(cols.site))]
    all_dc = all(serves_dc)
    out: list[Part] = []
    for i in range(nb.shape[0]):
        lo, hi = int(nb.indptr[i]), int(nb.indptr[i + 1])
        if lo == hi or ac[i] + dc[i] <= 0:
            continue
        js = nb.indices[lo:hi].tolist()
        near = js if one_each else [k for j in js for k in by_site[j]]
        near_dc = near if all_dc else [k for k in near if serves_dc[k]]
        if len(near_dc) == len(near):
            out.append(Part(i, bool(dc[i] > 0), float(ac[i] + dc[i]), near, f"{i}"))
            continue
        if ac[i] > 0:
            out.append(Part(i, False, float(ac[i]), near, f"{i}"))
        if dc[i] > 0:
            out.append(Part(i, True, float(dc[i]), near_dc, f"dc_{i}"))
    return out


def build(
    cols: Columns,
    demand: list[Part],
    *,
    target: float,
    required: float,
    objective: str,
    start: set[int] | None = None,
) -> tuple[pulp.LpProblem, list[pulp.LpVariable], bool]:
    """The set covering problem, its column variables and whether the station count
    carries a cost tie-break (worth less than half a station in all); ``start`` (the
    open columns of a plan, e.g. :func:`greedy`'s) is its warm start."""
    prob = pulp.LpProblem("minimum_cover", pulp.LpMinimize)
    per_site: dict[int, int] = {}
    for j in cols.site:
        per_site[j] = per_site.get(j, 0) + 1
    y = [
        prob.add_variable(
            f"y_{j}" if per_site[j] == 1 else f"y_{t}_{j}",
            lowBound=1 if f else 0,
            upBound=1,
            cat=pulp.LpInteger,
        )
        for j, t, f in zip(cols.site, cols.kind, cols.fixed, strict=True)
    ]
    first: dict[int, int] = {}
    for k, j in enumerate(cols.site):
        if j in first:  # one type per site
            prob += pulp.LpConstraint(
                pulp.LpAffineExpression([(y[first[j]], 1.0), (y[k], 1.0)]),
                pulp.LpConstraintLE,
                f"one_type_{j}",
                1.0,
            )
        first.setdefault(j, k)
    covered = []
    dc_rows = {p.point for p in demand if p.dc and p.cols}
    for p in demand:
        if not p.cols:
            continue  # out of reach of its type (the caller explains a target beyond it)
        expr = pulp.LpAffineExpression([(y[k], 1.0) for k in p.cols])
        if target >= 1.0:
            if not p.dc and p.point in dc_rows:
                continue  # the point's DC row already needs a DC station within reach
            prob += pulp.LpConstraint(expr, pulp.LpConstraintGE, f"cover_{p.name}", 1.0)
            continue
        z = prob.add_variable(f"z_{p.name}", lowBound=0, upBound=1)
        if start is not None:
            z.setInitialValue(1.0 if start.intersection(p.cols) else 0.0)
        covered.append((z, p.weight))
        prob += pulp.LpConstraint(expr - z, pulp.LpConstraintGE, f"cover_{p.name}", 0.0)
    if covered:
        prob += pulp.LpConstraint(
            pulp.LpAffineExpression(covered), pulp.LpConstraintGE, "target", required
        )
    typed = len(cols.site) > len(per_site)
    if objective == "stations":
        top = max(cols.cost, default=0.0)
        tie = typed and top > 0
        # least cost among the plans of fewest stations: worth < 1/2 station in all
        eps = 0.5 / (len(per_site) + 1) / top if tie else 0.0
        terms = [
            (v, 1.0 + eps * c) for v, c, f in zip(y, cols.cost, cols.fixed, strict=True) if not f
        ]
    else:
        tie = False
        terms = [(v, c) for v, c in zip(y, cols.cost, strict=True) if c]
    prob += pulp.LpAffineExpression(terms)
    if start is not None:
        for k, v in enumerate(y):
            v.setInitialValue(1.0 if k in start else 0.0)
    return prob, y, tie


def greedy(cols: Columns, demand: list[Part], required: float, *, objective: str) -> set[int]:
    """The columns of a plan covering ``required``, a warm start: the existing sites,
    then again and again the column covering the most demand not yet covered (per unit
    of cost for ``objective="cost"``), a DC column replacing the AC one of its site.

    Stops short of ``required`` only when no column covers more.
    """
    n_c = len(cols.site)
    rows = [r for r, p in enumerate(demand) for _ in p.cols]
    idx = [k for p in demand for k in p.cols]
    by_col = sp.csr_array(
        (np.ones(len(idx)), (idx, rows)), shape=(n_c, len(demand))
    )  # column -> the parts it covers
    left = np.array([p.weight for p in demand], dtype=float)
    total = float(left.sum())
    cost = np.array(cols.cost, dtype=float)
    floor = 1e-9 * max(1.0, float(cost.max(initial=0.0)))
    site = np.array(cols.site, dtype=np.int64)
    is_dc = np.array([cols.serves_dc(k) for k in range(n_c)])
    paid = np.zeros(n_c)  # cost already paid at the column's site
    usable = np.ones(n_c, dtype=bool)
    chosen: set[int] = set()

    def take(k: int) -> None:
        same = np.flatnonzero(site == site[k])
        chosen.difference_update(same.tolist())
        chosen.add(k)
        usable[same] = False
        if not is_dc[k]:  # a DC column may still replace it
            usable[same[is_dc[same]]] = True
            paid[same] = cost[k]
        left[by_col.indices[by_col.indptr[k] : by_col.indptr[k + 1]]] = 0.0

    for k in np.flatnonzero(cols.fixed).tolist():
        take(k)
    tol = 1e-9 * max(1.0, required)
    while total - float(left.sum()) < required - tol:
        gain = by_col @ left
        score = gain / np.maximum(cost - paid, floor) if objective == "cost" else gain.copy()
        score[~usable | (gain <= 0)] = -1.0
        k = int(np.argmax(score))
        if score[k] < 0:
            break
        take(k)
    return chosen


def lower_bound(bound: float | None, *, tie: bool) -> float | None:
    """A bound on the station count from one on the count plus its tie-break."""
    if bound is None or not tie:
        return bound
    return float(math.ceil(bound - 0.5 - 1e-9))


def solve_cover(plan: MinimumPlan, options: SolveOptions) -> SolveResult:
    """The set covering form (LSCP for a target of 1): AC demand at any station,
    DC demand only at a DC one (see the module docstring)."""
    t0 = time.perf_counter()
    nb = plan.neighbours
    n_s = nb.shape[1]
    w = plan.ac + plan.dc
    live = (np.diff(nb.indptr) > 0) & (w > 0)
    reach = float(w[live].sum())
    required = plan.target * reach
    cols = columns(
        n_s,
        plan.fixed,
        plan.site_capacity,
        plan.station_cost,
        dc_needed=bool((plan.dc[live] > 0).any()),
    )
    demand = parts(nb, plan.ac, plan.dc, cols)
    most = sum(p.weight for p in demand if p.cols)
    if required > most + 1e-9 * max(1.0, most):
        why = (
            "station_cost has no 'DC' type"
            if plan.station_cost and "DC" not in plan.station_cost
            else "some of it has only existing AC stations within reach"
        )
        raise InfeasibleError(
            f"minimum plan: covering {100 * plan.target:.0f}% of the demand within reach "
            f"({required:,.1f} sessions/day) is beyond any plan: DC demand needs a DC "
            f"station and {why}, so at most {most:,.1f} sessions/day "
            f"({100 * most / max(reach, 1e-12):.1f}%) can be covered"
        )
    # with types, a greedy plan as a warm start (the typed model is the harder one)
    start = greedy(cols, demand, required, objective=plan.objective) if plan.station_cost else None
    prob, y, tie = build(
        cols,
        demand,
        target=plan.target,
        required=required,
        objective=plan.objective,
        start=start,
    )
    build_s = time.perf_counter() - t0
    info = _solvers.run(prob, options)
    if info.status == "infeasible":
        raise InfeasibleError(f"minimum plan: no plan covers {required:,.1f} sessions/day")
    # an existing site in no row may come back without a value: it is kept all the same
    chosen = [k for k, v in enumerate(y) if cols.fixed[k] or (v.varValue or 0.0) > 0.5]
    selected = np.array(sorted({cols.site[k] for k in chosen}), dtype=np.int64)
    is_open = set(chosen)
    served = sum(p.weight for p in demand if is_open.intersection(p.cols))
    cost = float(sum(cols.cost[k] for k in chosen))
    extra: dict[str, Any] = {
        "target": plan.target,
        "reachable": reach,
        "required": required,
        "served": float(served),
        "stations": len(selected),
        "cost": cost if plan.objective == "cost" or plan.station_cost else None,
    }
    overrides: dict[str, Any] = {}
    if plan.station_cost:
        kind = {cols.site[k]: cols.kind[k] for k in chosen}
        extra["types"] = np.array([kind[j] for j in selected.tolist()], dtype=str)
    if tie:
        new = float(sum(1 for k in chosen if not cols.fixed[k]))
        bound = lower_bound(info.bound, tie=tie)
        overrides = {
            "objective": new,
            "bound": bound,
            "gap": _solvers.relative_gap(new, bound),
        }
    return SolveResult.from_info(plan.name, selected, info, build_s, extra, **overrides)
