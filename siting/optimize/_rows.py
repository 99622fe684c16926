"""Private: rows of a sparse pattern with identical neighbour sets.

Merging them is an exact reduction for the covering models (a point's cover
depends only on its set of sites in reach, :func:`cover_rows`) and for the
capacitated model's flows (points with the same reach are interchangeable).
Also the pattern of a matrix as ones (:func:`ones_pattern`) and the column indices
of some of its rows (:func:`row_indices`).
"""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp


def cover_rows(
    nb: sp.csr_array, weights: np.ndarray, fixed: np.ndarray, groups: np.ndarray | None
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Rows of a covering model after two exact reductions.

    Points within reach of a fixed site are covered in every plan (returned as a
    mask, their weight a constant); points with identical neighbour sets (and the
    same equity group) are merged into their first point, which carries the
    summed weight. Returns (representative rows, weight per row, fixed-covered mask).
    """
    n_d = nb.shape[0]
    by_fixed = np.zeros(n_d, dtype=bool)
    if len(fixed):
        by_fixed = np.asarray(nb[:, fixed].sum(axis=1) > 0).ravel() & (weights > 0)
    live = (np.diff(nb.indptr) > 0) & (weights > 0) & ~by_fixed
    rows, rep_of = same_rows(nb, live, groups)
    merged = np.bincount(rep_of[live], weights=weights[live], minlength=n_d)
    return rows, merged, by_fixed


def ones_pattern(nb: sp.sparray | sp.spmatrix) -> sp.csr_array:
    """The stored entries of ``nb`` as float64 ones, column indices sorted; ``nb``
    itself is left as it was."""
    nb = _sorted(nb)
    return sp.csr_array((np.ones(nb.nnz), nb.indices, nb.indptr), shape=nb.shape)


def _sorted(nb: sp.sparray | sp.spmatrix) -> sp.csr_array:
    """``nb`` as CSR with sorted column indices (a copy only if they were not)."""
    nb = sp.csr_array(nb)
    if not nb.has_sorted_indices:
        nb = nb.copy()
        nb.sort_indices()
    return nb


def row_indices(nb: sp.csr_array, rows: np.ndarray) -> np.ndarray:
    """The column indices of ``rows`` of ``nb``, concatenated."""
    lengths = np.diff(nb.indptr)[rows]
    starts = np.concatenate([[0], np.cumsum(lengths)])
    pos = np.repeat(nb.indptr[rows] - starts[:-1], lengths) + np.arange(starts[-1])
    return nb.indices[pos].astype(np.int64, copy=False)


def same_rows(
    nb: sp.csr_array, live: np.ndarray, groups: np.ndarray | None
) -> tuple[np.ndarray, np.ndarray]:
    """Group the ``live`` rows with identical neighbour sets (and group labels).

    Returns (representative rows ascending, representative of every row; -1
    where not live). A representative is the first row of its group.

    Rows are keyed by their length and two fixed random projections of their
    sorted neighbour set, and every row is then compared with its
    representative entry by entry, so a hash collision can never merge two
    different rows (it falls back to the exact keyed loop).
    """
    nb = _sorted(nb)
    rows = np.flatnonzero(live)
    rep_of = np.full(nb.shape[0], -1, dtype=np.int64)
    if not len(rows):
        return rows, rep_of
    pattern = ones_pattern(nb)[rows]
    rng = np.random.default_rng(20_170_525)
    key = [np.diff(pattern.indptr).astype(np.float64)]
    key += [pattern @ rng.random(nb.shape[1]) for _ in range(2)]
    if groups is not None:
        key.append(np.unique(np.asarray(groups)[rows], return_inverse=True)[1].ravel())
    order = np.lexsort(key[::-1])  # stable: a group's first row comes first
    keys = np.column_stack(key)[order]
    starts = np.concatenate([[True], (keys[1:] != keys[:-1]).any(axis=1)])
    rep = np.empty(len(rows), dtype=np.int64)
    rep[order] = rows[order[np.flatnonzero(starts)[np.cumsum(starts) - 1]]]
    if not _rows_equal(nb, rows, rep):  # a hash collision: the exact loop decides
        return _same_rows_exact(nb, live, groups)
    rep_of[rows] = rep
    return np.unique(rep), rep_of


def _rows_equal(nb: sp.csr_array, rows: np.ndarray, other: np.ndarray) -> bool:
    """Whether each row ``rows[k]`` of ``nb`` has the neighbours of ``other[k]``."""
    lengths = np.diff(nb.indptr)
    if not np.array_equal(lengths[rows], lengths[other]):
        return False
    return bool(np.array_equal(row_indices(nb, rows), row_indices(nb, other)))


def _same_rows_exact(
    nb: sp.csr_array, live: np.ndarray, groups: np.ndarray | None
) -> tuple[np.ndarray, np.ndarray]:
    """:func:`same_rows` by a keyed loop over the rows (exact, slower)."""
    rep_of = np.full(nb.shape[0], -1, dtype=np.int64)
    first: dict[tuple[object, bytes], int] = {}
    indptr, indices = nb.indptr, nb.indices
    for i in np.flatnonzero(live).tolist():
        key = (
            groups[i] if groups is not None else None,
            np.sort(indices[indptr[i] : indptr[i + 1]]).tobytes(),
        )
        rep_of[i] = first.setdefault(key, i)
    rows = np.fromiter(sorted(first.values()), dtype=np.int64, count=len(first))
    return rows, rep_of
