r"""Private: the final order among plans of equal value (:func:`polish`).

When every station is full, many plans serve exactly as much: the solver returns
one of them, and which one depends on the solver, its version and the machine.
The polish moves the solver's plan, one station at a time, to the candidate sites
a fixed preference ranks first, keeping every figure the model states:

1. **Served.** A station moves with its design and its load: the new site takes
   the same sessions of each class from demand within that class's reach of it
   that no other station serves (or that the old site served), so every class's
   served total and every station's use of its capacity are unchanged, and every
   station's least use holds.
2. **Demand within reach** (the secondary order) never falls (beyond a rounding
   error: 1e-9 of all demand, for a move to a preferred site).
3. **Capital cost** never rises; the budget, the spacing pairs and the sites the
   plan must keep (existing and forced ones) or leave out (closed ones) hold.

Among such moves a site is preferred by its *share of the demand it could serve*:

.. math::

    w_j = \sum_c \sum_{i \in R_c(j)} \frac{d_{ci}}{|\{k : i \in R_c(k)\}|}

(each point's sessions split evenly among the candidate sites that can serve it),
ties by candidate order. A site that is the only option for its demand ranks above
one of many options in a dense area. Sites are taken in that order, each replacing
the least preferred open station it can replace, until no move is left.

A move the order would make but for the mix of classes (the new site has
enough sessions free within reach to fill the station's use, but not of the
classes it carries) is tried once more as an **exchange**: the stations whose
reach meets the old or the new site's trade sessions, each keeping its use of its
capacity and every class its served total (a small linear program,
:func:`siting.optimize.capacitated._flow.trade`); the stations
farther away keep their assignment. At most ``_EXCHANGES_PER_SITE`` programs per
candidate site are tried, a bound that is the same on every machine. Then the
moves above go on, until neither finds one.

The result is swap-stable, not proven the best under the order: from plans that
differ, the polish ends on largely the same sites (the Almaty default: HiGHS and
CBC, 35 % of stations shared before, see ``benchmarks/report.md``). It is
deterministic: numpy, and HiGHS's simplex (deterministic) for the exchanges.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np
import scipy.sparse as sp

from siting import settings
from siting.optimize.capacitated import _flow
from siting.optimize.capacitated._rows import servable

if TYPE_CHECKING:
    from siting.optimize.capacitated.design import Design
    from siting.optimize.capacitated.model import CapacitatedCoverage

log = logging.getLogger(__name__)

#: Relative tolerance of the load and coverage tests.
_EPS = 1e-9
#: Least gain of demand within reach (relative to all demand) that moves a station to
#: a site of lower preference.
_GAIN = 1e-6

#: Moves per candidate site after which the final order stops (a guard: none is
#: expected to come near it).
_MOVES_PER_SITE = 10

#: Exchanges (each one small linear program) tried per candidate site at most, over
#: the whole final order: a deterministic bound on its time.
_EXCHANGES_PER_SITE = 0.5

#: The final order in one line, for the outputs.
ORDER = (
    "among plans serving as much, stations moved one at a time, with their design "
    "and load (trading sessions with the stations near it when that raises demand "
    "within reach), to the sites with the larger share of the demand they could "
    "serve, never losing demand within reach nor adding cost"
)


@dataclass
class Polished:
    """What :func:`polish` did: the plan's designs and assignment after it, and the
    number of stations moved."""

    site_type: np.ndarray
    shares: dict[tuple[int, int, int], float]
    moved: int
    covered_before: float
    covered_after: float
    exchanges: int = 0
    exchange_lps: int = 0


def applies(model: CapacitatedCoverage) -> str | None:
    """Why the polish does not apply to ``model`` (None: it does)."""
    if model.legacy:
        return "the legacy AC/DC form"
    if model.groups is not None and model.equity_share > 0:
        return "district equity rows"
    if settings.SECONDARY_WEIGHTS[0] > 0 and model.times is not None:
        return "an access-time term in the secondary order"
    return None


def preference(model: CapacitatedCoverage) -> np.ndarray:
    """Each site's share of the demand it could serve (see the module docstring)."""
    can = servable(model)
    w = np.zeros(model.neighbours.shape[1])
    for c, cnb in enumerate(model.class_nb):
        a = sp.csr_array(cnb, dtype=float) @ sp.diags_array(can[c].astype(float))
        n_i = np.asarray(a.sum(axis=1)).ravel()
        share = np.divide(model.demand[c], n_i, out=np.zeros_like(n_i), where=n_i > 0)
        w += a.T @ share
    return w


