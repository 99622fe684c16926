"""Private: the p-median by Benders decomposition of its radius formulation.

After Duran-Mateluna, Alès and Elloumi (EJOR 2023, "An efficient Benders
decomposition for the p-median problem"). Projecting the radius variables out of
Elloumi's formulation leaves one variable :math:`\\theta_i` per client and the
optimality cuts

.. math::

    \\theta_i \\ge D - \\sum_j (D - d_{ij})^+ \\, y_j

for any radius :math:`D` among the client's distances. For a point :math:`y` the
most violated one is at the client's first radius :math:`D^*` where the open
share of the sites no farther than it reaches 1; the cuts of all clients are
separated together in time linear in the stored pairs (:func:`separate`).

Two phases: cut rounds on the linear relaxation of the master (its bound is the
radius formulation's), sites fixed by their reduced costs against the
incumbent, then integer master solves, each followed by the cuts its plan
violates, until the master's plan costs what the master says. Every bound
reported is a proven lower bound: the master with a subset of the cuts is a
relaxation, and a fixed site only excludes plans dearer than the incumbent.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass

import numpy as np

from siting.optimize._master import HighsMaster, _closed

log = logging.getLogger(__name__)

#: Violation (relative to the client's cost) below which a cut is not added: above
#: HiGHS's feasibility tolerance (1e-7), so a cut already in the master is never
#: found violated again.
_VIOLATION = 1e-6
#: LP rounds stop when the bound moves less than this (relative) over 3 rounds.
_TAIL = 1e-7


@dataclass(frozen=True)
class Rows:
    """The clients' pairs sorted by distance (clients of zero weight left out).

    ``level[k]`` is the first position of the row holding the same distance as
    position ``k`` (ties share a level). ``empty`` clients have no allowed site:
    they cost the unserved cost.
    """

    ptr: np.ndarray
    idx: np.ndarray
    d: np.ndarray
    level: np.ndarray
    row: np.ndarray
    w: np.ndarray
    constant: float
    n_sites: int
    unserved: float | None

    @classmethod
    def from_csr(
        cls,
        indptr: np.ndarray,
        indices: np.ndarray,
        data: np.ndarray,
        weights: np.ndarray,
        n_sites: int,
        unserved: float | None,
    ) -> Rows:
        """Sort each weighted client's pairs by distance (then by site)."""
        counts = np.diff(indptr)
        keep = (weights > 0) & (counts > 0)
        empty = (weights > 0) & (counts == 0)
        constant = float(weights[empty].sum() * (unserved or 0.0))
        rows_all = np.repeat(np.arange(len(counts)), counts)
        take = keep[rows_all]
        r, j, d = rows_all[take], indices[take], data[take]
        order = np.lexsort((j, d, r))
        r, j, d = r[order], j[order].astype(np.int64), d[order].astype(float)
        kept = np.flatnonzero(keep)
        new_row = np.searchsorted(kept, r)
        ptr = np.concatenate([[0], np.cumsum(np.bincount(new_row, minlength=len(kept)))])
        starts = np.ones(len(d), dtype=bool)
        starts[1:] = (d[1:] != d[:-1]) | (new_row[1:] != new_row[:-1])
        level = np.maximum.accumulate(np.where(starts, np.arange(len(d)), 0))
        return cls(
            ptr, j, d, level, new_row, weights[kept].astype(float), constant, n_sites, unserved
        )

    @property
    def n(self) -> int:
        """Number of clients kept."""
        return len(self.w)


@dataclass(frozen=True)
class Cuts:
    """Optimality cuts ``theta_r + sum(value * y[index]) >= rhs`` of clients ``rows``."""

    rows: np.ndarray
    rhs: np.ndarray
    starts: np.ndarray
    index: np.ndarray
    value: np.ndarray


