"""How to solve: one :class:`SolveOptions` for the solver, its time limit, gap
tolerance, threads and log, passed from a model's ``solve`` down to the solver."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any

from siting.errors import InputError

#: The solvers a model can run.
SOLVERS = ("highs", "cbc")


@dataclass(frozen=True)
class SolveOptions:
    """How a model is solved.

    Attributes
    ----------
    solver
        ``"highs"`` (default) or ``"cbc"``.
    time_limit
        Seconds for the whole solve, or None for no limit; a solve stopped by it is
        reported ``feasible`` with its gap, never ``optimal``.
    gap
        Relative optimality gap at which the solver may stop.
    threads
        Solver threads, or None for ``siting.settings.HIGHS_THREADS``.
    msg
        Show the solver's log.
    mip_lp
        HiGHS's method for the linear programs of an integer program: ``"choose"``
        (its default, dual simplex) or ``"ipm"`` (interior point: a root LP that a
        short time limit can stop; the simplex one cannot be). CBC ignores it.
    """

    solver: str = "highs"
    time_limit: float | None = None
    gap: float = 1e-4
    threads: int | None = None
    msg: bool = False
    mip_lp: str = "choose"

    def __post_init__(self) -> None:
        name, tol = check_options(self.solver, self.time_limit, self.gap)
        object.__setattr__(self, "solver", name)
        object.__setattr__(self, "gap", tol)
        if self.mip_lp not in ("choose", "ipm"):
            raise InputError(f"mip_lp: expected 'choose' or 'ipm', got {self.mip_lp!r}")

    @classmethod
    def of(
        cls,
        solver: str | SolveOptions | None = None,
        *,
        time_limit: float | None = None,
        gap: float | None = None,
        threads: int | None = None,
        msg: bool = False,
    ) -> SolveOptions:
        """The options of a ``solve(solver, *, time_limit, gap, threads, msg)`` call.

        ``solver`` may itself be a :class:`SolveOptions`; keywords given beside it
        replace its fields.
        """
        if isinstance(solver, SolveOptions):
            given: dict[str, Any] = {"time_limit": time_limit, "gap": gap, "threads": threads}
            changes = {k: v for k, v in given.items() if v is not None}
            if msg:
                changes["msg"] = True
            return solver.but(**changes) if changes else solver
        return cls(
            "highs" if solver is None else solver,
            time_limit,
            1e-4 if gap is None else gap,
            threads,
            msg,
        )

    def but(self, **changes: Any) -> SolveOptions:
        """A copy with ``changes`` (for example another ``time_limit``)."""
        return dataclasses.replace(self, **changes)


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
