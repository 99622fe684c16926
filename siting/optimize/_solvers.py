"""Private helpers: run a PuLP problem and report what the solver proved.

PuLP gives ``LpStatusOptimal`` both for a proven optimum and for a solution
found before a time limit. Here the status comes from ``sol_status`` and the
solver's own report (HiGHS's model status and MIP dual bound, CBC's log), so a
time-limited solve is reported as ``feasible`` with its gap, never ``optimal``.
"""

from __future__ import annotations

import contextlib
import logging
import os
import re
import sys
import tempfile
import threading
import time
import warnings
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pulp

from siting import settings
from siting._clock import time_left
from siting.errors import InputError, SolverError, TimeLimitError

log = logging.getLogger(__name__)

SOLVERS = ("highs", "cbc")


@dataclass(frozen=True)
class SolveInfo:
    """What a solver run proved.

    ``status`` is ``"optimal"`` (optimality proven within the relative gap
    tolerance ``gap_tolerance``) or ``"feasible"`` (a plan, optimality not
    proven; ``gap`` says how far it may be from the best). ``bound`` is the best
    bound on the objective the solver proved (None when it did not report one).
    """

    status: str
    objective: float
    bound: float | None
    gap: float | None
    solver: str
    seconds: float
    gap_tolerance: float
    stopped_by: str | None

    def describe(self) -> str:
        """A short human label, e.g. ``optimal`` or ``feasible, gap 1.2% (time limit)``."""
        gap = f"gap {100 * self.gap:.2f}%" if self.gap is not None else "gap unknown"
        if self.status == "infeasible":
            return "infeasible"
        if self.status == "optimal":
            return f"optimal ({gap}, tolerance {100 * self.gap_tolerance:.2g}%)"
        why = f" ({self.stopped_by})" if self.stopped_by else ""
        return f"feasible, {gap}{why}"


def run(
    prob: pulp.LpProblem,
    solver: str | None = None,
    *,
    time_limit: float | None = None,
    gap: float | None = None,
    threads: int | None = None,
    msg: bool = False,
) -> SolveInfo:
    """Solve ``prob`` with HiGHS (default) or CBC and read back an honest status.

    Raises
    ------
    InputError
        Unknown solver name or bad option.
    pulp.PulpSolverError
        Not raised: turned into :class:`SolverError`.
    SolverError
        The solver stopped with no feasible plan (e.g. time limit too short).

    An infeasible problem is reported as ``status == "infeasible"`` with NaN
    objective, so that callers can explain which constraint to relax.
    """
    name, tol = check_options(solver, time_limit, gap)
    start = time.perf_counter()
    if name == "highs":
        quiet_banner()
        info = _run_highs(prob, time_limit, tol, threads, msg)
    else:
        info = _run_cbc(prob, time_limit, tol, threads, msg)
    seconds = time.perf_counter() - start
    info = SolveInfo(**{**info.__dict__, "seconds": seconds})
    log.info(
        "solver %s: %s, objective %.6g, %.2f s", name, info.describe(), info.objective, seconds
    )
    return info


#: Guards the process-wide HiGHS banner below.
_HIGHS_LOCK = threading.Lock()
_banner_shown = False


def quiet_banner() -> None:
    """Send HiGHS's banner to the log instead of the console.

    HiGHS prints it on standard output (file descriptor 1, below Python) when the
    first ``Highs`` object of a process is made, before any option can silence it.
    The first one is made here with descriptor 1 pointed at a temporary file, whose
    text goes to the log (run.log). Thread-safe; does nothing after the first call.
    """
    global _banner_shown
    with _HIGHS_LOCK:
        if _banner_shown:
            return
        import highspy

        sys.stdout.flush()
        saved = os.dup(1)
        with tempfile.TemporaryFile(mode="w+b") as sink:
            try:
                os.dup2(sink.fileno(), 1)
                highspy.Highs()
            finally:
                os.dup2(saved, 1)
                os.close(saved)
            sink.seek(0)
            text = sink.read().decode(errors="replace").strip()
        if text:
            log.info("HiGHS: %s", " ".join(text.split()))
        _banner_shown = True


def check_options(
    solver: str | None, time_limit: float | None, gap: float | None
) -> tuple[str, float]:
    """Validate the solve options; return the solver name and the relative gap tolerance."""
    name = (solver or "highs").lower()
    if name not in SOLVERS:
        raise InputError(f"solver: expected one of {', '.join(SOLVERS)}, got {solver!r}")
    if time_limit is not None and not time_limit > 0:
        raise InputError(f"time_limit: expected seconds > 0, got {time_limit}")
    tol = 1e-4 if gap is None else float(gap)
    if not 0.0 <= tol < 1.0:
        raise InputError(f"gap: expected a relative gap in [0, 1), got {gap}")
    return name, tol


