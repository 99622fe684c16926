"""The greedy warm start of the capacitated model (:meth:`CapacitatedCoverage.greedy`)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np

if TYPE_CHECKING:
    from siting.optimize.capacitated.model import CapacitatedCoverage


def greedy_plan(
    model: CapacitatedCoverage, *, stop_at: float | None = None, per_cost: bool = False
) -> dict[str, Any]:
    """The greedy plan of ``model``: see :meth:`CapacitatedCoverage.greedy`."""
    g = _Greedy(model)
    for j in model.fixed.tolist():
        gains = g.gains()
        g.open_site(j, max(model.site_types(j), key=lambda t: (gains[t][j], t == "DC")))
    while len(g.chosen) < model.p:
        best = g.best_site(per_cost=per_cost)
        if best is None:
            break
        g.open_site(*best)
        if stop_at is not None and g.served() >= stop_at:
            break
    if stop_at is not None:
        g.upgrade_to(stop_at)
    return g.plan


class _Greedy:
    """The greedy's state: sites opened, demand left unserved, budget left."""

    def __init__(self, model: CapacitatedCoverage) -> None:
        self.model = model
        self.nb_t = model.neighbours.T.tocsr().astype(float)
        self.ac, self.dc = model.ac.copy(), model.dc.copy()
        self.chosen: dict[int, str] = {}
        self.blocked = np.zeros(model.neighbours.shape[1], dtype=bool)
        self.partners: dict[int, list[int]] = {}
        for a, b in model.spacing_pairs.tolist():
            self.partners.setdefault(a, []).append(b)
            self.partners.setdefault(b, []).append(a)
        self.money = np.inf if model.budget is None else float(model.budget)
        self.new_dc = 0
        self.plan: dict[str, Any] = {"types": self.chosen, "u": {}, "v": {}}

    def gains(self) -> dict[str, np.ndarray]:
        """What each site would serve as each type, from the demand still unserved."""
        reach_ac, reach_dc = self.nb_t @ self.ac, self.nb_t @ self.dc
        return {
            t: np.minimum(
                self.model.capacity.get(t, 0.0), reach_ac + (reach_dc if t == "DC" else 0.0)
            )
            for t in ("AC", "DC")
        }

    def served(self) -> float:
        """Sessions per day served so far."""
        m = self.model
        return float(m.ac.sum() + m.dc.sum() - self.ac.sum() - self.dc.sum())

    def allocate(self, j: int, t: str, left: float) -> None:
        """``left`` sessions/day of site ``j`` go to the demand still unserved in
        reach, DC demand first (a DC station), the same share of every point."""
        m, nb_t = self.model, self.nb_t
        pts = nb_t.indices[nb_t.indptr[j] : nb_t.indptr[j + 1]]
        for kind, residual, total in (("v", self.dc, m.dc), ("u", self.ac, m.ac)):
            if kind == "v" and t != "DC":
                continue
            want = float(residual[pts].sum())
            if want <= 0 or left <= 0:
                continue
            share = min(1.0, left / want)
            for i in pts[residual[pts] > 0].tolist():
                key = (i, j)
                self.plan[kind][key] = (
                    self.plan[kind].get(key, 0.0) + share * residual[i] / total[i]
                )
            left -= share * want
            residual[pts] *= 1.0 - share

    def open_site(self, j: int, t: str) -> None:
        """Open site ``j`` as type ``t`` and give its capacity to the demand in reach."""
        m = self.model
        self.chosen[j] = t
        self.new_dc += int(t == "DC" and j not in m.fixed_set)
        self.blocked[j] = True
        self.blocked[self.partners.get(j, [])] = True
        self.money -= m.cost_of(j, t) if m.budget is not None else 0.0
        self.allocate(j, t, m.capacity_of(j, t))

    def best_site(self, *, per_cost: bool) -> tuple[int, str] | None:
        """The site and type serving most (per cost with ``per_cost``) that the
        spacing, the budget and the number of new DC stations still allow."""
        m = self.model
        g = self.gains()
        best: tuple[float, int, str] | None = None
        # with an exact number of new DC stations, the last places go to DC
        dc_only = m.dc_exact and m.p - len(self.chosen) <= (m.max_dc or 0) - self.new_dc
        for t in (t for t in ("AC", "DC") if t in m.capacity):
            if t == "AC" and dc_only:
                continue
            cand = np.where(self.blocked, -1.0, g[t])
            if per_cost and m.station_cost.get(t, 0.0) > 0:
                cand = np.where(self.blocked, -1.0, g[t] / m.station_cost[t])
            if m.budget is not None:
                cand[m.station_cost.get(t, 0.0) > self.money + 1e-9] = -1.0
            if t == "DC" and m.max_dc is not None and self.new_dc >= m.max_dc:
                cand[:] = -1.0
            j = int(np.argmax(cand))
            if cand[j] >= 0 and (best is None or cand[j] > best[0]):
                best = (float(cand[j]), j, t)
        return None if best is None else (best[1], best[2])

    def upgrade_to(self, stop_at: float) -> None:
        """Short of ``stop_at`` with no site left to open: upgrade new AC stations to
        DC (more capacity, and DC demand in reach), the most served first."""
        m, nb_t = self.model, self.nb_t
        extra = m.capacity.get("DC", 0.0) - m.capacity.get("AC", 0.0)
        while self.served() < stop_at and extra > 0 and m.max_dc is None:
            step = m.station_cost.get("DC", 0.0) - m.station_cost.get("AC", 0.0)
            ups = np.array(
                [j for j, t in self.chosen.items() if t == "AC" and j not in m.fixed_set],
                dtype=np.int64,
            )
            if not len(ups) or (m.budget is not None and step > self.money + 1e-9):
                break
            gain = np.minimum(extra, (nb_t @ self.ac + nb_t @ self.dc)[ups])
            j = int(ups[np.argmax(gain)])
            if gain.max() <= 1e-12:
                break
            self.chosen[j] = "DC"
            self.money -= step if m.budget is not None else 0.0
            self.allocate(j, "DC", extra)
