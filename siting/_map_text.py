"""The text a plan's map shows beside its layers: each station's popup, the panel of the
run's key figures and the legend, with the colours the legend explains.

HTML strings, built from a station row, the kpis or the stations (see
:func:`siting.maps.plan_map`, which adds them; the colours are exported from
:mod:`siting.maps`).
"""

from __future__ import annotations

import html
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd

from siting.economics import money
from siting.metrics import SHARES

EXISTING_COLOR = "#d62728"
NEW_COLOR = "#1f77b4"
#: Fill of new stations by charger type (existing ones are red whatever their type).
TYPE_COLORS = {"AC": "#1f77b4", "DC": "#ff7f0e"}
SERVED_AREA_COLOR = "#2ca02c"


def station_popup(row: dict[Any, Any], *, currency: str = "") -> str:
    """A station's popup: its id, place, ports, load, sessions and kWh a day per user
    group, cost, economics (with ``[economics]``) and nearest stations; money in
    ``currency``."""
    kind = f" {row['station_type']}" if row.get("station_type") else ""
    lines = [
        f"<b>{html.escape(str(row['site_id']))}</b> — {'existing' if row['existing'] else 'new'}"
        f"{kind}",
        f"Place: {html.escape(str(row.get('kind_label') or row['kind']).replace('_', ' '))}",
    ]
    for key, label in (("name", "Name"), ("address", "Address"), ("district", "District")):
        if _given(row.get(key)) and str(row.get(key)).strip():
            lines.append(f"{label}: {html.escape(str(row[key]))}")
    if row.get("design"):
        lines.append(f"Design: {html.escape(str(row['design']))}")
    ports = row.get("ports")
    if ports is not None and not pd.isna(ports):
        lines.append(f"Ports: {int(ports)}")
    for key, label in (
        ("sessions_served", "Sessions served (sessions/day)"),
        ("capacity_sessions", "Capacity (sessions/day)"),
        ("area_sessions", "Demand in its served area (sessions/day)"),
    ):
        value = row.get(key)
        if _given(value):
            lines.append(f"{label}: {value:.1f}")
    lines += _flow_lines(row)
    util = row.get("utilisation")
    if util is not None and _given(util):
        lines.append(f"Utilisation: {100 * util:.0f}%")
    cost = row.get("capital_cost")
    if _given(cost):
        sunk = " (sunk)" if row["existing"] else ""
        lines.append(f"Capital cost: {html.escape(money(cost, currency))}{sunk}")
    lines += _economics_lines(row, currency)
    if row.get("neighbours"):
        lines.append(f"Nearest stations: {html.escape(str(row['neighbours']))}")
    lines.append(f"{row['lat']:.5f}, {row['lon']:.5f}")
    return "<br>".join(lines)


def _given(value: Any) -> bool:
    """A number to show (not missing, not NaN)."""
    return value is not None and not (isinstance(value, float) and np.isnan(value))


def _flow_lines(row: dict[Any, Any]) -> list[str]:
    """Sessions and kWh a day the station serves of each user group, and its kWh a day."""
    heads = [str(k).removesuffix("_sessions_day") for k in row if str(k).endswith("_sessions_day")]
    groups = [g for g in heads if f"{g}_kwh_day" in row]
    lines = [
        f"&nbsp;&nbsp;{html.escape(g)}: {row[f'{g}_sessions_day']:.1f} sessions, "
        f"{row[f'{g}_kwh_day']:,.0f} kWh a day"
        for g in groups
        if _given(row.get(f"{g}_sessions_day"))
    ]
    if _given(row.get("kwh_day")):
        lines.insert(0, f"Energy sold: {row['kwh_day']:,.0f} kWh/day, by group:")
    return lines


def _economics_lines(row: dict[Any, Any], currency: str) -> list[str]:
    """Revenue, margin, payback and NPV over the lease (stations of a run with
    ``[economics]``; an existing station's margin only, its capital sunk)."""
    if not _given(row.get("margin_year")):
        return []
    lines = [
        f"Revenue: {html.escape(money(row.get('revenue_year'), currency))}/yr",
        f"Margin: {html.escape(money(row['margin_year'], currency))}/yr",
    ]
    if row["existing"]:
        return lines
    payback = row.get("payback_years")
    lines.append(
        f"Payback: {payback:.2f} years" if _given(payback) else "Payback: never (margin too small)"
    )
    lines.append(f"NPV over the lease: {html.escape(money(row.get('npv_lease'), currency))}")
    pays = row.get("pays_back")
    if pays is not None and not pd.isna(pays):
        lines.append(f"Pays back within the lease: <b>{'yes' if bool(pays) else 'no'}</b>")
    return lines


