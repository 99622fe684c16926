"""Maximal covering: :class:`MaximalCovering` (``model.py``), its rows and
reduction (``_rows.py``, ``_solve.py``), the Benders engine (``_benders.py``) over
the clients (``_clients.py``), the greedy, swap and perturbation searches and the
Lagrangian bound (``_heuristics.py``)."""

from siting.optimize.covering.model import MaximalCovering

__all__ = ["MaximalCovering"]
