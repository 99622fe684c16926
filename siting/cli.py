"""Command-line program ``siting``.

Exit codes: 0 success; 2 bad input (one line on stderr, no traceback);
1 internal error (a short message and where the log with the traceback was
written; ``--debug`` also prints the traceback).
"""

from __future__ import annotations

import argparse
import contextlib
import logging
import os
import signal
import sys
import tempfile
import threading
import traceback
import warnings
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from siting import __version__, settings
from siting.errors import InputError, SitingError

log = logging.getLogger("siting")


def main(argv: list[str] | None = None) -> int:
    """Entry point; returns the exit code."""
    parser = _parser()
    args = parser.parse_args(argv)
    # Ctrl-C and SIGTERM (kill, a job scheduler) unwind the run: temporary output
    # removed, exit 130. Not as KeyboardInterrupt: one raised inside exec'd code
    # (dataclasses, during a late import) marks the interpreter, which then ends by
    # SIGINT whatever the exit code (CPython 3.11), so the run looked killed.
    main_thread = threading.current_thread() is threading.main_thread()
    previous: dict[int, object] = {}
    if main_thread:
        previous = {sig: signal.signal(sig, _interrupt) for sig in _UNWIND}
    try:
        code = _main(args)
    finally:
        for sig, handler in previous.items():
            if handler is not None:
                signal.signal(sig, handler)  # type: ignore[arg-type]
    if code == 130 and argv is None:  # the program itself: do not wait for solver threads
        from siting._threads import end_if_abandoned

        end_if_abandoned(code)
    return code


def _main(args: argparse.Namespace) -> int:
    recorder = _setup_logging(args.verbose, args.quiet)
    try:
        with warnings.catch_warnings():  # as they were once main returns
            warnings.simplefilter("default", UserWarning)
            warnings.showwarning = _log_warning
            return int(args.func(args))
    except InputError as exc:
        print(f"siting: error: {exc}", file=sys.stderr)
        if args.debug:
            traceback.print_exc()
        return 2
    except (Interrupted, KeyboardInterrupt):
        print("siting: interrupted; no output was written", file=sys.stderr)
        if args.debug:
            traceback.print_exc()
        return 130
    except (SitingError, Exception) as exc:  # internal error: short message, traceback on --debug
        text = str(exc).strip().splitlines()
        print(
            f"siting: internal error: {type(exc).__name__}: {text[0] if text else ''}",
            file=sys.stderr,
        )
        where = _crash_log(recorder, args)
        if args.debug:
            traceback.print_exc()
        if where is not None:
            print(f"siting: the log and traceback are in {where}", file=sys.stderr)
        if not args.debug:
            print("siting: run again with --debug to see the traceback here", file=sys.stderr)
        return 1


_UNWIND = (signal.SIGINT, signal.SIGTERM)


class Interrupted(BaseException):
    """The run was stopped by a signal (Ctrl-C or SIGTERM); not an error."""


def _interrupt(signum: int, frame: object) -> None:
    raise Interrupted(f"signal {signal.Signals(signum).name}")


def _check_workers(args: argparse.Namespace) -> None:
    """Refuse a negative ``--workers`` before anything is read or run."""
    if getattr(args, "workers", None) is not None and args.workers < 0:
        raise InputError(f"--workers: expected 0 (serial) or more, got {args.workers}")


@contextlib.contextmanager
def _dask_client(args: argparse.Namespace) -> Iterator[Any]:
    """A Dask client: the ``--scheduler``'s, else a LocalCluster of ``--workers``
    processes (default 2), else (``--workers 0``) none: tasks run in turn; the
    commands check ``--workers`` (:func:`_check_workers`) before they read anything."""
    client = cluster = None
    try:
        if args.scheduler:
            from distributed import Client

            client = Client(args.scheduler)
        elif args.workers != 0:
            from distributed import Client, LocalCluster

            cluster = LocalCluster(
                n_workers=args.workers or 2,
                threads_per_worker=1,
                processes=True,
                dashboard_address=None,
            )
            client = Client(cluster)
        yield client
    finally:
        if client is not None:
            client.close()
        if cluster is not None:
            cluster.close()


