"""Private: the CBC runner of :func:`siting.optimize._solvers.run` (PuLP's ``COIN_CMD``
or its bundled CBC), its status read from CBC's log."""

from __future__ import annotations

import logging
import re
import tempfile
import time
import warnings
from pathlib import Path
from typing import TYPE_CHECKING

import pulp

from siting._clock import time_left
from siting.errors import SolverError
from siting.optimize._report import (
    SolveInfo,
    infeasible,
    no_plan_error,
    objective_value,
    relative_gap,
)

if TYPE_CHECKING:
    from siting.optimize.options import SolveOptions

log = logging.getLogger(__name__)

_CBC_BOUND = re.compile(r"best possible\s+(-?[\d.eE+]+)|Lower bound:\s+(-?[\d.eE+]+)")


def run(prob: pulp.LpProblem, options: SolveOptions) -> SolveInfo:
    """Solve ``prob`` with CBC; see :func:`siting.optimize._solvers.run`."""
    time_limit, tol = options.time_limit, options.gap
    started = time.perf_counter()
    start = [(v, v.varValue) for v in prob.variables()]
    text = cbc_solve(prob, options)
    if (
        prob.status == pulp.LpStatusInfeasible
        and time_limit is not None
        and _CBC_PREPROCESS_INFEASIBLE in text
        and _cbc_wallclock(text) >= 0.9 * time_limit
    ):
        # CBC 2.10 stopped by its time limit in preprocessing says "infeasible" (seen
        # at 0.1 s on Almaty, with a feasible warm start): not proven; solve again
        # without preprocessing in the time left, which keeps the warm start
        log.info("CBC: preprocessing stopped by the time limit said infeasible; again without it")
        left = time_left(time_limit, time.perf_counter() - started)
        for v, value in start:
            v.varValue = value
        text = cbc_solve(prob, options.but(time_limit=left), flags=["preprocess off"])
    if prob.status == pulp.LpStatusInfeasible:
        return infeasible("cbc", tol)
    if prob.sol_status not in (pulp.LpSolutionOptimal, pulp.LpSolutionIntegerFeasible):
        timed = time_limit is not None and "stopped on time" in text.lower()
        raise no_plan_error("CBC", pulp.LpStatus[prob.status], timed=timed)
    objective = objective_value(prob)
    if prob.sol_status == pulp.LpSolutionOptimal:
        return SolveInfo("optimal", objective, objective, 0.0, "cbc", 0.0, tol, None)
    # CBC minimises internally; for a maximisation it logs the negated bound
    bound = None
    found = _CBC_BOUND.findall(text)
    if found:
        raw = float(next(v for v in found[-1] if v))
        bound = -raw if prob.sense == pulp.LpMaximize and raw * objective < 0 else raw
    stopped = "time limit" if "time" in text.lower() else "stopped"
    return SolveInfo(
        "feasible", objective, bound, relative_gap(objective, bound), "cbc", 0.0, tol, stopped
    )


_CBC_PREPROCESS_INFEASIBLE = "Pre-processing says infeasible"
_CBC_WALLCLOCK = re.compile(r"Wallclock seconds\):\s+([\d.]+)")


def _cbc_wallclock(text: str) -> float:
    """The wall-clock seconds CBC's log reports for its run (0 when it says none)."""
    found = _CBC_WALLCLOCK.findall(text)
    return float(found[-1]) if found else 0.0


def cbc_solve(
    prob: pulp.LpProblem, options: SolveOptions, *, flags: list[str] | None = None
) -> str:
    """Run CBC on ``prob`` (warm-started from the variables' values) with its
    command-line ``flags``; its log."""
    with tempfile.TemporaryDirectory(prefix="siting-cbc-") as tmp:
        log_path = Path(tmp) / "cbc.log"
        warm = any(v.varValue is not None for v in prob.variables())
        solver = _cbc(
            msg=options.msg,
            timeLimit=options.time_limit,
            gapRel=options.gap,
            threads=options.threads,
            logPath=str(log_path),
            warmStart=warm,
            options=flags or [],
        )
        try:
            prob.solve(solver)
        except pulp.PulpSolverError as exc:
            raise SolverError(f"CBC failed: {exc}") from None
        return log_path.read_text(errors="replace") if log_path.exists() else ""


def _cbc(**options: object) -> pulp.LpSolver:
    """CBC via ``COIN_CMD`` if a binary is installed (``pulp[cbc]``), else PuLP's bundled one."""
    coin = pulp.COIN_CMD(**options)
    if coin.available():
        return coin
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)  # bundled CBC, deprecated in PuLP 4
        return pulp.PULP_CBC_CMD(**options)
