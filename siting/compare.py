"""After the runs — compare two or more plans side by side.

:func:`load_run` reads a run's output folder (``kpis.json``, ``sites.csv``,
``districts.csv``, ``demand.csv`` and, when present, ``districts.geojson``);
:func:`compare_runs` lines the plans up: key figures, per-district figures and
which stations they share (matched by location, so runs whose candidate ids
differ still match). :func:`write_comparison` writes the tables as CSV,
Markdown and HTML, a PNG chart and a comparison map, all or nothing.
"""

from __future__ import annotations

import base64
import html
import json
import logging
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import folium
import geopandas as gpd
import numpy as np
import pandas as pd

from siting._errors import InputError
from siting._io import json_default
from siting.evaluate import weighted_percentile
from siting.maps import base_map, marker_radius, save_map

if TYPE_CHECKING:
    from siting.results import RunResult

log = logging.getLogger(__name__)

#: Decimal places of latitude/longitude that identify a station across runs (~1 m).
MATCH_DECIMALS = 5
#: Marker colours of the comparison map: in every run, and only in run 1, 2, 3, ...
BOTH_COLOR = "#555555"
RUN_COLORS = ["#1f77b4", "#ff7f0e", "#2ca02c", "#9467bd", "#8c564b", "#e377c2"]

REQUIRED = ("kpis.json", "sites.csv", "districts.csv", "demand.csv")


@dataclass
class RunOutputs:
    """What one run wrote, read back."""

    name: str
    folder: Path
    kpis: dict[str, Any]
    sites: pd.DataFrame
    districts: pd.DataFrame
    demand: pd.DataFrame
    district_shapes: gpd.GeoDataFrame | None

    @classmethod
    def from_result(cls, run: RunResult, *, name: str | None = None) -> RunOutputs:
        """The same tables from a run in memory (:func:`siting.pipeline.plan`), unwritten."""
        from siting import report

        kpis = json.loads(json.dumps(run.kpis, default=json_default))
        return cls(
            name or run.scenario.name,
            Path(),
            kpis,
            pd.DataFrame(report.site_table(run).drop(columns="geometry")),
            run.per_district.copy(),
            report.demand_table(run),
            report.district_layer(run),
        )


def load_run(folder: Path | str, *, name: str | None = None) -> RunOutputs:
    """Read a run's output folder.

    Raises
    ------
    InputError
        When the folder or one of its files is missing or unreadable.
    """
    folder = Path(folder)
    if not folder.is_dir():
        raise InputError(
            f"run folder {folder}: not found (expected the output folder of siting run)"
        )
    missing = [f for f in REQUIRED if not (folder / f).is_file()]
    if missing:
        raise InputError(
            f"run folder {folder}: not a siting run output ({', '.join(missing)} missing)"
        )
    try:
        kpis = json.loads((folder / "kpis.json").read_text(encoding="utf-8"))
        sites = pd.read_csv(folder / "sites.csv", dtype={"site_id": str})
        districts = pd.read_csv(folder / "districts.csv")
        demand = pd.read_csv(folder / "demand.csv")
    except (OSError, ValueError) as exc:
        raise InputError(f"run folder {folder}: unreadable output ({exc})") from None
    for col in ("site_id", "lat", "lon", "status"):
        if col not in sites.columns:
            raise InputError(f"run folder {folder}: sites.csv has no column {col!r}")
    shapes_path = folder / "districts.geojson"
    shapes = gpd.read_file(shapes_path) if shapes_path.is_file() else None
    return RunOutputs(name or folder.resolve().name, folder, kpis, sites, districts, demand, shapes)


@dataclass
class Comparison:
    """Plans lined up.

    Attributes
    ----------
    runs
        The runs, in the order given.
    summary
        One row per figure, one column per run.
    districts
        One row per district; columns ``<figure> [<run>]`` for the demand, share
        served, share within the threshold and stations of each run.
    stations
        One row per distinct station location: lat, lon, kind, name, the site id
        in each run (empty where absent), ``in [<run>]`` flags and ``membership``
        (``all``, ``only <run>`` or the runs it is in, joined by ``+``).
    """

    runs: list[RunOutputs]
    summary: pd.DataFrame
    districts: pd.DataFrame
    stations: pd.DataFrame

    @property
    def names(self) -> list[str]:
        """Run names, in order."""
        return [r.name for r in self.runs]

    def membership_counts(self) -> dict[str, int]:
        """Number of stations per membership (``all``, ``only <run>``, ...)."""
        counts = self.stations["membership"].value_counts()
        order = ["all", *[f"only {n}" for n in self.names]]
        keys = [k for k in order if k in counts.index] + sorted(set(counts.index) - set(order))
        return {k: int(counts[k]) for k in keys}