def _cmd_run(args: argparse.Namespace) -> int:
    from siting._outdir import check_target, scenario_folders
    from siting.pipeline import run
    from siting.scenario import load_scenario, parse_overrides
    from siting.summary import summary

    _check_workers(args)
    path = Path(args.scenario) if args.scenario else settings.DEFAULT_SCENARIO
    scenario = load_scenario(path)
    if args.set:
        scenario = scenario.with_overrides(parse_overrides(args.set))
    out = Path(args.out) if args.out is not None else Path("out") / scenario.name
    # refused before any work: a run never replaces what is not a siting run
    check_target(
        out,
        "run",
        field="--out" if args.out is not None else f"--out (default out/{scenario.name})",
        protect=scenario_folders(scenario.data_path, scenario.base_dir),
    )
    # progress on an interactive terminal only, so that a failing run prints one line
    show = not args.quiet and sys.stderr.isatty()
    progress = (lambda msg: print(msg, file=sys.stderr, flush=True)) if show else None
    if scenario.futures is not None:  # its independent solves on Dask
        with _dask_client(args) as client:
            result = run(scenario, out, progress=progress, client=client)
    else:
        result = run(scenario, out, progress=progress)
    if not args.quiet:
        print(summary(result.kpis))
        print(f"  outputs in {out}/ (map.html, sites.csv, kpis.json, plan.gpkg, plots; run.log)")
    return 0


def _cmd_evaluate(args: argparse.Namespace) -> int:
    from siting._outdir import check_target, scenario_folders
    from siting._site_controls import evaluation_overrides, read_plan_file
    from siting.pipeline import prepare, run
    from siting.scenario import load_scenario, parse_overrides
    from siting.summary import summary

    entries = read_plan_file(Path(args.plan))
    path = Path(args.scenario) if args.scenario else settings.DEFAULT_SCENARIO
    scenario = load_scenario(path)
    if args.set:
        scenario = scenario.with_overrides(parse_overrides(args.set))
    name = f"{scenario.name}-{Path(args.plan).stem}"
    out = Path(args.out) if args.out is not None else Path("out") / name
    check_target(
        out,
        "run",
        field="--out" if args.out is not None else f"--out (default out/{name})",
        protect=scenario_folders(scenario.data_path, scenario.base_dir),
    )
    inputs = prepare(scenario)
    over = evaluation_overrides(scenario, inputs, entries, swaps=args.swaps)
    scenario = scenario.with_overrides({**over, "name": name})
    result = run(scenario, out, inputs=inputs)
    if not args.quiet:
        print(summary(result.kpis))
        print(f"  outputs in {out}/ (map.html, sites.csv, kpis.json, plan.gpkg, plots; run.log)")
    return 0


def _cmd_compare(args: argparse.Namespace) -> int:
    from siting._outdir import check_target
    from siting.compare import compare_runs, load_run, run_folders, write_comparison

    if len(args.runs) < 2:
        raise InputError(f"compare: expected at least 2 run folders, got {len(args.runs)}")
    if args.names and len(args.names) != len(args.runs):
        raise InputError(
            f"--names: expected {len(args.runs)} names (one per run), got {len(args.names)}"
        )
    names = args.names or [None] * len(args.runs)
    runs = [load_run(Path(f), name=n) for f, n in zip(args.runs, names, strict=True)]
    if args.out is not None:  # refused before any work
        check_target(Path(args.out), "comparison", field="--out", protect=run_folders(runs))
    cmp = compare_runs(runs)
    default = Path("out") / "compare" / "-vs-".join(cmp.names)
    out = Path(args.out) if args.out is not None else default
    paths = write_comparison(cmp, out, field="--out")
    if not args.quiet:
        counts = ", ".join(f"{k} {v}" for k, v in cmp.membership_counts().items())
        print(f"compared {' vs '.join(cmp.names)}: stations {counts}")
        shown = ["share served (%)"]
        shown += [f for f in cmp.summary.index if str(f).startswith("share served: ")]
        shown += ["mean access (min)", "solver status"]
        print(cmp.summary.loc[shown].astype(object).fillna("—").to_string())
        print(f"  outputs in {out}/ ({', '.join(p.name for p in paths.values())})")
    return 0


