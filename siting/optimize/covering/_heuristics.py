"""Private: large covering models — swap search, Lagrangian bound, site fixing.

For the maximal covering problem on a sparse neighbour matrix :math:`a_{ij}`
(rows: demand points of weight :math:`w_i`, after the exact row reductions of
:func:`siting.optimize._rows.cover_rows`), relaxing the cover rows
:math:`z_i \\le \\sum_j a_{ij} y_j` with multipliers :math:`0 \\le \\lambda_i \\le w_i`
(Galvão and ReVelle 1996, "A Lagrangean heuristic for the maximal covering
location problem", EJOR 88) gives an upper bound for every :math:`\\lambda`:

.. math::

    U(\\lambda) = \\sum_i (w_i - \\lambda_i)
        + \\max_{|S| = p,\\, S \\supseteq E} \\sum_{j \\in S} \\rho_j,\\qquad
    \\rho_j = \\sum_i a_{ij} \\lambda_i,

lowered by subgradient steps. The same :math:`\\rho` bound every plan that
opens (or leaves closed) a given site: a site whose forced opening (closing)
bounds every such plan at or below the incumbent can be closed (opened) for
good, which shrinks the integer program handed to the solver.

Everything is sparse: one matvec per step, no dense demand × site array.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

import numpy as np
import scipy.sparse as sp

from siting.errors import InputError


def coverage(nb: sp.csr_array, w: np.ndarray, open_mask: np.ndarray) -> float:
    """Weight of the rows with at least one open site in reach."""
    hit = nb @ open_mask.astype(np.float64) > 0
    return float(w[hit].sum())


def greedy(
    nb: sp.csr_array,
    w: np.ndarray,
    fixed: np.ndarray,
    p: int,
    *,
    site_cost: np.ndarray | None = None,
    budget: float = np.inf,
) -> np.ndarray:
    """The ``fixed`` sites, then repeatedly the site adding the most uncovered weight
    (ties: the lowest index) until ``p`` are open, or, with ``site_cost``, until no
    site left fits in what ``budget`` leaves after the fixed sites."""
    nb_t = sp.csr_array(nb, dtype=np.float64).T.tocsr()
    chosen = np.zeros(nb.shape[1], dtype=bool)
    chosen[fixed] = True
    left = np.where(nb @ chosen.astype(np.float64) > 0, 0.0, np.asarray(w, dtype=float))
    money = budget - (float(site_cost[fixed].sum()) if site_cost is not None else 0.0)
    for _ in range(p - int(chosen.sum())):
        gain = nb_t @ left
        gain[chosen] = -1.0
        if site_cost is not None:
            gain[site_cost > money + 1e-9] = -1.0
        j = int(np.argmax(gain))
        if gain[j] < 0:  # nothing affordable is left
            break
        if site_cost is not None:
            money -= float(site_cost[j])
        chosen[j] = True
        left[nb_t.indices[nb_t.indptr[j] : nb_t.indptr[j + 1]]] = 0.0
    return np.flatnonzero(chosen)


def swap(
    nb: sp.csr_array,
    w: np.ndarray,
    selected: np.ndarray,
    fixed: np.ndarray,
    *,
    time_limit: float = 30.0,
    max_swaps: int = 10_000,
) -> np.ndarray:
    """Interchange search: close one open site, open one closed site, while coverage grows.

    Best improvement: closed sites are taken in order of the uncovered weight
    they would add (an upper bound on any swap that opens them), and for each,
    every open site to close is evaluated at once (a point loses cover only if
    the closed site was its only one, and keeps it if the opened site reaches
    it). Deterministic; stops at a local optimum or after ``time_limit`` seconds.
    """
    n, m = nb.shape
    nb = sp.csr_array(nb, dtype=np.float64)
    nb_t = nb.T.tocsr()
    is_open = np.zeros(m, dtype=bool)
    is_open[selected] = True
    movable = is_open.copy()
    movable[fixed] = False
    if not movable.any() or is_open.all():
        return np.flatnonzero(is_open)
    rows_of = np.repeat(np.arange(n), np.diff(nb.indptr))
    count = np.bincount(rows_of, weights=is_open[nb.indices], minlength=n).astype(np.int64)
    owner_sum = np.bincount(
        rows_of, weights=np.where(is_open[nb.indices], nb.indices, 0), minlength=n
    ).astype(np.int64)  # the only open site of a point covered once
    t0 = time.perf_counter()
    tol = 1e-9 * max(1.0, float(w.sum()))
    for _ in range(max_swaps):
        if time.perf_counter() - t0 > time_limit:
            break
        once = count == 1
        loss = np.bincount(owner_sum[once], weights=w[once], minlength=m)
        gain = nb_t @ np.where(count == 0, w, 0.0)
        gain[is_open] = -np.inf
        best = (tol, -1, -1)
        for k in np.argsort(-gain, kind="stable").tolist():
            if not gain[k] > best[0]:
                break  # a swap gains at most what the opened site adds
            pts = nb_t.indices[nb_t.indptr[k] : nb_t.indptr[k + 1]]
            pts = pts[once[pts]]
            kept = np.bincount(owner_sum[pts], weights=w[pts], minlength=m)
            delta = np.where(movable, gain[k] - loss + kept, -np.inf)
            j = int(np.argmax(delta))
            if delta[j] > best[0]:
                best = (float(delta[j]), k, j)
        if best[1] < 0:
            break
        _, k, j = best
        for site, step in ((k, 1), (j, -1)):
            pts = nb_t.indices[nb_t.indptr[site] : nb_t.indptr[site + 1]]
            count[pts] += step
            owner_sum[pts] += step * site
        is_open[k], is_open[j] = True, False
        movable[k], movable[j] = True, False
    return np.flatnonzero(is_open)


def perturbed_search(
    nb: sp.csr_array,
    w: np.ndarray,
    selected: np.ndarray,
    fixed: np.ndarray,
    *,
    prefer: np.ndarray,
    rounds: int,
    size: int = 6,
    seed: int = 0,
    time_limit: float = 30.0,
) -> np.ndarray:
    """Iterated local search from the local optimum ``selected`` (of :func:`swap`).

    Each round closes ``size`` open sites (not fixed ones) at random, opens
    ``size`` closed sites drawn in proportion to ``prefer`` (say, a linear
    relaxation's values; uniformly if too few are positive), runs :func:`swap`,
    and keeps the result if it covers at least as much. Deterministic for a
    ``seed`` unless ``time_limit`` stops it before ``rounds``.
    """
    rng = np.random.default_rng(seed)
    m = nb.shape[1]
    is_fixed = np.zeros(m, dtype=bool)
    is_fixed[fixed] = True
    current = np.sort(np.asarray(selected, dtype=np.int64))
    mask = np.zeros(m, dtype=bool)
    mask[current] = True
    value = coverage(nb, w, mask)
    t0 = time.perf_counter()
    for _ in range(rounds):
        left = time_limit - (time.perf_counter() - t0)
        movable = np.flatnonzero(mask & ~is_fixed)
        closed = np.flatnonzero(~mask)
        k = min(size, len(movable), len(closed))
        if left <= 0 or k == 0:
            break
        weight = np.clip(np.asarray(prefer, dtype=float)[closed], 0.0, None)
        if np.count_nonzero(weight) < k:
            weight = np.ones(len(closed))
        out = rng.choice(movable, k, replace=False)
        into = rng.choice(closed, k, replace=False, p=weight / weight.sum())
        trial = np.union1d(np.setdiff1d(current, out), into)
        trial = swap(nb, w, trial, fixed, time_limit=left)
        trial_mask = np.zeros(m, dtype=bool)
        trial_mask[trial] = True
        if (v := coverage(nb, w, trial_mask)) >= value:
            current, mask, value = trial, trial_mask, v
    return current


@dataclass
class CoverBound:
    """A Lagrangian upper bound and the multipliers that gave it."""

    value: float
    lam: np.ndarray
    rho: np.ndarray
    selection: np.ndarray  # the free sites chosen by the relaxation at ``lam``
    iterations: int


def lagrangian_bound(
    nb: sp.csr_array,
    w: np.ndarray,
    n_free: int,
    free: np.ndarray,
    incumbent: float,
    *,
    iterations: int = 400,
    time_limit: float = 20.0,
) -> CoverBound:
    """Subgradient optimisation of :math:`U(\\lambda)` over the free sites.

    ``nb`` holds only rows not covered by a site already open for good (whose
    weight is a constant outside this bound), ``n_free`` sites are still to
    choose among the ``free`` mask. ``incumbent`` is the coverage of the best
    known plan on the same rows (the step size target).
    """
    nb = sp.csr_array(nb, dtype=np.float64)
    nb_t = nb.T.tocsr()
    lam = 0.5 * w
    best: CoverBound | None = None
    theta, stall = 2.0, 0
    t0 = time.perf_counter()
    it = 0
    free_idx = np.flatnonzero(free)
    for it in range(1, iterations + 1):
        rho = nb_t @ lam
        rho_free = rho[free_idx]
        top: np.ndarray = free_idx
        if n_free < len(free_idx):
            top = (
                free_idx[np.argpartition(-rho_free, n_free - 1)[:n_free]]
                if n_free
                else free_idx[:0]
            )
        sel = np.zeros(nb.shape[1])
        sel[top] = 1.0
        z = w > lam
        value = float((w - lam)[z].sum() + rho[top].sum())
        if best is None or value < best.value - 1e-12:
            best = CoverBound(value, lam.copy(), rho, np.sort(np.asarray(top)), it)
            stall = 0
        else:
            stall += 1
            if stall >= 20:
                theta, stall = theta / 2, 0
        g = nb @ sel - z  # dU/dlambda
        norm = float(g @ g)
        if norm == 0 or theta < 1e-4 or time.perf_counter() - t0 > time_limit:
            break
        if best.value - incumbent <= 1e-9 * max(1.0, abs(incumbent)):
            break
        step = theta * max(value - incumbent, 1e-9 * max(1.0, incumbent)) / norm
        lam = np.clip(lam - step * g, 0.0, w)
    if best is None:  # the loop never ran
        raise InputError(f"iterations: expected at least 1, got {iterations}")
    best.iterations = it
    return best


def fix_sites(
    bound: CoverBound, free: np.ndarray, n_free: int, threshold: float
) -> tuple[np.ndarray, np.ndarray]:
    """Sites that no plan covering more than ``threshold`` can close (open).

    Returns (must_open, must_close) masks over all sites. Forcing a closed site
    ``k`` into the relaxation's choice swaps out the weakest chosen site; forcing
    a chosen site out brings in the best unchosen one. If either bound is at most
    ``threshold``, every plan doing that is no better than the incumbent.
    """
    m = len(free)
    must_open = np.zeros(m, dtype=bool)
    must_close = np.zeros(m, dtype=bool)
    chosen = np.zeros(m, dtype=bool)
    chosen[bound.selection] = True
    rho = bound.rho
    if n_free == 0 or n_free >= int(free.sum()):
        return must_open, must_close
    weakest = float(rho[chosen].min())
    best_out = float(rho[free & ~chosen].max())
    closed = free & ~chosen
    must_close[closed] = bound.value - weakest + rho[closed] <= threshold
    must_open[chosen] = bound.value - rho[chosen] + best_out <= threshold
    return must_open, must_close
