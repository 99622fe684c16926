"""The outputs of ``[optimize.staging]`` and ``[futures]``: tables, the tornado plot
and the summary lines."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pandas as pd


def write_staging(
    staging: dict[str, Any], candidates: pd.DataFrame, folder: Path
) -> dict[str, Path]:
    """``stages.csv`` (one row per stage) and ``staged_sites.csv`` (every station of
    the last stage, its place and the year it is built)."""
    paths = {"stages": folder / "stages.csv", "staged_sites": folder / "staged_sites.csv"}
    pd.DataFrame(staging["stages"]).to_csv(paths["stages"], index=False)
    staged = pd.DataFrame(staging["sites"]).rename(columns={"site": "site_id"})
    place = candidates.drop(columns="geometry").astype({"site_id": str})
    cols = [c for c in ("site_id", "name", "lon", "lat", "status") if c in place]
    staged = staged.merge(place[cols], on="site_id", how="left")
    staged.to_csv(paths["staged_sites"], index=False, float_format="%.6f")
    return paths


def stage_line(st: dict[str, Any]) -> str:
    """One stage of a staged plan for the run summary."""
    return (
        f"  stage {st['year']} ({st['preset']}): {st['p']} stations (+{st['stations_added']}; "
        f"AC {st['stations_ac']}, DC {st['stations_dc']}) serve {100 * st['served_share']:.1f}% "
        f"of {st['demand_sessions_day']:,.0f} sessions/day; regret against planning "
        f"{st['year']} alone {100 * st['regret']:.2f}%"
    )


def write_futures(futures: dict[str, Any], folder: Path) -> dict[str, Path]:
    """``futures.csv`` (each future: robust, own and plan shares, regret),
    ``futures_sites.csv`` (in how many own plans each site is), ``sensitivity.csv``
    and ``tornado.png``."""
    paths = {
        "futures": folder / "futures.csv",
        "futures_sites": folder / "futures_sites.csv",
    }
    pd.DataFrame(futures["futures"]).to_csv(paths["futures"], index=False, float_format="%.6f")
    sites = pd.DataFrame(futures["sites"]).rename(columns={"site": "site_id"})
    sites.to_csv(paths["futures_sites"], index=False, float_format="%.6f")
    if futures["sensitivity"]:
        table = pd.DataFrame(futures["sensitivity"])
        paths["sensitivity"] = folder / "sensitivity.csv"
        table.to_csv(paths["sensitivity"], index=False, float_format="%.6f")
        paths["tornado"] = tornado_figure(table, futures, folder / "tornado.png")
        if "plan_viable" in table and futures.get("viability"):
            paths["tornado_viable"] = viability_tornado(
                table, futures["viability"], folder / "tornado_viable.png"
            )
    return paths


def tornado_figure(table: pd.DataFrame, futures: dict[str, Any], path: Path) -> Path:
    """Share served by the run's plan at each assumption's low and high (bars from the
    share at the scenario's own values), widest swing on top; the share of the plan's
    stations that each end's own best plan keeps is written beside its bar."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    base = futures.get("base_share")
    wide = table.pivot(index="assumption", columns="end", values="plan_share")
    kept = table.pivot(index="assumption", columns="end", values="stations_kept")
    order = (wide["high"] - wide["low"]).abs().sort_values().index
    fig, ax = plt.subplots(figsize=(8, 1.2 + 0.6 * len(order)))
    ref = float(base) if base is not None else float(wide.to_numpy().mean())
    for k, key in enumerate(order):
        for end, color in (("low", "#4c78a8"), ("high", "#f58518")):
            v = 100 * float(wide.loc[key, end])
            ax.barh(k, v - 100 * ref, left=100 * ref, color=color, height=0.6)
            ax.text(
                v,
                k + (0.32 if end == "high" else -0.32),
                f"{end}: keeps {100 * float(kept.loc[key, end]):.0f}% of sites",
                va="center",
                ha="left",
                fontsize=7,
            )
    ax.axvline(100 * ref, color="#333", lw=1)
    ax.set_yticks(range(len(order)), list(order))
    ax.set_xlabel("share of demand the plan serves (%)")
    ax.set_title("What moves the plan: each assumption at its low (blue) and high (orange)")
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)
    return path


