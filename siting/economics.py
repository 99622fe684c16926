"""Station economics: what each station sells, earns, and whether it pays back within
its lease (``[economics]``).

Per station, from the plan's one assignment of demand to stations (the figures of
``sites.csv``):

- the sessions and kWh a day it serves of each user group (:func:`segment_sessions`,
  :func:`station_flows`): the model's own per group with designs or group standards;
  in the AC/DC form a point's AC (DC) sessions served shared among the AC (DC) groups
  there in proportion to their demand; for the covering models each point's served
  demand at the station whose served area holds it, shared among all its groups;
- its yearly revenue, ``kWh/day × days_per_year × price / (1 + vat)`` (what the
  operator keeps of the price), its electricity cost, ``kWh/day × days_per_year ×
  electricity_cost / (1 - losses)``, and its operating cost, ``opex_year`` (or the sum
  of ``opex_parts``) ``+ opex_capital_share × capital``; the margin is revenue less
  both (:func:`station_economics`);
- for a new station, with its capital cost *C* (its design's cost plus its site's own,
  as the plan prices it) and the yearly margin *M* taken at each year's end, the net
  present value over the lease of *T* years at the discount rate *r*,
  ``NPV = -C + M × a(r, T)`` with the annuity factor ``a(r, T) = (1 - (1 + r)^-T) / r``
  (``T`` at ``r = 0``) (:func:`npv`), and the discounted payback, the *t* at which
  ``M × a(r, t) = C``: ``t = -ln(1 - r C / M) / ln(1 + r)`` (``C / M`` at ``r = 0``;
  never when ``M <= 0`` or ``r C >= M``) (:func:`payback_years`). A station *pays
  back* when ``t <= T``, that is when ``NPV >= 0``;
- existing stations are sunk capital: their margin only.

:func:`economics_totals` sums them for ``kpis.json`` (stations that pay back of the
new ones, capital at risk in those that do not, revenue, margin and energy).
"""

from __future__ import annotations

import logging
import math
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from siting.errors import InputError

if TYPE_CHECKING:
    from siting.scenario import Scenario
    from siting.sections import EconomicsConfig
    from siting.segments import Segment

log = logging.getLogger(__name__)

#: The per-station economics columns of ``sites.csv``, in order.
ECONOMICS_COLUMNS = (
    "revenue_year",
    "electricity_cost_year",
    "opex_year",
    "margin_year",
    "payback_years",
    "npv_lease",
    "pays_back",
    "breakeven_kwh_day",
)

#: A legacy (AC/DC form) model's two classes.
_CHARGER_CLASSES = ("AC", "DC")

Assignment = tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]


# ------------------------------------------------------------------ the arithmetic
def annuity_factor(rate: float, years: float) -> float:
    """Present value of 1 a year paid at each year's end for ``years`` years at
    ``rate``: ``(1 - (1 + rate)^-years) / rate``, or ``years`` at ``rate = 0``.

    A fraction of a year continues the formula (``years = 2.5`` lies between the
    factors of 2 and 3 years).

    Raises
    ------
    InputError
        ``rate`` is not in [0, 1) or ``years`` is negative or not finite.
    """
    _check_rate(rate)
    if not math.isfinite(years) or years < 0:
        raise InputError(f"economics.lease_years: expected a number of years >= 0, got {years!r}")
    if rate == 0.0:
        return float(years)
    return (1.0 - (1.0 + rate) ** -years) / rate


def npv(capital: float, margin_year: float, *, rate: float, years: float) -> float:
    """Net present value of paying ``capital`` now for ``margin_year`` at each year's
    end for ``years`` years, discounted at ``rate``: ``-capital + margin_year ×
    annuity_factor(rate, years)``."""
    return -float(capital) + float(margin_year) * annuity_factor(rate, years)


def payback_years(capital: float, margin_year: float, *, rate: float) -> float:
    """Years until the margins, discounted at ``rate``, repay ``capital``: the ``t`` at
    which ``margin_year × annuity_factor(rate, t) = capital``; ``inf`` when they never
    do (``margin_year <= 0``, or ``rate × capital >= margin_year``); 0 without capital.
    """
    _check_rate(rate)
    if capital <= 0:
        return 0.0
    if margin_year <= 0:
        return math.inf
    if rate == 0.0:
        return float(capital) / float(margin_year)
    left = 1.0 - rate * float(capital) / float(margin_year)
    if left <= 0:
        return math.inf
    return -math.log(left) / math.log1p(rate)


