"""Private: the clients of a maximal covering problem and its dominated sites.

The demand points a plan can still change, after two exact reductions (points
covered by a fixed site are a constant, points with the same sites in reach are
one client), grouped for the Benders master of :mod:`siting.optimize.covering._benders`;
and the sites no plan needs (:func:`dominated`).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import scipy.sparse as sp

from siting.optimize._rows import cover_rows, ones_pattern

#: Clients at least this covered count as covered.
_COVERED = 1.0 - 1e-9


@dataclass(frozen=True)
class Clients:
    """The clients a plan can still change: weighted, in reach of a free site and of
    no fixed one (their cover is the ``constant``), each in a ``group``."""

    nb: sp.csr_array  # (clients, sites) pattern, float64 ones
    w: np.ndarray
    group: np.ndarray
    n_groups: int
    group_weight: np.ndarray
    constant: float
    n_sites: int
    site_weight: sp.csr_array  # (groups, sites): weight of the group's clients in reach

    @classmethod
    def from_neighbours(
        cls,
        neighbours: sp.csr_array,
        weights: np.ndarray,
        fixed: np.ndarray,
        *,
        costs: sp.csr_array | None = None,
    ) -> Clients:
        """Clients of the pairs within reach; points covered by a fixed site are the
        constant, points with no site in reach drop out, and points with the same
        sites in reach are one client (their weights summed: an exact reduction).
        A client's group is its nearest site by ``costs`` (same pattern as
        ``neighbours``), else its first."""
        nb = ones_pattern(neighbours)
        n_s = nb.shape[1]
        weights = np.asarray(weights, dtype=float)
        rows, merged, by_fixed = cover_rows(nb, weights, fixed, None)
        constant = float(weights[by_fixed].sum())
        w = merged[rows]
        sub = sp.csr_array(nb[rows])
        first = _nearest(sp.csr_array(costs)[rows] if costs is not None else sub)
        groups, group = np.unique(first, return_inverse=True)
        lengths = np.diff(sub.indptr)
        site_weight = sp.csr_array(
            (np.repeat(w, lengths), (np.repeat(group, lengths), sub.indices)),
            shape=(len(groups), n_s),
        )
        site_weight.sum_duplicates()
        return cls(
            sub,
            w,
            group.astype(np.int64),
            len(groups),
            np.bincount(group, weights=w, minlength=len(groups)),
            constant,
            n_s,
            site_weight,
        )

    def cover(self, y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Each client's open share in reach and each group's cover at ``y``."""
        s = self.nb @ y
        per = np.bincount(self.group, weights=self.w * np.minimum(s, 1.0), minlength=self.n_groups)
        return s, per

    def value(self, sites: np.ndarray) -> float:
        """Weight covered by the plan ``sites`` (the fixed sites' constant included)."""
        y = np.zeros(self.n_sites)
        y[sites] = 1.0
        return float(self.w[self.nb @ y >= _COVERED].sum()) + self.constant


def dominated(clients: Clients, fixed: np.ndarray, p: int) -> tuple[np.ndarray, np.ndarray]:
    """Sites no plan needs: those whose clients another site reaches too.

    A free site reaching no client, or only clients that a site ``k`` reaches as
    well (a strict subset, or the same set and ``k`` has the lower index), can
    leave every plan: put ``k`` in its place, or any other site if ``k`` is open
    already, and the cover does not fall. Returns the mask of such sites and, for
    each, one site that is not itself dominated and reaches all its clients (-1
    if it reaches none). Nothing is dominated when fewer than ``p`` sites would be
    left to choose from.
    """
    n_s = clients.n_sites
    dom = np.zeros(n_s, dtype=bool)
    by = np.full(n_s, -1, dtype=np.int64)
    free = np.ones(n_s, dtype=bool)
    free[fixed] = False
    pattern = clients.nb
    reach = pattern.T.tocsr()
    size = np.diff(reach.indptr)
    both = sp.coo_array(reach @ pattern)
    j, k, shared = both.row, both.col, both.data
    inside = (shared == size[j]) & (j != k) & ((shared < size[k]) | (k < j))
    dom[j[inside]] = True
    dom |= size == 0
    dom &= free
    if int((free & ~dom).sum()) < p - len(fixed):
        return np.zeros(n_s, dtype=bool), by
    top = inside & ~dom[k]
    by[j[top]] = k[top]
    return dom, by


def undominated(plan: np.ndarray, dom: np.ndarray, by: np.ndarray, fixed: np.ndarray) -> np.ndarray:
    """``plan`` with each dominated site replaced as in :func:`dominated` (its cover
    never falls)."""
    is_open = np.zeros(len(dom), dtype=bool)
    is_open[plan] = True
    spare = ~dom
    spare[fixed] = False
    for j in np.flatnonzero(is_open & dom).tolist():
        k = int(by[j])
        if k < 0 or is_open[k]:
            k = int(np.flatnonzero(spare & ~is_open)[0])
        is_open[j], is_open[k] = False, True
    return np.flatnonzero(is_open)


def _nearest(costs: sp.csr_array) -> np.ndarray:
    """Each row's site of least cost (ties: the lowest index); rows are non-empty."""
    c = sp.csr_array(costs)
    c.sort_indices()
    lengths = np.diff(c.indptr)
    if not len(lengths):
        return np.zeros(0, dtype=np.int64)
    least = np.minimum.reduceat(c.data, c.indptr[:-1])
    at = np.flatnonzero(c.data == np.repeat(least, lengths))
    row = np.repeat(np.arange(len(lengths)), lengths)[at]
    return c.indices[at[np.unique(row, return_index=True)[1]]].astype(np.int64)