def thread_count(requested: int | None) -> int:
    """The threads of a HiGHS run: ``requested``, else ``settings.HIGHS_THREADS``."""
    return int(requested or settings.HIGHS_THREADS)


@contextlib.contextmanager
def fresh_scheduler() -> Iterator[None]:
    """Run the block (one HiGHS ``run``) on a task scheduler started for it.

    HiGHS keeps one task scheduler per calling thread, started by the first run in
    that thread with that run's thread count; a later run in the same thread asking
    for another count fails with model status "Not Set". Any earlier HiGHS user in
    the thread (PuLP's own ``HiGHS``, spopt, another siting model) may have started
    it, so the scheduler is reset before the run (the next run starts it with its
    own count) and again after it, so that the caller's next HiGHS run is not tied
    to siting's count either. A reset is cheap (well under a millisecond) and
    touches only the calling thread's scheduler: runs in other threads go on.
    """
    import highspy

    highspy.Highs.resetGlobalScheduler(True)
    try:
        yield
    finally:
        highspy.Highs.resetGlobalScheduler(True)


def no_plan_error(solver: str, status: str, *, timed: bool) -> SolverError:
    """The error of a solve that ended with no plan: a time limit (the user can raise
    it) or a solver failure, named by the solver's own status."""
    if timed:
        return TimeLimitError(
            f"{solver} stopped by its time limit before it found a plan; "
            "raise the time limit (optimize.time_limit_s) or relax the request"
        )
    return SolverError(f"{solver} failed with no plan (model status {status!r})")


def _run_highs(
    prob: pulp.LpProblem, time_limit: float | None, tol: float, threads: int | None, msg: bool
) -> SolveInfo:
    import highspy

    threads = thread_count(threads)

    started = time.perf_counter()
    end = None if time_limit is None else started + time_limit
    solver = _WarmHiGHS(msg=msg, timeLimit=time_limit, gapRel=tol, threads=threads, end=end)
    try:
        prob.solve(solver)
        left = None if end is None else end - time.perf_counter()
        if _proven(prob) and not _values_match(prob) and (left is None or left >= 1.0):
            # HiGHS 1.16 can hand back the warm start instead of the plan it proved when
            # presolve settles the whole program (seen with every site forced open):
            # solve again without the start, in the time left
            log.info("HiGHS returned values that are not its plan; solving without the start")
            for v in prob.variables():
                v.varValue = None
            prob.solve(_WarmHiGHS(msg=msg, timeLimit=left, gapRel=tol, threads=threads, end=end))
    except pulp.PulpSolverError as exc:
        raise SolverError(f"HiGHS failed: {exc}") from None
    h = prob.solverModel
    ms = h.getModelStatus()
    st = highspy.HighsModelStatus
    hinfo = h.getInfo()
    sense = -1.0 if prob.sense == pulp.LpMaximize else 1.0
    if ms in (st.kInfeasible, st.kUnboundedOrInfeasible):
        return _infeasible("highs", tol)
    has_solution = prob.sol_status in (pulp.LpSolutionOptimal, pulp.LpSolutionIntegerFeasible)
    if not has_solution:
        raise no_plan_error("HiGHS", h.modelStatusToString(ms), timed=ms == st.kTimeLimit)
    objective = _objective(prob)
    bound: float | None
    if prob.isMIP():
        raw_bound = float(hinfo.mip_dual_bound)
        # PuLP leaves the objective's constant out of the HiGHS model
        constant = float(prob.objective.constant) if prob.objective is not None else 0.0
        bound = sense * raw_bound + constant if abs(raw_bound) < 1e300 else None
        gap_val = relative_gap(objective, bound)
    else:
        bound, gap_val = objective, 0.0
    if ms == st.kOptimal and _values_match(prob):
        return SolveInfo("optimal", objective, bound, gap_val, "highs", 0.0, tol, None)
    if ms == st.kOptimal:  # the plan read is not the one proved: its own gap, not optimal
        stop = "HiGHS returned a plan other than the one it proved"
        return SolveInfo("feasible", objective, bound, gap_val, "highs", 0.0, tol, stop)
    stopped = {
        st.kTimeLimit: "time limit",
        st.kIterationLimit: "iteration limit",
        st.kInterrupt: "interrupted",
    }.get(ms, h.modelStatusToString(ms))
    return SolveInfo("feasible", objective, bound, gap_val, "highs", 0.0, tol, stopped)


