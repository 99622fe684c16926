"""A station design of the capacitated model: what a station of it offers and costs.

A :class:`Design` is given in the capacitated model's own units: a daily capacity
(for example port-hours at the service level) and, per demand class, the units
one session of that class takes (hours it holds a port); a class the design cannot
serve has no figure (NaN). The legacy form of the model (AC and DC demand, one
capacity in sessions per type) is two designs whose sessions each take one unit.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

import numpy as np

from siting.errors import InputError
from siting.optimize._checks import check_number, shown


@dataclass(frozen=True)
class Design:
    """One station design.

    Attributes
    ----------
    name
        Its name; the plan's variables and figures are keyed by it.
    capacity
        Units per day a station of this design offers (port-hours, or sessions when
        every session takes one unit).
    units
        Per demand class, the units one session takes here; NaN where the class
        cannot use this design.
    cost
        Capital cost of a new station of this design (before any site's own cost).
    charger
        Its charger type, a label (``"AC"``/``"DC"``) for the figures and for
        ``max_dc`` (new stations of a DC design).
    sites
        Site indices where it may stand (None: anywhere).
    """

    name: str
    capacity: float
    units: tuple[float, ...]
    cost: float = 0.0
    charger: str = ""
    sites: frozenset[int] | None = field(default=None, compare=False)

    def __post_init__(self) -> None:
        if not isinstance(self.name, str) or not self.name:
            raise InputError(f"design name: expected a non-empty string, got {shown(self.name)}")
        check_number(self.capacity, f"design {self.name!r} capacity", above=0.0)
        check_number(self.cost, f"design {self.name!r} cost", at_least=0.0)
        units = tuple(float(u) for u in self.units)
        if not units or any(not (math.isnan(u) or (math.isfinite(u) and u > 0)) for u in units):
            raise InputError(
                f"design {self.name!r} units: expected per class a finite number > 0 or NaN "
                f"(cannot serve), got {shown(self.units)}"
            )
        if all(math.isnan(u) for u in units):
            raise InputError(f"design {self.name!r} units: it serves no demand class")
        object.__setattr__(self, "units", units)

    def serves(self, c: int) -> bool:
        """Whether demand class ``c`` may charge at this design."""
        return not math.isnan(self.units[c])

    def allowed_at(self, j: int) -> bool:
        """Whether a new station of this design may stand at site ``j``."""
        return self.sites is None or j in self.sites

    def sessions(self, c: int) -> float:
        """Sessions per day of class ``c`` alone a station of this design takes."""
        return self.capacity / self.units[c] if self.serves(c) else 0.0


def legacy_designs(capacity: dict[str, float], station_cost: dict[str, float]) -> dict[str, Design]:
    """The designs of the legacy form: an AC type serving AC demand (class 0), a DC
    type serving both classes, each session one unit of its daily capacity."""
    units = {"AC": (1.0, math.nan), "DC": (1.0, 1.0)}
    return {
        t: Design(t, float(k), units[t], float(station_cost.get(t, 0.0)), t)
        for t, k in capacity.items()
    }


def check_designs(designs: Iterable[Design], n_classes: int, n_sites: int) -> list[Design]:
    """The designs as a list, each a :class:`Design` with one figure per class,
    names unique, sites within range."""
    out = list(designs)
    names = [d.name for d in out if isinstance(d, Design)]
    if not out or len(names) != len(out):
        raise InputError(f"designs: expected one or more Design objects, got {shown(designs)}")
    if len(set(names)) != len(names):
        raise InputError(f"designs: expected unique names, got {names}")
    for d in out:
        if len(d.units) != n_classes:
            raise InputError(
                f"design {d.name!r} units: expected {n_classes} figures (one per demand "
                f"class), got {len(d.units)}"
            )
        if d.sites is not None and any(not 0 <= j < n_sites for j in d.sites):
            raise InputError(f"design {d.name!r} sites: expected site indices in [0, {n_sites})")
    return out


def class_matrix(demand: Sequence[np.ndarray] | np.ndarray, n_points: int) -> np.ndarray:
    """Per-class demand as a (classes, points) array of finite values >= 0."""
    arr = np.asarray(demand, dtype=float)
    if arr.ndim == 1:
        arr = arr[None, :]
    if arr.ndim != 2 or arr.shape[1] != n_points or arr.shape[0] < 1:
        raise InputError(
            f"demand: expected per class one value per demand point ({n_points}), got an "
            f"array of shape {arr.shape}"
        )
    if not np.isfinite(arr).all() or (arr < 0).any():
        raise InputError("demand: expected finite sessions/day >= 0 for every class and point")
    return arr
