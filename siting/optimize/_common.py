"""Private helpers shared by the models: rows, checks, assignments, matrices."""

from __future__ import annotations

import contextlib
import math
import numbers
from collections.abc import Mapping
from typing import Any

import geopandas as gpd
import numpy as np
import pulp
import scipy.sparse as sp

from siting._errors import InfeasibleError, InputError
from siting._io import check_projected

STATION_TYPES = ("AC", "DC")


def shown(value: object, limit: int = 80) -> str:
    """``value`` for a one-line message: its repr on one line, cut to ``limit``."""
    text = " ".join(repr(value).split())
    return text if len(text) <= limit else text[: limit - 3] + "..."


def as_real(value: object) -> float | None:
    """``value`` as a float when it is a real number (not a bool, a string or NaN)."""
    if isinstance(value, bool | np.bool_) or not isinstance(value, numbers.Real):
        return None
    out = float(value)
    return None if math.isnan(out) else out


def check_number(
    value: object,
    name: str,
    *,
    at_least: float | None = None,
    above: float | None = None,
    at_most: float | None = None,
    finite: bool = True,
) -> float:
    """``value`` as a float: a real number (never a bool, a string or NaN), finite
    unless ``finite`` is false, and within the bounds given.

    Raises
    ------
    InputError
        One line naming ``name``, what was expected and what arrived.
    """
    x = as_real(value)
    ok = (
        x is not None
        and (not finite or math.isfinite(x))
        and (at_least is None or x >= at_least)
        and (above is None or x > above)
        and (at_most is None or x <= at_most)
    )
    if not ok or x is None:
        bounds = [
            f"{op} {b:g}"
            for op, b in ((">=", at_least), (">", above), ("<=", at_most))
            if b is not None
        ]
        what = ("a finite number" if finite else "a number") + (
            " " + " and ".join(bounds) if bounds else ""
        )
        raise InputError(f"{name}: expected {what}, got {shown(value)}")
    return x


def check_count(value: object, name: str, *, at_least: int | None = None) -> int:
    """``value`` as an int: an integer (Python or numpy, never a bool or a float),
    at least ``at_least`` when given.

    Raises
    ------
    InputError
        One line naming ``name``, what was expected and what arrived.
    """
    if isinstance(value, bool | np.bool_) or not isinstance(value, numbers.Integral):
        raise InputError(
            f"{name}: expected an integer, got {shown(value)} ({type(value).__name__})"
        )
    if at_least is not None and int(value) < at_least:
        raise InputError(f"{name}: expected an integer >= {at_least}, got {int(value)}")
    return int(value)


def check_station_cost(station_cost: object) -> dict[str, float] | None:
    """The capital cost of a new station per type: a mapping from charger type
    ``'AC'``/``'DC'`` to a finite cost >= 0 (``None`` stays ``None``).

    Raises
    ------
    InputError
        Not a mapping, a key other than 'AC' or 'DC' (e.g. a site index), or a cost
        that is not a finite number >= 0.
    """
    if station_cost is None:
        return None
    ok = isinstance(station_cost, Mapping) and all(
        isinstance(t, str)
        and t in STATION_TYPES
        and (c := as_real(v)) is not None
        and math.isfinite(c)
        and c >= 0
        for t, v in station_cost.items()
    )
    if not ok or not isinstance(station_cost, Mapping):
        raise InputError(
            "station_cost: expected a mapping from charger type 'AC'/'DC' to a finite cost "
            f">= 0, got {shown(station_cost)} ({type(station_cost).__name__})"
        )
    return {str(t): float(v) for t, v in station_cost.items()}


def check_values(values: object, n_demand: int, name: str) -> np.ndarray:
    """``values`` as ``n_demand`` finite floats >= 0 (one per demand point).

    Raises
    ------
    InputError
        Not numbers (strings, bools), the wrong shape, or a value NaN, infinite or < 0.
    """
    arr = np.asarray(values)
    if arr.dtype.kind == "O":
        with contextlib.suppress(TypeError, ValueError):
            arr = arr.astype(float)
    if arr.dtype.kind not in "iuf":
        raise InputError(
            f"{name}: expected {n_demand} finite numbers >= 0 (one per demand point), "
            f"got {shown(values)} (dtype {arr.dtype})"
        )
    out = arr.astype(float)
    _check_weights(out, n_demand, name)
    return out


