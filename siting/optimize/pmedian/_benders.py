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
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from siting.optimize import _benders
from siting.optimize._master import HighsMaster
from siting.optimize.options import SolveOptions

log = logging.getLogger(__name__)

#: Violation (relative to the client's cost) below which a cut is not added: above
#: HiGHS's feasibility tolerance (1e-7), so a cut already in the master is never
#: found violated again.
_VIOLATION = 1e-6
#: The options of a solve given none: HiGHS, no time limit, the default gap.
_DEFAULT = SolveOptions()


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
class BendersResult(_benders.Outcome):
    """What the decomposition proved: the plan, its cost and a lower bound."""

    @property
    def cost(self) -> float:
        """The plan's cost (its ``value``)."""
        return self.value


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


class _Family:
    """The p-median's part of the shared loop (:func:`siting.optimize._benders.run`)."""

    maximize = False
    name = "benders"
    note = ""
    log = log

    def __init__(self, rows: Rows, p: int, fixed: np.ndarray, master: _Master) -> None:
        self.rows, self.p, self.fixed, self.master = rows, p, fixed, master
        self.n_sites, self.n_theta, self.constant = rows.n_sites, rows.n, rows.constant

    def value(self, sites: np.ndarray) -> float:
        y = np.zeros(self.rows.n_sites)
        y[sites] = 1.0
        value, _, _ = separate(self.rows, y)
        return float(self.rows.w @ value) + self.rows.constant

    def start_from(self, sites: np.ndarray) -> None:
        self.master.start_from(sites)

    def separate(self, y: np.ndarray, theta: np.ndarray) -> tuple[np.ndarray, Callable[[], None]]:
        value, radius, end = separate(self.rows, y)
        scale = np.maximum(np.abs(value), 1.0)
        violated = np.flatnonzero(value - theta > _VIOLATION * scale)
        return violated, lambda: self.master.add(cuts_at(self.rows, violated, radius, end))

    def polish(
        self, guess: np.ndarray, y: np.ndarray, left: Callable[[], float | None]
    ) -> np.ndarray:
        return guess  # the p sites of largest y, as they are

    def started(self, best: np.ndarray) -> None:
        pass

    def fix(
        self, y: np.ndarray, lp_bound: float, incumbent: float, best: np.ndarray, lp_optimal: bool
    ) -> int:
        """Sites whose reduced cost alone lifts the bound above the incumbent stay closed."""
        if not lp_optimal or not np.isfinite(lp_bound):
            return 0
        dual = self.master.reduced_costs()
        close = (y < 1e-9) & (lp_bound + dual > incumbent * (1 + 1e-12) + 1e-9)
        close[best] = False
        idx = np.flatnonzero(close)
        self.master.fix(idx, 0.0)
        return len(idx)


def solve(
    rows: Rows,
    p: int,
    fixed: np.ndarray,
    start: np.ndarray,
    options: SolveOptions = _DEFAULT,
) -> BendersResult:
    """Solve the p-median of ``rows`` from the plan ``start`` (see the module docstring)
    within ``options.time_limit`` and ``options.gap``, on ``options.threads``."""
    t0 = time.perf_counter()
    best = np.sort(np.asarray(start, dtype=np.int64))
    master = _Master(rows, p, fixed, options.threads)
    y0 = np.zeros(rows.n_sites)
    y0[best] = 1.0
    _, radius, end = separate(rows, y0)
    master.add(cuts_at(rows, np.arange(rows.n), radius, end))
    out = _benders.run(_Family(rows, p, fixed, master), best, options, t0=t0)
    return BendersResult(**out.__dict__)