def _cmd_sweep(args: argparse.Namespace) -> int:
    from siting._outdir import check_target, new_folders, scenario_folders
    from siting.sweep import load_sweep, run_sweep, sweep_figure, tidy

    _check_workers(args)
    sweep = load_sweep(Path(args.sweep))
    out = Path(args.out) if args.out is not None else Path("out") / "sweeps" / sweep.name
    check_target(
        out,
        "sweep",
        field="--out" if args.out is not None else f"--out (default out/sweeps/{sweep.name})",
        protect=scenario_folders(sweep.base.data_path, sweep.base.base_dir),
    )
    made = new_folders(out)
    tty = sys.stderr.isatty() and not args.quiet

    def on_row(row: dict[str, object], done: int, total: int) -> None:
        width = 30
        bar = "#" * (width * done // total) + "." * (width - width * done // total)
        text = f"[{bar}] {done}/{total} {row['scenario']}: {row['status']}"
        if tty:
            print(f"\r\033[K{text}", end="" if done < total else "\n", file=sys.stderr, flush=True)
        elif not args.quiet:
            print(text, file=sys.stderr, flush=True)

    try:
        with _dask_client(args) as client:
            results = run_sweep(sweep, out, client=client, on_row=on_row)
    except BaseException:
        tidy(sweep, out, made)  # again, now that the workers are gone
        raise
    figure = sweep_figure(sweep, results, out / "sweep.png")
    failed = results[results["status"] != "done"]
    if not args.quiet:
        print(f"sweep {sweep.name}: {len(results) - len(failed)} done, {len(failed)} failed")
        print(
            f"  results in {out}/ (results.csv, results.parquet"
            + (", sweep.png" if figure else "")
            + ", one folder per scenario)"
        )
    if len(failed):
        first = failed.iloc[0]
        print(
            f"siting: error: sweep: {len(failed)} of {len(results)} scenarios failed "
            f"(first: {first['scenario']}: {first['error']}); see {out / 'results.csv'}",
            file=sys.stderr,
        )
        return 2
    return 0


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="siting", description="Plan EV charging station sites.")
    p.add_argument("--version", action="version", version=f"siting {__version__}")
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--debug", action="store_true", help="show tracebacks on errors")
    common.add_argument("-v", "--verbose", action="store_true", help="log every step")
    common.add_argument("-q", "--quiet", action="store_true", help="print nothing on success")
    sub = p.add_subparsers(dest="command", required=True)
    r = sub.add_parser(
        "run",
        parents=[common],
        help="run a scenario and write its outputs",
        description="Run a scenario (default: the Almaty scenario in data/).",
    )
    r.add_argument("scenario", nargs="?", help="scenario TOML file (default: data/almaty.toml)")
    r.add_argument("--out", help="output folder (default: out/<scenario name>)")
    r.add_argument(
        "--set",
        action="append",
        metavar="KEY=VALUE",
        help="override a scenario field, e.g. --set demand.preset=growth-2030 "
        "--set optimize.p=400 (repeatable; values read as TOML)",
    )
    r.add_argument(
        "--workers",
        type=int,
        help="with [futures]: local Dask worker processes (default 2; 0 solves in turn)",
    )
    r.add_argument("--scheduler", help="with [futures]: address of a Dask scheduler")
    r.set_defaults(func=_cmd_run)
    e = sub.add_parser(
        "evaluate",
        parents=[common],
        help="score a plan you bring against the best plan on the same terms",
        description="Score the sites of PLAN.csv (a site_id column, or lat and lon) with "
        "every figure of a run, the best plan of as many stations on the same terms beside "
        "it, and the swaps that close most of the gap.",
    )
    e.add_argument("plan", metavar="PLAN.csv", help="CSV of sites: site_id, or lat and lon")
    e.add_argument("scenario", nargs="?", help="scenario TOML file (default: data/almaty.toml)")
    e.add_argument("--out", help="output folder (default: out/<scenario>-<plan file name>)")
    e.add_argument("--set", action="append", metavar="KEY=VALUE", help="as for run")
    e.add_argument("--swaps", type=int, default=5, help="swaps to try (default 5)")
    e.set_defaults(func=_cmd_evaluate)
    c = sub.add_parser(
        "compare",
        parents=[common],
        help="compare the outputs of two or more runs",
        description="Compare run output folders side by side: key figures, districts, "
        "stations in common and apart; writes HTML, Markdown, CSV, a chart and a map.",
    )
    c.add_argument("runs", nargs="+", metavar="RUN", help="output folders of siting run")
    c.add_argument("--out", help="output folder (default: out/compare/<A>-vs-<B>)")
    c.add_argument("--names", nargs="+", help="names of the runs (default: folder names)")
    c.set_defaults(func=_cmd_compare)
    w = sub.add_parser(
        "sweep",
        parents=[common],
        help="run many scenarios from one base on Dask",
        description="Run every scenario of a sweep file (a base scenario and a grid or list "
        "of overrides) on a Dask LocalCluster or an existing scheduler; resumable.",
    )
    w.add_argument("sweep", help="sweep TOML file")
    w.add_argument("--out", help="output folder (default: out/sweeps/<sweep name>)")
    w.add_argument(
        "--workers", type=int, help="local worker processes (default 2; 0 runs serially)"
    )
    w.add_argument("--scheduler", help="address of an existing Dask scheduler (tcp://host:port)")
    w.set_defaults(func=_cmd_sweep)
    p.set_defaults(debug=False, verbose=False, quiet=False)
    return p


