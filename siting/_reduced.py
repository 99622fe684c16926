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
    wd: np.ndarray,
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
    """Up to ``iterations`` subgradient steps of :func:`siting._lagrangian.subgradient`.

    Takes and returns the run's state (multipliers, step factor, steps without
    progress, best bound with its multipliers, choice and step number, steps done)
    so that the caller can stop between chunks at a deadline; ``done`` is True when
    the run stopped on its own (bound above ``stop_above``, step vanished, or a
    relaxed plan that assigns everyone once).
    """
    n, n_sites = wd.shape
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
        g = np.empty(n)
        norm = 0.0
        for i in range(n):
            count = 0
            for s in sel:
                if wd[i, s] < lam[i]:
                    count += 1
            g[i] = 1.0 - count
            norm += g[i] * g[i]
        if norm == 0.0:
            return lam, step, stall, best_value, best_lam, best_sel, best_it, it, True
        scale = step * max(target - value, 1e-9 * abs(target)) / norm
        lam = np.maximum(lam + scale * g, 0.0)
    return lam, step, stall, best_value, best_lam, best_sel, best_it, it, False
