"""Private: what a solver run proved (:class:`SolveInfo`) and the small readings
shared by the HiGHS (:mod:`siting.optimize._solvers`) and CBC
(:mod:`siting.optimize._cbc`) runners."""

from __future__ import annotations

from dataclasses import dataclass

import pulp

from siting.errors import SolverError, TimeLimitError


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
        if self.gap is not None and self.gap > 1e3 and self.bound is not None:
            # a plan worth (nearly) nothing against a bound: the ratio says nothing
            gap = f"objective {self.objective:.6g} against a bound of {self.bound:.6g}"
        if self.status == "infeasible":
            return "infeasible"
        if self.status == "optimal":
            return f"optimal ({gap}, tolerance {100 * self.gap_tolerance:.2g}%)"
        why = f" ({self.stopped_by})" if self.stopped_by else ""
        return f"feasible, {gap}{why}"


def no_plan_error(solver: str, status: str, *, timed: bool) -> SolverError:
    """The error of a solve that ended with no plan: a time limit (the user can raise
    it) or a solver failure, named by the solver's own status."""
    if timed:
        return TimeLimitError(
            f"{solver} stopped by its time limit before it found a plan; "
            "raise the time limit (optimize.time_limit_s) or relax the request"
        )
    return SolverError(f"{solver} failed with no plan (model status {status!r})")


def objective_value(prob: pulp.LpProblem) -> float:
    """The objective's value; 0 for a problem whose objective has no terms (everything
    it could count is already a constant, e.g. all demand covered by existing sites),
    where PuLP gives None."""
    value = pulp.value(prob.objective) if prob.objective is not None else None
    return float(value) if value is not None else 0.0


def infeasible(solver: str, tol: float) -> SolveInfo:
    """The report of a problem the solver proved infeasible."""
    nan = float("nan")
    return SolveInfo("infeasible", nan, None, None, solver, 0.0, tol, None)


def relative_gap(objective: float, bound: float | None) -> float | None:
    """``|bound - objective| / |objective|`` (None without a bound)."""
    if bound is None:
        return None
    return abs(bound - objective) / max(abs(objective), 1e-10)
