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
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Points with demand and the same sites in reach for every class, one row each
    (exact).

    Returns the points with demand in reach (mask), the representative rows, the
    representative of every point (-1 for none) and each class's demand of each
    representative row (classes, rows), summed over the points it stands for.
    """
    nb = model.neighbours
    n_d = nb.shape[0]
    live = (np.diff(nb.indptr) > 0) & (model.weights > 0)
    distinct = {id(m): m for m in model.class_nb}
    key = nb if len(distinct) == 1 else sp.csr_array(sp.hstack(list(distinct.values())))
    rows, rep_of = _same_rows(key, live, None)
    dem = np.vstack(
        [np.bincount(rep_of[live], weights=d[live], minlength=n_d)[rows] for d in model.demand]
    )
    return live, rows, rep_of, dem


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
    live, rows, rep_of, dem = same_reach_rows(model)
    if len(rows) > 0.9 * live.sum():
        return None
    # a shallow copy keeps every option and side constraint (all per site);
    # only the per-point arrays change
    reduced = copy.copy(model)
    reduced.neighbours = sp.csr_array(model.neighbours[rows])
    shared = {id(m): sp.csr_array(m[rows]) for m in model.class_nb}
    reduced.class_nb = [shared[id(m)] for m in model.class_nb]
    reduced.demand = dem
    reduced.times = None
    reduced.groups = None
    log.info("capacitated: %d points merged into %d rows", int(live.sum()), len(rows))
    return reduced, rows, rep_of


def unmerged(
    model: CapacitatedCoverage,
    x: dict[str, Any],
    rows: np.ndarray,
    rep_of: np.ndarray,
    dem: np.ndarray,
) -> dict[str, Any]:
    """A merged model's per-point figures back on this model's points, in proportion
    (``dem``: each class's demand of the merged rows)."""
    pos = np.searchsorted(rows, np.where(rep_of >= 0, rep_of, rows[0] if len(rows) else 0))
    by_class = np.zeros_like(model.demand)
    for c in range(model.demand.shape[0]):
        frac = np.divide(x["served_by_class"][c], dem[c], out=np.zeros(len(rows)), where=dem[c] > 0)
        if len(rows):
            by_class[c] = np.where(rep_of >= 0, frac[pos] * model.demand[c], 0.0)
    out = {
        **x,
        "assignment": _expand_assignment(x["assignment"], rep_of, pos, dem, model.demand),
        "demand_total": float(model.demand.sum()),
    }
    out.update(served_figures(model, by_class))
    return out


def served_figures(model: CapacitatedCoverage, by_class: np.ndarray) -> dict[str, Any]:
    """Per-point served figures: per class (``served_by_class``) and, in the legacy
    form, AC and DC (``served_ac``, ``served_dc``)."""
    out: dict[str, Any] = {"served_by_class": by_class, "classes": model.classes}
    if model.legacy:
        out["served_ac"], out["served_dc"] = by_class[0], by_class[1]
    return out


def plan_figures(
    model: CapacitatedCoverage,
    sites: np.ndarray,
    types: np.ndarray,
    assignment: tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray],
    n_points: int,
) -> dict[str, Any]:
    """Per station (``sites`` of ``model``, of designs ``types``) and per point
    figures of a plan's one ``assignment``: (demand point, position in ``sites``,
    sessions/day, demand class).

    A station's ``capacity`` is in sessions/day at the mix of classes it serves (at
    the mix of all the demand its design serves when it serves none); its
    ``utilisation`` is the units it uses over the units it offers."""
    r, c, v, cls = assignment
    n_c = model.demand.shape[0]
    designs = [model.design_at(int(j), str(t)) for j, t in zip(sites, types, strict=True)]
    units = np.array([d.units for d in designs], dtype=float).reshape(len(designs), n_c)
    load = np.bincount(c, weights=v, minlength=len(sites))
    used = np.bincount(
        c, weights=v * (units[c, cls] if len(c) else np.zeros(0)), minlength=len(sites)
    )
    cap_units = np.array([d.capacity for d in designs], dtype=float)
    total = model.demand.sum(axis=1)
    mean_units = np.array(
        [
            np.nansum(u * total) / max(total[~np.isnan(u)].sum(), 1e-12)
            if total[~np.isnan(u)].sum() > 0
            else np.nanmean(u)
            for u in units
        ]
    )
    per_session = np.divide(used, load, out=mean_units.copy(), where=load > 1e-12)
    cap = np.divide(cap_units, per_session, out=np.zeros(len(sites)), where=per_session > 0)
    cost = np.array([model.cost_of(int(j), str(t)) for j, t in zip(sites, types, strict=True)])
    by_class = np.vstack(
        [np.bincount(r[cls == k], weights=v[cls == k], minlength=n_points) for k in range(n_c)]
    ) if n_c else np.zeros((0, n_points))  # fmt: skip
    charger = np.array([d.charger for d in designs], dtype=object).astype(str)
    out = {
        "types": np.asarray(types, dtype=str),
        "designs": np.asarray(types, dtype=str),
        "chargers": charger,
        "load": load,
        "load_units": used,
        "capacity": cap,
        "capacity_units": cap_units,
        "utilisation": np.divide(used, cap_units, out=np.zeros(len(sites)), where=cap_units > 0),
        "assignment": (r, c, v, cls),
        "station_cost": cost,
        "cost": float(cost.sum()),
    }
    out.update(served_figures(model, by_class))
    return out
