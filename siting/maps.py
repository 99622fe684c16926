"""Stage 7 — the plan as an interactive Folium map.

Layers: two backgrounds (OpenStreetMap tiles and a plain one), the main streets of
the run's own road graph (a light layer that stays when the tiles cannot load, so
the map can be read offline), districts coloured by the share of their demand
served with their names and shares as labels above every other layer, demand
cells per segment (off at first, so that the districts' colours show), each
station's served area, and existing and new stations (by charger type) sized by
their ports and by the zoom, with popups; a legend, a panel with the run's key
figures and a layer control. :func:`save_map` writes a self-contained file:
Leaflet and the other assets are inlined from installed packages, so the map opens
without internet (only the OpenStreetMap tiles need a connection). The popups, the
panel and the legend are written in :mod:`siting._map_text`.
"""

from __future__ import annotations

import html
import logging
from pathlib import Path
from typing import TYPE_CHECKING, Any

import branca.colormap as cm
import folium
import geopandas as gpd
import numpy as np
import pandas as pd
from branca.element import MacroElement
from jinja2 import Template

from siting._assets import inline_assets
from siting._map_text import (
    EXISTING_COLOR,
    NEW_COLOR,
    SERVED_AREA_COLOR,
    TYPE_COLORS,
    kpi_panel,
    legend,
    station_popup,
)

if TYPE_CHECKING:
    import networkx as nx

log = logging.getLogger(__name__)

__all__ = [
    "BLANK_TILE",
    "EXISTING_COLOR",
    "MAIN_ROADS",
    "NEW_COLOR",
    "SERVED_AREA_COLOR",
    "TYPE_COLORS",
    "MapScript",
    "base_map",
    "district_labels",
    "district_outlines",
    "marker_radius",
    "plan_map",
    "road_layer",
    "save_map",
    "station_scaling",
]

#: Road classes drawn as the offline streets layer, with their line width (pixels).
MAIN_ROADS = {"motorway": 3.0, "trunk": 3.0, "primary": 2.2, "secondary": 1.4}
#: Tolerance (degrees, about 15 m) to which the streets layer's lines are simplified.
ROAD_SIMPLIFY_DEG = 0.00015
#: Panes above and below Leaflet's own (tiles 200, overlays 400, markers 600): streets
#: over the tiles, district outlines over the demand cells, labels over the stations.
PANES = {"siting-roads": 250, "siting-outlines": 450, "siting-labels": 640}

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
    per_district: pd.DataFrame | None = None,
    served_areas: gpd.GeoDataFrame | None = None,
    kpis: dict[str, Any] | None = None,
    title: str = "Charging station plan",
    futures_sites: pd.DataFrame | None = None,
    graph: nx.MultiDiGraph | None = None,
) -> folium.Map:
    """Build the map of a plan.

    Parameters
    ----------
    sites
        The chosen stations (WGS84 points) with ``site_id``, ``kind``, ``name``,
        ``existing`` and, if known, ``ports``, ``station_type``,
        ``area_sessions``, ``sessions_served``, ``capacity_sessions``, ``utilisation``,
        ``neighbours``, each group's ``<group>_sessions_day`` and ``<group>_kwh_day``,
        ``kwh_day`` and the economics columns of :func:`siting.economics.station_economics`
        (money in the currency of ``kpis``' ``economics`` or ``costs``).
    demand
        Demand cells (WGS84 polygons) with ``sessions_day`` and ``district``.
    districts
        District polygons, optional.
    per_district
        Per-district figures (``district``, ``served_share``, ``coverage_share``,
        ``stations``) that colour the districts.
    served_areas
        Each station's served area (see :func:`siting.evaluate.served_areas`).
    kpis
        Key figures shown in the panel.
    futures_sites
        Sites of the futures' own best plans (``lon``, ``lat``, ``site_id``,
        ``own_plans``: in how many), a layer sized by the count (off at first).
    graph
        The run's road graph (WGS84 nodes ``x``, ``y``; edges with ``highway`` and
        optionally ``geometry``): its main streets (:data:`MAIN_ROADS`) become a
        light layer to orient by when the tiles cannot load (see :func:`road_layer`).
    """
    bounds = demand.total_bounds if len(demand) else sites.total_bounds
    m = base_map((bounds[1] + bounds[3]) / 2, (bounds[0] + bounds[2]) / 2)
    roads = road_layer(graph) if graph is not None else None
    if roads is not None:
        roads.add_to(m)
    if districts is not None:
        layer, scale = _district_layer(districts, district_column, per_district)
        layer.add_to(m)
        if scale is not None:
            scale.add_to(m)
    if len(demand):
        _demand_layers(m, demand)
    if served_areas is not None and len(served_areas):
        threshold = kpis.get("threshold_min") if kpis else None
        _served_area_layer(served_areas, threshold).add_to(m)
    k = kpis or {}
    currency = str(
        (k.get("economics") or {}).get("currency") or (k.get("costs") or {}).get("currency") or ""
    )
    station_layers = []
    for key, label, rows in _station_groups(sites):
        group = _station_layer(key, f"{label} ({len(rows)})", rows, currency=currency)
        group.add_to(m)
        station_layers.append(group)
    if futures_sites is not None and len(futures_sites):
        _futures_layer(futures_sites, int(futures_sites["futures"].max())).add_to(m)
    if districts is not None:
        district_outlines(districts).add_to(m)
        district_labels(districts, district_column, per_district).add_to(m)
    if kpis:
        m.get_root().html.add_child(folium.Element(kpi_panel(title, kpis)))  # type: ignore[attr-defined]
    m.get_root().html.add_child(folium.Element(legend(sites)))  # type: ignore[attr-defined]
    folium.LayerControl(collapsed=False).add_to(m)
    MapScript(station_scaling(m, station_layers, roads)).add_to(m)
    m.fit_bounds([[bounds[1], bounds[0]], [bounds[3], bounds[2]]])
    return m


