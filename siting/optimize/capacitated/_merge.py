"""Private: the exact merge of the capacitated model's points with the same reach
(and its split back), and a plan's per-station and per-point figures; shared by the
direct (:mod:`siting.optimize.capacitated._solve`) and the large-instance
(:mod:`siting.optimize.capacitated._large`) paths."""

from __future__ import annotations

import copy
import logging
from typing import TYPE_CHECKING, Any

import numpy as np
import scipy.sparse as sp

from siting import settings
from siting.optimize._common import _expand_assignment
from siting.optimize._rows import same_rows as _same_rows

if TYPE_CHECKING:
    from siting.optimize.capacitated.model import CapacitatedCoverage

log = logging.getLogger(__name__)


def same_reach_rows(
    model: CapacitatedCoverage,
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Points with demand and the same sites in reach, one row each (exact).

    Returns the points with demand in reach (mask), the representative rows, the
    representative of every point (-1 for none) and the AC and DC demand of each
    representative row, summed over the points it stands for.
    """
    nb = model.neighbours
    n_d = nb.shape[0]
    live = (np.diff(nb.indptr) > 0) & ((model.ac + model.dc) > 0)
    rows, rep_of = _same_rows(nb, live, None)
    ac = np.bincount(rep_of[live], weights=model.ac[live], minlength=n_d)[rows]
    dc = np.bincount(rep_of[live], weights=model.dc[live], minlength=n_d)[rows]
    return live, rows, rep_of, ac, dc


def merged(model: CapacitatedCoverage) -> tuple[CapacitatedCoverage, np.ndarray, np.ndarray] | None:
    """The same instance with the points of identical reach merged into one row.

    Exact: a merged point's shares split back in proportion, its cover variable
    stands for all of them. Not applied where points differ beyond their reach
    (district equity rows, access times in the secondary order) or where fewer
    than a tenth of the rows would go. Returns (model, representative rows,
    representative of every point) or None.
    """
    if model.groups is not None and model.equity_share > 0:
        return None
    if model.times is not None and settings.SECONDARY_WEIGHTS[0] > 0:
        return None
    live, rows, rep_of, ac, dc = same_reach_rows(model)
    if len(rows) > 0.9 * live.sum():
        return None
    # a shallow copy keeps every option and side constraint (all per site);
    # only the per-point arrays change
    reduced = copy.copy(model)
    reduced.neighbours = sp.csr_array(model.neighbours[rows])
    reduced.ac, reduced.dc = ac, dc
    reduced.times = None
    reduced.groups = None
    log.info("capacitated: %d points merged into %d rows", int(live.sum()), len(rows))
    return reduced, rows, rep_of


def unmerged(
    model: CapacitatedCoverage,
    x: dict[str, Any],
    rows: np.ndarray,
    rep_of: np.ndarray,
    ac: np.ndarray,
    dc: np.ndarray,
) -> dict[str, Any]:
    """A merged model's per-point figures back on this model's points, in proportion."""
    pos = np.searchsorted(rows, np.where(rep_of >= 0, rep_of, rows[0] if len(rows) else 0))
    frac_ac = np.divide(x["served_ac"], ac, out=np.zeros(len(rows)), where=ac > 0)
    frac_dc = np.divide(x["served_dc"], dc, out=np.zeros(len(rows)), where=dc > 0)
    served_ac = np.where(rep_of >= 0, frac_ac[pos] * model.ac, 0.0) if len(rows) else model.ac * 0
    served_dc = np.where(rep_of >= 0, frac_dc[pos] * model.dc, 0.0) if len(rows) else model.dc * 0
    return {
        **x,
        "assignment": _expand_assignment(x["assignment"], rep_of, pos, ac, dc, model.ac, model.dc),
        "served_ac": served_ac,
        "served_dc": served_dc,
        "demand_total": float(model.ac.sum() + model.dc.sum()),
    }


def plan_figures(
    model: CapacitatedCoverage,
    sites: np.ndarray,
    types: np.ndarray,
    assignment: tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray],
    n_points: int,
) -> dict[str, Any]:
    """Per station (``sites`` of ``model``, of ``types``) and per point figures of a
    plan's one ``assignment``: (demand point, position in ``sites``, sessions/day,
    whether they are DC sessions)."""
    r, c, v, is_dc = assignment
    load = np.bincount(c, weights=v, minlength=len(sites))
    cap = np.array([model.capacity_of(int(j), t) for j, t in zip(sites, types, strict=True)])
    cost = np.array([model.cost_of(int(j), t) for j, t in zip(sites, types, strict=True)])
    return {
        "types": types,
        "load": load,
        "capacity": cap,
        "utilisation": np.divide(load, cap, out=np.zeros(len(cap)), where=cap > 0),
        "served_ac": np.bincount(r[~is_dc], weights=v[~is_dc], minlength=n_points),
        "served_dc": np.bincount(r[is_dc], weights=v[is_dc], minlength=n_points),
        "assignment": assignment,
        "station_cost": cost,
        "cost": float(cost.sum()),
    }
