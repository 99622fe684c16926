"""The greedy warm start of the capacitated model (:meth:`CapacitatedCoverage.greedy`)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np

if TYPE_CHECKING:
    from siting.optimize.capacitated import CapacitatedCoverage


def greedy_plan(
    model: CapacitatedCoverage, *, stop_at: float | None = None, per_cost: bool = False
) -> dict[str, Any]:
    """The greedy plan of ``model``: see :meth:`CapacitatedCoverage.greedy`."""
    nb = model.neighbours
    n_s = nb.shape[1]
    nb_t = nb.T.tocsr().astype(float)
    types = [t for t in ("AC", "DC") if t in model.capacity]
    ac, dc = model.ac.copy(), model.dc.copy()
    chosen: dict[int, str] = {}
    blocked = np.zeros(n_s, dtype=bool)
    partners: dict[int, list[int]] = {}
    for a, b in model.spacing_pairs.tolist():
        partners.setdefault(a, []).append(b)
        partners.setdefault(b, []).append(a)
    money = np.inf if model.budget is None else float(model.budget)
    plan: dict[str, Any] = {"types": chosen, "u": {}, "v": {}}

    def gains() -> dict[str, np.ndarray]:
        reach_ac, reach_dc = nb_t @ ac, nb_t @ dc
        return {
            t: np.minimum(model.capacity.get(t, 0.0), reach_ac + (reach_dc if t == "DC" else 0.0))
            for t in ("AC", "DC")
        }

    new_dc = 0

    def allocate(j: int, t: str, left: float) -> None:
        # ``left`` sessions/day of site j go to the demand still unserved in reach,
        # DC demand first (a DC station), the same share of every point
        pts = nb_t.indices[nb_t.indptr[j] : nb_t.indptr[j + 1]]
        for kind, residual, total in (("v", dc, model.dc), ("u", ac, model.ac)):
            if kind == "v" and t != "DC":
                continue
            want = float(residual[pts].sum())
            if want <= 0 or left <= 0:
                continue
            share = min(1.0, left / want)
            for i in pts[residual[pts] > 0].tolist():
                key = (i, j)
                plan[kind][key] = plan[kind].get(key, 0.0) + share * residual[i] / total[i]
            left -= share * want
            residual[pts] *= 1.0 - share

    def open_site(j: int, t: str) -> None:
        nonlocal money, new_dc
        chosen[j] = t
        new_dc += int(t == "DC" and j not in model.fixed_set)
        blocked[j] = True
        blocked[partners.get(j, [])] = True
        money -= model.cost_of(j, t) if model.budget is not None else 0.0
        allocate(j, t, model.capacity_of(j, t))

    def served() -> float:
        return float(model.ac.sum() + model.dc.sum() - ac.sum() - dc.sum())

    for j in model.fixed.tolist():
        g = gains()
        open_site(j, max(model.site_types(j), key=lambda t: (g[t][j], t == "DC")))
    while len(chosen) < model.p:
        g = gains()
        best: tuple[float, int, str] | None = None
        # with an exact number of new DC stations, the last places go to DC
        dc_only = model.dc_exact and model.p - len(chosen) <= (model.max_dc or 0) - new_dc
        for t in types:
            if t == "AC" and dc_only:
                continue
            cand = np.where(blocked, -1.0, g[t])
            if per_cost and model.station_cost.get(t, 0.0) > 0:
                cand = np.where(blocked, -1.0, g[t] / model.station_cost[t])
            if model.budget is not None:
                cand[model.station_cost.get(t, 0.0) > money + 1e-9] = -1.0
            if t == "DC" and model.max_dc is not None and new_dc >= model.max_dc:
                cand[:] = -1.0
            j = int(np.argmax(cand))
            if cand[j] >= 0 and (best is None or cand[j] > best[0]):
                best = (float(cand[j]), j, t)
        if best is None:
            break
        open_site(best[1], best[2])
        if stop_at is not None and served() >= stop_at:
            break
    # short of stop_at with no site left to open: upgrade new AC stations to DC
    # (more capacity, and DC demand in reach), the most served first
    extra = model.capacity.get("DC", 0.0) - model.capacity.get("AC", 0.0)
    while stop_at is not None and served() < stop_at and extra > 0 and model.max_dc is None:
        step = model.station_cost.get("DC", 0.0) - model.station_cost.get("AC", 0.0)
        ups = np.array(
            [j for j, t in chosen.items() if t == "AC" and j not in model.fixed_set],
            dtype=np.int64,
        )
        if not len(ups) or (model.budget is not None and step > money + 1e-9):
            break
        gain = np.minimum(extra, (nb_t @ ac + nb_t @ dc)[ups])
        j = int(ups[np.argmax(gain)])
        if gain.max() <= 1e-12:
            break
        chosen[j] = "DC"
        money -= step if model.budget is not None else 0.0
        allocate(j, "DC", extra)
    return plan
