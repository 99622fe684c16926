"""How a comparison of plans is shown: Markdown and HTML tables, a chart, a map.

Each view takes a :class:`siting.comparison.Comparison`;
:func:`siting.compare.write_comparison` writes them all.
"""

from __future__ import annotations

import base64
import html
from pathlib import Path
from typing import TYPE_CHECKING, Any

import folium
import geopandas as gpd
import numpy as np
import pandas as pd

from siting.maps import (
    MapScript,
    base_map,
    district_labels,
    district_outlines,
    marker_radius,
    station_scaling,
)
from siting.metrics import SHARES

if TYPE_CHECKING:
    from siting.comparison import Comparison

BOTH_COLOR = "#555555"
RUN_COLORS = ["#1f77b4", "#ff7f0e", "#2ca02c", "#9467bd", "#8c564b", "#e377c2"]
#: Colours of the stations in some runs but not all (``a+b``), none a run's own colour.
SHARED_COLORS = ["#17becf", "#bcbd22", "#d62728", "#7f7f7f", "#f7b6d2", "#98df8a"]


def group_colors(groups: list[str], names: list[str]) -> dict[str, str]:
    """A colour for each membership group of a comparison map: grey for ``all``, each
    run's own colour for ``only <run>`` (as in the chart), and a colour of its own for
    each group of some runs (``a+b``), so that no two groups share one (up to
    ``len(SHARED_COLORS)`` such groups; further ones cycle)."""
    colors = {"all": BOTH_COLOR}
    colors.update({f"only {n}": RUN_COLORS[k % len(RUN_COLORS)] for k, n in enumerate(names)})
    mixed = [g for g in groups if g not in colors]
    colors.update({g: SHARED_COLORS[k % len(SHARED_COLORS)] for k, g in enumerate(mixed)})
    return colors


def _cell(value: Any) -> str:
    if value is None or (isinstance(value, float) and np.isnan(value)):
        return "—"
    if isinstance(value, bool | np.bool_):
        return "yes" if value else ""
    if isinstance(value, float | np.floating):
        return f"{value:,.2f}".rstrip("0").rstrip(".") if value % 1 else f"{value:,.0f}"
    return str(value)


def _md_table(frame: pd.DataFrame) -> str:
    cols = [str(c) for c in frame.columns]
    lines = ["| " + " | ".join(cols) + " |", "|" + "---|" * len(cols)]
    for row in frame.itertuples(index=False):
        lines.append("| " + " | ".join(_cell(v).replace("|", "/") for v in row) + " |")
    return "\n".join(lines)


def markdown(cmp: Comparison) -> str:
    """The comparison as Markdown."""
    counts = cmp.membership_counts()
    station_lines = "\n".join(f"- {k}: {v}" for k, v in counts.items())
    return (
        "\n\n".join(
            [
                f"# Plan comparison: {' vs '.join(cmp.names)}",
                "Runs: "
                + ", ".join(
                    f"`{r.name}` ({r.folder})" if str(r.folder) != "." else f"`{r.name}`"
                    for r in cmp.runs
                ),
                "## Key figures",
                _md_table(cmp.summary.reset_index()),
                "\n".join(f"- **{k}**: {v}" for k, v in SHARES.items()),
                "## Stations (matched by location)",
                station_lines,
                "## Districts",
                _md_table(cmp.districts),
                "Chart: `comparison.png`; map: `comparison_map.html`; "
                "tables: `summary.csv`, `districts.csv`, `stations.csv`.",
            ]
        )
        + "\n"
    )


