"""The whole flow of a run: the stages in order, nothing else.

1. network (:func:`siting.network.network_stage`): the road graph;
2. demand (:func:`siting.cells.demand_layers`, then :func:`siting.demand.demand_stage`):
   the layers on the H3 cells, then the scenario's sessions per cell;
3. candidates (:func:`siting.candidates.candidate_stage`): sites and existing stations;
4. travel (:func:`siting.travel.travel_stage`): drive times from cells to sites;
5. optimize (:func:`siting.planning.planning_stage`): the plan, frontier, curve, minimum plans;
6. evaluate (:func:`siting.evaluate.evaluate_stage`): stations, districts, kpis;
7. map (:func:`siting.maps.plan_map`).

:func:`prepare` runs stages 1-4 (what scenarios differing only in adoption or the
optimisation request share), :func:`plan` the rest in memory and returns a
:class:`RunResult` (handy in notebooks); :func:`run` also writes the outputs
atomically.
"""

from __future__ import annotations

import hashlib
import json
import logging
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from siting import _threads, report, settings
from siting._outdir import atomic_dir, scenario_folders
from siting._version import __version__
from siting.candidates import candidate_stage
from siting.cells import demand_layers
from siting.demand import demand_stage
from siting.evaluate import evaluate_stage
from siting.futures.robust import futures_report
from siting.maps import plan_map
from siting.network import network_stage
from siting.planning import planning_stage
from siting.results import Inputs, RunResult
from siting.scenario import Scenario
from siting.travel import travel_stage

log = logging.getLogger(__name__)

STAGES = ("network", "demand", "candidates", "travel", "optimize", "evaluate", "futures", "map")


class _Stages:
    """Announces each stage (``progress``) and adds up its time in ``timings``."""

    def __init__(
        self, progress: Callable[[str], None] | None, timings: dict[str, float] | None = None
    ) -> None:
        self.say = progress or (lambda _msg: None)
        self.timings: dict[str, float] = dict(timings or {})

    @contextmanager
    def __call__(self, name: str) -> Iterator[None]:
        self.say(f"[{STAGES.index(name) + 1}/{len(STAGES)}] {name}")
        t0 = time.perf_counter()
        yield
        self.timings[name] = round(self.timings.get(name, 0.0) + time.perf_counter() - t0, 3)
        log.info("stage %s: %.2f s", name, self.timings[name])


def inputs_key(scenario: Scenario) -> str:
    """Fingerprint of the scenario fields :func:`prepare` depends on.

    Everything but the name, description, seed, the optimisation request, costs,
    benefits and economics, the sites forced or excluded and their own costs, the
    adoption preset and the segments' figures (only which segments exist, and
    whether some inbound demand sits at the entry corridors, matter).
    """
    data = scenario.model_dump(mode="json")
    for key in ("name", "description", "seed", "optimize", "costs", "benefits", "economics"):
        data.pop(key, None)
    for key in ("force", "exclude", "exclude_areas", "force_file", "exclude_file", "site_costs"):
        data["candidates"].pop(key, None)
    dc = data["demand"]
    for key in ("preset", "presets_file", "peak_hour_share"):
        dc.pop(key, None)
    inbound = scenario.demand.inbound
    dc["segments"] = [n for n in ("residents", "inbound", "taxis") if dc.pop(n, None) is not None]
    dc["corridors"] = bool(inbound and inbound.corridor_share > 0)
    data["base_dir"] = str(scenario.base_dir.resolve())
    data["data_path"] = str(scenario.data_path)
    text = json.dumps(data, sort_keys=True, default=str)
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def prepare(
    scenario: Scenario,
    *,
    cache_dir: Path | None = None,
    progress: Callable[[str], None] | None = None,
) -> Inputs:
    """Stages 1-4 of ``scenario``: road graph, demand layers, candidates, travel times.

    Each stage reads its cache under ``cache_dir`` (default
    :func:`siting.settings.cache_dir`) when ``network.cache`` is on.
    """
    stage = _Stages(progress)
    root = cache_dir or settings.cache_dir()
    stamps: dict[str, object] = {}  # the files read, for the run's provenance
    with stage("network"):
        net = network_stage(scenario, stamps, cache_dir=cache_dir)
    with stage("demand"):
        layers = demand_layers(scenario, net.graph, net.area, net.osm_file, stamps, cache_root=root)
    with stage("candidates"):
        candidates = candidate_stage(scenario, net, stamps, cache_root=root)
    with stage("travel"):  # compiled searches: in a worker, the main thread free for signals
        tt = _threads.call(
            travel_stage, scenario, net, layers, candidates, cache_root=root, name="travel"
        )
    districts, cells, parts, metric_crs, jobs, hubs, corridors = layers
    return Inputs(
        inputs_key(scenario),
        net.graph,
        net.index,
        net.area,
        districts,
        cells,
        parts,
        metric_crs,
        jobs,
        hubs,
        corridors,
        candidates,
        tt,
        stamps,
        stage.timings,
    )


