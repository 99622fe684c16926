"""The greedy warm start of the capacitated model (:meth:`CapacitatedCoverage.greedy`)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np

from siting.optimize.capacitated._rows import servable

if TYPE_CHECKING:
    from siting.optimize.capacitated.model import CapacitatedCoverage


def greedy_plan(
    model: CapacitatedCoverage,
    *,
    stop_at: float | None = None,
    per_cost: bool = False,
    hold_equity: bool = False,
) -> dict[str, Any]:
    """The greedy plan of ``model``: see :meth:`CapacitatedCoverage.greedy`."""
    g = _Greedy(model)
    for j in [*model.fixed.tolist(), *model.forced.tolist()]:
        gains = g.gains()
        g.open_site(
            j,
            max(model.site_types(j), key=lambda t: (gains[t][j], model.charger_of(t) == "DC", t)),
        )
    while len(g.chosen) < model.p:
        best = g.best_site(per_cost=per_cost)
        if best is None:
            break
        g.open_site(*best)
        if stop_at is not None and g.served(held=hold_equity) >= stop_at:
            break
    if stop_at is not None:
        g.upgrade_to(stop_at)
    if hold_equity:
        g.hold_equity()
    return g.plan


class _Greedy:
    """The greedy's state: sites opened, demand left unserved, budget left."""

    def __init__(self, model: CapacitatedCoverage) -> None:
        self.model = model
        n_s = model.neighbours.shape[1]
        self.nb_t = [m.T.tocsr().astype(float) for m in model.class_nb]
        self.left = model.demand.copy()
        self.can = servable(model)
        self.chosen: dict[int, str] = {}
        self.blocked = np.zeros(n_s, dtype=bool)
        self.partners: dict[int, list[int]] = {}
        for a, b in model.spacing_pairs.tolist():
            self.partners.setdefault(a, []).append(b)
            self.partners.setdefault(b, []).append(a)
        self.money = np.inf if model.budget is None else float(model.budget)
        self.new_dc = 0
        n_c = model.demand.shape[0]
        # classes with fewer designs to choose from are served first; with a least use,
        # those using the most a unit of capacity (kWh a port-hour) first, so that a
        # station reaches its least use if any mix does
        reach = [sum(d.serves(c) for d in model.designs.values()) for c in range(n_c)]
        rate = np.zeros(n_c)
        if model.min_use:
            for c in range(n_c):
                held = [d.units[c] for d in model.designs.values() if d.serves(c)]
                rate[c] = model.class_use[c] / np.mean(held) if held else 0.0
        self.order = sorted(range(n_c), key=lambda c: (-rate[c], reach[c], c))
        self.plan: dict[str, Any] = {"types": self.chosen, "x": [{} for _ in range(n_c)]}
        # per design: where it may stand, its room and cost there, units per class
        names = {*model.designs, *(d.name for d in model.site_design.values())}
        self.tables: dict[str, tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]] = {}
        for t in sorted(names):
            sites = np.array([t in model.site_types(j) for j in range(n_s)], dtype=bool)
            room = np.zeros(n_s)
            cost = np.full(n_s, np.inf)
            units = np.full((n_c, n_s), np.nan)
            for j in np.flatnonzero(sites).tolist():
                d = model.design_at(j, t)
                room[j], cost[j], units[:, j] = d.capacity, model.cost_of(j, t), d.units
            self.tables[t] = (sites, room, cost, units)
        self.cost = {t: v[2] for t, v in self.tables.items()}

    def gains(self, weight: np.ndarray | None = None) -> dict[str, np.ndarray]:
        """Sessions/day (weighted by class, or by ``weight``) each site would serve as
        each design, from the demand still unserved, its classes in order within its
        capacity."""
        m = self.model
        w = m.class_weight if weight is None else weight
        reach = [self.nb_t[c] @ self.left[c] for c in range(len(self.nb_t))]
        out: dict[str, np.ndarray] = {}
        for t, (sites, room0, _, units) in self.tables.items():
            room = room0.copy()
            value = np.zeros(len(room))
            for c in self.order:
                ok = sites & ~np.isnan(units[c]) & self.can[c]
                take = np.zeros(len(room))
                take[ok] = np.minimum(reach[c][ok], room[ok] / units[c][ok])
                room[ok] -= take[ok] * units[c][ok]
                value += w[c] * take
            out[t] = value
        return out

    def served(self, *, held: bool = False) -> float:
        """Sessions per day served so far (weighted by class); ``held``: what is left
        of it once :meth:`hold_equity` has cut the classes above the equity floor."""
        m = self.model
        by_class = m.demand.sum(axis=1) - self.left.sum(axis=1)
        if held:
            by_class = np.minimum(by_class, self.equity_caps(by_class))
        return float(m.class_weight @ by_class)

    def equity_caps(self, served: np.ndarray) -> np.ndarray:
        """The most of each class a plan serving ``served`` (per class) may keep under
        ``class_equity``: no class's share above the least one's over the fraction."""
        m = self.model
        total = m.class_total
        live = total > 0
        if m.class_equity <= 0 or not live.any():
            return np.full(len(served), np.inf)
        share = np.divide(served, total, out=np.zeros(len(total)), where=live)
        return share[live].min() / m.class_equity * total

    def allocate(self, j: int, t: str, room: float) -> None:
        """``room`` units of site ``j`` (design ``t``) go to the demand still unserved
        in reach, class by class in order, the same share of every point."""
        m = self.model
        design = m.design_at(j, t)
        for c in self.order:
            if not design.serves(c) or room <= 0:
                continue
            nb_t, residual, total = self.nb_t[c], self.left[c], m.demand[c]
            pts = nb_t.indices[nb_t.indptr[j] : nb_t.indptr[j + 1]]
            want = float(residual[pts].sum())
            if want <= 0:
                continue
            share = min(1.0, room / (want * design.units[c]))
            xs = self.plan["x"][c]
            for i in pts[residual[pts] > 0].tolist():
                xs[(i, j)] = xs.get((i, j), 0.0) + share * residual[i] / total[i]
            room -= share * want * design.units[c]
            residual[pts] *= 1.0 - share

    def open_site(self, j: int, t: str) -> None:
        """Open site ``j`` as design ``t`` and give its capacity to the demand in reach."""
        m = self.model
        self.chosen[j] = t
        self.new_dc += int(m.charger_of(t) == "DC" and j not in m.fixed_set)
        self.blocked[j] = True
        self.blocked[self.partners.get(j, [])] = True
        self.money -= m.cost_of(j, t) if m.budget is not None else 0.0
        self.allocate(j, t, m.capacity_of(j, t))

    def best_site(self, *, per_cost: bool) -> tuple[int, str] | None:
        """The site and design serving most (per cost with ``per_cost``) that the
        spacing, the budget and the number of new DC stations still allow."""
        m = self.model
        g = self.gains()
        use = self.gains(m.class_use) if m.min_use else {}
        best: tuple[float, int, str] | None = None
        # with an exact number of new DC stations, the last places go to DC
        dc_only = m.dc_exact and m.p - len(self.chosen) <= (m.max_dc or 0) - self.new_dc
        for t in sorted(m.designs):
            is_dc = m.charger_of(t) == "DC"
            if dc_only and not is_dc:
                continue
            cost = self.cost[t]
            cand = np.where(self.blocked | ~np.isfinite(cost), -1.0, g[t])
            if per_cost:
                cand = np.where(cand >= 0, cand / np.maximum(cost, 1e-9), cand)
                cand = np.where((cost <= 0) & (g[t] >= 0) & ~self.blocked, g[t] * 1e12, cand)
            if m.budget is not None:
                cand[cost > self.money + 1e-9] = -1.0
            if t in m.min_use:  # a station that would not be used enough stays shut
                cand[use[t] < m.min_use[t] * (1 - 1e-9)] = -1.0
            if is_dc and m.max_dc is not None and self.new_dc >= m.max_dc:
                cand[:] = -1.0
            j = int(np.argmax(cand))
            if cand[j] >= 0 and (best is None or cand[j] > best[0]):
                best = (float(cand[j]), j, t)
        return None if best is None else (best[1], best[2])

    def hold_equity(self) -> None:
        """Meet ``class_equity``: no class's served share above the least one's over
        the equity fraction (then every class has at least that fraction of the
        overall share), by serving less of the classes above it, the same share of
        each of their points (the plan stays feasible: loads only fall)."""
        m = self.model
        served = m.demand.sum(axis=1) - self.left.sum(axis=1)
        caps = self.equity_caps(served)
        for c in np.flatnonzero(served > caps + 1e-12 * np.maximum(caps, 1.0)).tolist():
            f = caps[c] / served[c]
            xs = self.plan["x"][c]
            for key in xs:
                xs[key] *= f
            self.left[c] = m.demand[c] - f * (m.demand[c] - self.left[c])

    def upgrade_to(self, stop_at: float) -> None:
        """Short of ``stop_at`` with no site left to open: move new stations to a
        design offering more room for every class they serve, the most served first."""
        m = self.model
        while self.served() < stop_at and m.max_dc is None:
            best: tuple[float, int, str, float] | None = None
            for j, t in self.chosen.items():
                if j in m.fixed_set:
                    continue
                d = m.design_at(j, t)
                for t2 in m.site_types(j):
                    d2 = m.design_at(j, t2)
                    dominates = all(
                        d2.serves(c) and d2.units[c] <= d.units[c]
                        for c in range(len(d.units))
                        if d.serves(c)
                    )
                    extra = d2.capacity - d.capacity
                    step = m.cost_of(j, t2) - m.cost_of(j, t)
                    if t2 == t or not dominates or extra <= 0:
                        continue
                    if m.budget is not None and step > self.money + 1e-9:
                        continue
                    reach = sum(
                        float((self.nb_t[c] @ self.left[c])[j]) for c in range(len(d2.units))
                        if d2.serves(c)
                    )  # fmt: skip
                    gain = min(extra, reach)
                    if gain > 1e-12 and (best is None or gain > best[0]):
                        best = (gain, j, t2, step)
            if best is None:
                break
            _, j, t2, step = best
            self.chosen[j] = t2
            self.money -= step if m.budget is not None else 0.0
            # the new design's room less what the station already serves
            used = sum(
                m.design_at(j, t2).units[c] * m.demand[c, i] * x
                for c, xs in enumerate(self.plan["x"])
                for (i, jj), x in xs.items()
                if jj == j
            )
            self.allocate(j, t2, m.capacity_of(j, t2) - used)