def html_page(cmp: Comparison, chart: Path) -> str:
    """The comparison as one HTML page (the chart embedded, the map linked)."""
    png = base64.b64encode(chart.read_bytes()).decode()
    counts = "".join(
        f"<li>{html.escape(k)}: <b>{v}</b></li>" for k, v in cmp.membership_counts().items()
    )

    def table(frame: pd.DataFrame) -> str:
        return frame.to_html(index=False, na_rep="—", border=0, classes="t", escape=True)

    title = html.escape(" vs ".join(cmp.names))
    shares = "".join(
        f"<li><b>{html.escape(k)}</b>: {html.escape(v)}</li>" for k, v in SHARES.items()
    )
    return f"""<!DOCTYPE html>
<html><head><meta charset="utf-8"><title>Plan comparison: {title}</title>
<style>
body{{font:14px/1.45 sans-serif;margin:24px;max-width:1200px}}
table.t{{border-collapse:collapse;margin:8px 0 20px}}
table.t td,table.t th{{border-bottom:1px solid #ddd;padding:3px 10px;text-align:right}}
table.t td:first-child,table.t th:first-child{{text-align:left}}
</style></head><body>
<h1>Plan comparison: {title}</h1>
<p>Map: <a href="comparison_map.html">comparison_map.html</a> (stations in all plans and
in one only, layer per group). Tables as CSV beside this file.</p>
<h2>Key figures</h2>{table(cmp.summary.reset_index())}
<ul>{shares}</ul>
<h2>Stations (matched by location)</h2><ul>{counts}</ul>
<img alt="comparison chart" style="max-width:100%" src="data:image/png;base64,{png}">
<h2>Districts</h2>{table(cmp.districts)}
</body></html>
"""


