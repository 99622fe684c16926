"""The cost frontier of a plan: demand served against capital cost, and the point chosen.

For a number of stations ``p``, each point is the plan serving the most demand
with a set number of new DC stations (from none, the cheapest plan, to all, the
most capable one; with every station built that number sets the capital cost),
solved with the same model and constraints as the plan. The chosen point is then
solved again with the full secondary order
(:class:`siting.optimize.CapacitatedCoverage`).
"""

from __future__ import annotations

import itertools
import logging
from collections.abc import Callable, Iterable, Sequence

import numpy as np
import pandas as pd

from siting.errors import InfeasibleError
from siting.optimize.result import SolveResult
from siting.results import FrontierPoint

log = logging.getLogger(__name__)

#: What each rule means, written beside the chosen point.
RULES = {
    "knee": (
        "the knee of the frontier: served and capital cost both scaled to [0, 1] from the "
        "cheapest to the most-serving point, the point farthest above the straight line "
        "between them; beyond it each extra session served costs more than average"
    ),
    "max_served": "the plan serving the most demand, at its least cost",
    "budget": "the plan serving the most demand within optimize.budget",
    "marginal": (
        "the most-serving plan reached by steps each costing at most "
        "optimize.choose.max_marginal_cost per unit of the objective served a day "
        "(session, kWh or kg CO2), from the cheapest point"
    ),
}

#: A frontier whose knee rises less than this above the straight line from its
#: cheapest to its most-serving point (both scaled to [0, 1]) is straight.
STRAIGHT_LIFT = 1e-3


def is_straight(frontier: list[FrontierPoint], *, tolerance: float = 1e-4) -> bool:
    """Whether every step of the frontier buys about the same per unit of money (or
    no point serves more than another): the knee then has nothing to choose."""
    cost = np.array([pt.cost for pt in frontier])
    served = np.array([pt.served for pt in frontier])
    span_c, span_s = cost.max() - cost.min(), served.max() - served.min()
    if span_s <= tolerance * max(1.0, float(served.max())) or span_c <= 0:
        return True
    lift = (served - served.min()) / span_s - (cost - cost.min()) / span_c
    return bool(lift.max() < STRAIGHT_LIFT)


def frontier_steps(n_new: int, points: int) -> list[int]:
    """Numbers of new DC stations, from none to all ``n_new`` (``points`` of them)."""
    return sorted({round(float(v)) for v in np.linspace(0, n_new, max(points, 2))})


def cost_frontier(
    solve: Callable[[int | None, float | None], SolveResult | None],
    *,
    n_new: int,
    points: int,
    budget: float | None = None,
    map_fn: Callable[..., Iterable[SolveResult | None]] = map,
    budgets: Sequence[float] | None = None,
) -> list[FrontierPoint]:
    """Solve the frontier for ``n_new`` new stations, cheapest first.

    With two station types and every station built, a plan's capital cost is set by
    how many of the new stations are DC, so each point sets that number (0, ...,
    ``n_new``): the cost frontier as a sequence of cardinality rows instead of
    knapsack rows, each point's cost known before it is solved. With DC stations at
    least as capable as AC ones, served cannot fall along it (a plan with one DC
    station more does at least as well). A stated budget is solved as one more point
    under its budget row.

    Parameters
    ----------
    solve
        ``solve(n_dc, budget)`` solves the plan with ``n_dc`` new DC stations (None:
        any number) under a budget (None: no limit); None when no plan has them.
    n_new
        New stations in the plan (``p`` less the existing ones).
    points
        Points on the frontier, the most-serving one included.
    budget
        A stated budget, solved as one more point.
    map_fn
        How the points are solved: ``map`` (in turn) or an executor's ``map`` (side
        by side); the points are independent.
    budgets
        With station designs (whose costs a count of DC stations does not set), the
        frontier's points as budgets instead (see :func:`budget_steps`).
    """
    steps: list[int | None] = list(frontier_steps(n_new, points))
    caps: list[float | None] = [None] * len(steps)
    if budgets is not None:
        steps, caps = [None] * len(budgets), [float(b) for b in budgets]
    if budget is not None:
        steps.append(None)
        caps.append(float(budget))
    results = list(map_fn(solve, steps, caps))
    out = [
        FrontierPoint(b, r, k)
        for r, k, b in zip(results, steps, caps, strict=True)
        if r is not None
    ]
    if not out:
        raise InfeasibleError("optimize: no point of the cost frontier has a feasible plan")
    out.sort(key=lambda pt: (pt.cost, pt.served))
    # served cannot fall as the cost rises: a point that does is a solver's early
    # stop; each point reports its own status and gap
    for a, b in itertools.pairwise(out):
        if b.served < a.served - 1e-6 * max(1.0, a.served):
            log.warning(
                "frontier: %.3f served at cost %.0f is below %.3f at a smaller cost "
                "(statuses %s, %s)",
                b.served,
                b.cost,
                a.served,
                a.result.status,
                b.result.status,
            )
    return out


