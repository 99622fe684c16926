"""Private: the Lagrangian reduced costs of the p-median, compiled (numba).

:math:`\\rho_j = \\sum_i \\min(0, WD_{ij} - \\lambda_i)`, summed over each row's
pairs cheaper than its multiplier only: the rows are sorted, so the loop stops
at the first pair that does not count. Cached on disk after the first run.
"""

from __future__ import annotations

import numba
import numpy as np


@numba.njit(cache=True, nogil=True)
def reduced_costs(
    sorted_costs: np.ndarray, order: np.ndarray, lam: np.ndarray, n_sites: int
) -> np.ndarray:
    """Reduced cost of every site from the row-sorted weighted costs."""
    rho = np.zeros(n_sites)
    n, m = sorted_costs.shape
    for i in range(n):
        li = lam[i]
        for k in range(m):
            c = sorted_costs[i, k]
            if c >= li:
                break
            rho[order[i, k]] += c - li
    return rho