def viability_tornado(table: pd.DataFrame, viability: dict[str, Any], path: Path) -> Path:
    """New stations of the run's plan that pay back within the lease at each
    assumption's low and high (bars from the count at the scenario's own values),
    widest swing on top; each end's value and capital at risk written beside its bar."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    base = float(viability["base_viable"])
    new = int(viability["stations_new"])
    cur = str(viability.get("currency") or "")
    wide = table.pivot(index="assumption", columns="end", values="plan_viable").astype(float)
    risk = table.pivot(index="assumption", columns="end", values="plan_capital_at_risk")
    values = table.pivot(index="assumption", columns="end", values="value")
    order = (wide["high"] - wide["low"]).abs().sort_values().index
    fig, ax = plt.subplots(figsize=(9, 1.6 + 0.8 * len(order)))
    top = max(new, 1)
    for k, key in enumerate(order):
        for end, color, dy in (("low", "#4c78a8", -0.2), ("high", "#f58518", 0.2)):
            v = float(wide.loc[key, end])
            ax.barh(k + dy, v - base, left=base, color=color, height=0.38)
            ax.text(
                max(v, base) + 0.01 * top,
                k + dy,
                f"{end} = {values.loc[key, end]}: {v:.0f} pay back; "
                f"{float(risk.loc[key, end]) / 1e6:,.0f} M {cur} at risk".rstrip(),
                va="center",
                ha="left",
                fontsize=7,
            )
    ax.axvline(base, color="#333", lw=1)
    ax.set_xlim(0, top * 1.6)
    ax.set_yticks(range(len(order)), list(order))
    ax.set_xlabel(f"new stations that pay back within the lease (of {new})")
    ax.set_title(
        f"What moves viability: {base:.0f} of {new} new stations pay back at the scenario's "
        "values\n(each assumption at its low, blue, and its high, orange; the rest as the "
        "scenario)",
        fontsize=9,
    )
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)
    return path


def futures_lines(futures: dict[str, Any]) -> list[str]:
    """Run-summary lines of ``[futures]``."""
    rows = futures["futures"]
    robust = futures["robust"]
    worst_plan = min(r["plan_share"] for r in rows)
    lines = [
        f"  futures ({len(rows)}): robust plan ({futures['criterion']}) serves "
        f"{100 * robust['objective']:.1f}% ({robust['status']}); the plan serves "
        f"{100 * worst_plan:.1f}% in its worst future; robust keeps "
        f"{robust['kept_from_plan']} of the plan's stations"
    ]
    lines += [
        f"    {r['future']}: robust {100 * r['robust_share']:.1f}%, own plan "
        f"{100 * r['own_share']:.1f}%, regret {100 * r['regret']:.2f} points" + _viable_text(r)
        for r in rows
    ]
    return lines + viability_lines(futures)


def _viable_text(row: dict[str, Any]) -> str:
    """A future's viable stations for its summary line (nothing without them)."""
    if "plan_viable" not in row:
        return ""
    return f"; {row['plan_viable']} of the plan's new stations pay back"


def viability_lines(futures: dict[str, Any]) -> list[str]:
    """Run-summary lines on what moves the plan's viable stations (``[futures]`` ranges
    with ``[economics]``; none without)."""
    v = futures.get("viability")
    rows = [r for r in futures.get("sensitivity") or [] if "plan_viable" in r]
    if not v or not rows:
        return []
    lines = [
        f"  viability: {v['base_viable']} of {v['stations_new']} new stations pay back at the "
        "scenario's values; at each assumption's ends (sensitivity.csv, tornado_viable.png):"
    ]
    by_key: dict[str, dict[str, dict[str, Any]]] = {}
    for r in rows:
        by_key.setdefault(str(r["assumption"]), {})[str(r["end"])] = r
    for key, ends in by_key.items():
        parts = [
            f"{end} {ends[end]['value']}: {ends[end]['plan_viable']}"
            for end in ("low", "high")
            if end in ends
        ]
        lines.append(f"    {key}: " + ", ".join(parts))
    return lines