def polish(
    model: CapacitatedCoverage,
    site_type: np.ndarray,
    shares: dict[tuple[int, int, int], float],
) -> Polished:
    """Move the plan ``site_type`` (each site's design, ``""``: closed) with its
    assignment ``shares`` ((class, point, site) → share of the point's demand) to
    the preferred sites (see the module docstring)."""
    return _Polish(model, site_type, shares).run()


class _Polish:
    """The polish's state: the open sites, each one's load, the demand served at
    each point and how many open sites have it within reach."""

    def __init__(
        self,
        model: CapacitatedCoverage,
        site_type: np.ndarray,
        shares: dict[tuple[int, int, int], float],
    ) -> None:
        self.m = model
        n_c, n_d = model.demand.shape
        self.n_s = model.neighbours.shape[1]
        self.flat_demand = model.demand.ravel()
        self.types = np.asarray(site_type, dtype=object).copy()
        # reach[c]: (points, sites), class c within its reach
        self.reach = [sp.csc_array(cnb, dtype=float) for cnb in model.class_nb]
        self.reach_t = [sp.csr_array(r.T) for r in self.reach]
        # each open site's load: sessions per flattened (class, point)
        self.load: dict[int, np.ndarray] = {
            int(j): np.zeros(n_c * n_d) for j in np.flatnonzero(self.types != "")
        }
        for (c, i, j), share in shares.items():
            if share > 0 and j in self.load:
                self.load[j][c * n_d + i] += share * model.demand[c, i]
        self.served = np.zeros(n_c * n_d)
        for a in self.load.values():
            self.served += a
        # rows of flattened (class, point) per class
        self.class_mask = np.kron(np.eye(n_c), np.ones(n_d))
        self.rows: dict[int, tuple[np.ndarray, np.ndarray]] = {}
        self._index_loads()
        self.count = np.zeros(n_c * n_d)
        for j in self.load:
            self.count += self._covers(j, str(self.types[j]))
        self.order = np.lexsort((np.arange(self.n_s), -preference(model)))
        self.rank = np.empty(self.n_s, dtype=np.int64)
        self.rank[self.order] = np.arange(self.n_s)
        keep = {*model.fixed.tolist(), *model.forced.tolist()}
        self.movable = np.array([j not in keep for j in range(self.n_s)])
        self.site_types = [model.site_types(j) for j in range(self.n_s)]
        self.partners: dict[int, set[int]] = {}
        for a_, b_ in model.spacing_pairs.tolist():
            self.partners.setdefault(a_, set()).add(b_)
            self.partners.setdefault(b_, set()).add(a_)
        self.cost_scale = max(
            1.0, max((model.cost_of(j, str(t)) for j, t in enumerate(self.types) if t), default=0)
        )

    def _index_loads(self) -> None:
        """Every site's load as one sparse (sites, class and point) matrix, and each
        site's sessions per class."""
        for j, a in self.load.items():
            if j not in self.rows:
                cols = np.flatnonzero(a)
                self.rows[j] = (cols, a[cols])
        for j in [j for j in self.rows if j not in self.load]:
            del self.rows[j]
        order = sorted(self.rows)
        size = np.zeros(self.n_s + 1, dtype=np.int64)
        size[1:][order] = [len(self.rows[j][0]) for j in order]
        self.loads = sp.csr_array(
            (
                np.concatenate([self.rows[j][1] for j in order] or [np.zeros(0)]),
                np.concatenate([self.rows[j][0] for j in order] or [np.zeros(0, np.int64)]),
                np.cumsum(size),
            ),
            shape=(self.n_s, self.flat_demand.size),
        )
        self.need = np.column_stack([self.loads @ cm for cm in self.class_mask])

    def _covers(self, j: int, t: str) -> np.ndarray:
        """Flattened (class, point): 1 where site ``j`` as design ``t`` has the point
        within the class's reach."""
        d = self.m.design_at(j, t)
        n_d = self.m.demand.shape[1]
        out = np.zeros(self.m.demand.size)
        for c, r in enumerate(self.reach):
            if d.serves(c):
                out[c * n_d + r.indices[r.indptr[j] : r.indptr[j + 1]]] = 1.0
        return out

    def covered(self) -> float:
        return float(self.flat_demand[self.count > 0].sum())

    def _fill(self, j: int, cover: np.ndarray) -> np.ndarray | None:
        """The load of a site with ``cover`` taking over ``j``'s: the same sessions of
        each class from the points within its reach that are free or were ``j``'s,
        in point order; None when there are not enough."""
        n_c, n_d = self.m.demand.shape
        free = ((self.flat_demand - self.served + self.load[j]) * cover).reshape(n_c, n_d)
        need = self.load[j].reshape(n_c, n_d).sum(axis=1)
        if np.any(free.sum(axis=1) < need * (1 - _EPS) - _EPS):
            return None
        cum = np.cumsum(free, axis=1)
        take = np.minimum(free, np.maximum(0.0, need[:, None] - (cum - free)))
        return take.ravel()

    def _least_use_met(self, k: int, t: str, load: np.ndarray) -> bool:
        floor = self.m.min_use.get(t)
        if floor is None or floor[k] <= 0:
            return True
        used = float(self.m.class_use @ load.reshape(self.m.demand.shape).sum(axis=1))
        return used >= floor[k] * (1 - _EPS) - _EPS

    def _loss(self, cover: np.ndarray, design: Design) -> np.ndarray:
        """Per site: demand within reach that only it has and a site with ``cover``
        would not (what closing it loses once that site is open), over the classes
        ``design`` serves."""
        n_d = self.m.demand.shape[1]
        only = self.flat_demand * (self.count == 1) * (1.0 - cover)
        loss = np.zeros(self.n_s)
        for c, rt in enumerate(self.reach_t):
            if design.serves(c):
                loss += rt @ only[c * n_d : (c + 1) * n_d]
        return loss

    def _replaceable(
        self, k: int, open_sites: np.ndarray
    ) -> Iterator[tuple[str, np.ndarray, np.ndarray]]:
        """Per design ``t`` site ``k`` may take: the open stations of ``open_sites``
        (least preferred first) of that design the order may move to ``k``, and
        ``k``'s reach as ``t`` (designs with none left out).

        Spaced from its one open neighbour only by replacing it; the design costing
        no more at ``k``; demand within reach kept (to a preferred site, within a
        rounding error) or raised (to any other)."""
        near = [o for o in self.partners.get(k, ()) if self.types[o]]
        if len(near) > 1:
            return
        kinds = self.types[open_sites]
        total = max(1.0, float(self.flat_demand.sum()))
        for t in self.site_types[k]:
            js = open_sites[kinds == t]
            if near:  # spaced from the others only when it replaces its one neighbour
                js = js[js == near[0]]
            # the design costs no more at k (a movable site has no design of its own)
            js = js[self.m.site_cost[js] >= self.m.site_cost[k] - _EPS * self.cost_scale]
            if not len(js):
                continue
            cover = self._covers(k, t)
            gain = float((self.flat_demand * cover * (self.count == 0)).sum())
            change = gain - self._loss(cover, self.m.design_at(k, t))[js]
            better = self.rank[js] > self.rank[k]
            js = js[np.where(better, change >= -_EPS * total, change > _GAIN * total)]
            if len(js):
                yield t, js, cover

    def _room(self, cover: np.ndarray, js: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Per class, the sessions free within reach ``cover``, and those each station
        of ``js`` holds there."""
        free = ((self.flat_demand - self.served) * cover) @ self.class_mask.T
        took = np.column_stack([self.loads @ (cover * cm) for cm in self.class_mask])[js]
        return free, took

    def _try(self, k: int, open_sites: np.ndarray) -> int | None:
        """Open ``k`` in place of the least preferred open station it can replace
        (``open_sites``: the movable ones, least preferred first); the station
        replaced, or None."""
        for t, js, cover in self._replaceable(k, open_sites):
            # enough free demand within k's reach, with what j holds, for j's load
            free, took = self._room(cover, js)
            enough = np.all(free + took >= self.need[js] * (1 - _EPS) - _EPS, axis=1)
            for j in js[enough].tolist():
                load = self._fill(j, cover)
                if load is None or not self._least_use_met(k, t, load):
                    continue
                self.served += load - self.load[j]
                self.count += cover - self._covers(j, t)
                del self.load[j]
                self.load[k] = load
                self.types[k], self.types[j] = t, ""
                self._index_loads()
                return int(j)
        return None

    def _open_sites(self) -> np.ndarray:
        """The open stations that may move, least preferred first."""
        js = np.array([j for j in self.load if self.movable[j]], dtype=np.int64)
        return js[np.argsort(-self.rank[js], kind="stable")]

    def _moves(self, most: int) -> int:
        """Moves (see :meth:`_try`) until none is left or ``most`` are made."""
        moved = 0
        changed = True
        while changed and moved < most:
            changed = False
            open_sites = self._open_sites()
            for k in self.order.tolist():
                if self.types[k] or not self.site_types[k]:
                    continue
                if self._try(k, open_sites) is not None:
                    moved += 1
                    changed = True
                    open_sites = self._open_sites()
                    if moved >= most:
                        break
        return moved

    def _use(self, j: int, t: str, load: np.ndarray) -> float:
        """Units of capacity ``load`` takes at site ``j`` as design ``t``."""
        units = np.nan_to_num(np.asarray(self.m.design_at(j, t).units, dtype=float))
        return float(units @ load.reshape(self.m.demand.shape).sum(axis=1))

    def _exchange(self, most: int) -> tuple[bool, int]:
        """The first move in preference order that :meth:`_try` would make but for the
        mix of classes and that the stations near it can serve by trading sessions
        (see :meth:`_traded`), made; whether one was made, and the linear programs
        tried (at most ``most``)."""
        open_sites = self._open_sites()
        tried = 0
        for k in self.order.tolist():
            if self.types[k] or not self.site_types[k]:
                continue
            for t, js, cover in self._replaceable(k, open_sites):
                # worth a trade only when the sessions free within k's reach (or j's
                # there) fill j's use in some mix of classes
                units = np.nan_to_num(np.asarray(self.m.design_at(k, t).units, dtype=float))
                free, took = self._room(cover, js)
                ok = (free + took) @ units >= (self.need[js] @ units) * (1 - _EPS) - _EPS
                for j in js[ok].tolist():
                    if tried >= most:
                        return False, tried
                    tried += 1
                    loads = self._traded(k, t, j, cover)
                    if loads is None:
                        continue
                    self.count += cover - self._covers(j, t)
                    del self.load[j]
                    for o, load in loads.items():
                        self.load[o] = load
                        self.rows.pop(o, None)
                    self.served = np.sum(list(self.load.values()), axis=0)
                    self.types[k], self.types[j] = t, ""
                    self._index_loads()
                    return True, tried
        return False, tried

    def _traded(self, k: int, t: str, j: int, cover: np.ndarray) -> dict[int, np.ndarray] | None:
        """The loads with station ``j`` moved to ``k`` (design ``t``, reach ``cover``),
        the open stations whose reach meets ``j``'s or ``k``'s trading sessions: each
        keeps its use of its capacity (``k`` takes ``j``'s), every class its served
        total, and no point gives more than its demand less what the stations farther
        away take, and each its least use. None when no such assignment exists."""
        n_c, n_d = self.m.demand.shape
        zone = (cover + self._covers(j, t)) > 0
        local = [
            o
            for o in sorted(self.load)
            if o != j and bool((self._covers(o, str(self.types[o])) * zone).any())
        ]
        stations = [(k, t, self.load[j]), *((o, str(self.types[o]), self.load[o]) for o in local)]
        held = np.sum([a for _, _, a in stations], axis=0)
        avail = np.maximum(0.0, self.flat_demand - self.served + held)
        pairs = [
            np.flatnonzero(self._covers(site, kind) * (avail > 0)) for site, kind, _ in stations
        ]
        units = [
            np.nan_to_num(np.asarray(self.m.design_at(site, kind).units, dtype=float))[f // n_d]
            for (site, kind, _), f in zip(stations, pairs, strict=True)
        ]
        station = np.repeat(np.arange(len(stations)), [len(f) for f in pairs])
        flat = np.concatenate(pairs)
        floors = {
            s: float(self.m.min_use[kind][site])
            for s, (site, kind, _) in enumerate(stations)
            if kind in self.m.min_use and self.m.min_use[kind][site] > 0
        }
        x = _flow.trade(
            flat,
            station,
            np.concatenate(units),
            np.array([self._use(site, kind, a) for site, kind, a in stations]),
            held.reshape(n_c, n_d).sum(axis=1),
            avail,
            class_use=np.asarray(self.m.class_use, dtype=float),
            floors=floors,
            tolerance=1e-7 * max(1.0, float(self.flat_demand.max())),
        )
        if x is None:
            return None
        loads = {
            site: np.bincount(flat[station == s], x[station == s], minlength=n_c * n_d)
            for s, (site, _, _) in enumerate(stations)
        }
        if not all(self._least_use_met(o, kind, loads[o]) for o, kind, _ in stations):
            return None
        return loads

    def run(self) -> Polished:
        before = self.covered()
        moved = exchanges = tried = 0
        # each move raises demand within reach, or the preference while losing at
        # most a rounding error of it: far fewer moves than this in practice
        most = _MOVES_PER_SITE * self.n_s
        lps = int(_EXCHANGES_PER_SITE * self.n_s)
        while moved < most:
            moved += self._moves(most - moved)
            if moved >= most or tried >= lps:
                break
            done, n = self._exchange(lps - tried)
            tried += n
            if not done:
                break
            moved += 1
            exchanges += 1
        if moved >= most:
            log.warning("capacitated: the final order stopped after %d moves", moved)
        if tried >= lps:
            log.info("capacitated: the final order stopped its exchanges after %d tries", tried)
        n_d = self.m.demand.shape[1]
        shares: dict[tuple[int, int, int], float] = {}
        for j, a in self.load.items():
            for f in np.flatnonzero(a > 0).tolist():
                shares[(f // n_d, f % n_d, j)] = float(a[f] / self.flat_demand[f])
        after = self.covered()
        log.info(
            "capacitated: the final order moved %d station(s) (%d by exchange, %d tried); "
            "demand within reach %.6g -> %.6g",
            moved,
            exchanges,
            tried,
            before,
            after,
        )
        return Polished(self.types, shares, moved, before, after, exchanges, tried)


def _same_units(a: tuple[float, ...], b: tuple[float, ...]) -> bool:
    return len(a) == len(b) and all(
        (math.isnan(x) and math.isnan(y)) or x == y for x, y in zip(a, b, strict=True)
    )