def kpi_panel(title: str, kpis: dict[str, Any]) -> str:
    """The panel of the run's key figures (stations, shares, access, costs, benefits)."""
    rows = [
        ("Stations", f"{kpis.get('stations')} ({kpis.get('stations_existing')} existing)"),
        (f"Within reach ({_minutes(kpis.get('threshold_min'))})", _pct(kpis.get("coverage_share"))),
        ("Served", _pct(kpis.get("served_share"))),
        *segment_rows(kpis),
        *(
            [
                (
                    "Stations by design",
                    ", ".join(f"{n} {k}" for n, k in served["stations_by_design"].items()),
                )
            ]
            if "stations_by_design" in (served := kpis.get("served") or {})
            else []
        ),
        ("Threshold", f"{kpis.get('threshold_min')} min"),
        ("Mean access", f"{kpis.get('mean_access_min')} min"),
        ("95th pct access", f"{kpis.get('p95_access_min')} min"),
        ("Solver", str(kpis.get("solver_label", ""))),
    ]
    costs = kpis.get("costs") or {}
    if costs.get("currency"):
        cur = costs["currency"]
        rows.append(("Capital cost", f"{costs['plan_capital_cost'] / 1e9:,.2f} bn {cur}"))
        if costs.get("cost_per_session_day"):
            rows.append(("Per session/day", f"{costs['cost_per_session_day']:,.0f} {cur}"))
    rows += economics_rows(kpis)
    choice = kpis.get("plan_choice") or {}
    if choice.get("rule"):
        rows.append(("Plan chosen by", str(choice["rule"])))
    ex = kpis.get("existing") or {}
    if ex.get("reported"):
        rows.append(("Existing known / reported", f"{ex['known']} / {ex['reported']}"))
    ben = kpis.get("benefits") or {}
    if ben:
        rows.append(("CO2 avoided", f"{ben['co2_avoided_t_year']:,.0f} t/year"))
        rows.append(
            ("Local pollutants avoided", f"{ben['local_pollutants_total_t_year']:,.0f} t/year")
        )
        if ben.get("capital_cost_per_t_co2_lifetime") and costs.get("currency"):
            rows.append(
                (
                    "Capital per t CO2 (life)",
                    f"{ben['capital_cost_per_t_co2_lifetime']:,.0f} {costs['currency']}",
                )
            )
    body = "".join(
        f"<tr><td>{html.escape(k)}</td><td><b>{html.escape(str(v))}</b></td></tr>" for k, v in rows
    )
    segments = kpis.get("segments") or {}
    note = (
        "<div id='siting-panel-note' style='font-size:10px;color:#555;margin-top:4px'>"
        f"* {html.escape(str(segments['note']))}</div>"
        if segments.get("by_segment") and segments.get("note")
        else ""
    )
    return (
        '<div id="siting-panel" style="position:fixed;bottom:48px;left:12px;z-index:9999;'
        "background:rgba(255,255,255,.93);padding:8px 10px;border-radius:6px;"
        "box-shadow:0 1px 4px rgba(0,0,0,.3);font:12px/1.4 sans-serif;max-width:300px;"
        'max-height:calc(100vh - 70px);overflow-y:auto">'
        f"<div style='font-weight:bold;margin-bottom:4px'>{html.escape(title)}</div>"
        f"{share_note(kpis)}<table>{body}</table>{note}</div>"
    )


def share_note(kpis: dict[str, Any]) -> str:
    """One line each on the panel's two shares: within reach (a station near enough)
    against served (what the stations can take)."""
    limit = _minutes(kpis.get("threshold_min"))
    groups = [
        f"{name} {r['max_trip_min']:g} min"
        for name, r in ((kpis.get("segments") or {}).get("by_segment") or {}).items()
        if "max_trip_min" in r
    ]
    limits = f"{limit}; by group: {', '.join(groups)}" if groups else limit
    model = str((kpis.get("solver") or {}).get("model") or "")
    capacity = model in ("", "capacitated") or "capacity" in model
    served = (
        SHARES["served"]
        if capacity
        else f"equal to within reach here (the {html.escape(model)} model has no capacities)"
    )
    line = "<div style='margin:1px 0'><b>{}</b>: {}</div>"
    return (
        "<div id='siting-panel-shares' style='font-size:11px;color:#333;margin-bottom:4px'>"
        + line.format("Within reach", f"{SHARES['within reach']} ({html.escape(limits)})")
        + line.format("Served", served)
        + "</div>"
    )


