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
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import scipy.sparse as sp

from siting import settings
from siting.optimize import _benders
from siting.optimize._master import HighsMaster
from siting.optimize._rows import row_indices
from siting.optimize.covering import _heuristics
from siting.optimize.covering._clients import _COVERED, Clients, dominated, undominated
from siting.optimize.options import SolveOptions

log = logging.getLogger(__name__)

#: Violation (relative to the group's cover) below which a cut is not added: above
#: HiGHS's feasibility tolerance, so a cut already in the master is never found again.
_VIOLATION = 1e-6
#: The options of a solve given none: HiGHS, no time limit, the default gap.
_DEFAULT = SolveOptions()


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
class CoverResult(_benders.Outcome):
    """What the decomposition proved: the plan, its cover and an upper bound, and how
    many sites the clients' dominance ruled out."""

    sites_dominated: int = 0


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


class _Family:
    """The covering's part of the shared loop (:func:`siting.optimize._benders.run`)."""

    maximize = True
    name = "benders (cover)"
    log = log

    def __init__(
        self,
        clients: Clients,
        p: int,
        fixed: np.ndarray,
        master: _Master,
        dominated: tuple[np.ndarray, np.ndarray],
        seed: int,
    ) -> None:
        self.clients, self.p, self.fixed, self.master = clients, p, fixed, master
        self.n_sites, self.n_theta = clients.n_sites, clients.n_groups
        self.constant = clients.constant
        self.dom, self.by = dominated
        self.seed = seed
        self.note = f"{int(self.dom.sum())} sites dominated, "

    def value(self, sites: np.ndarray) -> float:
        return self.clients.value(sites)

    def start_from(self, sites: np.ndarray) -> None:
        self.master.start_from(sites)

    def add_plan_cuts(self, sites: np.ndarray) -> None:
        """The cuts of every group at the plan ``sites``."""
        y = np.zeros(self.clients.n_sites)
        y[sites] = 1.0
        s = self.clients.nb @ y
        self.master.add(*cuts_at(self.clients, y, s, np.arange(self.clients.n_groups)))

    def separate(self, y: np.ndarray, theta: np.ndarray) -> tuple[np.ndarray, Callable[[], None]]:
        s, per = self.clients.cover(y)
        violated = np.flatnonzero(theta - per > _VIOLATION * np.maximum(per, 1.0))
        return violated, lambda: self.master.add(*cuts_at(self.clients, y, s, violated))

    def polish(
        self, guess: np.ndarray, y: np.ndarray, left: Callable[[], float | None]
    ) -> np.ndarray:
        """The swap, then a perturbation search, on the undominated sites."""
        c, fixed = self.clients, self.fixed
        budget = min(10.0, 0.2 * (left() or 50.0))
        guess = _heuristics.swap(c.nb, c.w, guess, fixed, time_limit=budget)
        guess = _heuristics.perturbed_search(
            c.nb,
            c.w,
            undominated(guess, self.dom, self.by, fixed),
            fixed,
            prefer=np.where(self.dom, 0.0, y),
            rounds=settings.COVER_SEARCH_ROUNDS,
            seed=self.seed,
            time_limit=settings.COVER_SEARCH_SHARE * (left() or 50.0),
        )
        return undominated(guess, self.dom, self.by, fixed)

    def started(self, best: np.ndarray) -> None:
        self.add_plan_cuts(best)

    def fix(
        self, y: np.ndarray, lp_bound: float, incumbent: float, best: np.ndarray, lp_optimal: bool
    ) -> int:
        return _fix_by_reduced_cost(
            self.master, y, lp_bound, incumbent, best, self.fixed, lp_optimal
        )


def solve(
    clients: Clients,
    p: int,
    fixed: np.ndarray,
    start: np.ndarray,
    options: SolveOptions = _DEFAULT,
    *,
    seed: int = 0,
) -> CoverResult:
    """Solve the maximal covering of ``clients`` from the plan ``start`` (module docstring)
    within ``options.time_limit`` and ``options.gap``, on ``options.threads``; ``seed``
    drives the plan search after the linear rounds."""
    t0 = time.perf_counter()
    dom, by = dominated(clients, fixed, p)
    best = undominated(np.asarray(start, dtype=np.int64), dom, by, fixed)
    master = _Master(clients, p, fixed, options.threads)
    master.fix(np.flatnonzero(dom), 0.0)
    family = _Family(clients, p, fixed, master, (dom, by), seed)
    family.add_plan_cuts(best)
    out = _benders.run(family, best, options, t0=t0)
    return CoverResult(**out.__dict__, sites_dominated=int(dom.sum()))


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