def comparison_figure(cmp: Comparison, path: Path) -> Path:
    """Four panels: shares served and within the threshold, access times, and per
    district the share served and the stations, one bar per run."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    names = cmp.names
    s = cmp.summary
    fig, axes = plt.subplots(2, 2, figsize=(13, 8.5), constrained_layout=True)
    width = 0.8 / len(names)

    def bars(ax: Any, labels: list[str], values: list[list[float]], ylabel: str) -> None:
        x = np.arange(len(labels))
        for k, (name, vals) in enumerate(zip(names, values, strict=True)):
            ax.bar(
                x + (k - (len(names) - 1) / 2) * width,
                vals,
                width,
                label=name,
                color=RUN_COLORS[k % len(RUN_COLORS)],
            )
        ax.set_xticks(x, labels, rotation=20 if len(labels) > 3 else 0)
        ax.set_ylabel(ylabel)
        ax.grid(axis="y", alpha=0.3)
        ax.legend()

    def num(v: Any) -> float:
        return float("nan") if v is None else float(v)

    rows = ["share served (%)", "share within threshold (%)"]
    segments = [r for r in s.index if str(r).startswith("share served: ")]
    rows += segments
    labels = ["served", "within threshold"] + [
        str(r).removeprefix("share served: ").removesuffix(" (%)") + " served" for r in segments
    ]
    bars(axes[0, 0], labels, [[num(s.at[r, n]) for r in rows] for n in names], "% of demand")
    axes[0, 0].set_title("Demand served and within the threshold; served per segment")
    rows = ["mean access (min)", "95th pct access (min)"]
    bars(axes[0, 1], rows, [[num(s.at[r, n]) for r in rows] for n in names], "minutes")
    axes[0, 1].set_title("Access time (demand-weighted)")
    d = cmp.districts
    districts = d["district"].astype(str).tolist()
    for ax, label, unit in (
        (axes[1, 0], "share served (%)", "% of district demand"),
        (axes[1, 1], "stations", "stations"),
    ):
        cols = [f"{label} [{n}]" for n in names]
        if all(c in d for c in cols):
            bars(ax, districts, [d[c].fillna(0).tolist() for c in cols], unit)
        ax.set_title(f"Per district: {label}")
    fig.suptitle(f"Plan comparison: {' vs '.join(names)}")
    fig.savefig(path, dpi=100)
    plt.close(fig)
    return path


def comparison_map(cmp: Comparison) -> folium.Map:
    """Stations in every plan and in some only, one layer each; with two runs and
    district shapes, the districts coloured by the change in share served."""
    st = cmp.stations
    m = base_map(float(st["lat"].mean()), float(st["lon"].mean()))
    names = cmp.names
    shapes = cmp.runs[0].district_shapes
    if len(names) == 2 and shapes is not None and "served_share" in shapes:
        _district_change(m, cmp, shapes)
    counts = cmp.membership_counts()
    colors = group_colors(list(counts), names)
    layers = []
    for group_name, count in counts.items():
        rows = st[st["membership"] == group_name]
        label = "In all plans" if group_name == "all" else group_name.capitalize()
        layer = folium.FeatureGroup(name=f"{label} ({count})")
        slug = group_name.replace(" ", "-").replace("+", "-")
        for row in rows.to_dict("records"):
            runs = ", ".join(
                f"{n}: {html.escape(str(row[f'site_id [{n}]']))}" for n in names if row[f"in [{n}]"]
            )
            popup = (
                f"<b>{html.escape(group_name)}</b><br>{runs}<br>"
                f"Place: {html.escape(str(row['kind']).replace('_', ' '))}"
                + (f"<br>Name: {html.escape(str(row['name']))}" if row["name"] else "")
                + (" (existing)" if row["status"] == "existing" else "")
            )
            folium.CircleMarker(
                location=[row["lat"], row["lon"]],
                radius=marker_radius(None),
                color="#000" if row["status"] == "existing" else "#fff",
                weight=3 if row["status"] == "existing" else 1,
                fill=True,
                fill_color=colors[group_name],
                fill_opacity=0.85,
                popup=folium.Popup(popup, max_width=280),
                class_name=f"siting-station siting-compare-{slug}"
                + (" siting-compare-existing" if row["status"] == "existing" else ""),
            ).add_to(layer)
        layer.add_to(m)
        layers.append(layer)
    legend = "<br>".join(
        f"<span style='display:inline-block;width:12px;height:12px;border-radius:50%;"
        f"background:{colors[g]};border:1px solid #222'></span> "
        f"{html.escape('in all plans' if g == 'all' else g)}"
        for g in counts
    )
    m.get_root().html.add_child(  # type: ignore[attr-defined]
        folium.Element(
            '<div id="siting-legend" style="position:fixed;bottom:24px;right:12px;z-index:9999;'
            "background:rgba(255,255,255,.93);padding:8px 10px;border-radius:6px;"
            'box-shadow:0 1px 4px rgba(0,0,0,.3);font:12px/1.6 sans-serif">'
            f"<b>Stations</b><br>{legend}<br>thick black border: existing station</div>"
        )
    )
    if shapes is not None and "district" in shapes:
        district_outlines(shapes).add_to(m)
        district_labels(shapes, "district", None, name="District names").add_to(m)
    folium.LayerControl(collapsed=False).add_to(m)
    MapScript(station_scaling(m, layers, None)).add_to(m)
    m.fit_bounds(
        [
            [float(st["lat"].min()), float(st["lon"].min())],
            [float(st["lat"].max()), float(st["lon"].max())],
        ]
    )
    return m


def _district_change(m: folium.Map, cmp: Comparison, shapes: gpd.GeoDataFrame) -> None:
    import branca.colormap as cm

    a, b = cmp.names
    d = cmp.districts.set_index("district")
    col_a, col_b = f"share served (%) [{a}]", f"share served (%) [{b}]"
    if col_a not in d or col_b not in d:
        return
    change = (d[col_b] - d[col_a]).round(2)
    shapes = shapes[["district", "geometry"]].assign(
        a=shapes["district"].map(d[col_a]),
        b=shapes["district"].map(d[col_b]),
        change=shapes["district"].map(change),
    )
    top = float(np.nanmax(np.abs(change.to_numpy()))) if len(change) else 0.0
    top = top or 1.0
    scale = cm.LinearColormap(
        ["#b2182b", "#f7f7f7", "#2166ac"],
        vmin=-top,
        vmax=top,
        caption=f"District share served: {b} minus {a} (percentage points)",
    )

    def style(feature: dict[str, Any]) -> dict[str, Any]:
        v = feature["properties"]["change"]
        fill = "#cccccc" if v is None or pd.isna(v) else scale(v)
        return {"color": "#333", "weight": 2, "fillColor": fill, "fillOpacity": 0.4}

    folium.GeoJson(
        shapes,
        name=f"Districts: change in share served ({b} − {a})",
        style_function=style,
        tooltip=folium.GeoJsonTooltip(
            fields=["district", "a", "b", "change"],
            aliases=["District", f"Served % ({a})", f"Served % ({b})", "Change (points)"],
        ),
    ).add_to(m)
    scale.add_to(m)