def _minutes(value: Any) -> str:
    """``"≤ 5 min"`` (``"—"`` when not given)."""
    return "—" if value is None else f"≤ {float(value):g} min"


def economics_rows(kpis: dict[str, Any]) -> list[tuple[str, str]]:
    """The panel's rows of kpis.json ``economics`` (none without it): new stations that
    pay back within the lease, capital at risk, revenue and energy."""
    eco = kpis.get("economics") or {}
    if not eco:
        return []
    cur = eco.get("currency", "")
    lease = eco["terms"]["lease_years"]
    return [
        (
            f"Pay back within {lease:g} years",
            f"{eco['stations_paying_back']} of {eco['stations_new']} new stations",
        ),
        ("Capital at risk", money(eco["capital_at_risk"], cur)),
        ("Revenue", f"{money(eco['revenue_year'], cur)}/yr"),
        ("Energy sold", f"{eco['energy_kwh_day']:,.0f} kWh/day"),
    ]


def segment_rows(kpis: dict[str, Any]) -> list[tuple[str, str]]:
    """The panel's rows on each segment's demand served (kpis.json ``segments``; none
    for a run without it): share served, sessions served of demanded, share covered."""
    rows = []
    for name, r in ((kpis.get("segments") or {}).get("by_segment") or {}).items():
        served, demanded = r["served_sessions_day"], r["demand_sessions_day"]
        amount = f"{served:,.0f}" if served >= 100 else f"{served:,.1f}"
        trip = f", {r['max_trip_min']:g} min" if "max_trip_min" in r else ""
        rows.append(
            (
                f"Served: {name} ({r['charger']}{trip})*",
                f"{_pct(r['served_share'])} ({amount} of {demanded:,.0f}/day; "
                f"{_pct(r['covered_share'])} covered)",
            )
        )
    return rows


def legend(sites: gpd.GeoDataFrame) -> str:
    """What the markers and areas mean (types present in the plan only)."""

    def dot(color: str, radius: float, border: str = "#222", width: int = 1) -> str:
        d = 2 * radius
        return (
            f"<span style='display:inline-block;width:{d}px;height:{d}px;border-radius:50%;"
            f"background:{color};border:{width}px solid {border};vertical-align:middle'></span>"
        )

    rows = [f"{dot(EXISTING_COLOR, 6, '#000', 3)} existing station"]
    types = sites.loc[~sites["existing"], "station_type"] if "station_type" in sites else None
    present = [t for t in TYPE_COLORS if types is not None and (types == t).any()]
    if present:
        rows += [f"{dot(TYPE_COLORS[t], 6)} new station, {t} chargers" for t in present]
    else:
        rows.append(f"{dot(NEW_COLOR, 6)} new station")
    ports = sites["ports"].dropna().unique() if "ports" in sites else []
    if len(ports):
        sizes = ", ".join(f"{int(n)} ports" for n in sorted(ports))
        rows.append(f"marker size: number of ports ({sizes}), smaller when zoomed out")
    rows.append(
        f"<span style='display:inline-block;width:12px;height:10px;background:{SERVED_AREA_COLOR};"
        "opacity:.5'></span> served area: cells within the threshold of their nearest station"
    )
    rows.append(
        "districts: share of their demand served (colour scale above; label: name and share)"
    )
    rows.append(
        "<span style='display:inline-block;width:14px;height:0;border-top:3px solid #9c8f7d;"
        "vertical-align:middle'></span> main streets of the run's road graph (on while the "
        "tiles cannot load)"
    )
    rows.append("demand cells: off at first, on in the layer control")
    return (
        '<div id="siting-legend" style="position:fixed;bottom:24px;right:12px;z-index:9999;'
        "background:rgba(255,255,255,.93);padding:8px 10px;border-radius:6px;"
        'box-shadow:0 1px 4px rgba(0,0,0,.3);font:12px/1.6 sans-serif;max-width:260px">'
        "<div style='font-weight:bold'>Legend</div>" + "<br>".join(rows) + "</div>"
    )


def _pct(value: Any) -> str:
    return "—" if value is None or pd.isna(value) else f"{100 * float(value):.1f}%"