def _served_area_layer(served_areas: gpd.GeoDataFrame, threshold: Any) -> folium.GeoJson:
    """Each station's served area (off at first), named by the threshold when known."""
    return folium.GeoJson(
        served_areas[["site_id", "status", "area_sessions", "area_km2", "geometry"]],
        name=f"Served areas (within {threshold:g} min)" if threshold else "Served areas",
        show=False,
        style_function=lambda _: {
            "color": SERVED_AREA_COLOR,
            "weight": 1,
            "fillColor": SERVED_AREA_COLOR,
            "fillOpacity": 0.25,
        },
        tooltip=folium.GeoJsonTooltip(
            fields=["site_id", "area_sessions", "area_km2"],
            localize=True,
            aliases=["Station", "Demand within (sessions/day)", "Area (km²)"],
        ),
    )


def _station_layer(
    key: str, name: str, rows: pd.DataFrame, *, currency: str = ""
) -> folium.FeatureGroup:
    """One group of stations (see :func:`_station_groups`): a marker each, sized by its
    ports, with its popup (money in ``currency``)."""
    group = folium.FeatureGroup(name=name)
    for row in rows.to_dict("records"):
        existing = bool(row["existing"])
        color = EXISTING_COLOR if existing else TYPE_COLORS.get(key, NEW_COLOR)
        folium.CircleMarker(
            location=[row["lat"], row["lon"]],
            radius=marker_radius(row.get("ports")),
            color="#000" if existing else "#fff",
            weight=3 if existing else 1,
            fill=True,
            fill_color=color,
            fill_opacity=0.95 if existing else 0.8,
            popup=folium.Popup(station_popup(row, currency=currency), max_width=300),
            tooltip=f"{row['site_id']}: "
            + (row.get("kind_label") or str(row["kind"]).replace("_", " ")),
            class_name=f"siting-station siting-{'existing' if existing else 'new'}",
        ).add_to(group)
    return group


def _futures_layer(sites: pd.DataFrame, n_futures: int) -> folium.FeatureGroup:
    """Sites of the futures' own plans, each sized and labelled by how many hold it."""
    group = folium.FeatureGroup(
        name=f"Sites in the futures' own plans (of {n_futures})", show=False
    )
    for row in sites[sites["own_plans"] > 0].to_dict("records"):
        share = row["own_plans"] / max(n_futures, 1)
        folium.CircleMarker(
            location=[row["lat"], row["lon"]],
            radius=3 + 7 * share,
            color="#5b2a86",
            weight=1,
            fill=True,
            fill_color="#5b2a86",
            fill_opacity=0.25 + 0.6 * share,
            tooltip=f"{row['site_id']}: in {row['own_plans']} of {n_futures} futures' own plans",
            class_name="siting-futures",
        ).add_to(group)
    return group


