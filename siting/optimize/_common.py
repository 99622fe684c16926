"""Private helpers shared by the models: rows, assignments, matrices."""

from __future__ import annotations

import geopandas as gpd
import numpy as np
import pulp
import scipy.sparse as sp

from siting._io import check_projected
from siting.errors import InputError
from siting.optimize._checks import _check_pair_costs, check_number, check_pairs_matrix, shown


class Problem(pulp.LpProblem):
    """A PuLP problem whose variable list is kept between calls.

    PuLP's ``variables()`` scans every term of every row and sorts the variables by
    name on each call, and one solve calls it about six times (about 0.2 s each on
    the Almaty default's 74,000 variables). Here the scan runs again only when a row
    was added or the objective replaced since the last one; the list and its order
    are PuLP's own.
    """

    def variables(self) -> list[pulp.LpVariable]:
        seen = getattr(self, "_seen", None)
        now = (len(self._constraints), self.objective)
        if seen is None or seen[0] != now[0] or seen[1] is not now[1]:
            super().variables()
            self._seen = now
        return self._variables


def _site_variables(prob: pulp.LpProblem, n_sites: int, fixed: np.ndarray) -> list[pulp.LpVariable]:
    """One integer site variable per candidate; fixed sites bounded to [1, 1].

    (``LpBinary`` would reset a lower bound of 1 to 0, silently un-fixing a site.)
    """
    keep = set(fixed.tolist())
    return [
        prob.add_variable(f"y_{j}", lowBound=1 if j in keep else 0, upBound=1, cat=pulp.LpInteger)
        for j in range(n_sites)
    ]


def _add_p_sites(
    prob: pulp.LpProblem, y: list[pulp.LpVariable], p: int, *, at_most: bool = False
) -> None:
    """Exactly ``p`` sites (at most ``p`` under a budget), fixed ones included."""
    sense = pulp.LpConstraintLE if at_most else pulp.LpConstraintEQ
    prob += pulp.LpConstraint(
        pulp.LpAffineExpression([(v, 1.0) for v in y]), sense, "p_sites", float(p)
    )


def _assign(
    indptr: np.ndarray, indices: np.ndarray, data: np.ndarray, n_demand: int, selected: np.ndarray
) -> np.ndarray:
    """Each point's cheapest selected site among its allowed pairs (-1: none within reach).

    Returned as a position in ``selected``; ties go to the earlier position.
    """
    sel = np.asarray(selected, dtype=np.int64)
    n_cols = max(
        int(indices.max()) + 1 if len(indices) else 0, int(sel.max()) + 1 if len(sel) else 0
    )
    pos = np.full(max(n_cols, 1), -1, dtype=np.int64)
    pos[sel] = np.arange(len(sel))
    rows = np.repeat(np.arange(n_demand), np.diff(indptr))
    keep = pos[indices] >= 0
    rows, cols, cost = rows[keep], pos[indices[keep]], data[keep]
    order = np.lexsort((cols, cost, rows))  # by row, then cost, then position
    rows, cols = rows[order], cols[order]
    first = np.ones(len(rows), dtype=bool)
    first[1:] = rows[1:] != rows[:-1]
    assignment = np.full(n_demand, -1, dtype=np.int64)
    assignment[rows[first]] = cols[first]
    return assignment


def _site_load(assignment: np.ndarray, weights: np.ndarray, n_selected: int) -> np.ndarray:
    """Demand weight assigned to each selected site."""
    served = assignment >= 0
    return np.bincount(assignment[served], weights[served], minlength=n_selected)


def _layer_distances(
    demand: gpd.GeoDataFrame, sites: gpd.GeoDataFrame, columns: list[str], what: str
) -> np.ndarray:
    """Straight-line (n_demand, n_sites) distances between two layers in one projected CRS."""
    if demand.crs != sites.crs:
        raise InputError(f"demand CRS {demand.crs} differs from sites CRS {sites.crs}")
    check_projected(demand, what=what)
    for col in columns:
        if col not in demand.columns:
            raise InputError(f"{what}: demand has no column {col!r}")
    d = np.column_stack([demand.geometry.centroid.x, demand.geometry.centroid.y])
    s = np.column_stack([sites.geometry.centroid.x, sites.geometry.centroid.y])
    out: np.ndarray = np.linalg.norm(d[:, None, :] - s[None, :, :], axis=2)
    return out


def _within(cost: np.ndarray | sp.sparray | sp.spmatrix, threshold: float) -> sp.csr_array:
    return _within_times(cost, threshold)[0]


