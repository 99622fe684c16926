"""Private: the Benders master problem in HiGHS, shared by the p-median
(:mod:`siting.optimize.pmedian._benders`) and the maximal covering
(:mod:`siting.optimize.covering._benders`) decompositions: site columns with their
``p`` row, the cut variables' columns, cut rows, a starting plan, the switch to
integer sites, reduced costs and fixing.
"""

from __future__ import annotations

import numpy as np

from siting.errors import SolverError
from siting.optimize import _solvers


class HighsMaster:
    """A Benders master in HiGHS: ``n_sites`` site columns (``fixed`` ones at 1) with
    their ``p`` row, then the columns of the cut variables; shared by the p-median
    (:class:`_Master`) and the covering master (:mod:`siting.optimize.covering._benders`)."""

    def __init__(
        self,
        n_sites: int,
        p: int,
        fixed: np.ndarray,
        threads: int | None,
        *,
        costs: np.ndarray,
        lower: np.ndarray,
        upper: np.ndarray,
        maximize: bool = False,
    ) -> None:
        import highspy

        _solvers.quiet_banner()
        self.highspy = highspy
        self.n_sites = n_sites
        h = highspy.Highs()
        h.setOptionValue("output_flag", False)
        h.setOptionValue("threads", _solvers.thread_count(threads))
        lower_y = np.zeros(n_sites)
        lower_y[fixed] = 1.0
        n = n_sites + len(costs)
        empty = np.zeros(n + 1, dtype=np.int64)
        h.addCols(
            n,
            np.concatenate([np.zeros(n_sites), costs]),
            np.concatenate([lower_y, lower]),
            np.concatenate([np.ones(n_sites), upper]),
            0,
            empty,
            empty[:0],
            np.zeros(0),
        )
        if maximize:
            h.changeObjectiveSense(highspy.ObjSense.kMaximize)
        h.addRows(
            1,
            np.array([float(p)]),
            np.array([float(p)]),
            n_sites,
            np.array([0], dtype=np.int64),
            np.arange(n_sites, dtype=np.int64),
            np.ones(n_sites),
        )
        self.h = h
        self.n_cuts = 0

    def add_cuts(
        self,
        theta: np.ndarray,
        lower: np.ndarray,
        upper: np.ndarray,
        starts: np.ndarray,
        index: np.ndarray,
        value: np.ndarray,
    ) -> None:
        """Rows ``lower <= theta_c + sum(value * y[index]) <= upper``, one per entry of
        ``theta`` (the cut variable's number c); row k's site terms are the entries
        ``starts[k]:starts[k + 1]`` of ``index`` and ``value``."""
        k = len(theta)
        if k == 0:
            return
        lengths = np.diff(starts) + 1
        row = np.concatenate([[0], np.cumsum(lengths)])
        idx = np.empty(row[-1], dtype=np.int64)
        val = np.empty(row[-1])
        idx[row[:-1]] = self.n_sites + np.asarray(theta)
        val[row[:-1]] = 1.0
        rest = np.ones(row[-1], dtype=bool)
        rest[row[:-1]] = False
        idx[rest] = index
        val[rest] = value
        self.h.addRows(k, lower, upper, int(row[-1]), row[:-1], idx, val)
        self.n_cuts += k

    def set_start(self, x: np.ndarray) -> None:
        """Hand HiGHS the point ``x`` (every column) as its starting solution."""
        sol = self.highspy.HighsSolution()
        sol.col_value = np.asarray(x, dtype=float).tolist()
        sol.value_valid = True
        self.h.setSolution(sol)

    def solve(self, time_limit: float | None) -> tuple[np.ndarray, np.ndarray, float, bool]:
        """Solve; return the sites' values, the cut variables' values, the objective
        and whether HiGHS proved it optimal."""
        h = self.h
        h.setOptionValue("time_limit", max(time_limit, 0.05) if time_limit is not None else np.inf)
        with _solvers.fresh_scheduler():
            h.run()
        status = h.getModelStatus()
        if status not in self._stopped_ok():
            # never read as a bound or a plan: a failed master proves nothing
            raise SolverError(
                "HiGHS failed on the Benders master "
                f"(model status {h.modelStatusToString(status)!r})"
            )
        x = np.asarray(h.getSolution().col_value)
        optimal = status == self.highspy.HighsModelStatus.kOptimal
        n_s = self.n_sites
        return x[:n_s], x[n_s:], float(h.getInfo().objective_function_value), optimal

    def _stopped_ok(self) -> set[object]:
        """The model statuses of a run that ended as asked: solved, or stopped by a limit."""
        st = self.highspy.HighsModelStatus
        return {st.kOptimal, st.kTimeLimit, st.kIterationLimit, st.kInterrupt, st.kSolutionLimit}

    def make_integer(self, gap: float) -> None:
        """Sites binary from now on, solved to the relative ``gap``."""
        n_s = self.n_sites
        ints = np.full(n_s, self.highspy.HighsVarType.kInteger)
        self.h.changeColsIntegrality(n_s, np.arange(n_s), ints)
        self.h.setOptionValue("mip_rel_gap", gap)

    def dual_bound(self) -> float | None:
        """The integer solve's proven bound (None when HiGHS has none)."""
        raw = float(self.h.getInfo().mip_dual_bound)
        return raw if abs(raw) < 1e300 else None

    def reduced_costs(self) -> np.ndarray:
        """The sites' reduced costs at the last linear solve."""
        return np.asarray(self.h.getSolution().col_dual)[: self.n_sites]

    def fix(self, sites: np.ndarray, value: float) -> None:
        """Fix the columns of ``sites`` at ``value``."""
        if len(sites):
            v = np.full(len(sites), value)
            self.h.changeColsBounds(len(sites), np.asarray(sites, dtype=np.int64), v, v)