def base_map(lat: float, lon: float) -> folium.Map:
    """An empty map centred on (lat, lon) with the two backgrounds: OpenStreetMap
    tiles and a plain one that needs no network."""
    m = folium.Map(location=[lat, lon], zoom_start=11, tiles=None, control_scale=True)
    folium.TileLayer("OpenStreetMap", name="OpenStreetMap").add_to(m)
    folium.TileLayer(
        tiles=BLANK_TILE, attr="plain background", name="Plain (no tiles)", show=False
    ).add_to(m)
    for name, z in PANES.items():
        folium.map.CustomPane(name, z_index=z, pointer_events=False).add_to(m)
    # offline the missing tiles leave the page's own background: a light land colour
    m.get_root().header.add_child(  # type: ignore[attr-defined]
        folium.Element("<style>html .leaflet-container{background:#f2efe9}</style>")
    )
    return m


def marker_radius(ports: Any) -> float:
    """Marker radius (pixels) of a station with ``ports`` ports (area grows with ports)."""
    n = 2.0 if ports is None or pd.isna(ports) else max(float(ports), 1.0)
    return round(3.0 + 2.5 * np.sqrt(n), 1)


class MapScript(MacroElement):
    """JavaScript run once the map and every layer added before it exist (added as
    the map's last child; a script added to the page itself would run before them)."""

    _template = Template("{% macro script(this, kwargs) %}{{ this.code }}{% endmacro %}")

    def __init__(self, code: str) -> None:
        super().__init__()
        self._name = "MapScript"
        self.code = code


def road_layer(
    graph: nx.MultiDiGraph,
    *,
    classes: dict[str, float] | None = None,
    tolerance: float = ROAD_SIMPLIFY_DEG,
) -> folium.GeoJson | None:
    """The main streets of ``graph`` as one light, non-interactive layer.

    Each edge of a class in ``classes`` (default :data:`MAIN_ROADS`; an edge merged
    from several classes counts as its most important one) is drawn once (both
    directions of a two-way street are one line), the lines of a class merged and
    simplified to ``tolerance`` degrees, coordinates kept to 5 decimals (about 1 m).
    The layer is shown while the tiles cannot load (see :func:`station_scaling`).

    Returns
    -------
    folium.GeoJson or None
        None when the graph has no edge of those classes.
    """
    import shapely
    from shapely.geometry import LineString, mapping

    widths = MAIN_ROADS if classes is None else classes
    nodes = graph.nodes
    by_class: dict[str, list[Any]] = {c: [] for c in widths}
    seen: set[tuple[Any, Any, int]] = set()
    for u, v, d in graph.edges(data=True):
        cls = _road_class(d.get("highway"), widths)
        if cls is None:
            continue
        key = (min(u, v), max(u, v), round(float(d.get("length", 0.0))))
        if key in seen:
            continue
        seen.add(key)
        geom = d.get("geometry")
        if geom is None:
            geom = LineString([(nodes[u]["x"], nodes[u]["y"]), (nodes[v]["x"], nodes[v]["y"])])
        by_class[cls].append(geom)
    crs = graph.graph.get("crs", "EPSG:4326")
    features = []
    for cls, lines in by_class.items():
        if not lines:
            continue
        merged = gpd.GeoSeries([shapely.line_merge(shapely.union_all(lines))], crs=crs)
        geom = merged.to_crs("EPSG:4326").simplify(tolerance).iloc[0]
        geom = shapely.transform(geom, lambda xy: np.round(xy, 5))
        features.append({"type": "Feature", "properties": {"road": cls}, "geometry": mapping(geom)})
    if not features:
        return None
    log.debug("streets layer: %d edges of %s", len(seen), ", ".join(widths))

    def style(feature: dict[str, Any]) -> dict[str, Any]:
        width = widths.get(feature["properties"]["road"], 1.0)
        return {"color": "#9c8f7d", "weight": width, "opacity": 0.9}

    return folium.GeoJson(
        {"type": "FeatureCollection", "features": features},
        name="Streets: main roads (offline)",
        style_function=style,
        pane="siting-roads",
        interactive=False,
        smooth_factor=1.5,
    )