def check_pairs_matrix(matrix: object, name: str) -> sp.csr_array:
    """``matrix`` (dense or sparse, ``(n_demand, n_sites)``) as a CSR array.

    Raises
    ------
    InputError
        Not convertible to a two-dimensional matrix.
    """
    try:
        out = sp.csr_array(matrix)
    except (TypeError, ValueError):
        out = None
    if out is None or out.ndim != 2:
        raise InputError(
            f"{name}: expected a (n_demand, n_sites) matrix, got {shown(matrix)} "
            f"({type(matrix).__name__})"
        )
    return out


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


def _check_weights(weights: np.ndarray, n_demand: int, name: str = "weights") -> None:
    if weights.shape != (n_demand,):
        raise InputError(
            f"{name}: expected {n_demand} values (one per demand point), got shape {weights.shape}"
        )
    bad = np.flatnonzero(~np.isfinite(weights) | (weights < 0))
    if len(bad):
        i = int(bad[0])
        raise InputError(
            f"{name}: expected finite values >= 0, got {weights[i]} at point {i} "
            f"({len(bad)} in all)"
        )


def site_indices(values: object, n_sites: int, name: str) -> np.ndarray:
    """``values`` as int64 site indices, each in ``[0, n_sites)`` (any shape).

    Raises
    ------
    InputError
        Not integers (a boolean mask, fractions, text) or an index out of range.
    """
    arr = np.asarray(values)
    if arr.size == 0:
        return np.zeros(arr.shape, dtype=np.int64)
    integral = arr.dtype.kind in "iu" or (
        arr.dtype.kind == "f" and bool(np.all(np.isfinite(arr) & (arr == np.round(arr))))
    )
    if not integral:
        raise InputError(
            f"{name}: expected site indices (integers, not a mask), got {shown(values)}"
        )
    out = arr.astype(np.int64)
    if out.min() < 0 or out.max() >= n_sites:
        bad = out[(out < 0) | (out >= n_sites)]
        raise InputError(
            f"{name}: expected site indices in [0, {n_sites}), got {bad.ravel().tolist()[:5]}"
        )
    return out


def _fixed_sites(fixed: object, n_sites: int) -> np.ndarray:
    """The fixed (existing) sites as sorted unique indices, each in ``[0, n_sites)``."""
    arr = np.asarray(fixed if fixed is not None else [])
    if arr.ndim != 1:
        raise InputError(f"fixed: expected a sequence of site indices, got {shown(fixed)}")
    return np.unique(site_indices(arr, n_sites, "fixed"))


def _check_capacity(
    capacity: Mapping[str, float], station_cost: Mapping[str, float], *, costed: bool
) -> None:
    """Station types AC and/or DC with capacities > 0; with ``costed``, a finite
    cost >= 0 for each type."""
    if (
        not isinstance(capacity, Mapping)
        or not capacity
        or any(not isinstance(t, str) or t not in STATION_TYPES for t in capacity)
    ):
        raise InputError(
            "capacity: expected a mapping from station type 'AC'/'DC' to sessions/day > 0, "
            f"got {shown(capacity)} ({type(capacity).__name__})"
        )
    for t, k in capacity.items():
        check_number(k, f"capacity[{t!r}] (sessions/day)", above=0.0)
    check_station_cost(station_cost)
    missing = [t for t in capacity if t not in station_cost]
    if costed and missing:
        raise InputError(
            f"station_cost: expected a cost for every station type of capacity, got none for "
            f"{', '.join(missing)} in {shown(station_cost)}"
        )


def check_threshold_s(threshold_s: object, cutoff_s: float) -> float:
    """A drive-time threshold (seconds) >= 0 within the matrix's cutoff."""
    t = check_number(threshold_s, "threshold_s", at_least=0.0)
    if t > cutoff_s:
        raise InputError(
            f"threshold_s: expected seconds within the travel-time cutoff ({cutoff_s:.0f}), "
            f"got {t:.0f}; rebuild travel times with a larger cutoff"
        )
    return t


