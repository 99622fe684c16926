"""Private: the served demand of a given network as a flow, and what it proves.

With the sites and their types given, the capacitated model is a transportation
problem: AC sessions go to any station within reach, DC sessions to DC stations,
each station up to its capacity (:func:`transport`, a linear program solved by
HiGHS through scipy). Two uses on large instances (:mod:`siting.optimize.capacitated._large`):

* **A bound from the existing network.** Give every site one "super" type that
  serves both kinds of session up to the larger capacity ``K``: no plan serves
  more. The demand a set of stations can serve is submodular in the set (the rank
  of a transversal polymatroid), so a new site adds at most what it would serve
  alone, ``min(K, demand in reach)``:

  .. math::

      \\text{served} \\le F(E) + \\max_{|N| = p - |E|} \\sum_{j \\in N} \\min(K, W_j),

  with :math:`F(E)` the flow of the existing sites :math:`E` alone.
* **A start that can meet it.** The existing sites' flow leaves a residual demand;
  new stations are placed one by one where the most of it is in reach (up to their
  capacity), then the whole network's flow gives the plan and its assignment.

And one use in the final order (:mod:`siting.optimize.capacitated._polish`): given
stations, whether they can serve each class's total with each station's use held
(:func:`trade`, the feasibility LP of an exchange).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import scipy.sparse as sp
from scipy.optimize import linprog

from siting.errors import SolverError


@dataclass(frozen=True)
class Flow:
    """A network's best assignment: sessions/day per pair, AC and DC."""

    served: float
    rows: np.ndarray  # demand row of each pair
    sites: np.ndarray  # site of each pair
    ac: np.ndarray  # AC sessions/day of each pair
    dc: np.ndarray  # DC sessions/day of each pair

    def by_row(self, n_rows: int) -> tuple[np.ndarray, np.ndarray]:
        """AC and DC sessions/day served of each demand row."""
        return (
            np.bincount(self.rows, weights=self.ac, minlength=n_rows),
            np.bincount(self.rows, weights=self.dc, minlength=n_rows),
        )


def transport(
    nb: sp.csr_array,
    ac: np.ndarray,
    dc: np.ndarray,
    sites: np.ndarray,
    capacity: np.ndarray,
    takes_dc: np.ndarray,
) -> Flow:
    """The most sessions/day the stations at ``sites`` serve (one LP).

    ``nb`` marks the pairs within reach (rows × all sites); ``capacity`` and
    ``takes_dc`` are per station (in the order of ``sites``). One variable per pair:
    a point sends at most its AC and DC sessions in all, and at most its AC
    sessions to AC stations (a DC station takes either kind, so any such flow
    splits into AC and DC sessions: DC first, in proportion).
    """
    sub = sp.csr_array(nb[:, sites]).tocoo()
    r, c = sub.row.astype(np.int64), sub.col.astype(np.int64)
    n_rows, n_st, n_x = nb.shape[0], len(sites), len(r)
    if n_x == 0:  # no point in reach of any station
        none = np.zeros(0)
        return Flow(0.0, r, sites[c], none, none)
    at_ac = np.flatnonzero(~takes_dc[c])
    a = sp.vstack(
        [
            sp.csr_array((np.ones(n_x), (r, np.arange(n_x))), shape=(n_rows, n_x)),
            sp.csr_array((np.ones(len(at_ac)), (r[at_ac], at_ac)), shape=(n_rows, n_x)),
            sp.csr_array((np.ones(n_x), (c, np.arange(n_x))), shape=(n_st, n_x)),
        ],
        format="csr",
    )
    b = np.concatenate([ac + dc, ac, capacity])
    # interior point: 1.2 s where the simplex took 9.5 s (311 stations, 28,252 rows)
    res = linprog(-np.ones(n_x), A_ub=a, b_ub=b, bounds=(0, None), method="highs-ipm")
    if res.status != 0:  # a bounded, feasible LP (zero is a solution): a solver fault
        raise SolverError(f"transportation LP: HiGHS stopped with status {res.status}")
    x = np.maximum(res.x, 0.0)
    # DC sessions first at DC stations, the same share of each of a point's pairs
    at_dc = takes_dc[c]
    to_dc = np.bincount(r[at_dc], weights=x[at_dc], minlength=n_rows)
    share = np.divide(np.minimum(dc, to_dc), to_dc, out=np.zeros(n_rows), where=to_dc > 0)
    dc_amount = np.where(at_dc, x * share[r], 0.0)
    return Flow(float(x.sum()), r, sites[c], x - dc_amount, dc_amount)


def network_bound(
    nb: sp.csr_array, w: np.ndarray, fixed: np.ndarray, free: np.ndarray, k: int, cap: float
) -> float:
    """The bound of the module docstring: the existing sites' flow at the larger
    capacity ``cap`` serving all demand ``w``, plus the ``k`` best free sites alone."""
    alone = np.minimum(cap, sp.csr_array(nb, dtype=np.float64).T @ w)
    best = np.sort(alone[free])[::-1][:k].sum()
    if len(fixed) == 0:
        return float(best)
    zero = np.zeros(len(w))
    flow = transport(nb, w, zero, fixed, np.full(len(fixed), cap), np.zeros(len(fixed), bool))
    return flow.served + float(best)


