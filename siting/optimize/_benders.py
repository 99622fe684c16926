"""Private: the Benders loop shared by the p-median
(:mod:`siting.optimize.pmedian._benders`) and the maximal covering
(:mod:`siting.optimize.covering._benders`) decompositions.

Two phases on one HiGHS master (:class:`~siting.optimize._master.HighsMaster`): cut
rounds on its linear relaxation (each round's bound is proven), a plan from rounding
the last linear point (improved as the family likes), sites fixed by their reduced
costs against the incumbent, then integer master solves, each followed by the cuts
its plan violates, until the master's plan is worth what the master says or the
bound meets the incumbent within the gap. A family (:class:`Family`) supplies only
what differs: its cut separation, a plan's value, the polish of the rounded plan and
the fixing; the loop keeps the bound and the incumbent, in either sense.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol

import numpy as np

from siting.optimize import _solvers
from siting.optimize._master import HighsMaster
from siting.optimize.options import SolveOptions

#: LP rounds stop when the bound moves less than this (relative) over 3 rounds.
TAIL = 1e-7


class Family(Protocol):
    """What one decomposition supplies to :func:`run`."""

    @property
    def master(self) -> HighsMaster:
        """The HiGHS master."""

    #: whether the objective is maximised (the covering) or minimised (the p-median)
    maximize: bool
    #: sites, cut variables, the station count and the sites always open
    n_sites: int
    n_theta: int
    p: int
    fixed: np.ndarray
    #: the objective's constant, outside the master
    constant: float
    #: the logger, the name in its lines and a note for the LP phase's line
    log: logging.Logger
    name: str
    note: str

    def value(self, sites: np.ndarray) -> float:
        """The objective of the plan ``sites``."""

    def start_from(self, sites: np.ndarray) -> None:
        """Hand the master the plan ``sites`` as its starting solution."""

    def separate(self, y: np.ndarray, theta: np.ndarray) -> tuple[np.ndarray, Callable[[], None]]:
        """The cut variables the point ``(y, theta)`` overrates, and how to add their cuts."""

    def polish(
        self, guess: np.ndarray, y: np.ndarray, left: Callable[[], float | None]
    ) -> np.ndarray:
        """The plan rounded from the LP point ``y``, improved in the seconds ``left()``
        says are left (None: no limit)."""

    def started(self, best: np.ndarray) -> None:
        """The incumbent after the LP phase is ``best`` (e.g. to add its cuts)."""

    def fix(
        self, y: np.ndarray, lp_bound: float, incumbent: float, best: np.ndarray, lp_optimal: bool
    ) -> int:
        """Fix sites by their reduced costs at the LP point ``y``; how many."""


@dataclass
class Outcome:
    """What the loop proved: the plan, its value, a bound and how it went."""

    selected: np.ndarray
    value: float
    bound: float
    status: str
    stopped_by: str | None
    lp_bound: float
    lp_rounds: int
    mip_rounds: int
    cuts: int
    sites_fixed: int
    seconds: float


def closed(incumbent: float, bound: float, gap: float) -> bool:
    """Whether the plan worth ``incumbent`` is proven within ``gap`` of ``bound``."""
    g = _solvers.relative_gap(incumbent, bound if np.isfinite(bound) else None)
    return g is not None and g <= gap + 1e-9  # 1e-9: float noise of the bounds


class _Sense:
    """Bound and incumbent bookkeeping of a minimisation or a maximisation."""

    def __init__(self, maximize: bool) -> None:
        self.sign = -1.0 if maximize else 1.0
        #: the tighter of two bounds, a bound no better than the incumbent
        self.tighter = min if maximize else max
        self.capped = max if maximize else min

    def better(self, value: float, incumbent: float) -> bool:
        return value > incumbent if self.sign < 0 else value < incumbent


@dataclass
class _State:
    """The loop's running figures."""

    best: np.ndarray
    incumbent: float
    t0: float
    deadline: float
    time_limit: float | None

    def left(self) -> float | None:
        return None if self.time_limit is None else max(0.0, self.deadline - time.perf_counter())


