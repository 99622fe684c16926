"""Nested plans for growing station counts, and what nesting costs."""

from __future__ import annotations

import itertools
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

from siting.errors import InfeasibleError, InputError
from siting.optimize.options import SolveOptions
from siting.optimize.result import SolveResult


@dataclass
class Phase:
    """One stage of a nested plan."""

    p: int
    selected: np.ndarray
    objective: float
    independent_objective: float
    cost_of_nesting: float
    status: str
    independent_status: str
    result: SolveResult


def phased_plan(
    make_model: Callable[[int, np.ndarray], Any],
    sizes: list[int],
    fixed: np.ndarray,
    *,
    maximize: bool,
    solver: str | SolveOptions | None = None,
    time_limit: float | None = None,
    gap: float | None = None,
    threads: int | None = None,
) -> list[Phase]:
    """Nested plans for growing sizes (e.g. 150 → 311 → 400), and what nesting costs.

    Stage *k* keeps every site of stage *k − 1* fixed and adds ``sizes[k] − sizes[k−1]``
    sites (sequential nesting). Each size is also solved alone, with only ``fixed``
    kept; the cost of nesting is the share of the independent objective lost,
    ``(independent − nested) / independent`` for a maximisation (the reverse for a
    minimisation), 0 when nesting loses nothing.

    Parameters
    ----------
    make_model
        ``make_model(p, fixed)`` returns a model with ``solve``.
    sizes
        Strictly increasing station counts, each at least ``len(fixed)``.
    fixed
        Sites every stage keeps (existing stations).
    maximize
        Whether the model's objective is maximised.
    solver, time_limit, gap, threads
        The options of every solve, as a model's ``solve`` takes them (``solver``
        may be a :class:`~siting.optimize.SolveOptions`).
    """
    if not sizes or any(b <= a for a, b in itertools.pairwise(sizes)):
        raise InputError(f"optimize.phases: expected strictly increasing sizes, got {sizes}")
    if sizes[0] < len(fixed):
        raise InfeasibleError(
            f"optimize.phases: the first phase ({sizes[0]}) is smaller than the "
            f"{len(fixed)} existing stations"
        )
    o = SolveOptions.of(solver, time_limit=time_limit, gap=gap, threads=threads)
    phases: list[Phase] = []
    keep = np.asarray(fixed, dtype=np.int64)
    for p in sizes:
        nested = make_model(p, keep).solve(o)
        alone = make_model(p, np.asarray(fixed, dtype=np.int64)).solve(o)
        ind, nes = alone.objective, nested.objective
        lost = (ind - nes) if maximize else (nes - ind)
        cost = lost / abs(ind) if abs(ind) > 1e-12 else 0.0
        phases.append(
            Phase(p, nested.selected, nes, ind, cost, nested.status, alone.status, nested)
        )
        keep = nested.selected
    return phases