def plan(
    scenario: Scenario,
    *,
    cache_dir: Path | None = None,
    progress: Callable[[str], None] | None = None,
    inputs: Inputs | None = None,
    client: Any | None = None,
) -> RunResult:
    """Run every stage of ``scenario`` in memory.

    Parameters
    ----------
    scenario
        A validated scenario (see :func:`siting.scenario.load_scenario`).
    cache_dir
        Cache folder; default :func:`siting.settings.cache_dir`.
    progress
        Called with a short message as each stage starts.
    inputs
        Built by :func:`prepare` for a scenario with the same :func:`inputs_key`;
        built here when not given.
    client
        A ``dask.distributed`` client for the independent solves of ``[futures]``
        (see :mod:`siting.futures.robust`); ``None`` solves them in turn.
    """
    # kept whole: the stages in their order, one call each (most of its length is the docstring)
    t_start = time.perf_counter()
    if inputs is None:
        inputs = prepare(scenario, cache_dir=cache_dir, progress=progress)
    elif inputs.key != inputs_key(scenario):
        raise ValueError(
            "inputs: built for a scenario with other network, demand-layer, candidate or "
            f"travel settings (key {inputs.key}, this scenario needs {inputs_key(scenario)})"
        )
    stage = _Stages(progress, inputs.timings)
    cache_root = (cache_dir or settings.cache_dir()) if scenario.network.cache else None
    with stage("demand"):
        need = demand_stage(scenario, inputs)
    with stage("optimize"):  # solver runs: in a worker, the main thread free for signals
        decision = _threads.call(
            planning_stage, scenario, inputs, need, cache_root=cache_root, name="optimize"
        )
    with stage("evaluate"):
        ev = evaluate_stage(scenario, inputs, need, decision)
    futures_sites = None
    if scenario.futures is not None:
        with stage("futures"):
            ev.kpis["futures"], futures_sites = _threads.call(
                futures_report, scenario, inputs, need, decision, client=client, name="futures"
            )
    with stage("map"):
        served = [c for c in ev.per_demand.columns if c.endswith("_served") and c != "served"]
        fmap = plan_map(
            ev.sites,
            need.points.assign(**{c: ev.per_demand[c].to_numpy() for c in served}),
            districts=inputs.districts,
            district_column=scenario.demand.district_column,
            per_district=ev.per_district,
            served_areas=ev.areas,
            kpis=ev.kpis,
            title=f"siting: {scenario.name}",
            futures_sites=futures_sites,
            graph=inputs.graph,
        )
    timings = stage.timings
    timings["total"] = round(time.perf_counter() - t_start, 3)
    ev.kpis["timings_s"] = timings
    ev.kpis["created"] = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    return RunResult(
        scenario,
        inputs.graph,
        need.points,
        inputs.candidates,
        need.travel,
        decision.result,
        ev.sites,
        ev.kpis,
        ev.per_district,
        ev.per_demand,
        inputs.districts,
        fmap,
        ev.areas,
        ev.curve,
        timings,
    )


def run(
    scenario: Scenario,
    out_dir: Path,
    *,
    cache_dir: Path | None = None,
    progress: Callable[[str], None] | None = None,
    inputs: Inputs | None = None,
    extra_files: dict[str, str] | None = None,
    client: Any | None = None,
) -> RunResult:
    """Run ``scenario`` and write its outputs into ``out_dir`` atomically.

    The run log (``run.log``) records every stage; nothing is written to
    ``out_dir`` unless the whole run succeeds. ``inputs`` as for :func:`plan`;
    ``extra_files`` (name → text) are written into the folder with the outputs;
    ``client`` as for :func:`plan`.
    """
    guard = scenario_folders(scenario.data_path, scenario.base_dir)
    with atomic_dir(out_dir, kind="run", field="out_dir", protect=guard) as tmp:
        handler = logging.FileHandler(tmp / "run.log", encoding="utf-8")
        handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
        handler.setLevel(logging.INFO)
        root = logging.getLogger("siting")
        old_level = root.level
        root.addHandler(handler)
        # Python's warnings too, where they are logged (the command line captures them)
        warned = logging.getLogger("py.warnings")
        warned.addHandler(handler)
        if root.level == logging.NOTSET or root.level > logging.INFO:
            root.setLevel(logging.INFO)
        try:
            log.info("run %s (siting %s)", scenario.name, __version__)
            result = plan(
                scenario, cache_dir=cache_dir, progress=progress, inputs=inputs, client=client
            )
            report.write_outputs(result, tmp)
            for name, text in (extra_files or {}).items():
                (tmp / name).write_text(text, encoding="utf-8")
        finally:
            root.removeHandler(handler)
            warned.removeHandler(handler)
            root.setLevel(old_level)
            handler.close()
    return result