def run(family: Family, best: np.ndarray, options: SolveOptions, *, t0: float) -> Outcome:
    """Both phases from the incumbent ``best`` (the master holds its first cuts);
    ``options.time_limit`` counts from ``t0``, ``options.gap`` stops the loop."""
    tl = options.time_limit
    st = _State(best, family.value(best), t0, np.inf if tl is None else t0 + tl, tl)
    sense = _Sense(family.maximize)
    y, lp_bound, lp_rounds, lp_optimal = _lp_rounds(family, st, sense, options.gap)
    if lp_optimal and time.perf_counter() < st.deadline:  # round the LP, then polish
        ranked = np.argsort(-y, kind="stable")
        extra = ranked[~np.isin(ranked, family.fixed)][: family.p - len(family.fixed)]
        guess = np.sort(np.concatenate([family.fixed, extra]).astype(np.int64))
        guess = family.polish(guess, y, st.left)
        if sense.better(v := family.value(guess), st.incumbent):
            st.best, st.incumbent = guess, v
        family.started(st.best)
    family.log.info(
        "%s: %sLP %d rounds, bound %.6g, plan %.6g, %d cuts, %.2f s",
        family.name,
        family.note,
        lp_rounds,
        lp_bound,
        st.incumbent,
        family.master.n_cuts,
        time.perf_counter() - t0,
    )
    n_fixed = family.fix(y, lp_bound, st.incumbent, st.best, lp_optimal)
    bound = sense.capped(lp_bound, st.incumbent)
    status, stopped, mip_rounds = "feasible", None, 0
    if closed(st.incumbent, bound, options.gap):
        status = "optimal"
    else:
        status, stopped, mip_rounds, bound = _integer_rounds(family, st, sense, options.gap, bound)
    return Outcome(
        selected=st.best,
        value=st.incumbent,
        bound=bound,
        status=status,
        stopped_by=None if status == "optimal" else (stopped or "gap above tolerance"),
        lp_bound=lp_bound,
        lp_rounds=lp_rounds,
        mip_rounds=mip_rounds,
        cuts=family.master.n_cuts,
        sites_fixed=n_fixed,
        seconds=time.perf_counter() - t0,
    )


def _lp_rounds(
    family: Family, st: _State, sense: _Sense, gap: float
) -> tuple[np.ndarray, float, int, bool]:
    """Phase 1: cut rounds on the linear master until no cut is violated, the bound
    tails off or meets the incumbent. Returns the last point, the bound, the rounds
    and whether the last LP was solved to optimality."""
    master = family.master
    lp_bound, history, rounds, optimal = -sense.sign * np.inf, [], 0, False
    y = np.zeros(family.n_sites)
    while rounds == 0 or time.perf_counter() < st.deadline:  # one round at least: a bound
        y, theta, obj, optimal = master.solve(st.left())
        rounds += 1
        if not optimal:  # stopped by the time limit: no bound from it
            break
        lp_bound = sense.tighter(lp_bound, obj + family.constant)
        violated, add = family.separate(y, theta)
        history.append(lp_bound)
        moved = sense.sign * (history[-1] - history[-4]) if len(history) > 3 else np.inf
        tail = moved <= TAIL * max(1.0, abs(lp_bound))
        if not len(violated) or tail or closed(st.incumbent, lp_bound, gap):
            break
        add()
    return y, lp_bound, rounds, optimal


def _integer_rounds(
    family: Family, st: _State, sense: _Sense, gap: float, bound: float
) -> tuple[str, str | None, int, float]:
    """Phase 2: integer master solves, each plan's cuts added, until the master's
    plan is worth what it says or the bound meets the incumbent. Returns the status,
    why it stopped, the rounds and the bound."""
    master = family.master
    master.make_integer(gap)
    rounds = 0
    while True:
        remaining = st.left()
        if remaining is not None and remaining <= 0:
            return "feasible", "time limit", rounds, bound
        family.start_from(st.best)
        y, theta, _, mip_optimal = master.solve(remaining)
        rounds += 1
        if len(y) != family.n_sites or len(theta) != family.n_theta:  # stopped with no plan
            return "feasible", "time limit", rounds, bound
        if (raw := master.dual_bound()) is not None:
            bound = sense.tighter(bound, sense.capped(raw + family.constant, st.incumbent))
        sites = np.flatnonzero(y > 0.5)
        if len(sites) == family.p and sense.better(v := family.value(sites), st.incumbent):
            st.best, st.incumbent = sites, v
        bound = sense.capped(bound, st.incumbent)
        family.log.info(
            "%s: integer round %d, plan %.6g, bound %.6g, %.2f s",
            family.name,
            rounds,
            st.incumbent,
            bound,
            time.perf_counter() - st.t0,
        )
        violated, add = family.separate((y > 0.5).astype(float), theta)
        if closed(st.incumbent, bound, gap):
            return "optimal", None, rounds, bound
        if not len(violated):  # the master's plan is worth what it says: no cut left
            return "feasible", None if mip_optimal else "time limit", rounds, bound
        add()
