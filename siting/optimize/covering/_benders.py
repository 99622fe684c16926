"""Private: the maximal covering problem by Benders decomposition.

After Cordeau, Furini and Ljubić (EJOR 2019, "Benders decomposition for very large
scale partial set covering and maximal covering location problems"). The cover
variables :math:`z_i` are projected out: for open shares :math:`y` the best cover
is :math:`\\sum_i w_i \\min(1, \\sum_{j \\in N_i} y_j)`, and the master keeps only
the sites and one variable :math:`\\theta_g` per group of clients (clients grouped
by their first site in reach, so each group's cuts touch only nearby sites):

.. math::

    \\max \\sum_g \\theta_g \\quad\\text{s.t.}\\quad
    \\theta_g \\le \\sum_{i \\in g,\\, s_i \\ge 1} w_i
      + \\sum_j y_j \\sum_{i \\in g,\\, s_i < 1,\\, j \\in N_i} w_i,
    \\quad \\sum_j y_j = p,

one cut per group and point :math:`\\bar y` (:math:`s = N \\bar y`): the subproblem's
dual, so the cut is tight at :math:`\\bar y`. At an integer point (a plan
:math:`K`) a second cut takes back what closing a site of :math:`K` loses (the
clients it alone covers): a Nemhauser-Wolsey inequality of the submodular cover,
valid for every plan. Separation is two sparse products, linear in the pairs.

Two exact reductions first: points with the same sites in reach are one client
(their weights summed; a million points leave about 63,000 clients in the
benchmark), and a site that reaches only clients another site reaches too leaves
the master (:func:`dominated`: some best plan does without it).

Phases as in :mod:`siting.optimize.pmedian._benders`: cut rounds on the linear master (its bound
is the covering LP's), a plan from rounding, the swap and a perturbation search,
sites fixed by their reduced costs against that plan, then integer master solves
with the cuts of each plan until the master's plan covers what the master says.
Every bound is proven: the master with some of the cuts is a relaxation, a
fixing only excludes plans no better than the incumbent, and a dominated site
only plans no better than one without it.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass

import numpy as np
import scipy.sparse as sp

from siting import settings
from siting.optimize._master import HighsMaster, _closed
from siting.optimize._rows import row_indices
from siting.optimize.covering import _heuristics as _cover
from siting.optimize.covering._clients import _COVERED, Clients, dominated, undominated

log = logging.getLogger(__name__)

#: Violation (relative to the group's cover) below which a cut is not added: above
#: HiGHS's feasibility tolerance, so a cut already in the master is never found again.
_VIOLATION = 1e-6
#: LP rounds stop when the bound moves less than this (relative) over 3 rounds.
_TAIL = 1e-7


def cuts_at(
    clients: Clients, y: np.ndarray, s: np.ndarray, which: np.ndarray
) -> tuple[np.ndarray, np.ndarray, sp.csr_array]:
    """The cuts ``theta_g - a_g . y <= rhs_g`` of groups ``which`` at ``y``.

    Returns the group of each cut, ``rhs`` and the rows ``a``: the subproblem's
    dual cut (tight at ``y``) and, when ``y`` is a plan, the loss cut of
    :func:`loss_cuts` as well.
    """
    covered = s >= _COVERED
    pick = np.zeros(clients.n_groups, dtype=bool)
    pick[which] = True
    row_of = np.full(clients.n_groups, -1, dtype=np.int64)
    row_of[which] = np.arange(len(which))
    mine = pick[clients.group]
    rhs = np.bincount(
        row_of[clients.group[mine & covered]],
        weights=clients.w[mine & covered],
        minlength=len(which),
    )
    nb = clients.nb
    gain = np.flatnonzero(mine & ~covered)  # a site opened gains these clients
    lengths = np.diff(nb.indptr)[gain]
    a = sp.csr_array(
        (
            np.repeat(clients.w[gain], lengths),
            (np.repeat(row_of[clients.group[gain]], lengths), row_indices(nb, gain)),
        ),
        shape=(len(which), clients.n_sites),
    )
    a.sum_duplicates()
    if not np.array_equal(y, np.round(y)):
        return which, rhs, a
    g2, rhs2, a2 = loss_cuts(clients, y, s, which, row_of, rhs)
    return np.concatenate([which, g2]), np.concatenate([rhs, rhs2]), sp.vstack([a, a2]).tocsr()


def loss_cuts(
    clients: Clients,
    y: np.ndarray,
    s: np.ndarray,
    which: np.ndarray,
    row_of: np.ndarray,
    cover: np.ndarray,
) -> tuple[np.ndarray, np.ndarray, sp.csr_array]:
    r"""At a plan :math:`K`: what closing each of its sites loses, what opening any
    other site could at most add (all its clients, as from no plan):

    .. math::

        \theta_g \le f_g(K) - \sum_{j \in K} \rho^g_j(K \setminus j)\,(1 - y_j)
          + \sum_{j \notin K} f_g(\{j\})\, y_j,

    a Nemhauser-Wolsey inequality of the submodular cover :math:`f_g`, valid for
    every plan (``cover`` holds :math:`f_g(K)`).
    """
    nb = clients.nb
    mine = np.zeros(len(s), dtype=bool)
    mine[np.isin(clients.group, which)] = True
    alone = np.flatnonzero(mine & (s >= _COVERED) & (s < 1.0 + 1e-9))
    ind = row_indices(nb, alone)
    is_open = y[ind] > 0.5
    owner = alone[np.repeat(np.arange(len(alone)), np.diff(nb.indptr)[alone])[is_open]]
    rows_b = row_of[clients.group[owner]]
    loss = sp.csr_array(
        (clients.w[owner], (rows_b, ind[is_open])), shape=(len(which), clients.n_sites)
    )
    loss.sum_duplicates()
    gains = clients.site_weight[which] @ sp.diags_array(1.0 - y)
    rhs = cover - np.bincount(rows_b, weights=clients.w[owner], minlength=len(which))
    return which, rhs, sp.csr_array(loss + gains)


@dataclass
class CoverResult:
    """What the decomposition proved: the plan, its cover and an upper bound."""

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
    sites_dominated: int
    seconds: float


class _Master(HighsMaster):
    """The covering master: y (sites), theta (groups, at most their weight), the p
    row and the cuts; maximised."""

    def __init__(self, clients: Clients, p: int, fixed: np.ndarray, threads: int | None) -> None:
        n_g = clients.n_groups
        super().__init__(
            clients.n_sites,
            p,
            fixed,
            threads,
            costs=np.ones(n_g),
            lower=np.zeros(n_g),
            upper=clients.group_weight,
            maximize=True,
        )
        self.clients = clients

    def add(self, which: np.ndarray, rhs: np.ndarray, a: sp.csr_array) -> None:
        """Add ``theta_g - a_g . y <= rhs_g`` for the groups ``which``."""
        k = len(which)
        self.add_cuts(which, np.full(k, -np.inf), rhs, a.indptr, a.indices, -a.data)

    def start_from(self, sites: np.ndarray) -> None:
        """Hand HiGHS the plan ``sites`` as its starting solution."""
        y = np.zeros(self.clients.n_sites)
        y[sites] = 1.0
        _, per = self.clients.cover(y)
        self.set_start(np.concatenate([y, per]))


def solve(
    clients: Clients,
    p: int,
    fixed: np.ndarray,
    start: np.ndarray,
    *,
    time_limit: float | None = None,
    gap: float = 1e-4,
    threads: int | None = None,
    seed: int = 0,
) -> CoverResult:
    """Solve the maximal covering of ``clients`` from the plan ``start`` (module docstring);
    ``seed`` drives the plan search after the linear rounds."""
    # One function of about 110 lines, on purpose: its two phases (LP cut rounds, then
    # integer master rounds) share the master, the incumbent, the bound and the deadline,
    # and the reduced-cost fixing between them needs all four; split, they would pass
    # them back and forth.
    t0 = time.perf_counter()
    deadline = np.inf if time_limit is None else t0 + time_limit

    def left() -> float | None:
        return None if time_limit is None else max(0.0, deadline - time.perf_counter())

    dom, by = dominated(clients, fixed, p)
    best = undominated(np.asarray(start, dtype=np.int64), dom, by, fixed)
    lower = clients.value(best)
    master = _Master(clients, p, fixed, threads)
    master.fix(np.flatnonzero(dom), 0.0)
    everyone = np.arange(clients.n_groups)

    def add_plan_cuts(sites: np.ndarray, which: np.ndarray = everyone) -> None:
        y = np.zeros(clients.n_sites)
        y[sites] = 1.0
        s = clients.nb @ y
        master.add(*cuts_at(clients, y, s, which))

    add_plan_cuts(best)
    # phase 1: cut rounds on the linear relaxation
    upper, history, lp_rounds, lp_optimal = np.inf, [], 0, False
    y = np.zeros(clients.n_sites)
    while lp_rounds == 0 or time.perf_counter() < deadline:  # one round at least: a bound
        y, theta, obj, lp_optimal = master.solve(left())
        lp_rounds += 1
        if not lp_optimal:  # stopped by the time limit: no bound from it
            break
        upper = min(upper, obj + clients.constant)
        s, per = clients.cover(y)
        violated = np.flatnonzero(theta - per > _VIOLATION * np.maximum(per, 1.0))
        history.append(upper)
        tail = len(history) > 3 and history[-4] - history[-1] <= _TAIL * max(1.0, upper)
        if not len(violated) or tail or _closed(lower, upper, gap):
            break
        master.add(*cuts_at(clients, y, s, violated))
    lp_bound = upper
    if lp_optimal and time.perf_counter() < deadline:  # round the LP, then swap
        ranked = np.argsort(-y, kind="stable")
        extra = ranked[~np.isin(ranked, fixed)][: p - len(fixed)]
        guess = np.sort(np.concatenate([fixed, extra]).astype(np.int64))
        budget = min(10.0, 0.2 * (left() or 50.0))
        guess = _cover.swap(clients.nb, clients.w, guess, fixed, time_limit=budget)
        guess = _cover.perturbed_search(
            clients.nb,
            clients.w,
            undominated(guess, dom, by, fixed),
            fixed,
            prefer=np.where(dom, 0.0, y),
            rounds=settings.COVER_SEARCH_ROUNDS,
            seed=seed,
            time_limit=settings.COVER_SEARCH_SHARE * (left() or 50.0),
        )
        guess = undominated(guess, dom, by, fixed)
        if (v := clients.value(guess)) > lower:
            best, lower = guess, v
        add_plan_cuts(best)
    log.info(
        "benders (cover): %d sites dominated, LP %d rounds, bound %.6g, plan %.6g, %d cuts, %.2f s",
        dom.sum(),
        lp_rounds,
        lp_bound,
        lower,
        master.n_cuts,
        time.perf_counter() - t0,
    )
    n_fixed = _fix_by_reduced_cost(master, y, lp_bound, lower, best, fixed, lp_optimal)
    bound = max(upper, lower)
    status, stopped, mip_rounds = "feasible", None, 0
    if _closed(lower, bound, gap):
        status = "optimal"
    else:  # phase 2: integer master, the cuts of each of its plans
        n_s = clients.n_sites
        master.make_integer(gap)
        while True:
            remaining = left()
            if remaining is not None and remaining <= 0:
                stopped = "time limit"
                break
            master.start_from(best)
            y, theta, _, mip_optimal = master.solve(remaining)
            mip_rounds += 1
            if len(y) != n_s:  # stopped with no plan
                stopped = "time limit"
                break
            if (raw := master.dual_bound()) is not None:
                bound = min(bound, max(raw + clients.constant, lower))
            sites = np.flatnonzero(y > 0.5)
            if len(sites) == p and (v := clients.value(sites)) > lower:
                best, lower = sites, v
            bound = max(bound, lower)
            log.info(
                "benders (cover): integer round %d, plan %.6g, bound %.6g, %.2f s",
                mip_rounds,
                lower,
                bound,
                time.perf_counter() - t0,
            )
            yi = (y > 0.5).astype(float)
            s, per = clients.cover(yi)
            violated = np.flatnonzero(theta - per > _VIOLATION * np.maximum(per, 1.0))
            if _closed(lower, bound, gap):
                status = "optimal"
                break
            if not len(violated):  # the master's plan covers what it says: no cut left
                stopped = None if mip_optimal else "time limit"
                break
            master.add(*cuts_at(clients, yi, s, violated))
    return CoverResult(
        selected=best,
        value=lower,
        bound=bound,
        status=status,
        stopped_by=None if status == "optimal" else (stopped or "gap above tolerance"),
        lp_bound=lp_bound,
        lp_rounds=lp_rounds,
        mip_rounds=mip_rounds,
        cuts=master.n_cuts,
        sites_fixed=n_fixed,
        sites_dominated=int(dom.sum()),
        seconds=time.perf_counter() - t0,
    )


def _fix_by_reduced_cost(
    master: _Master,
    y: np.ndarray,
    lp_bound: float,
    lower: float,
    best: np.ndarray,
    fixed: np.ndarray,
    lp_optimal: bool,
) -> int:
    """Fix the sites whose reduced cost alone takes the LP bound below the plan.

    A site at a bound of the optimal LP cannot move by one without losing at least
    its reduced cost (LP duality), so a site closed (open) there whose reduced cost
    exceeds the bound's lead over the plan stays closed (open) in every better
    plan. Sites of the plan are never closed, the fixed ones never touched.
    """
    if not lp_optimal or not np.isfinite(lp_bound):
        return 0
    n_s = master.clients.n_sites
    rc = np.abs(master.reduced_costs())
    lead = lp_bound - lower
    loses = rc > lead * (1 + 1e-9) + 1e-9 * max(1.0, abs(lp_bound))
    in_plan = np.zeros(n_s, dtype=bool)
    in_plan[best] = True
    free = np.ones(n_s, dtype=bool)
    free[fixed] = False
    close = np.flatnonzero(loses & (y < 1e-9) & ~in_plan & free)
    keep = np.flatnonzero(loses & (y > 1 - 1e-9) & in_plan & free)
    master.fix(close, 0.0)
    master.fix(keep, 1.0)
    return len(close) + len(keep)