def _check_rate(rate: float) -> None:
    if not (math.isfinite(rate) and 0.0 <= rate < 1.0):
        raise InputError(f"economics.discount_rate: expected a rate in [0, 1), got {rate!r}")


# ---------------------------------------------------------- what each station serves
def segment_sessions(
    points: pd.DataFrame,
    segments: Mapping[str, Segment],
    n_stations: int,
    *,
    assignment: Assignment | None = None,
    classes: Sequence[str] | None = None,
    station_of_point: np.ndarray | None = None,
    served: np.ndarray | None = None,
) -> pd.DataFrame:
    """Sessions per day each station serves of each user group.

    Parameters
    ----------
    points
        The demand points, with ``<group>_sessions_day`` per group.
    segments
        The user groups (their charger).
    n_stations
        Stations of the plan (positions 0 … ``n_stations - 1``).
    assignment
        The model's (demand point, station position, sessions/day, class) rows, with
        ``classes`` naming the classes: user groups (served as given) or ``AC`` and
        ``DC`` (a point's sessions of a charger shared among its groups of that
        charger in proportion to their demand there).
    classes
        The names of the assignment's classes.
    station_of_point, served
        Without an assignment: each point's station position (-1: none) and its
        sessions served, shared among all its groups in proportion to their demand.

    Returns
    -------
    pandas.DataFrame
        One row per station position, one column per group (sessions/day).

    Raises
    ------
    InputError
        A class the groups do not name, a group without its demand column, or
        neither an assignment nor ``station_of_point`` and ``served``.
    """
    names = list(segments)
    for name in names:
        if f"{name}_sessions_day" not in points:
            raise InputError(f"points: no column {name}_sessions_day for user group {name!r}")
    demand = {n: points[f"{n}_sessions_day"].to_numpy(float) for n in names}
    out = {n: np.zeros(n_stations) for n in names}
    if assignment is not None:
        r, c, v, cls = (np.asarray(a) for a in assignment)
        r, c, cls = r.astype(np.int64), c.astype(np.int64), cls.astype(np.int64)
        v = v.astype(float)
        labels = [str(k) for k in (classes if classes is not None else _CHARGER_CLASSES)]
        if all(k in segments for k in labels):
            for k, label in enumerate(labels):
                pick = cls == k
                out[label] += np.bincount(c[pick], weights=v[pick], minlength=n_stations)
        elif set(labels) <= set(_CHARGER_CLASSES):
            for k, charger in enumerate(labels):
                pick = cls == k
                users = [n for n in names if segments[n].charger == charger]
                _shared(out, demand, users, r[pick], c[pick], v[pick], n_stations)
        else:
            raise InputError(
                f"assignment: classes {labels} are neither the user groups ({names}) nor AC/DC"
            )
    elif station_of_point is not None and served is not None:
        pos = np.asarray(station_of_point, dtype=np.int64)
        w = np.asarray(served, dtype=float)
        if pos.shape != w.shape or len(pos) != len(points):
            raise InputError(
                f"station_of_point, served: expected {len(points)} values each, got "
                f"{pos.shape} and {w.shape}"
            )
        rows = np.flatnonzero((pos >= 0) & (w > 0))
        _shared(out, demand, names, rows, pos[rows], w[rows], n_stations)
    else:
        raise InputError("segment_sessions: expected an assignment or station_of_point and served")
    return pd.DataFrame(out, index=pd.RangeIndex(n_stations), columns=names)


def _shared(
    out: dict[str, np.ndarray],
    demand: Mapping[str, np.ndarray],
    users: Sequence[str],
    r: np.ndarray,
    c: np.ndarray,
    v: np.ndarray,
    n_stations: int,
) -> None:
    """Add sessions ``v`` (point ``r`` at station ``c``) to the groups ``users``, each
    its share of their demand at the point."""
    if not users or not len(r):
        return
    total = sum(demand[n][r] for n in users)
    for n in users:
        share = np.divide(demand[n][r], total, out=np.zeros(len(r)), where=total > 0)
        out[n] += np.bincount(c, weights=v * share, minlength=n_stations)


