"""The benchmark suite: every benchmark, one report (Markdown and JSON).

1. Pipeline: time per stage and peak memory of the Almaty default, cold (empty
   caches) and warm, each in its own process (:mod:`benchmarks.bench_pipeline`).
2. Travel times: the default matrix against networkx's per-source Dijkstra on
   the same graph and pairs, and growth with demand points
   (:mod:`benchmarks.bench_travel`).
3. Optimisation against spopt on the same instances (:mod:`benchmarks.bench_spopt`).
4. Scale: 50,000 demand points × 5,000 candidates with 311 stations, and scaling
   curves in demand points and candidates for each model
   (:mod:`benchmarks.bench_scale`).
5. The 40 OR-Library p-median instances against their proven optima
   (:mod:`benchmarks.bench_orlib`).
6. One plan whatever the solver: each shipped scenario's plan with HiGHS and with
   CBC, and the stations they share (:mod:`benchmarks.bench_solvers`).

Usage::

    .venv/bin/python -m benchmarks.run [--quick] [--only SECTION ...] [--out DIR]

``--quick`` runs small sizes of every section that has them (the test suite's
smoke run); the report goes to ``benchmarks/report.md`` and ``report.json``
unless ``--out`` says otherwise.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import time
from datetime import UTC, datetime
from importlib.metadata import version
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
SECTIONS = ("pipeline", "solvers", "travel", "spopt", "scale", "orlib", "futures")


def machine() -> dict[str, Any]:
    """What the figures were measured on."""
    cpu = "unknown"
    mem_gb = None
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal"):
                mem_gb = round(int(line.split()[1]) / 2**20, 1)
    except OSError:
        pass
    pkgs = ("siting", "numpy", "scipy", "networkx", "osmnx", "pulp", "highspy", "spopt")
    versions: dict[str, str | None] = {}
    for name in pkgs:
        try:
            versions[name] = version(name)
        except Exception:
            versions[name] = None
    return {
        "cpu": cpu,
        "cores": os.cpu_count(),
        "memory_gb": mem_gb,
        "os": platform.platform(),
        "python": platform.python_version(),
        "versions": versions,
    }


def run(
    sections: list[str],
    *,
    quick: bool,
    out: Path | None = None,
    keep: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """Run the named sections; their figures, timed. With ``out``, the report is
    rewritten there after every section (a failure keeps what was measured). With
    ``keep`` (an earlier report), its other sections stay, each with its own date."""
    created = datetime.now(UTC).isoformat(timespec="seconds")
    report: dict[str, Any] = {
        "created": created,
        "quick": quick,
        "machine": machine(),
        "seconds": {},
        "measured": {},
    }
    if keep:
        for name in SECTIONS:
            if name in keep and name not in sections:
                report[name] = keep[name]
                if name == "scale":
                    report["curves"] = keep.get("curves", [])
                report["seconds"][name] = keep.get("seconds", {}).get(name)
                report["measured"][name] = keep.get("measured", {}).get(name, keep["created"])
    for name in sections:
        report["measured"][name] = created
        t0 = time.perf_counter()
        if name == "pipeline":
            from benchmarks.bench_pipeline import measure
            from siting import settings

            runs = 1 if quick else 3
            measured = measure(settings.DEFAULT_SCENARIO, repeat=runs)
            report["pipeline"] = {
                **measured["best"],
                "repeat": runs,
                "wall_s": {k: [r["wall_s"] for r in v] for k, v in measured["runs"].items()},
            }
        elif name == "travel":
            from benchmarks.bench_travel import almaty_inputs, growth, versus_networkx

            inputs = almaty_inputs()
            report["travel"] = {
                "networkx": versus_networkx(inputs, sample=10 if quick else 60),
                "growth": growth(inputs, (1_000, 5_000) if quick else (1_000, 5_000, 10_000,
                                                                        25_000, 50_000)),
            }  # fmt: skip
        elif name == "spopt":
            from benchmarks.bench_spopt import compare

            report["spopt"] = compare(quick=quick, echo=False)
        elif name == "scale":
            from benchmarks.bench_scale import curves, scale

            report["scale"] = scale(quick=quick)
            report["curves"] = curves(quick=quick)
        elif name == "solvers":
            from benchmarks.bench_solvers import SCENARIOS
            from benchmarks.bench_solvers import measure as solvers

            report["solvers"] = solvers(SCENARIOS[:1] if quick else SCENARIOS)
        elif name == "futures":
            from benchmarks.bench_futures import measure as futures

            report["futures"] = futures()
        elif name == "orlib":
            from benchmarks.bench_orlib import solve_all

            names = [f"pmed{k}" for k in range(1, 6 if quick else 41)]
            report["orlib"] = solve_all(names)
        else:
            raise SystemExit(f"--only: expected sections from {', '.join(SECTIONS)}, got {name!r}")
        report["seconds"][name] = round(time.perf_counter() - t0, 1)
        if out is not None:
            write(report, out)
    return report


def write(report: dict[str, Any], out: Path) -> str:
    """Write ``report.json`` and ``report.md`` into ``out``; return the Markdown."""
    out.mkdir(parents=True, exist_ok=True)
    (out / "report.json").write_text(json.dumps(report, indent=2, default=str) + "\n")
    text = markdown(report)
    (out / "report.md").write_text(text)
    return text


def _held(rows: list[dict[str, Any]]) -> str:
    """How the runs kept their time limits: the worst plan time over its limit."""
    timed = [r for r in rows if "plan_s" in r and r.get("time_limit_s")]
    if not timed:
        return "no run"
    worst = max(timed, key=lambda r: r["plan_s"] / r["time_limit_s"])
    late = [r for r in timed if r["plan_s"] > 1.1 * r["time_limit_s"] + 5.0]
    return (
        f"worst {worst['plan_s']:.1f} s of {worst['time_limit_s']:.0f} s, {worst['model']} "
        f"{worst['demand_points']:,} × {worst['candidates']:,}; "
        + (f"{len(late)} run(s) over" if late else "every run within it")
    )


def _fmt(x: Any, digits: int = 2) -> str:
    if x is None:
        return "–"
    if isinstance(x, float):
        return f"{x:,.{digits}f}"
    return f"{x:,}" if isinstance(x, int) and not isinstance(x, bool) else str(x)


def _gap(x: float | None) -> str:
    return "–" if x is None else f"{100 * x:.2f}%"


def markdown(report: dict[str, Any]) -> str:
    """The report as Markdown tables."""
    m = report["machine"]
    out = [
        "# siting benchmarks",
        "",
        f"Measured {report['created']}{' (quick sizes)' if report['quick'] else ''} on "
        f"{m['cpu']}, {m['cores']} cores, {m['memory_gb']} GB, Python {m['python']} "
        f"({', '.join(f'{k} {v}' for k, v in m['versions'].items() if v)}).",
        "",
    ]
    older = {k: v for k, v in report.get("measured", {}).items() if v != report["created"]}
    if older:
        out += [
            "Sections kept from earlier runs (measured): "
            + ", ".join(f"{k} {v[:10]}" for k, v in older.items())
            + ".",
            "",
        ]
    if "pipeline" in report:
        b = report["pipeline"]
        stages = list(b["cold"]["stages"])
        out += [
            "## Almaty default: time per stage (s) and peak memory",
            "",
            "| stage | cold | warm |",
            "| --- | ---: | ---: |",
            *[f"| {s} | {b['cold']['stages'][s]:.2f} | {b['warm']['stages'][s]:.2f} |"
              for s in stages],
            f"| whole process | {b['cold']['wall_s']:.1f} | {b['warm']['wall_s']:.1f} |",
            f"| peak memory (MB) | {b['cold']['peak_mb']:.0f} | {b['warm']['peak_mb']:.0f} |",
            "",
            f"Plan: {b['cold']['stations']} stations, solver {b['cold']['solver']}.",
            "",
        ]  # fmt: skip
        if b.get("repeat", 1) > 1:
            walls = b["wall_s"]
            out += [
                f"Best of {b['repeat']} runs of each, every one in its own process; whole "
                f"process, cold: {', '.join(f'{w:.1f}' for w in walls['cold'])} s; warm: "
                f"{', '.join(f'{w:.1f}' for w in walls['warm'])} s.",
                "",
            ]
    if "travel" in report:
        v = report["travel"]["networkx"]
        out += [
            "## Travel-time matrix against networkx",
            "",
            f"Almaty graph ({v['graph']['nodes']:,} nodes, {v['graph']['edges']:,} edges), "
            f"{v['demand_points']} demand points × {v['candidates']} candidates, "
            f"{v['pairs_within_cutoff']:,} pairs within {v['cutoff_min']:g} min, "
            f"{v['sources']} Dijkstra sources.",
            "",
            "| engine | seconds | networkx ÷ it |",
            "| --- | ---: | ---: |",
            f"| siting, {v['siting_threads']} threads | {v['siting_s']:.3f} | {v['ratio']:.0f}× |",
            f"| siting, 1 thread | {v['siting_1_thread_s']:.3f} | {v['ratio_1_thread']:.0f}× |",
            f"| scipy csgraph Dijkstra (search only) | {v['scipy_dijkstra_s']:.3f} | "
            f"{v['networkx_s_all_sources'] / v['scipy_dijkstra_s']:.0f}× |",
            f"| networkx per-source Dijkstra | {v['networkx_s_all_sources']:.1f} | 1× |",
            "",
            f"siting: best of 3, graph conversion and snapping included; its compiled kernel "
            f"took {v['kernel_first_call_s']:.2f} s to compile or load on first use. networkx "
            f"timed on {v['networkx_sampled_sources']} evenly spaced sources of {v['sources']} "
            f"({v['networkx_sample_s']:.1f} s) and scaled to all; largest difference from "
            f"siting {v['max_abs_diff_s']:.1e} s.",
            "",
            "| demand points | pairs | seconds | µs per pair |",
            "| ---: | ---: | ---: | ---: |",
            *[f"| {g['demand_points']:,} | {g['pairs']:,} | {g['seconds']:.2f} | "
              f"{g['us_per_pair']:.3f} |" for g in report["travel"]["growth"]],
            "",
        ]  # fmt: skip
    if "spopt" in report:
        out += [
            "## Optimisation against spopt (same matrices, both with HiGHS)",
            "",
            "| instance | model | siting objective | spopt objective | siting (s) | spopt (s) "
            "| ratio |",
            "| --- | --- | ---: | ---: | ---: | ---: | ---: |",
            *[f"| {r['instance']} | {r['model']} | {r['siting_obj']:,.3f} | "
              f"{r['spopt_obj']:,.3f} | {r['siting_s']:.2f} | {r['spopt_s']:.2f} | "
              f"{r['ratio']:.1f}× |" for r in report["spopt"]],
            "",
        ]  # fmt: skip
    if "scale" in report:
        cols = (
            "| curve | model | points × candidates | p | limit (s) | plan (s) | plan ÷ limit "
            "| status | objective | bound | gap | peak MB | dense matrix MB |"
        )
        sep = (
            "| --- | --- | --- | ---: | ---: | ---: | ---: | --- | ---: | ---: | ---: | ---: "
            "| ---: |"
        )

        def row(r: dict[str, Any]) -> str:
            head = f"| {r.get('curve', '')} | {r['model']} | "
            if "error" in r:
                return (
                    head
                    + f"{r['demand_points']:,} × {r['candidates']:,} | "
                    + (f"error: {r['error']} | | | | | | | | | |")
                )
            return head + (
                f"{r['demand_points']:,} × {r['candidates']:,} | {r['p']} | "
                f"{r['time_limit_s']:.0f} | {r['plan_s']:.1f} | "
                f"{r['plan_s'] / r['time_limit_s']:.2f} | {r['status']} | {_fmt(r['objective'])} | "
                f"{_fmt(r['bound'])} | {_gap(r['gap'])} | {r['peak_rss_mb']:.0f} | "
                f"{r['dense_matrix_mb']:.0f} |"
            )

        out += [
            "## Scale: synthetic agglomeration",
            "",
            "Plan time covers building the model, heuristics, bounds and the solver; the "
            "time limit is given to all of it and must hold within 10 % + 5 s "
            f"({_held(report['scale'] + report['curves'])}). `feasible` means stopped with "
            "the gap shown; `peak MB` is the process's peak resident memory, instance "
            "included.",
            "",
            cols,
            sep,
            *[row(r) for r in report["scale"]],
            "",
            "### Scaling curves",
            "",
            "`area k/n`: the million-point covering instance's city on k/n of its area at "
            "the same density (points, candidates and stations scaled alike), at the goal's "
            "120 s.",
            "",
            cols,
            sep,
            *[row(r) for r in report["curves"]],
            "",
        ]
    if "orlib" in report:
        rows = report["orlib"]
        ok = sum(r["ok"] for r in rows)
        total = sum(r["seconds"] for r in rows)
        slowest = max(rows, key=lambda r: r["seconds"])
        out += [
            "## OR-Library p-median",
            "",
            f"{ok} of {len(rows)} instances at their proven optimum, proven optimal; "
            f"{total:.1f} s in all (slowest {slowest['name']}: {slowest['seconds']:.1f} s).",
            "",
        ]
    if "solvers" in report:
        out += [
            "## One plan whatever the solver",
            "",
            "Each shipped scenario's plan decided as a run decides it, once with HiGHS and "
            "once with CBC, in one process (`benchmarks/bench_solvers.py`); stations in "
            "common, and with the same design.",
            "",
            "| scenario | solver | status | stations | by design | served | within reach "
            "| capital cost | moved by the final order (by exchange) | decide (s) |",
            "| --- | --- | --- | ---: | --- | ---: | ---: | ---: | ---: | ---: |",
        ]
        for entry in report["solvers"]:
            for pl in entry["plans"]:
                by = ", ".join(f"{k} {v}" for k, v in pl["by_design"].items())
                status = pl["status"] + (f" ({pl['stopped_by']})" if pl["stopped_by"] else "")
                out.append(
                    f"| {entry['scenario']} | {pl['solver']} | {status} | {pl['stations']} | "
                    f"{by} | {pl['served']:,.1f} | {pl['covered']:,.1f} | {pl['cost']:,.0f} | "
                    f"{pl['moved']} ({pl.get('exchanges', 0)}) | {pl['seconds']:.1f} |"
                )
        out += [
            "",
            *[
                f"{entry['scenario']}: **{entry['shared_stations']} stations in common "
                f"({100 * entry['shared_share']:.1f} %)**, {entry['shared_with_design']} with "
                "the same design."
                for entry in report["solvers"]
            ],
            "",
        ]
    if "futures" in report:
        f = report["futures"]
        st, rb = f["staged"], f["robust"]
        out += [
            "## Plans across futures (Almaty default)",
            "",
            f"Three-stage plan (311 → 622 → 800 stations, today → growth-2027 → growth-2030, "
            f"5 % a year discount) in one program: {st['status']} (gap {_gap(st['gap'])}) in "
            f"{st['seconds']:.1f} s; each stage alone for the regret: "
            f"{st['regret_seconds']:.1f} s.",
            "",
            "| year | stations | added | DC | demand | served | share | regret | alone |",
            "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | --- |",
            *[
                f"| {s['year']} | {s['p']} | {s['added']} | {s['dc']} | {s['demand']:,.0f} | "
                f"{s['served']:,.0f} | {100 * s['share']:.1f}% | {100 * s['regret']:.3f}% | "
                f"{s['alone_status']} |"
                for s in st["stages"]
            ],
            "",
            f"Robust plan over today, growth-2027 and growth-2030 (311 stations, no new DC as "
            f"the default's knee): worst share {100 * rb['worst_share']:.2f}% "
            f"({rb['status']}, gap {_gap(rb['gap'])}) in {rb['seconds']:.1f} s; shares "
            + ", ".join(f"{k} {100 * v:.1f}%" for k, v in rb["shares"].items())
            + ".",
            "",
        ]
    out += [
        "Section times (s): "
        + ", ".join(f"{k} {v:.0f}" for k, v in report["seconds"].items() if v is not None),
        "",
    ]
    return "\n".join(out)


def main() -> None:
    ap = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    ap.add_argument("--quick", action="store_true", help="small sizes (smoke run)")
    ap.add_argument("--only", nargs="+", choices=SECTIONS, help="run only these sections")
    ap.add_argument("--out", type=Path, default=ROOT / "benchmarks", help="report folder")
    ap.add_argument(
        "--keep", action="store_true", help="keep the other sections of the report in --out"
    )
    args = ap.parse_args()
    previous = args.out / "report.json"
    keep = json.loads(previous.read_text()) if args.keep and previous.exists() else None
    report = run(list(args.only or SECTIONS), quick=args.quick, out=args.out, keep=keep)
    print(write(report, args.out))


if __name__ == "__main__":
    main()