def separate(rows: Rows, y: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The subproblem at ``y``: each client's cost, its radius and the end of its cut.

    Returns ``(value, radius, end)``: the client's cost under ``y`` (for an
    integer ``y``, its distance to the nearest open site), the radius :math:`D^*`
    of its most violated cut and the position where the cut's pairs end (the
    pairs strictly nearer than :math:`D^*` are ``ptr[r]:end[r]``).
    """
    ys = y[rows.idx]
    cum = np.cumsum(ys)
    base = np.concatenate([[0.0], cum])[rows.ptr[:-1]]
    within = cum - base[rows.row]  # open share up to and including each position
    reached = np.flatnonzero(within >= 1.0 - 1e-9)
    first = np.full(rows.n, -1, dtype=np.int64)
    hit_rows, at = np.unique(rows.row[reached], return_index=True)
    first[hit_rows] = reached[at]
    has = first >= 0
    radius = np.empty(rows.n)
    end = rows.ptr[1:].copy()
    radius[has] = rows.d[first[has]]
    end[has] = rows.level[first[has]]
    if (~has).any():  # the open share never reaches 1: unserved, else the farthest site
        last = rows.d[rows.ptr[1:][~has] - 1]
        radius[~has] = last if rows.unserved is None else rows.unserved
    # sum over the nearer pairs of (D - d) y = D * Y - YD
    sy = np.concatenate([[0.0], cum])
    syd = np.concatenate([[0.0], np.cumsum(ys * rows.d)])
    start = rows.ptr[:-1]
    share = sy[end] - sy[start]
    weighted = syd[end] - syd[start]
    value = radius - (radius * share - weighted)
    return value, radius, end


def cuts_at(rows: Rows, which: np.ndarray, radius: np.ndarray, end: np.ndarray) -> Cuts:
    """The cuts of clients ``which`` at their radius (see :func:`separate`)."""
    start = rows.ptr[:-1][which]
    stop = end[which]
    lengths = stop - start
    starts = np.concatenate([[0], np.cumsum(lengths)])
    pos = np.repeat(start - starts[:-1], lengths) + np.arange(starts[-1])
    rad = np.repeat(radius[which], lengths)
    return Cuts(which, radius[which], starts, rows.idx[pos], rad - rows.d[pos])


@dataclass
class BendersResult:
    """What the decomposition proved: the plan, its cost and a lower bound."""

    selected: np.ndarray
    cost: float
    bound: float
    status: str
    stopped_by: str | None
    lp_bound: float
    lp_rounds: int
    mip_rounds: int
    cuts: int
    sites_fixed: int
    seconds: float


class _Master(HighsMaster):
    """The p-median master: y (sites), theta (clients), p, cover rows, cuts."""

    def __init__(self, rows: Rows, p: int, fixed: np.ndarray, threads: int | None) -> None:
        first = rows.d[rows.ptr[:-1]]  # every client costs at least its nearest site
        super().__init__(
            rows.n_sites,
            p,
            fixed,
            threads,
            costs=rows.w,
            lower=first,
            upper=np.full(rows.n, np.inf),
        )
        self.rows = rows
        h = self.h
        n_s = rows.n_sites
        if rows.unserved is None:  # every client needs an open site in reach
            part = np.flatnonzero(np.diff(rows.ptr) < n_s)
            if len(part):
                lengths = np.diff(rows.ptr)[part]
                starts = np.concatenate([[0], np.cumsum(lengths)])
                pos = np.repeat(rows.ptr[:-1][part] - starts[:-1], lengths) + np.arange(starts[-1])
                h.addRows(
                    len(part),
                    np.ones(len(part)),
                    np.full(len(part), np.inf),
                    int(starts[-1]),
                    starts[:-1].astype(np.int64),
                    rows.idx[pos],
                    np.ones(len(pos)),
                )

    def add(self, cuts: Cuts) -> None:
        """Add the cuts: theta_r plus the site terms, at least the right-hand side."""
        k = len(cuts.rows)
        self.add_cuts(cuts.rows, cuts.rhs, np.full(k, np.inf), cuts.starts, cuts.index, cuts.value)

    def start_from(self, sites: np.ndarray) -> None:
        """Hand HiGHS the plan ``sites`` as its starting solution."""
        y = np.zeros(self.rows.n_sites)
        y[sites] = 1.0
        value, _, _ = separate(self.rows, y)
        self.set_start(np.concatenate([y, value]))


def solve(
    rows: Rows,
    p: int,
    fixed: np.ndarray,
    start: np.ndarray,
    *,
    time_limit: float | None = None,
    gap: float = 1e-4,
    threads: int | None = None,
) -> BendersResult:
    """Solve the p-median of ``rows`` from the plan ``start`` (see the module docstring)."""
    # One function of about 110 lines, on purpose: its two phases (LP cut rounds, then
    # integer master rounds) share the master, the incumbent, the bound and the deadline,
    # and the reduced-cost fixing between them needs all four; split, they would pass
    # them back and forth.
    t0 = time.perf_counter()
    deadline = np.inf if time_limit is None else t0 + time_limit

    def left() -> float | None:
        return None if time_limit is None else max(0.0, deadline - time.perf_counter())

    def plan_cost(sites: np.ndarray) -> float:
        y = np.zeros(rows.n_sites)
        y[sites] = 1.0
        value, _, _ = separate(rows, y)
        return float(rows.w @ value) + rows.constant

    best = np.sort(np.asarray(start, dtype=np.int64))
    upper = plan_cost(best)
    master = _Master(rows, p, fixed, threads)
    y0 = np.zeros(rows.n_sites)
    y0[best] = 1.0
    _, radius, end = separate(rows, y0)
    master.add(cuts_at(rows, np.arange(rows.n), radius, end))
    # phase 1: cut rounds on the linear relaxation
    lp_bound, history, lp_rounds, lp_optimal = -np.inf, [], 0, False
    y = y0
    while lp_rounds == 0 or time.perf_counter() < deadline:  # one round at least: a bound
        y, theta, obj, lp_optimal = master.solve(left())
        lp_rounds += 1
        if not lp_optimal:  # stopped by the time limit: no bound from it
            break
        lp_bound = max(lp_bound, obj + rows.constant)
        value, radius, end = separate(rows, y)
        scale = np.maximum(np.abs(value), 1.0)
        violated = np.flatnonzero(value - theta > _VIOLATION * scale)
        history.append(lp_bound)
        tail = len(history) > 3 and history[-1] - history[-4] <= _TAIL * max(1.0, abs(lp_bound))
        if not len(violated) or tail or _closed(upper, lp_bound, gap):
            break
        master.add(cuts_at(rows, violated, radius, end))
    # a better plan from rounding the LP: the p sites of largest y
    if lp_optimal and time.perf_counter() < deadline:
        ranked = np.argsort(-y, kind="stable")
        extra = ranked[~np.isin(ranked, fixed)][: p - len(fixed)]
        guess = np.sort(np.concatenate([fixed, extra]).astype(np.int64))
        if (c := plan_cost(guess)) < upper:
            best, upper = guess, c
    log.info(
        "benders: LP %d rounds, bound %.6g, plan %.6g, %d cuts, %.2f s",
        lp_rounds,
        lp_bound,
        upper,
        master.n_cuts,
        time.perf_counter() - t0,
    )
    # sites whose reduced cost alone lifts the bound above the incumbent stay closed
    dual = master.reduced_costs()
    n_fixed = 0
    if lp_optimal and np.isfinite(lp_bound):
        close = (y < 1e-9) & (lp_bound + dual > upper * (1 + 1e-12) + 1e-9)
        close[best] = False
        idx = np.flatnonzero(close)
        master.fix(idx, 0.0)
        n_fixed = len(idx)
    bound = min(lp_bound, upper)
    status, stopped, mip_rounds = "feasible", None, 0
    if _closed(upper, bound, gap):
        status = "optimal"
    else:  # phase 2: integer master, cuts at each of its plans
        master.make_integer(gap)
        while True:
            remaining = left()
            if remaining is not None and remaining <= 0:
                stopped = "time limit"
                break
            master.start_from(best)
            y, theta, _, mip_optimal = master.solve(remaining)
            mip_rounds += 1
            if len(y) != rows.n_sites or len(theta) != rows.n:  # stopped with no plan
                stopped = "time limit"
                break
            log.info("benders: integer round %d, %.2f s", mip_rounds, time.perf_counter() - t0)
            if (raw := master.dual_bound()) is not None:
                bound = max(bound, min(raw + rows.constant, upper))
            sites = np.flatnonzero(y > 0.5)
            if len(sites) == p:
                c = plan_cost(sites)
                if c < upper:
                    best, upper = sites, c
            bound = min(bound, upper)
            value, radius, end = separate(rows, (y > 0.5).astype(float))
            scale = np.maximum(np.abs(value), 1.0)
            violated = np.flatnonzero(value - theta > _VIOLATION * scale)
            if _closed(upper, bound, gap):
                status = "optimal"
                break
            if not len(violated):  # the master's plan costs what it says: no cut left
                stopped = None if mip_optimal else "time limit"
                break
            master.add(cuts_at(rows, violated, radius, end))
    return BendersResult(
        selected=best,
        cost=upper,
        bound=bound,
        status=status,
        stopped_by=None if status == "optimal" else (stopped or "gap above tolerance"),
        lp_bound=lp_bound,
        lp_rounds=lp_rounds,
        mip_rounds=mip_rounds,
        cuts=master.n_cuts,
        sites_fixed=n_fixed,
        seconds=time.perf_counter() - t0,
    )