def compare_runs(runs: list[RunOutputs]) -> Comparison:
    """Line up two or more runs (see :class:`Comparison`)."""
    if len(runs) < 2:
        raise InputError(f"compare: expected at least 2 runs, got {len(runs)}")
    names = [r.name for r in runs]
    if len(set(names)) != len(names):
        raise InputError(f"compare: run names must differ, got {names} (use --names)")
    summary = pd.DataFrame({r.name: run_figures(r) for r in runs})
    summary.index.name = "figure"
    return Comparison(runs, summary, _district_table(runs), _station_table(runs))


def run_figures(run: RunOutputs) -> dict[str, Any]:
    """The key figures of one run, recomputed from its tables where they allow."""
    k, sites, demand = run.kpis, run.sites, run.demand
    w = demand["sessions_day"].to_numpy(float)
    minutes = demand["access_min"].to_numpy(float)
    ok = np.isfinite(minutes)
    total = float(w.sum())
    served = demand["served"].to_numpy(float) if "served" in demand else w * demand["covered"]
    covered = float(w[demand["covered"].to_numpy(bool)].sum())
    util = sites["utilisation"] if "utilisation" in sites else pd.Series(dtype=float)
    types = sites["station_type"] if "station_type" in sites else pd.Series(dtype=object)
    solver = k.get("solver", {})
    return {
        "scenario": k.get("scenario", ""),
        "model": solver.get("model", ""),
        "demand preset": k.get("demand", {}).get("preset", ""),
        "stations": len(sites),
        "existing stations": int((sites["status"] == "existing").sum()),
        "new stations": int((sites["status"] == "new").sum()),
        "demand (sessions/day)": round(total, 1),
        "demand served (sessions/day)": round(float(np.sum(served)), 1),
        "share served (%)": round(100 * float(np.sum(served)) / total, 2) if total else None,
        "threshold (min)": k.get("threshold_min"),
        "share within threshold (%)": round(100 * covered / total, 2) if total else None,
        "mean access (min)": round(float(np.average(minutes[ok], weights=w[ok])), 2)
        if w[ok].sum() > 0
        else None,
        "95th pct access (min)": round(weighted_percentile(minutes[ok], w[ok], 95), 2),
        "mean utilisation (%)": round(100 * float(util.mean()), 1) if util.notna().any() else None,
        "stations AC": int((types == "AC").sum()),
        "stations DC": int((types == "DC").sum()),
        "solver status": solver.get("status", ""),
        "gap (%)": None if solver.get("gap") is None else round(100 * solver["gap"], 4),
        "solve time (s)": solver.get("solve_s"),
    }


def _district_table(runs: list[RunOutputs]) -> pd.DataFrame:
    parts = []
    for r in runs:
        d = r.districts.set_index("district")
        frame = pd.DataFrame(index=d.index)
        demand = d["sessions_day"] if "sessions_day" in d else d.get("demand")
        if demand is not None:
            frame[f"demand (sessions/day) [{r.name}]"] = demand.round(2)
        if "served" in d:
            frame[f"served (sessions/day) [{r.name}]"] = d["served"].round(2)
        for col, label in (
            ("served_share", "share served (%)"),
            ("coverage_share", "share within threshold (%)"),
        ):
            if col in d:
                frame[f"{label} [{r.name}]"] = (100 * d[col]).round(2)
        if "stations" in d:
            frame[f"stations [{r.name}]"] = d["stations"].fillna(0).astype(int)
        parts.append(frame)
    table = pd.concat(parts, axis=1)
    table.index.name = "district"
    return table.reset_index()