def station_flows(sessions: pd.DataFrame, segments: Mapping[str, Segment]) -> pd.DataFrame:
    """Each station's sessions and kWh per day per group and its kWh per day:
    ``<group>_sessions_day``, ``<group>_kwh_day`` (sessions × the group's kWh per
    session) and ``kwh_day`` (see :func:`segment_sessions` for ``sessions``)."""
    out = pd.DataFrame(index=sessions.index)
    kwh = np.zeros(len(sessions))
    for name in sessions.columns:
        per = sessions[name].to_numpy(float)
        energy = per * float(segments[name].kwh_per_session)
        out[f"{name}_sessions_day"] = per
        out[f"{name}_kwh_day"] = energy
        kwh += energy
    out["kwh_day"] = kwh
    return out


def plan_flows(
    points: pd.DataFrame,
    segments: Mapping[str, Segment],
    extra: Mapping[str, Any],
    *,
    n_stations: int,
    station_of_point: np.ndarray | None = None,
    served: np.ndarray | None = None,
) -> pd.DataFrame:
    """:func:`station_flows` of a solved plan: from its ``extra`` (the capacitated
    model's ``assignment`` and ``classes``), else from each point's station and served
    sessions (covering models)."""
    a = extra.get("assignment")
    if isinstance(a, tuple) and len(a) == 4:
        classes = extra.get("classes")
        sessions = segment_sessions(
            points,
            segments,
            n_stations,
            assignment=a,
            classes=None if classes is None else [str(k) for k in classes],
        )
    else:
        sessions = segment_sessions(
            points, segments, n_stations, station_of_point=station_of_point, served=served
        )
    return station_flows(sessions, segments)


# ------------------------------------------------------------------- the economics
def station_economics(
    kwh_day: np.ndarray, capital: np.ndarray, existing: np.ndarray, terms: EconomicsConfig
) -> pd.DataFrame:
    """Revenue, costs, margin, payback, NPV over the lease and whether it pays back,
    per station (see the module docstring); existing stations (sunk capital) have
    their margin only (payback, NPV and ``pays_back`` empty).

    ``payback_years`` is empty also where the margins never repay the capital.
    ``breakeven_kwh_day`` is the kWh a day at which a new station's NPV over the
    lease is 0 (empty where no amount of energy pays: a price at or below the
    electricity cost).

    Raises
    ------
    InputError
        The arrays differ in length, or an amount of energy or capital is negative or
        not finite.
    """
    kwh = np.asarray(kwh_day, dtype=float)
    cap = np.asarray(capital, dtype=float)
    old = np.asarray(existing, dtype=bool)
    if not (kwh.shape == cap.shape == old.shape) or kwh.ndim != 1:
        raise InputError(
            f"kwh_day, capital, existing: expected one value per station each, got "
            f"{kwh.shape}, {cap.shape} and {old.shape}"
        )
    for name, arr in (("kwh_day", kwh), ("capital", cap)):
        if not np.all(np.isfinite(arr)) or np.any(arr < 0):
            raise InputError(f"{name}: expected finite amounts >= 0 per station")
    days = terms.days_per_year
    revenue = kwh * days * terms.net_price
    energy_cost = kwh * days * terms.energy_cost_per_kwh_sold
    opex = terms.fixed_opex_year + terms.opex_capital_share * cap
    margin = revenue - energy_cost - opex
    rate, lease = terms.discount_rate, terms.lease_years
    a = annuity_factor(rate, lease)
    payback = np.array(
        [
            np.nan if ex else payback_years(c, m, rate=rate)
            for c, m, ex in zip(cap, margin, old, strict=True)
        ],
        dtype=float,
    )
    value = np.where(old, np.nan, -cap + margin * a)
    pays = pd.array(
        [None if ex else bool(v >= -1e-6) for v, ex in zip(value, old, strict=True)],
        dtype="boolean",
    )
    breakeven = np.where(old, np.nan, breakeven_kwh_day(cap, terms))
    return pd.DataFrame(
        {
            "revenue_year": revenue,
            "electricity_cost_year": energy_cost,
            "opex_year": opex,
            "margin_year": margin,
            "payback_years": np.where(np.isfinite(payback), payback, np.nan),
            "npv_lease": value,
            "pays_back": pays,
            "breakeven_kwh_day": breakeven,
        }
    )


