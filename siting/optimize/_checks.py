"""Private: the models' argument checks, each failure one line naming the argument,
what was expected and what arrived (:class:`siting.errors.InputError`)."""

from __future__ import annotations

import contextlib
import math
import numbers
from collections.abc import Mapping
from typing import Any

import numpy as np
import scipy.sparse as sp

from siting.errors import InfeasibleError, InputError

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