def _road_class(highway: Any, classes: dict[str, float]) -> str | None:
    """The most important of ``classes`` among an edge's ``highway`` tag(s), if any."""
    tags = set(highway) if isinstance(highway, list) else {highway}
    return next((c for c in classes if c in tags), None)


def district_labels(
    districts: gpd.GeoDataFrame,
    column: str,
    per_district: pd.DataFrame | None,
    *,
    name: str = "District names and share served",
) -> folium.FeatureGroup:
    """Each district's name and, when the figures are given, its share served, as a
    label inside the district, in a pane above the demand cells and the stations
    (the labels take no clicks: what lies under them stays clickable)."""
    served = (
        per_district.set_index("district")["served_share"]
        if per_district is not None and "served_share" in per_district.columns
        else pd.Series(dtype=float)
    )
    group = folium.FeatureGroup(name=name)
    for district, shape in zip(districts[column], districts.geometry, strict=True):
        if shape is None or shape.is_empty:
            continue
        point = shape.centroid if shape.contains(shape.centroid) else shape.representative_point()
        share = served.get(district)
        figure = (
            f"<br><span style='font-weight:normal'>{100 * float(share):.1f}% served</span>"
            if share is not None and not pd.isna(share)
            else ""
        )
        text = (
            "<div style='transform:translate(-50%,-50%);display:inline-block;"
            "white-space:nowrap;text-align:center;font:bold 12px/1.25 sans-serif;color:#1a1a1a;"
            "background:rgba(255,255,255,.78);padding:1px 5px;border-radius:3px;"
            f"box-shadow:0 0 2px rgba(0,0,0,.35)'>{html.escape(str(district))}{figure}</div>"
        )
        folium.Marker(
            location=[point.y, point.x],
            icon=folium.DivIcon(html=text, icon_size=(0, 0), class_name="siting-district-label"),
            pane="siting-labels",
            interactive=False,
            keyboard=False,
        ).add_to(group)
    return group


def district_outlines(districts: gpd.GeoDataFrame) -> folium.GeoJson:
    """District borders alone, above the demand cells (not in the layer control),
    simplified like the streets (:data:`ROAD_SIMPLIFY_DEG`)."""
    import shapely

    lines = districts.to_crs("EPSG:4326").boundary.simplify(ROAD_SIMPLIFY_DEG)
    lines = lines.map(lambda g: shapely.transform(g, lambda xy: np.round(xy, 5)))
    return folium.GeoJson(
        gpd.GeoDataFrame(geometry=lines),
        name="District borders",
        control=False,
        pane="siting-outlines",
        interactive=False,
        style_function=lambda _: {"color": "#333", "weight": 2, "opacity": 0.8},
    )


def station_scaling(
    m: folium.Map, station_layers: list[folium.FeatureGroup], roads: folium.GeoJson | None
) -> str:
    """The map's own script: station markers shrink when zoomed out (a new station to
    40 % of its radius at zoom 11, an existing one to 70 %, full size from zoom 14),
    so that the hundreds of stations in the centre can be told apart; and the streets
    layer stays only while the OpenStreetMap tiles fail (offline), dropped when the
    first tile loads (the tiles draw the streets)."""
    groups = ", ".join(g.get_name() for g in station_layers)
    tiles = next(
        (c for c in m._children.values() if getattr(c, "layer_name", None) == "OpenStreetMap"),
        None,
    )
    streets = (
        f"""
    {tiles.get_name()}.once('tileload', function () {{
        if (map.hasLayer({roads.get_name()})) {{ map.removeLayer({roads.get_name()}); }}
    }});"""
        if tiles is not None and roads is not None
        else ""
    )
    return f"""
(function () {{
    var map = {m.get_name()};
    var groups = [{groups}];
    function resize() {{
        var z = map.getZoom();
        groups.forEach(function (g) {{
            g.eachLayer(function (l) {{
                if (l._sitingBase === undefined) {{ l._sitingBase = l.getRadius(); }}
                var old = /\\bsiting-(compare-)?existing\\b/.test(l.options.className || '');
                var f = Math.min(1, Math.max(old ? 0.7 : 0.4, 0.4 + 0.2 * (z - 11)));
                l.setRadius(l._sitingBase * f);
            }});
        }});
    }}
    map.on('zoomend', resize);
    resize();{streets}
}})();
"""