class _WarmHiGHS(pulp.HiGHS):
    """PuLP's HiGHS binding plus a warm start from the variables' initial values.

    Values set with ``LpVariable.setInitialValue`` are handed to HiGHS as a
    starting solution, so a time-limited solve always has an incumbent. With
    ``end`` (``time.perf_counter()``), HiGHS's own time limit is what is left until
    then once PuLP has built its model (at least :data:`siting.settings.HIGHS_MIN_S`),
    so the limit bounds the whole run, not only HiGHS's part of it.
    """

    def __init__(self, *args: Any, end: float | None = None, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.end = end

    def callSolver(self, lp: pulp.LpProblem) -> None:  # noqa: N802 (PuLP API name)
        import highspy

        if self.end is not None:
            left = max(settings.HIGHS_MIN_S, self.end - time.perf_counter())
            lp.solverModel.setOptionValue("time_limit", left)

        variables = lp.variables()
        if any(v.varValue is not None for v in variables):
            values = [0.0] * len(variables)
            for v in variables:
                if v.varValue is not None:
                    values[v.index] = float(v.varValue)
            start = highspy.HighsSolution()
            start.col_value = values
            start.value_valid = True
            lp.solverModel.setSolution(start)
        with fresh_scheduler():
            super().callSolver(lp)


_CBC_BOUND = re.compile(r"best possible\s+(-?[\d.eE+]+)|Lower bound:\s+(-?[\d.eE+]+)")


def _run_cbc(
    prob: pulp.LpProblem, time_limit: float | None, tol: float, threads: int | None, msg: bool
) -> SolveInfo:
    started = time.perf_counter()
    start = [(v, v.varValue) for v in prob.variables()]
    text = _cbc_solve(prob, time_limit, tol, threads, msg)
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
        text = _cbc_solve(prob, left, tol, threads, msg, options=["preprocess off"])
    if prob.status == pulp.LpStatusInfeasible:
        return _infeasible("cbc", tol)
    if prob.sol_status not in (pulp.LpSolutionOptimal, pulp.LpSolutionIntegerFeasible):
        timed = time_limit is not None and "stopped on time" in text.lower()
        raise no_plan_error("CBC", pulp.LpStatus[prob.status], timed=timed)
    objective = _objective(prob)
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


def _cbc_solve(
    prob: pulp.LpProblem,
    time_limit: float | None,
    tol: float,
    threads: int | None,
    msg: bool,
    *,
    options: list[str] | None = None,
) -> str:
    """Run CBC on ``prob`` (warm-started from the variables' values); its log."""
    with tempfile.TemporaryDirectory(prefix="siting-cbc-") as tmp:
        log_path = Path(tmp) / "cbc.log"
        warm = any(v.varValue is not None for v in prob.variables())
        solver = _cbc(
            msg=msg,
            timeLimit=time_limit,
            gapRel=tol,
            threads=threads,
            logPath=str(log_path),
            warmStart=warm,
            options=options or [],
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


def _proven(prob: pulp.LpProblem) -> bool:
    """Whether HiGHS says it proved the last solve optimal."""
    import highspy

    return bool(prob.solverModel.getModelStatus() == highspy.HighsModelStatus.kOptimal)


def _values_match(prob: pulp.LpProblem) -> bool:
    """Whether the variable values PuLP read give HiGHS's own objective value (for
    a solve that has a plan; others pass)."""
    if prob.sol_status not in (pulp.LpSolutionOptimal, pulp.LpSolutionIntegerFeasible):
        return True
    h = prob.solverModel
    sense = -1.0 if prob.sense == pulp.LpMaximize else 1.0
    constant = float(prob.objective.constant) if prob.objective is not None else 0.0
    own = sense * float(h.getObjectiveValue()) + constant
    read = _objective(prob)
    return abs(own - read) <= 1e-6 * max(1.0, abs(own))


def _objective(prob: pulp.LpProblem) -> float:
    """The objective's value; 0 for a problem whose objective has no terms (everything
    it could count is already a constant, e.g. all demand covered by existing sites),
    where PuLP gives None."""
    value = pulp.value(prob.objective) if prob.objective is not None else None
    return float(value) if value is not None else 0.0


def _infeasible(solver: str, tol: float) -> SolveInfo:
    nan = float("nan")
    return SolveInfo("infeasible", nan, None, None, solver, 0.0, tol, None)


def relative_gap(objective: float, bound: float | None) -> float | None:
    if bound is None:
        return None
    return abs(bound - objective) / max(abs(objective), 1e-10)
