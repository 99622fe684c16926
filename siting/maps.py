"""Stage 7 — the plan as an interactive Folium map.

Layers: district boundaries, demand cells (sessions per day), existing and new
stations with popups, and a layer control; a panel shows the run's key figures.
:func:`save_map` writes a self-contained file: Leaflet and the other assets are
inlined from installed packages, so the map opens without internet (only the
OpenStreetMap tiles need a connection; the plain background does not).
"""

from __future__ import annotations

import html
from pathlib import Path
from typing import Any

import branca.colormap as cm
import folium
import geopandas as gpd
import numpy as np
import pandas as pd

from siting._assets import inline_assets

EXISTING_COLOR = "#d62728"
NEW_COLOR = "#1f77b4"

#: A white 1×1 PNG used as every tile of the plain background (needs no network).
BLANK_TILE = (
    "data:image/png;base64,"
    "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAQAAAC1HAwCAAAAC0lEQVR42mP8/x8AAwMCAO+ip1sAAAAASUVORK5CYII="
)


def plan_map(
    sites: gpd.GeoDataFrame,
    demand: gpd.GeoDataFrame,
    *,
    districts: gpd.GeoDataFrame | None = None,
    district_column: str = "name",
    kpis: dict[str, Any] | None = None,
    title: str = "Charging station plan",
) -> folium.Map:
    """Build the map of a plan.

    Parameters
    ----------
    sites
        The chosen stations (WGS84 points) with ``site_id``, ``kind``, ``name``,
        ``existing`` and, if known, ``assigned_demand`` and ``covered_demand``.
    demand
        Demand cells (WGS84 polygons) with ``sessions_day`` and ``district``.
    districts
        District polygons, optional.
    kpis
        Key figures shown in the panel.
    """
    bounds = demand.total_bounds if len(demand) else sites.total_bounds
    m = folium.Map(
        location=[(bounds[1] + bounds[3]) / 2, (bounds[0] + bounds[2]) / 2],
        zoom_start=11,
        tiles=None,
        control_scale=True,
    )
    folium.TileLayer("OpenStreetMap", name="OpenStreetMap").add_to(m)
    folium.TileLayer(
        tiles=BLANK_TILE, attr="plain background", name="Plain (no tiles)", show=False
    ).add_to(m)

    if districts is not None:
        folium.GeoJson(
            districts[[district_column, "geometry"]].rename(columns={district_column: "district"}),
            name="Districts",
            style_function=lambda _: {"color": "#444", "weight": 2, "fill": False},
            tooltip=folium.GeoJsonTooltip(fields=["district"], aliases=["District"]),
        ).add_to(m)

    if len(demand):
        vmax = float(np.quantile(demand["sessions_day"], 0.98)) or 1.0
        scale = cm.LinearColormap(
            ["#fff5eb", "#fd8d3c", "#7f2704"],
            vmin=0.0,
            vmax=vmax,
            caption="Charging sessions per day per cell",
        )
        segments = [
            c.removesuffix("_sessions_day")
            for c in demand.columns
            if c.endswith("_sessions_day") and c not in ("dc_sessions_day",)
        ]
        cols = [
            "h3",
            "district",
            "population",
            "jobs",
            "sessions_day",
            "kwh_day",
            *[f"{g}_sessions_day" for g in segments],
        ]
        cells = demand[[c for c in cols if c in demand.columns] + ["geometry"]].copy()
        for col in cells.columns.drop(["h3", "district", "geometry"]):
            cells[col] = cells[col].astype(float).round(2)
        tip_fields = [c for c in cols[1:] if c in cells.columns]
        tip_alias = [
            c.replace("_sessions_day", " sessions/day").replace("_", " ").capitalize()
            for c in tip_fields
        ]
        layers = [("sessions_day", "Demand: all segments (sessions/day)", True)]
        layers += [(f"{g}_sessions_day", f"Demand: {g}", False) for g in segments]
        for column, name, show in layers:
            folium.GeoJson(
                cells,
                name=name,
                show=show,
                style_function=_cell_style(column, scale, vmax),
                tooltip=folium.GeoJsonTooltip(fields=tip_fields, aliases=tip_alias),
            ).add_to(m)
        scale.add_to(m)

    for existing, label, color in (
        (True, "Existing stations", EXISTING_COLOR),
        (False, "New stations", NEW_COLOR),
    ):
        group = folium.FeatureGroup(name=f"{label} ({int((sites['existing'] == existing).sum())})")
        for row in sites[sites["existing"] == existing].itertuples(index=False):
            folium.CircleMarker(
                location=[row.lat, row.lon],
                radius=7 if existing else 5,
                color="#222",
                weight=1,
                fill=True,
                fill_color=color,
                fill_opacity=0.9,
                popup=folium.Popup(_popup(row._asdict()), max_width=280),
                tooltip=f"{row.site_id}: {row.kind}",
                class_name=f"siting-station siting-{'existing' if existing else 'new'}",
            ).add_to(group)
        group.add_to(m)

    if kpis:
        m.get_root().html.add_child(folium.Element(_panel(title, kpis)))  # type: ignore[attr-defined]
    folium.LayerControl(collapsed=False).add_to(m)
    m.fit_bounds([[bounds[1], bounds[0]], [bounds[3], bounds[2]]])
    return m


