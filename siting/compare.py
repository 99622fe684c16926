"""After the runs — compare two or more plans side by side.

:func:`load_run` reads a run's output folder (``kpis.json``, ``sites.csv``,
``districts.csv``, ``demand.csv`` and, when present, ``districts.geojson``);
:func:`compare_runs` lines the plans up: key figures, per-district figures and
which stations they share (matched by location, so runs whose candidate ids
differ still match). :func:`write_comparison` writes the tables as CSV,
Markdown and HTML, a PNG chart and a comparison map (:mod:`siting.compare_views`),
all or nothing. The comparison's data classes are in :mod:`siting.comparison`.
"""

from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd

from siting._outdir import Protected
from siting.compare_views import (
    comparison_figure,
    comparison_map,
    html_page,
    markdown,
)
from siting.comparison import Comparison, RunOutputs
from siting.errors import InputError
from siting.maps import save_map
from siting.metrics import weighted_percentile

log = logging.getLogger(__name__)

#: Decimal places of latitude/longitude that identify a station across runs (~1 m).
MATCH_DECIMALS = 5
REQUIRED = ("kpis.json", "sites.csv", "districts.csv", "demand.csv")


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
        **segment_rows(k),
        **value_rows(k),
        "threshold (min)": k.get("threshold_min"),
        "share within threshold (%)": round(100 * covered / total, 2) if total else None,
        "mean access (min)": round(float(np.average(minutes[ok], weights=w[ok])), 2)
        if w[ok].sum() > 0
        else None,
        "95th pct access (min)": round(weighted_percentile(minutes[ok], w[ok], 95), 2),
        "mean utilisation (%)": round(100 * float(util.mean()), 1) if util.notna().any() else None,
        "stations AC": int((types == "AC").sum()),
        "stations DC": int((types == "DC").sum()),
        "stations by design": ", ".join(
            f"{n} {c}" for n, c in ((k.get("served") or {}).get("stations_by_design") or {}).items()
        ),
        "solver status": solver.get("status", ""),
        "gap (%)": None if solver.get("gap") is None else round(100 * solver["gap"], 4),
        "solve time (s)": solver.get("solve_s"),
        **_futures_rows(k),
    }


def segment_rows(k: dict[str, Any]) -> dict[str, Any]:
    """Each segment's share of its demand served and within the threshold, and its
    sessions served (kpis.json ``segments``); ``None`` for a run written before those
    figures (its segments named by ``demand.segments``), shown as "—"."""
    rows = (k.get("segments") or {}).get("by_segment") or {}
    names = list(rows) or list((k.get("demand") or {}).get("segments") or {})
    out: dict[str, Any] = {}
    for name in names:
        r = rows.get(name) or {}
        served, covered, sessions = (
            r.get(key) for key in ("served_share", "covered_share", "served_sessions_day")
        )
        out[f"share served: {name} (%)"] = None if served is None else round(100 * served, 2)
        out[f"share within threshold: {name} (%)"] = (
            None if covered is None else round(100 * covered, 2)
        )
        out[f"served: {name} (sessions/day)"] = None if sessions is None else round(sessions, 1)
    return out


def value_rows(k: dict[str, Any]) -> dict[str, Any]:
    """What the plan costs, earns and avoids, beside its shares served: capital cost,
    new stations that pay back within the lease and the capital at risk in the others,
    revenue and margin a year (kpis.json ``economics``), energy sold (kWh/day) and CO2
    and local pollutants avoided (``benefits``). Money rows name their currency; a
    figure the run does not have is ``None`` (shown as "—")."""
    costs, eco, ben = k.get("costs") or {}, k.get("economics") or {}, k.get("benefits") or {}
    cur = eco.get("currency") or costs.get("currency") or ""
    unit = f" ({cur})" if cur else ""
    per_year = f" ({cur}/yr)" if cur else " (/yr)"
    groups = ((k.get("segments") or {}).get("by_segment") or {}).values()
    energy = eco.get("energy_kwh_day")
    if energy is None and groups and all("served_kwh_day" in g for g in groups):
        energy = round(sum(float(g["served_kwh_day"]) for g in groups), 1)
    if energy is None:
        energy = ben.get("energy_kwh_day")
    return {
        f"capital cost{unit}": costs.get("plan_capital_cost"),
        "new stations paying back": eco.get("stations_paying_back"),
        "new stations paying back (%)": None
        if eco.get("share_paying_back") is None
        else round(100 * eco["share_paying_back"], 2),
        f"capital at risk{unit}": eco.get("capital_at_risk"),
        f"revenue{per_year}": eco.get("revenue_year"),
        f"margin{per_year}": eco.get("margin_year"),
        "energy sold (kWh/day)": energy,
        "CO2 avoided (t/yr)": ben.get("co2_avoided_t_year"),
        "local pollutants avoided (t/yr)": ben.get("local_pollutants_total_t_year"),
    }


def _futures_rows(k: dict[str, Any]) -> dict[str, Any]:
    """Key figures of ``[optimize.staging]`` and ``[futures]``, when the run has them."""
    out: dict[str, Any] = {}
    for st in (k.get("staging") or {}).get("stages", []):
        out[f"stage {st['year']} share served (%)"] = round(100 * st["served_share"], 2)
        out[f"stage {st['year']} regret (%)"] = round(100 * st["regret"], 3)
    if fut := k.get("futures"):
        rows = fut["futures"]
        out["futures: plan's worst share (%)"] = round(100 * min(r["plan_share"] for r in rows), 2)
        out[f"futures: robust {fut['criterion']} share (%)"] = round(
            100 * fut["robust"]["objective"], 2
        )
        out["futures: largest regret (points)"] = round(100 * max(r["regret"] for r in rows), 3)
    return out


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


def run_folders(runs: list[RunOutputs]) -> list[Protected]:
    """The folders of the compared runs written to disk: a comparison is never written
    over them or inside them."""
    return [
        Protected(r.folder, f"the folder of run {r.name}", inside=False)
        for r in runs
        if str(r.folder) not in ("", ".")  # a run held in memory has none
    ]


def write_comparison(cmp: Comparison, out_dir: Path, *, field: str = "out_dir") -> dict[str, Path]:
    """Write the comparison into ``out_dir`` atomically.

    Files: ``summary.csv``, ``districts.csv``, ``stations.csv``,
    ``comparison.md``, ``comparison.png``, ``comparison_map.html`` and
    ``comparison.html`` (tables, chart and a link to the map). ``out_dir`` may not
    be, hold or lie inside the folder of a compared run, nor hold anything but an
    earlier comparison.
    """
    from siting._outdir import atomic_dir

    guard = run_folders(cmp.runs)
    with atomic_dir(Path(out_dir), kind="comparison", field=field, protect=guard) as tmp:
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