def breakeven_kwh_day(capital: np.ndarray, terms: EconomicsConfig) -> np.ndarray:
    """The kWh a day at which a station of ``capital`` has an NPV of 0 over the lease:
    kWh x the margin per kWh a year = capital / annuity factor + operating cost (NaN
    where no amount of energy pays: a price at or below the electricity cost)."""
    cap = np.asarray(capital, dtype=float)
    unit = terms.days_per_year * (terms.net_price - terms.energy_cost_per_kwh_sold)
    a = annuity_factor(terms.discount_rate, terms.lease_years)
    need = cap / a + terms.fixed_opex_year + terms.opex_capital_share * cap
    return need / unit if unit > 0 else np.full(cap.shape, np.nan)


def viable_count(table: pd.DataFrame, existing: np.ndarray) -> tuple[int, int, float, float]:
    """Of the new stations of ``table`` (:func:`station_economics`): how many pay back,
    how many there are, their capital and the capital in those that do not."""
    new = ~np.asarray(existing, dtype=bool)
    pays = table["pays_back"].to_numpy(dtype=object)
    ok = np.array([bool(p) if p is not None and not pd.isna(p) else False for p in pays])
    capital = table["capital"].to_numpy(float) if "capital" in table else np.zeros(len(table))
    return (
        int((ok & new).sum()),
        int(new.sum()),
        float(capital[new].sum()),
        float(capital[new & ~ok].sum()),
    )


def economics_totals(
    flows: pd.DataFrame,
    table: pd.DataFrame,
    capital: np.ndarray,
    existing: np.ndarray,
    terms: EconomicsConfig,
    *,
    currency: str,
) -> dict[str, Any]:
    """kpis.json ``economics``: the terms, and over the stations the new ones that pay
    back within the lease, the capital at risk in those that do not, revenue, margin
    and energy (all stations, and the new ones alone)."""
    old = np.asarray(existing, dtype=bool)
    new = ~old
    cap = np.asarray(capital, dtype=float)
    paying, n_new, capital_new, at_risk = viable_count(table.assign(capital=cap), old)
    payback = table["payback_years"].to_numpy(float)[new]
    kwh = flows["kwh_day"].to_numpy(float)
    groups = [c.removesuffix("_kwh_day") for c in flows.columns if c.endswith("_kwh_day")]

    def total(col: str, rows: np.ndarray | None = None) -> float:
        values = table[col].to_numpy(float)
        return round(float(values[rows].sum() if rows is not None else values.sum()), 2)

    return {
        "currency": currency,
        "stations_new": n_new,
        "stations_paying_back": paying,
        "stations_not_paying_back": n_new - paying,
        "share_paying_back": round(paying / n_new, 6) if n_new else None,
        "capital_new": round(capital_new, 2),
        "capital_at_risk": round(at_risk, 2),
        "revenue_year": total("revenue_year"),
        "revenue_year_new": total("revenue_year", new),
        "electricity_cost_year": total("electricity_cost_year"),
        "opex_year": total("opex_year"),
        "margin_year": total("margin_year"),
        "margin_year_new": total("margin_year", new),
        "margin_year_existing": total("margin_year", old),
        "npv_lease_new": total("npv_lease", new),
        "energy_kwh_day": round(float(kwh.sum()), 1),
        "energy_kwh_day_new": round(float(kwh[new].sum()), 1),
        "energy_kwh_day_by_segment": {
            g: round(float(flows[f"{g}_kwh_day"].sum()), 1) for g in groups
        },
        "payback_years_median_new": round(float(np.median(payback[np.isfinite(payback)])), 3)
        if np.isfinite(payback).any()
        else None,
        "breakeven_kwh_day_median_new": _median(table["breakeven_kwh_day"].to_numpy(float)[new]),
        "terms": {
            **terms.model_dump(mode="json"),
            "currency": currency,
            "net_price": round(terms.net_price, 4),
            "electricity_cost_per_kwh_sold": round(terms.energy_cost_per_kwh_sold, 4),
            "fixed_opex_year": terms.fixed_opex_year,
            "annuity_factor": round(annuity_factor(terms.discount_rate, terms.lease_years), 6),
        },
        "note": (
            "per station from the plan's assignment: revenue = kWh/day x days x price / "
            "(1 + VAT); margin = revenue - electricity (kWh / (1 - losses) x cost) - "
            "operating cost; a new station pays back when its margins discounted over the "
            "lease repay its capital (design and site cost), NPV >= 0; existing stations "
            "are sunk capital (margin only)"
        ),
    }