def _station_table(runs: list[RunOutputs]) -> pd.DataFrame:
    frames = []
    for r in runs:
        s = r.sites
        frames.append(
            pd.DataFrame(
                {
                    "key_lat": s["lat"].round(MATCH_DECIMALS),
                    "key_lon": s["lon"].round(MATCH_DECIMALS),
                    "lat": s["lat"],
                    "lon": s["lon"],
                    "kind": s.get("kind", ""),
                    "name": s.get("name", ""),
                    "status": s["status"],
                    "run": r.name,
                    "site_id": s["site_id"],
                }
            )
        )
    long = pd.concat(frames, ignore_index=True)
    keys = ["key_lat", "key_lon"]
    first = long.drop_duplicates(keys).set_index(keys)[["lat", "lon", "kind", "name", "status"]]
    ids = long.pivot_table(index=keys, columns="run", values="site_id", aggfunc="first")
    table = first.join(ids.reindex(columns=[r.name for r in runs]))
    names = [r.name for r in runs]
    for n in names:
        table[f"in [{n}]"] = table[n].notna()
        table = table.rename(columns={n: f"site_id [{n}]"})
    inside = table[[f"in [{n}]" for n in names]].to_numpy()

    def label(row: np.ndarray) -> str:
        if row.all():
            return "all"
        where = [n for n, here in zip(names, row, strict=True) if here]
        return f"only {where[0]}" if len(where) == 1 else "+".join(where)

    table["membership"] = [label(row) for row in inside]
    table["status"] = np.where(table["status"] == "existing", "existing", "new")
    table = table.reset_index(drop=True).fillna({"name": "", "kind": ""})
    return table.sort_values(["membership", "lat", "lon"], kind="stable").reset_index(drop=True)


# ---------------------------------------------------------------------- outputs
def write_comparison(cmp: Comparison, out_dir: Path) -> dict[str, Path]:
    """Write the comparison into ``out_dir`` atomically.

    Files: ``summary.csv``, ``districts.csv``, ``stations.csv``,
    ``comparison.md``, ``comparison.png``, ``comparison_map.html`` and
    ``comparison.html`` (tables, chart and a link to the map).
    """
    from siting._outdir import atomic_dir

    with atomic_dir(Path(out_dir)) as tmp:
        paths = {
            "summary": tmp / "summary.csv",
            "districts": tmp / "districts.csv",
            "stations": tmp / "stations.csv",
            "markdown": tmp / "comparison.md",
            "chart": tmp / "comparison.png",
            "map": tmp / "comparison_map.html",
            "html": tmp / "comparison.html",
        }
        cmp.summary.to_csv(paths["summary"])
        cmp.districts.to_csv(paths["districts"], index=False)
        cmp.stations.to_csv(paths["stations"], index=False, float_format="%.6f")
        comparison_figure(cmp, paths["chart"])
        save_map(comparison_map(cmp), paths["map"])
        paths["markdown"].write_text(markdown(cmp), encoding="utf-8")
        paths["html"].write_text(html_page(cmp, paths["chart"]), encoding="utf-8")
    return {k: Path(out_dir) / p.name for k, p in paths.items()}


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
    bars(axes[0, 0], rows, [[num(s.at[r, n]) for r in rows] for n in names], "% of demand")
    axes[0, 0].set_title("Demand served and within the threshold")
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
    colors = {"all": BOTH_COLOR}
    colors.update({f"only {n}": RUN_COLORS[k % len(RUN_COLORS)] for k, n in enumerate(names)})
    for group_name, count in cmp.membership_counts().items():
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
                color="#000" if row["status"] == "existing" else "#222",
                weight=3 if row["status"] == "existing" else 1,
                fill=True,
                fill_color=colors.get(group_name, "#bcbd22"),
                fill_opacity=0.9,
                popup=folium.Popup(popup, max_width=280),
                class_name=f"siting-station siting-compare-{slug}",
            ).add_to(layer)
        layer.add_to(m)
    legend = "<br>".join(
        f"<span style='display:inline-block;width:12px;height:12px;border-radius:50%;"
        f"background:{colors.get(g, '#bcbd22')};border:1px solid #222'></span> "
        f"{html.escape('in all plans' if g == 'all' else g)}"
        for g in cmp.membership_counts()
    )
    m.get_root().html.add_child(  # type: ignore[attr-defined]
        folium.Element(
            '<div id="siting-legend" style="position:fixed;bottom:24px;right:12px;z-index:9999;'
            "background:rgba(255,255,255,.93);padding:8px 10px;border-radius:6px;"
            'box-shadow:0 1px 4px rgba(0,0,0,.3);font:12px/1.6 sans-serif">'
            f"<b>Stations</b><br>{legend}<br>thick black border: existing station</div>"
        )
    )
    folium.LayerControl(collapsed=False).add_to(m)
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
