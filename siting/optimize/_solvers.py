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
import sys
import tempfile
import threading
import time
from array import array
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

import pulp

from siting import settings
from siting.errors import SolverError
from siting.optimize import _cbc
from siting.optimize._report import SolveInfo as SolveInfo  # read as _solvers.SolveInfo
from siting.optimize._report import infeasible, objective_value
from siting.optimize._report import no_plan_error as no_plan_error
from siting.optimize._report import relative_gap as relative_gap

if TYPE_CHECKING:
    from siting.optimize.options import SolveOptions

log = logging.getLogger(__name__)


def run(prob: pulp.LpProblem, options: SolveOptions) -> SolveInfo:
    """Solve ``prob`` with ``options`` (HiGHS or CBC) and read back an honest status.

    Raises
    ------
    pulp.PulpSolverError
        Not raised: turned into :class:`SolverError`.
    SolverError
        The solver stopped with no feasible plan (e.g. time limit too short).

    An infeasible problem is reported as ``status == "infeasible"`` with NaN
    objective, so that callers can explain which constraint to relax.
    """
    start = time.perf_counter()
    if options.solver == "highs":
        quiet_banner()
        info = _run_highs(prob, options)
    else:
        info = _cbc.run(prob, options)
    seconds = time.perf_counter() - start
    info = SolveInfo(**{**info.__dict__, "seconds": seconds})
    log.info(
        "solver %s: %s, objective %.6g, %.2f s",
        options.solver,
        info.describe(),
        info.objective,
        seconds,
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


def _run_highs(prob: pulp.LpProblem, options: SolveOptions) -> SolveInfo:
    import highspy

    time_limit, tol, msg = options.time_limit, options.gap, options.msg
    mip_lp = options.mip_lp
    threads = thread_count(options.threads)

    started = time.perf_counter()
    end = None if time_limit is None else started + time_limit
    solver = _WarmHiGHS(
        msg=msg, timeLimit=time_limit, gapRel=tol, threads=threads, end=end, mip_lp=mip_lp
    )
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
            again = _WarmHiGHS(
                msg=msg, timeLimit=left, gapRel=tol, threads=threads, end=end, mip_lp=mip_lp
            )
            prob.solve(again)
    except pulp.PulpSolverError as exc:
        raise SolverError(f"HiGHS failed: {exc}") from None
    h = prob.solverModel
    ms = h.getModelStatus()
    st = highspy.HighsModelStatus
    hinfo = h.getInfo()
    sense = -1.0 if prob.sense == pulp.LpMaximize else 1.0
    if ms in (st.kInfeasible, st.kUnboundedOrInfeasible):
        return infeasible("highs", tol)
    has_solution = prob.sol_status in (pulp.LpSolutionOptimal, pulp.LpSolutionIntegerFeasible)
    if not has_solution:
        raise no_plan_error("HiGHS", h.modelStatusToString(ms), timed=ms == st.kTimeLimit)
    objective = objective_value(prob)
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

    def __init__(
        self, *args: Any, end: float | None = None, mip_lp: str = "choose", **kwargs: Any
    ) -> None:
        super().__init__(*args, **kwargs)
        self.end = end
        self.mip_lp = mip_lp

    def buildSolverModel(self, lp: pulp.LpProblem) -> None:  # noqa: N802 (PuLP API name)
        """PuLP's model, handed to HiGHS in three calls instead of one per column and
        per row: the same columns, rows and coefficients in the same order (zero
        coefficients left out, as PuLP does), so the same program, about 0.5 s
        sooner on the Almaty default's 74,000 columns."""
        import highspy
        import numpy as np

        inf = highspy.kHighsInf
        h = lp.solverModel
        sign = -1.0 if lp.sense == pulp.LpMaximize else 1.0
        variables = lp.variables()
        objective = lp.objective if lp.objective is not None else {}
        n = len(variables)
        cost = np.empty(n)
        lower = np.empty(n)
        upper = np.empty(n)
        integer: list[int] = []
        for i, var in enumerate(variables):
            var.index = i
            cost[i] = sign * objective.get(var, 0.0)
            lower[i] = -inf if var.lowBound is None else var.lowBound
            upper[i] = inf if var.upBound is None else var.upBound
            if var.cat == pulp.LpInteger and self.mip:
                integer.append(i)
        none = np.zeros(0, dtype=np.int32)
        h.addCols(n, cost, lower, upper, 0, none, none, np.zeros(0))
        if integer:
            kind = np.full(len(integer), highspy.HighsVarType.kInteger.value, dtype=np.uint8)
            h.changeColsIntegrality(len(integer), np.asarray(integer, dtype=np.int32), kind)
        rows = list(lp._constraints.values())
        starts = np.zeros(len(rows), dtype=np.int32)
        row_lo = np.empty(len(rows))
        row_hi = np.empty(len(rows))
        index = array("i")  # packed: a tenth of a list's memory
        value = array("d")
        for r, row in enumerate(rows):
            row.index = r
            starts[r] = len(index)
            for var, coef in row.items():
                if coef != 0:
                    index.append(var.index)
                    value.append(coef)
            lb, ub = row.getLb(), row.getUb()
            row_lo[r] = -inf if lb is None else lb
            row_hi[r] = inf if ub is None else ub
        h.addRows(
            len(rows),
            row_lo,
            row_hi,
            len(index),
            starts,
            np.frombuffer(index, dtype=np.int32) if index else np.zeros(0, dtype=np.int32),
            np.frombuffer(value, dtype=float) if value else np.zeros(0),
        )

    def callSolver(self, lp: pulp.LpProblem) -> None:  # noqa: N802 (PuLP API name)
        import highspy

        if self.end is not None:
            left = max(settings.HIGHS_MIN_S, self.end - time.perf_counter())
            lp.solverModel.setOptionValue("time_limit", left)
        if not lp.isMIP():
            lp.solverModel.setOptionValue("solver", settings.HIGHS_LP_SOLVER)
        else:
            lp.solverModel.setOptionValue("mip_lp_solver", self.mip_lp)

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
    read = objective_value(prob)
    return abs(own - read) <= 1e-6 * max(1.0, abs(own))