def _within_times(
    cost: np.ndarray | sp.sparray | sp.spmatrix, threshold: float
) -> tuple[sp.csr_array, sp.csr_array]:
    """Boolean pairs within ``threshold`` and their costs, on the same sparsity.

    Raises
    ------
    InputError
        ``threshold`` not a number >= 0 (``inf``: every stored pair), a cost NaN or
        negative (``inf`` is out of reach), or a dense matrix not two-dimensional.
    """
    threshold = check_number(threshold, "threshold", at_least=0.0, finite=False)
    if sp.issparse(cost):
        m = sp.csr_array(cost)
        _check_pair_costs(m.data, m, "cost")
        keep = (m.data <= threshold) & np.isfinite(m.data)
        rows = np.repeat(np.arange(m.shape[0]), np.diff(m.indptr))[keep]
        cols, vals = m.indices[keep], m.data[keep].astype(float)
        shape = m.shape
    else:
        try:
            arr = np.asarray(cost, dtype=float)
        except (TypeError, ValueError):
            raise InputError(f"cost: expected a matrix of numbers, got {shown(cost)}") from None
        if arr.ndim != 2:
            raise InputError(f"cost: expected a 2-D matrix, got {arr.ndim} dimension(s)")
        _check_pair_costs(arr.ravel(), arr, "cost")
        rows, cols = np.nonzero((arr <= threshold) & np.isfinite(arr))
        vals = arr[rows, cols]
        shape = arr.shape
    nb = sp.csr_array((np.ones(len(rows), dtype=bool), (rows, cols)), shape=shape)
    times = sp.csr_array((vals, (rows, cols)), shape=shape)
    return nb, times


def _aligned_times(
    times: sp.sparray | sp.spmatrix | None, nb: sp.csr_array, name: str = "times"
) -> np.ndarray | None:
    """Pair times in the order of ``nb``'s stored entries (``None`` without times),
    each finite and >= 0."""
    if times is None:
        return None
    t = check_pairs_matrix(times, name).astype(float)
    t.sum_duplicates()
    t.sort_indices()
    if t.shape != nb.shape or not (
        np.array_equal(t.indptr, nb.indptr) and np.array_equal(t.indices, nb.indices)
    ):
        raise InputError(f"{name}: expected the same sparsity pattern as neighbours")
    out = np.asarray(t.data, dtype=float)
    _check_pair_costs(out, t, name)
    if not np.all(np.isfinite(out)):
        raise InputError(f"{name}: expected finite times of the pairs within reach, got inf")
    return out


def _summed(terms: list[tuple[pulp.LpVariable, float]]) -> pulp.LpAffineExpression:
    """An expression from (variable, coefficient) terms, adding up repeated variables
    (``LpAffineExpression`` of a list keeps only the last coefficient of each)."""
    coef: dict[pulp.LpVariable, float] = {}  # a variable hashes by identity
    get = coef.get
    for v, c in terms:
        coef[v] = get(v, 0.0) + c
    return pulp.LpAffineExpression(coef)


def _expand_assignment(
    assignment: tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray],
    rep_of: np.ndarray,
    pos: np.ndarray,
    row_demand: np.ndarray,
    demand: np.ndarray,
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Split an assignment of merged rows (point, station, value, class) back to
    their points, in proportion to each class's demand (``row_demand`` per merged
    row, ``demand`` per point, one row per class)."""
    r, c, v, cls = assignment
    points = np.flatnonzero(rep_of >= 0)
    group = pos[points]
    out_r, out_c, out_v, out_k = [], [], [], []
    for k in range(demand.shape[0]):
        amounts, totals = demand[k], row_demand[k]
        sel = cls == k
        share = np.divide(
            amounts[points], totals[group], out=np.zeros(len(points)), where=totals[group] > 0
        )
        # points of each group (CSR by group), then every (group, site, value) entry
        m = sp.csr_array((share, (group, points)), shape=(len(totals), len(amounts)))
        entries = sp.csr_array(
            (v[sel], (r[sel], c[sel])), shape=(len(totals), int(c.max(initial=-1)) + 1)
        )
        split = sp.coo_array(m.T @ entries)
        out_r.append(split.row)
        out_c.append(split.col)
        out_v.append(split.data)
        out_k.append(np.full(len(split.data), k))
    return (
        np.concatenate(out_r).astype(np.int64),
        np.concatenate(out_c).astype(np.int64),
        np.concatenate(out_v).astype(float),
        np.concatenate(out_k).astype(np.int64),
    )


def _cost_rows(
    costs: np.ndarray | sp.sparray | sp.spmatrix,
) -> tuple[np.ndarray, np.ndarray, np.ndarray, tuple[int, int]]:
    """CSR arrays of a cost matrix, keeping every dense entry and every stored sparse one."""
    if sp.issparse(costs):
        m = sp.csr_array(costs)
        m.sum_duplicates()
        return (
            m.indptr.astype(np.int64),
            m.indices.astype(np.int64),
            m.data.astype(float),
            (int(m.shape[0]), int(m.shape[1])),
        )
    try:
        arr = np.asarray(costs, dtype=float)
    except (TypeError, ValueError):
        raise InputError(f"costs: expected a matrix of numbers, got {shown(costs)}") from None
    if arr.ndim != 2:
        raise InputError(f"costs: expected a 2-D matrix, got {arr.ndim} dimension(s)")
    n, m = arr.shape
    indptr = np.arange(0, n * m + 1, m, dtype=np.int64)
    return indptr, np.tile(np.arange(m, dtype=np.int64), n), arr.ravel().copy(), (n, m)