def _cell_style(column: str, scale: cm.LinearColormap, vmax: float) -> Any:
    def style(feature: dict[str, Any]) -> dict[str, Any]:
        value = feature["properties"][column]
        if value <= 0:
            return {"fillOpacity": 0.0, "weight": 0}
        return {"fillColor": scale(min(value, vmax)), "fillOpacity": 0.55, "weight": 0}

    return style


def save_map(m: folium.Map, path: Path) -> None:
    """Write the map as one self-contained HTML file (Leaflet inlined, no CDN links)."""
    html_text = inline_assets(m.get_root().render())
    tmp = path.with_suffix(path.suffix + ".tmp")
    tmp.write_text(html_text, encoding="utf-8")
    tmp.replace(path)


def _popup(row: dict[str, Any]) -> str:
    kind = f" {row['station_type']}" if row.get("station_type") else ""
    lines = [
        f"<b>{html.escape(str(row['site_id']))}</b> — {'existing' if row['existing'] else 'new'}"
        f"{kind}",
        f"Place: {html.escape(str(row['kind']).replace('_', ' '))}",
    ]
    if row.get("name"):
        lines.append(f"Name: {html.escape(str(row['name']))}")
    for key, label in (
        ("assigned_demand", "Demand assigned (sessions/day)"),
        ("covered_demand", "Demand within threshold"),
        ("load", "Load (sessions/day)"),
        ("capacity", "Capacity (sessions/day)"),
    ):
        value = row.get(key)
        if value is not None and not (isinstance(value, float) and np.isnan(value)):
            lines.append(f"{label}: {value:.1f}")
    util = row.get("utilisation")
    if util is not None and not (isinstance(util, float) and np.isnan(util)):
        lines.append(f"Utilisation: {100 * util:.0f}%")
    lines.append(f"{row['lat']:.5f}, {row['lon']:.5f}")
    return "<br>".join(lines)


def _panel(title: str, kpis: dict[str, Any]) -> str:
    rows = [
        ("Stations", f"{kpis.get('stations')} ({kpis.get('stations_existing')} existing)"),
        ("Demand within threshold", _pct(kpis.get("coverage_share"))),
        *(
            [("Served (station capacity)", _pct(kpis["served"]["share"]))]
            if kpis.get("served")
            else []
        ),
        ("Threshold", f"{kpis.get('threshold_min')} min"),
        ("Mean access", f"{kpis.get('mean_access_min')} min"),
        ("95th pct access", f"{kpis.get('p95_access_min')} min"),
        ("Solver", str(kpis.get("solver_label", ""))),
    ]
    body = "".join(
        f"<tr><td>{html.escape(k)}</td><td><b>{html.escape(str(v))}</b></td></tr>" for k, v in rows
    )
    return (
        '<div id="siting-panel" style="position:fixed;bottom:24px;left:12px;z-index:9999;'
        "background:rgba(255,255,255,.93);padding:8px 10px;border-radius:6px;"
        'box-shadow:0 1px 4px rgba(0,0,0,.3);font:12px/1.4 sans-serif;max-width:300px">'
        f"<div style='font-weight:bold;margin-bottom:4px'>{html.escape(title)}</div>"
        f"<table>{body}</table>"
        f"<div style='margin-top:4px'><span style='color:{EXISTING_COLOR}'>●</span> existing "
        f"<span style='color:{NEW_COLOR}'>●</span> new</div></div>"
    )


def _pct(value: Any) -> str:
    return "—" if value is None or pd.isna(value) else f"{100 * float(value):.1f}%"