def budget_steps(low: float, high: float, points: int) -> list[float]:
    """Budgets from ``low`` (the cheapest plan of every new station) to ``high`` (the
    dearest), ``points`` of them: the frontier of a plan with station designs, each
    point the most served within its budget."""
    return sorted({float(v) for v in np.linspace(low, high, max(points, 2))})


def choose(
    frontier: list[FrontierPoint],
    rule: str,
    *,
    budget: float | None = None,
    tolerance: float = 1e-4,
    max_marginal_cost: float | None = None,
) -> int:
    """Index of the point ``rule`` picks (see :data:`RULES`).

    Points whose served totals differ by less than ``tolerance`` (relative: the
    solves' gap tolerance) serve the same; the cheaper of them is taken.
    """
    if rule == "max_served":
        # the most served; among points serving as much (within the solve's tolerance),
        # the cheapest
        top = max(pt.served for pt in frontier)
        return next(
            k for k, pt in enumerate(frontier) if pt.served >= top - tolerance * max(1.0, top)
        )
    if rule == "budget":
        if budget is None:
            raise ValueError("choose: rule 'budget' needs a budget")
        fits = [k for k, pt in enumerate(frontier) if pt.cost <= budget + 1e-6]
        return max(fits, key=lambda k: (frontier[k].served, -frontier[k].cost))
    if rule == "marginal":
        if max_marginal_cost is None:
            raise ValueError("choose: rule 'marginal' needs max_marginal_cost")
        order = sorted(range(len(frontier)), key=lambda k: (frontier[k].cost, -frontier[k].served))
        at = order[0]
        for k in order[1:]:
            gain = frontier[k].served - frontier[at].served
            if gain <= tolerance * max(1.0, frontier[at].served):
                continue  # dearer and no better
            if (frontier[k].cost - frontier[at].cost) / gain > max_marginal_cost:
                break
            at = k
        return at
    if rule != "knee":
        raise ValueError(f"choose: unknown rule {rule!r}; expected one of {', '.join(RULES)}")
    cost = np.array([pt.cost for pt in frontier])
    served = np.array([pt.served for pt in frontier])
    span_c, span_s = cost.max() - cost.min(), served.max() - served.min()
    if span_s <= tolerance * max(1.0, float(served.max())):
        return 0  # every point serves as much: the cheapest
    if span_c <= 0:
        return int(np.argmax(served))
    x = (cost - cost.min()) / span_c
    yv = (served - served.min()) / span_s
    lift = yv - x
    best = float(lift.max())
    # near-ties (within 0.1 % of the scaled ranges: a straight frontier) go to the
    # cheaper point
    return int(np.flatnonzero(lift >= best - STRAIGHT_LIFT)[0])


def frontier_table(
    frontier: list[FrontierPoint],
    chosen: int,
    *,
    covered: list[float],
    demand_total: float,
    currency: str | None,
) -> pd.DataFrame:
    """``frontier.csv``: one row per point, the chosen one marked."""
    rows = []
    for k, pt in enumerate(frontier):
        types = pt.result.extra.get("chargers", pt.result.extra.get("types", np.array([])))
        served = pt.served
        rows.append(
            {
                "point": k,
                "new_dc": pt.max_dc,
                "budget": pt.budget,
                "capital_cost": round(pt.cost, 2),
                "currency": currency or "",
                "stations": len(pt.result.selected),
                "stations_ac": int((np.asarray(types) == "AC").sum()),
                "stations_dc": int((np.asarray(types) == "DC").sum()),
                "served_sessions_day": round(served, 3),
                "served_share": round(served / demand_total, 6) if demand_total else 0.0,
                "covered_sessions_day": round(covered[k], 3),
                "covered_share": round(covered[k] / demand_total, 6) if demand_total else 0.0,
                "cost_per_session_day": round(pt.cost / served, 2) if served > 0 else None,
                "status": pt.result.status,
                "gap": pt.result.gap,
                "chosen": k == chosen,
            }
        )
    return pd.DataFrame(rows)
