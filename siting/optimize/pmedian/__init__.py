"""p-median: :class:`PMedian` (``model.py``), its reduced and side-constrained
solves (``_solve.py``), the Benders engine (``_benders.py``), the Lagrangian bound and
branch-and-bound (``_lagrangian.py``), the greedy and swap searches (``_heuristics.py``)
and their compiled kernels (``_kernels.py``, numba)."""

from siting.optimize.pmedian.model import PMedian

__all__ = ["PMedian"]