def check_p(p: int, n_sites: int, n_fixed: int) -> None:
    check_count(p, "p")
    if p < 1:
        raise InfeasibleError(f"optimize.p: expected at least 1 station, got {p}")
    if p < n_fixed:
        raise InfeasibleError(
            f"optimize.p = {p} is smaller than the {n_fixed} existing stations that every plan "
            f"keeps; set p to at least {n_fixed}"
        )
    if p > n_sites:
        raise InfeasibleError(
            f"optimize.p = {p} exceeds the {n_sites} candidate sites; lower p or add candidates "
            "(candidates.grid_spacing_m smaller, or more OSM features)"
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


def _check_pair_costs(values: np.ndarray, matrix: Any, name: str) -> None:
    """Costs (times) of pairs: none NaN or negative (``inf`` is out of reach)."""
    bad = np.flatnonzero(np.isnan(values) | (values < 0))
    if len(bad):
        k = int(bad[0])
        if sp.issparse(matrix):
            m = sp.csr_array(matrix)
            row, col = int(np.searchsorted(m.indptr, k, "right")) - 1, int(m.indices[k])
        else:
            row, col = (int(x) for x in np.unravel_index(k, np.shape(matrix)))
        where = f"({row}, {col})"
        raise InputError(
            f"{name}: expected times (costs) >= 0, got {values[k]} at {where} ({len(bad)} in all)"
        )


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


def _check_site_capacity(
    site_capacity: dict[int, tuple[str, float]] | None, fixed: np.ndarray
) -> dict[int, tuple[str, float]]:
    out: dict[int, tuple[str, float]] = {}
    fixed_set = set(fixed.tolist())
    if site_capacity is not None and not isinstance(site_capacity, Mapping):
        raise InputError(
            "site_capacity: expected a mapping from existing site to ('AC' or 'DC', "
            f"sessions/day > 0), got {shown(site_capacity)} ({type(site_capacity).__name__})"
        )
    for j, kind in (site_capacity or {}).items():
        if isinstance(j, bool | np.bool_) or not isinstance(j, numbers.Integral):
            raise InputError(f"site_capacity: expected site indices as keys, got {j!r}")
        if int(j) not in fixed_set:
            raise InputError(
                f"site_capacity: expected existing (fixed) sites as keys, got site {j}, "
                "which is not fixed"
            )
        t, k = kind if isinstance(kind, tuple | list) and len(kind) == 2 else (None, None)
        k_ok = as_real(k)
        if t not in STATION_TYPES or k_ok is None or not math.isfinite(k_ok) or k_ok <= 0:
            raise InputError(
                f"site_capacity[{j}]: expected ('AC' or 'DC', sessions/day > 0), got {shown(kind)}"
            )
        out[int(j)] = (str(t), k_ok)
    return out


def _summed(terms: list[tuple[pulp.LpVariable, float]]) -> pulp.LpAffineExpression:
    """An expression from (variable, coefficient) terms, adding up repeated variables
    (``LpAffineExpression`` of a list keeps only the last coefficient of each)."""
    coef: dict[str, float] = {}
    var: dict[str, pulp.LpVariable] = {}
    for v, c in terms:
        coef[v.name] = coef.get(v.name, 0.0) + c
        var[v.name] = v
    return pulp.LpAffineExpression([(var[k], c) for k, c in coef.items()])


def _expand_assignment(
    assignment: tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray],
    rep_of: np.ndarray,
    pos: np.ndarray,
    row_ac: np.ndarray,
    row_dc: np.ndarray,
    ac: np.ndarray,
    dc: np.ndarray,
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Split an assignment of merged rows back to their points, in proportion."""
    r, c, v, is_dc = assignment
    points = np.flatnonzero(rep_of >= 0)
    group = pos[points]
    out_r, out_c, out_v, out_k = [], [], [], []
    for kind_dc, amounts, totals in ((False, ac, row_ac), (True, dc, row_dc)):
        sel = is_dc == kind_dc
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
        out_k.append(np.full(len(split.data), kind_dc))
    return (
        np.concatenate(out_r).astype(np.int64),
        np.concatenate(out_c).astype(np.int64),
        np.concatenate(out_v).astype(float),
        np.concatenate(out_k).astype(bool),
    )


def _values(y: dict[str, list[pulp.LpVariable]], assign: dict[str, Any]) -> dict[str, Any]:
    """A solved plan as a warm start."""
    return {
        "types": {
            j: t for t, vs in y.items() for j, v in enumerate(vs) if (v.varValue or 0.0) > 0.5
        },
        "u": {k: min(1.0, max(0.0, x.varValue or 0.0)) for k, x in assign["u"].items()},
        "v": {k: min(1.0, max(0.0, x.varValue or 0.0)) for k, x in assign["v"].items()},
    }


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