class _Recorder(logging.Handler):
    """Keeps this invocation's log lines, written out only if it fails."""

    def __init__(self) -> None:
        super().__init__(logging.INFO)
        self.lines: list[str] = []
        self.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))

    def emit(self, record: logging.LogRecord) -> None:
        self.lines.append(self.format(record))


def _crash_log(recorder: _Recorder, args: argparse.Namespace) -> Path | None:
    """Write the log and traceback of a failed invocation; return its path.

    Logs go to ``<cache>/logs/`` (see :func:`siting.settings.cache_dir`); the
    newest :data:`siting.settings.CRASH_LOGS_KEPT` are kept.
    """
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    body = [
        f"siting {__version__} {' '.join(sys.argv[1:]) or args.command}",
        *recorder.lines,
        traceback.format_exc(),
    ]
    # the cache may be what failed (a file, read-only): then the temporary folder
    for folder in (settings.cache_dir() / "logs", Path(tempfile.gettempdir()) / "siting-logs"):
        path = folder / f"siting-{stamp}-{os.getpid()}.log"
        try:
            folder.mkdir(parents=True, exist_ok=True)
            path.write_text("\n".join(body), encoding="utf-8")
        except OSError:
            continue
        for old in sorted(folder.glob("siting-*.log"))[: -settings.CRASH_LOGS_KEPT]:
            old.unlink(missing_ok=True)
        return path
    return None


#: Python's warnings are logged here while :func:`main` runs.
WARNINGS_LOGGER = "py.warnings"


def _setup_logging(verbose: bool, quiet: bool) -> _Recorder:
    """The console handler and the crash recorder, on siting's logger and on the
    captured warnings' (a damaged cache, an assumed default): the warnings reach the
    console and the log whatever handlers a dependency put on ``py.warnings``."""
    warned = logging.getLogger(WARNINGS_LOGGER)
    for logger in (log, warned):
        for old in [h for h in logger.handlers if getattr(h, "siting_cli", False)]:
            logger.removeHandler(old)  # main() called again in the same process
    handler = logging.StreamHandler(sys.stderr)
    handler.siting_cli = True  # type: ignore[attr-defined]
    handler.setFormatter(logging.Formatter("%(levelname)s %(name)s: %(message)s"))
    level = logging.INFO if verbose else logging.WARNING
    handler.setLevel(logging.ERROR if quiet else level)
    recorder = _Recorder()
    recorder.siting_cli = True  # type: ignore[attr-defined]
    for logger in (log, warned):
        logger.addHandler(handler)
        logger.addHandler(recorder)
    log.setLevel(logging.INFO)
    warned.setLevel(logging.WARNING)
    warned.propagate = False  # printed once, here, not again by a root handler
    logging.getLogger("osmnx").setLevel(logging.WARNING)
    return recorder


def _log_warning(
    message: Warning | str,
    category: type[Warning],
    filename: str,
    lineno: int,
    file: object = None,
    line: str | None = None,
) -> None:
    """Python's warnings as log lines of :data:`WARNINGS_LOGGER` (as
    :func:`logging.captureWarnings` does, but only while :func:`main` runs)."""
    logging.getLogger(WARNINGS_LOGGER).warning("%s: %s", category.__name__, message)


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
