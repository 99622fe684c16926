"""Private: the checks of :class:`~siting.optimize.CapacitatedCoverage`'s inputs with
designs and demand classes (pairs, each class's reach, per-class figures, least use,
forced and closed sites), each returning the checked value or raising
:class:`~siting.errors.InputError` naming the argument.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
import scipy.sparse as sp

from siting.errors import InputError
from siting.optimize._checks import check_number, check_pairs_matrix, shown
from siting.optimize.capacitated.design import Design


def pairs(neighbours: sp.sparray | sp.spmatrix) -> sp.csr_array:
    """The pairs within reach as a boolean CSR matrix, duplicates summed, sorted; an
    entry stored as False (or 0) is no pair."""
    nb = check_pairs_matrix(neighbours, "neighbours").astype(bool)
    nb.sum_duplicates()
    nb.eliminate_zeros()
    nb.sort_indices()
    return nb


def class_neighbours(
    given: Sequence[sp.sparray | sp.spmatrix] | None, nb: sp.csr_array, n_c: int
) -> list[sp.csr_array]:
    """Each class's pairs, checked to lie within ``nb``."""
    if given is None:
        return [nb] * n_c
    out = [pairs(m) for m in given]
    if len(out) != n_c:
        raise InputError(f"class_neighbours: expected {n_c} matrices, got {len(out)}")
    for c, m in enumerate(out):
        if m.shape != nb.shape or (m.astype(np.int8) - m.multiply(nb).astype(np.int8)).nnz:
            raise InputError(
                f"class_neighbours[{c}]: expected pairs within neighbours {nb.shape}, got a "
                f"matrix of shape {m.shape} with pairs outside them"
            )
    return out


def per_class(
    values: Sequence[float] | None, n_c: int, name: str, default: float, *, top: float | None
) -> np.ndarray:
    if values is None:
        return np.full(n_c, default)
    arr = np.asarray(values, dtype=float)
    if arr.shape != (n_c,):
        raise InputError(f"{name}: expected {n_c} values (one per class), got {shown(values)}")
    for c, v in enumerate(arr.tolist()):
        check_number(v, f"{name}[{c}]", at_least=0.0, at_most=top)
    return arr


def min_use(
    given: Mapping[str, float | np.ndarray] | None,
    designs: Mapping[str, Design],
    n_s: int,
    fixed: set[int],
) -> dict[str, np.ndarray]:
    """Each design's least use per site (0 at existing sites), checked; designs with
    none left out."""
    out: dict[str, np.ndarray] = {}
    for name, value in (given or {}).items():
        if name not in designs:
            raise InputError(f"min_use: expected design names from {sorted(designs)}, got {name!r}")
        try:
            arr = np.broadcast_to(np.asarray(value, dtype=float), (n_s,)).copy()
        except ValueError:
            raise InputError(
                f"min_use[{name!r}]: expected one figure or one per site ({n_s})"
            ) from None
        if not np.all(np.isfinite(arr)) or np.any(arr < 0):
            raise InputError(f"min_use[{name!r}]: expected finite figures >= 0")
        arr[list(fixed)] = 0.0
        if arr.any():
            out[name] = arr
    return out


def forced_closed(
    forced: Sequence[int] | np.ndarray | None,
    closed: Sequence[int] | np.ndarray | None,
    fixed: set[int],
    n_s: int,
) -> tuple[np.ndarray, np.ndarray]:
    """The forced and the closed sites, checked: within range, new (not existing),
    none both."""
    out = []
    for name, given in (("forced", forced), ("closed", closed)):
        arr = np.unique(np.asarray([] if given is None else given, dtype=np.int64))
        if len(arr) and (arr.min() < 0 or arr.max() >= n_s):
            raise InputError(f"{name}: expected site indices in [0, {n_s}), got {shown(given)}")
        kept = sorted(set(arr.tolist()) & fixed)
        if kept:
            raise InputError(
                f"{name}: expected new sites, got existing station site(s) {kept}, which "
                "every plan keeps"
            )
        out.append(arr)
    both = sorted(set(out[0].tolist()) & set(out[1].tolist()))
    if both:
        raise InputError(f"forced, closed: site(s) {both} both forced and closed")
    return out[0], out[1]