def _station_groups(sites: gpd.GeoDataFrame) -> list[tuple[str, str, pd.DataFrame]]:
    """(key, layer label, rows): new stations by charger type, then existing ones
    (drawn last, so that no new station hides them)."""
    groups: list[tuple[str, str, pd.DataFrame]] = []
    new = sites[~sites["existing"]]
    types = new["station_type"] if "station_type" in new.columns else pd.Series(dtype=object)
    known = [t for t in TYPE_COLORS if (types == t).any()]
    if known:
        groups += [(t, f"New stations: {t}", new[types == t]) for t in known]
        rest = new[~types.isin(known)]
        if len(rest):
            groups.append(("new", "New stations: other", rest))
    else:
        groups.append(("new", "New stations", new))
    groups.append(("existing", "Existing stations", sites[sites["existing"]]))
    return groups


def _district_layer(
    districts: gpd.GeoDataFrame, column: str, per_district: pd.DataFrame | None
) -> tuple[folium.GeoJson, cm.LinearColormap | None]:
    """District outlines, coloured by share served when the figures are given."""
    shapes = districts[[column, "geometry"]].rename(columns={column: "district"})
    if per_district is None or "served_share" not in per_district.columns:
        plain = folium.GeoJson(
            shapes,
            name="Districts",
            style_function=lambda _: {"color": "#444", "weight": 2, "fill": False},
            tooltip=folium.GeoJsonTooltip(fields=["district"], aliases=["District"]),
        )
        return plain, None
    figures = per_district.set_index("district")
    shapes = shapes.assign(
        served_pct=shapes["district"].map(100 * figures["served_share"]).round(1),
        covered_pct=shapes["district"].map(100 * figures["coverage_share"]).round(1),
        stations=shapes["district"].map(figures.get("stations", pd.Series(dtype=float))),
    )
    scale = cm.LinearColormap(
        ["#d73027", "#fee08b", "#1a9850"],
        vmin=0.0,
        vmax=100.0,
        caption="District: share of its demand served (%)",
    )

    def style(feature: dict[str, Any]) -> dict[str, Any]:
        value = feature["properties"]["served_pct"]
        fill = "#cccccc" if value is None or pd.isna(value) else scale(value)
        return {"color": "#333", "weight": 2, "fillColor": fill, "fillOpacity": 0.35}

    layer = folium.GeoJson(
        shapes,
        name="Districts: share served",
        style_function=style,
        tooltip=folium.GeoJsonTooltip(
            fields=["district", "served_pct", "covered_pct", "stations"],
            aliases=["District", "Demand served (%)", "Within threshold (%)", "Stations"],
        ),
    )
    return layer, scale


def _demand_layers(m: folium.Map, demand: gpd.GeoDataFrame) -> None:
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
    # off at first: the cells would hide the districts' colours (turned on in the control)
    layers = [("sessions_day", "Demand: all segments (sessions/day)", False)]
    layers += [(f"{g}_sessions_day", f"Demand: {g}", False) for g in segments]
    # each segment's sessions left unserved by the plan, where the run says
    for g in segments:
        if f"{g}_served" in demand.columns:
            left = demand[f"{g}_sessions_day"].to_numpy(float) - demand[f"{g}_served"].to_numpy(
                float
            )
            cells[f"{g}_unserved"] = np.round(np.maximum(left, 0.0), 2)
            layers.append((f"{g}_unserved", f"Unserved: {g} (sessions/day)", False))
    tip_fields += [c for c in cells.columns if c.endswith("_unserved")]
    tip_alias += [
        c.replace("_unserved", " unserved sessions/day").capitalize()
        for c in cells.columns
        if c.endswith("_unserved")
    ]
    for column, name, show in layers:
        folium.GeoJson(
            cells,
            name=name,
            show=show,
            style_function=_cell_style(column, scale, vmax),
            tooltip=folium.GeoJsonTooltip(fields=tip_fields, aliases=tip_alias, localize=True),
        ).add_to(m)
    scale.add_to(m)


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
