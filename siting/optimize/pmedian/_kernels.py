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


@numba.njit(cache=True, nogil=True)
def _least(rho: np.ndarray, free: np.ndarray, k: int) -> np.ndarray:
    """The ``k`` free sites of least ``rho`` (ties: the lower index), by insertion."""
    out = np.empty(k, dtype=np.int64)
    val = np.empty(k)
    n = 0
    for j in range(len(rho)):
        if not free[j]:
            continue
        r = rho[j]
        if n == k and r >= val[k - 1]:
            continue
        pos = n if n < k else k - 1
        while pos > 0 and val[pos - 1] > r:
            if pos < k:
                val[pos] = val[pos - 1]
                out[pos] = out[pos - 1]
            pos -= 1
        val[pos] = r
        out[pos] = j
        if n < k:
            n += 1
    return out


@numba.njit(cache=True, nogil=True)
def ascent(
    sorted_costs: np.ndarray,
    order: np.ndarray,
    must_idx: np.ndarray,
    free: np.ndarray,
    k: int,
    lam: np.ndarray,
    target: float,
    stop_above: float,
    iterations: int,
    step: float,
    stall: int,
    patience: int,
    min_step: float,
    best_value: float,
    best_lam: np.ndarray,
    best_sel: np.ndarray,
    best_it: int,
    it0: int,
) -> tuple[np.ndarray, float, int, float, np.ndarray, np.ndarray, int, int, bool]:
    """Up to ``iterations`` subgradient steps of
    :func:`~siting.optimize.pmedian._lagrangian.subgradient`.

    Takes and returns the run's state (multipliers, step factor, steps without
    progress, best bound with its multipliers, choice and step number, steps done)
    so that the caller can stop between chunks at a deadline; ``done`` is True when
    the run stopped on its own (bound above ``stop_above``, step vanished, or a
    relaxed plan that assigns everyone once).
    """
    n, n_sites = sorted_costs.shape
    n_must = len(must_idx)
    sel = np.empty(n_must + k, dtype=np.int64)
    sel[:n_must] = must_idx
    it = it0
    for _ in range(iterations):
        rho = reduced_costs(sorted_costs, order, lam, n_sites)
        if k > 0:
            sel[n_must:] = _least(rho, free, k)
        value = lam.sum()
        for s in sel:
            value += rho[s]
        it += 1
        if best_it == 0 or value > best_value + 1e-9:
            best_value, best_lam, best_sel, best_it, stall = value, lam, sel.copy(), it, 0
        else:
            stall += 1
            if stall >= patience:
                step, stall = step / 2.0, 0
        if best_value > stop_above or step < min_step:
            return lam, step, stall, best_value, best_lam, best_sel, best_it, it, True
        # each point's count of chosen sites cheaper than its multiplier, read from
        # the prefix of its sorted row (as short as in reduced_costs), not from all
        # p chosen sites
        is_chosen = np.zeros(n_sites, dtype=np.bool_)
        for s in sel:
            is_chosen[s] = True
        g = np.empty(n)
        norm = 0.0
        for i in range(n):
            li = lam[i]
            count = 0
            for c in range(n_sites):
                if sorted_costs[i, c] >= li:
                    break
                if is_chosen[order[i, c]]:
                    count += 1
            g[i] = 1.0 - count
            norm += g[i] * g[i]
        if norm == 0.0:
            return lam, step, stall, best_value, best_lam, best_sel, best_it, it, True
        scale = step * max(target - value, 1e-9 * abs(target)) / norm
        lam = np.maximum(lam + scale * g, 0.0)
    return lam, step, stall, best_value, best_lam, best_sel, best_it, it, False


@numba.njit(cache=True, nogil=True)
def _two_nearest(
    sorted_costs: np.ndarray, order: np.ndarray, is_open: np.ndarray, i: int
) -> tuple[int, int]:
    """Positions in point ``i``'s sorted row of its nearest and second-nearest open
    sites (-1 where there is none)."""
    first, second = -1, -1
    for c in range(sorted_costs.shape[1]):
        if is_open[order[i, c]]:
            if first < 0:
                first = c
            else:
                second = c
                break
    return first, second


@numba.njit(cache=True, nogil=True)
def swap_pass(
    sorted_costs: np.ndarray,
    order: np.ndarray,
    sel: np.ndarray,
    movable: np.ndarray,
) -> tuple[float, float, int, int]:
    """The best single interchange of the p-median on row-sorted weighted costs.

    Whitaker's decomposition: the change of closing open site ``k`` and opening
    closed site ``j`` is ``gain[j] + loss[k] + extra[k, j]``, where ``gain`` sums
    what opening ``j`` saves, ``loss`` what closing ``k`` costs its points (they
    move to their second-nearest site) and ``extra`` corrects the points of ``k``
    that ``j`` would take: only the sites before a point's second-nearest open site
    in its sorted row, so a pass costs the pairs that short prefix holds plus
    ``p * m``. Returns the plan's cost and ``(change, position in sel, site in)``
    of the least change (first in order of ``sel`` position, then site) over the
    ``movable`` positions.
    """
    n, m = sorted_costs.shape
    p = len(sel)
    is_open = np.zeros(m, dtype=np.bool_)
    pos_of = np.full(m, -1, dtype=np.int64)
    for q in range(p):
        is_open[sel[q]] = True
        pos_of[sel[q]] = q
    gain = np.zeros(m)
    loss = np.zeros(p)
    extra = np.zeros((p, m))
    total = 0.0
    for i in range(n):
        a, b = _two_nearest(sorted_costs, order, is_open, i)
        c1 = sorted_costs[i, a]
        total += c1
        k = pos_of[order[i, a]]
        c2, ref = np.inf, c1  # one open site: closing it leaves only the one opened
        if b >= 0:
            c2 = ref = sorted_costs[i, b]
            loss[k] += c2 - c1
        for c in range(m):
            s = sorted_costs[i, c]
            if s >= c2:
                break
            j = order[i, c]
            if is_open[j]:
                continue
            if s < c1:
                gain[j] += s - c1
            extra[k, j] += max(s, c1) - ref
    best, best_k, best_j = np.inf, -1, -1
    for k in range(p):
        if not movable[k]:
            continue
        for j in range(m):
            if is_open[j]:
                continue
            d = gain[j] + loss[k] + extra[k, j]
            if d < best:
                best, best_k, best_j = d, k, j
    return total, best, best_k, best_j