def residual_plan(
    nb: sp.csr_array,
    ac: np.ndarray,
    dc: np.ndarray,
    fixed: np.ndarray,
    fixed_types: list[str],
    free: np.ndarray,
    k: int,
    capacity: dict[str, float],
) -> tuple[dict[int, str], Flow]:
    """Existing sites first (their flow), then ``k`` new stations on what is left.

    Each new station goes where the most residual demand it can take is in reach
    (capped by its capacity; DC takes both kinds), and takes the same share of
    every reachable point (DC sessions first). Ties go to the lowest site and to
    DC. Returns the types of the plan and its flow.
    """
    types = dict(zip(fixed.tolist(), fixed_types, strict=True))
    rest_ac, rest_dc = ac.astype(float).copy(), dc.astype(float).copy()
    if len(fixed):
        first = _flow_of(nb, ac, dc, types, capacity)
        got_ac, got_dc = first.by_row(nb.shape[0])
        rest_ac, rest_dc = np.maximum(rest_ac - got_ac, 0.0), np.maximum(rest_dc - got_dc, 0.0)
    nb_t = sp.csr_array(sp.csr_array(nb, dtype=np.float64).T)
    open_ = ~free
    for _ in range(k):
        reach_ac, reach_dc = nb_t @ rest_ac, nb_t @ rest_dc
        none = np.full(nb.shape[1], -1.0)
        as_ac = np.minimum(capacity["AC"], reach_ac) if "AC" in capacity else none
        as_dc = np.minimum(capacity["DC"], reach_ac + reach_dc) if "DC" in capacity else none
        value = np.maximum(as_ac, as_dc)
        value[open_] = -1.0
        j = int(np.argmax(value))
        if value[j] < 0:
            break
        open_[j] = True
        types[j] = "DC" if as_dc[j] >= as_ac[j] else "AC"
        rows = _rows_of(nb_t, j)
        left = capacity[types[j]]
        if types[j] == "DC":
            take = min(1.0, left / max(rest_dc[rows].sum(), 1e-12))
            left -= take * rest_dc[rows].sum()
            rest_dc[rows] *= 1.0 - take
        take = min(1.0, max(left, 0.0) / max(rest_ac[rows].sum(), 1e-12))
        rest_ac[rows] *= 1.0 - take
    return types, _flow_of(nb, ac, dc, types, capacity)


def _rows_of(nb_t: sp.csr_array, j: int) -> np.ndarray:
    return nb_t.indices[nb_t.indptr[j] : nb_t.indptr[j + 1]]


def _flow_of(
    nb: sp.csr_array,
    ac: np.ndarray,
    dc: np.ndarray,
    types: dict[int, str],
    capacity: dict[str, float],
) -> Flow:
    sites = np.array(sorted(types), dtype=np.int64)
    kinds = [types[int(j)] for j in sites]
    cap = np.array([capacity[t] for t in kinds])
    return transport(nb, ac, dc, sites, cap, np.array([t == "DC" for t in kinds], dtype=bool))


def trade(
    pairs: np.ndarray,
    station: np.ndarray,
    units: np.ndarray,
    uses: np.ndarray,
    totals: np.ndarray,
    avail: np.ndarray,
    *,
    class_use: np.ndarray,
    floors: dict[int, float],
    tolerance: float,
) -> np.ndarray | None:
    r"""Sessions a day on each pair such that every station uses exactly its ``uses``
    of its capacity, every class serves exactly its ``totals``, no (class, point)
    gives more than ``avail`` and each station in ``floors`` reaches its least use in
    ``class_use``; None when there is no such assignment.

    ``pairs`` holds each pair's flattened (class, point) index (``class * n_points +
    point``, ``avail``'s order), ``station`` its station's position (in ``uses``) and
    ``units`` the capacity one of its sessions takes there. One feasibility LP, zero
    objective, solved by HiGHS's dual simplex (a vertex, the same on every machine);
    its answer is checked again against the rows, at a relative 1e-7 and an
    absolute ``tolerance``.
    """
    n, n_st, n_c = len(pairs), len(uses), len(totals)
    if n == 0:
        return None
    cls, col = pairs // (len(avail) // n_c), np.arange(n)
    a_eq = sp.vstack(
        [
            sp.csr_array((units, (station, col)), shape=(n_st, n)),
            sp.csr_array((np.ones(n), (cls, col)), shape=(n_c, n)),
        ]
    )
    a_ub = sp.csr_array((np.ones(n), (pairs, col)), shape=(len(avail), n))
    b_ub = avail
    if floors:  # least use: -sum u_c x <= -floor
        rows = np.array(sorted(floors))
        pick = np.isin(station, rows)
        at = np.searchsorted(rows, station[pick])
        least = sp.csr_array((-class_use[cls[pick]], (at, col[pick])), shape=(len(rows), n))
        a_ub = sp.vstack([a_ub, least])
        b_ub = np.concatenate([avail, [-floors[s] for s in rows.tolist()]])
    res = linprog(
        np.zeros(n),
        A_ub=a_ub,
        b_ub=b_ub,
        A_eq=a_eq,
        b_eq=np.concatenate([uses, totals]),
        bounds=(0, None),
        method="highs-ds",
    )
    if res.status != 0:
        return None
    x = np.maximum(0.0, res.x)
    tol = tolerance
    held = (
        np.allclose(np.bincount(station, units * x, minlength=n_st), uses, rtol=1e-7, atol=tol)
        and np.allclose(np.bincount(cls, x, minlength=n_c), totals, rtol=1e-7, atol=tol)
        and bool(np.all(np.bincount(pairs, x, minlength=len(avail)) <= avail + tol))
    )
    return x if held else None