def _median(values: np.ndarray) -> float | None:
    ok = values[np.isfinite(values)]
    return round(float(np.median(ok)), 3) if len(ok) else None


# ----------------------------------------------------------------- what people read
def money(value: float | None, currency: str = "") -> str:
    """An amount with thousands separators and its currency (``"1,234,567 KZT"``);
    ``"—"`` for none."""
    if value is None or not math.isfinite(value):
        return "—"
    return f"{value:,.0f} {currency}".rstrip()


def economics_lines(block: Mapping[str, Any]) -> list[str]:
    """The run summary's lines of kpis.json ``economics`` (none without it)."""
    if not block:
        return []
    cur = block.get("currency", "")
    t = block["terms"]
    vat = f" incl. {100 * t['vat']:g}% VAT" if t.get("vat") else ""
    rate = 100 * t["discount_rate"]
    return [
        f"  economics ({t['price']:,g} {cur}/kWh{vat}, electricity "
        f"{t['electricity_cost']:,g} {cur}/kWh, {t['lease_years']:g}-year lease at "
        f"{rate:g}%/yr): {block['stations_paying_back']} of {block['stations_new']} new "
        f"stations pay back within the lease; capital at risk "
        f"{money(block['capital_at_risk'], cur)} of {money(block['capital_new'], cur)}",
        f"    revenue {money(block['revenue_year'], cur)}/yr, margin "
        f"{money(block['margin_year'], cur)}/yr, energy {block['energy_kwh_day']:,.0f} kWh/day"
        + (
            f"; median payback {block['payback_years_median_new']:.1f} years"
            if block.get("payback_years_median_new") is not None
            else ""
        ),
    ]


# ------------------------------------------------------------- a run's stations
def run_station_figures(
    sc: Scenario,
    points: pd.DataFrame,
    segments: Mapping[str, Segment],
    extra: Mapping[str, Any],
    sites: pd.DataFrame,
    per_demand: pd.DataFrame,
) -> tuple[pd.DataFrame, dict[str, Any] | None]:
    """A run's per-station flows (:func:`plan_flows`) and, with ``[economics]``, each
    station's economics (:func:`station_economics`), in the order of ``sites`` (the
    plan's stations, with ``site_id``, ``existing`` and ``capital_cost``); and the
    kpis.json ``economics`` block (``None`` without ``[economics]``)."""
    ids = sites["site_id"].astype(str).to_numpy()
    position = pd.Series(np.arange(len(ids)), index=ids)
    area = per_demand["area_site"].astype(str)
    station_of_point = area.map(position).fillna(-1).to_numpy(np.int64)
    flows = plan_flows(
        points,
        segments,
        extra,
        n_stations=len(ids),
        station_of_point=station_of_point,
        served=per_demand["served"].to_numpy(float),
    )
    ec = sc.economics
    if ec is None:
        return flows, None
    capital = sites["capital_cost"].fillna(0.0).to_numpy(float)
    existing = sites["existing"].to_numpy(bool)
    table = station_economics(flows["kwh_day"].to_numpy(float), capital, existing, ec)
    if ec.net_price <= ec.energy_cost_per_kwh_sold:
        log.warning(
            "economics: the price the operator keeps (%.2f %s/kWh) is at most what it pays "
            "for the electricity (%.2f %s/kWh): no station can pay back",
            ec.net_price,
            sc.economics_currency(),
            ec.energy_cost_per_kwh_sold,
            sc.economics_currency(),
        )
    block = economics_totals(flows, table, capital, existing, ec, currency=sc.economics_currency())
    return pd.concat([flows, table], axis=1), block
