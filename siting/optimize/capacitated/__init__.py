"""Capacitated coverage: :class:`CapacitatedCoverage` (``model.py``), its rows
(``_rows.py``), the direct and merged solves (``_solve.py``), the large-instance
engine (``_large.py``) with its transport flow (``_flow.py``), and the greedy plan
(``_greedy.py``)."""

from siting.optimize.capacitated.model import CapacitatedCoverage

__all__ = ["CapacitatedCoverage"]
