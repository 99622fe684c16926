"""Private heuristics for warm starts: greedy construction and swap improvement.

Both work on a dense, finite (n_demand, n_sites) cost matrix in which unreachable
pairs carry the cost of leaving the demand unserved, and are deterministic (ties
go to the lowest index).
"""

from __future__ import annotations

import heapq
import math
import time
from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    from siting.optimize.pmedian._lagrangian import Costs


def pmedian_cost(D: np.ndarray, w: np.ndarray, selected: np.ndarray) -> float:
    """Demand-weighted cost of serving every point from its cheapest selected site."""
    return float(w @ D[:, selected].min(axis=1))


def pmedian_greedy(D: np.ndarray, w: np.ndarray, p: int, fixed: np.ndarray) -> np.ndarray:
    """Open the fixed sites, then repeatedly the site that lowers the cost most.

    Lazy (Minoux's accelerated greedy): a site's gain only falls as sites open (the
    cost is supermodular), so the gains computed earlier are upper bounds, kept in a
    heap; the top one is computed again and taken if it still leads. Ties go to the
    lowest index, as in the plain greedy, which it equals.
    """
    m = D.shape[1]
    chosen = np.zeros(m, dtype=bool)
    chosen[fixed] = True
    # with nothing open, every point starts at its worst cost: the first pick is the
    # site of least total cost
    cur = D[:, fixed].min(axis=1) if len(fixed) else D.max(axis=1)
    first = w @ np.maximum(cur[:, None] - D, 0.0)
    heap = [(-float(first[j]), j) for j in range(m) if not chosen[j]]
    heapq.heapify(heap)
    for _ in range(p - len(fixed)):
        while True:
            _, j = heapq.heappop(heap)
            gain = float(w @ np.maximum(cur - D[:, j], 0.0))
            if not heap or (-gain, j) <= heap[0]:
                break
            heapq.heappush(heap, (-gain, j))
        chosen[j] = True
        cur = np.minimum(cur, D[:, j])
    return np.flatnonzero(chosen)


def pmedian_swap(
    D: np.ndarray,
    w: np.ndarray,
    selected: np.ndarray,
    fixed: np.ndarray,
    *,
    max_swaps: int = 500,
    deadline: float = math.inf,
    costs: Costs | None = None,
) -> np.ndarray:
    """Best-improvement interchange (Teitz and Bart) until no swap lowers the cost.

    Each pass finds the best (open site out, closed site in) pair at once by
    Whitaker's decomposition on the row-sorted weighted costs (compiled,
    :func:`siting.optimize.pmedian._kernels.swap_pass`): it reads each point's row only up to its
    second-nearest open site. ``costs`` are those sorted costs of ``w * D`` if the
    caller holds them. Stops early (with the best plan so far) at ``deadline``, a
    ``time.perf_counter`` value.
    """
    m = D.shape[1]
    sel = np.asarray(selected, dtype=np.int64).copy()
    movable = ~np.isin(sel, fixed)
    if not movable.any() or len(sel) >= m:
        return np.sort(sel)
    from siting.optimize.pmedian._kernels import swap_pass  # numba: imported when first needed
    from siting.optimize.pmedian._lagrangian import Costs

    if costs is None:
        costs = Costs(w[:, None] * D)
    for _ in range(max_swaps):
        if time.perf_counter() >= deadline:
            break
        total, change, k_out, j_in = swap_pass(costs.sorted, costs.order, sel, movable)
        if not change < -1e-9 * max(1.0, abs(total)):
            break
        sel[k_out] = j_in
    return np.sort(sel)
