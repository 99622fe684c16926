"""Minimum plans: :class:`MinimumPlan` (``model.py``), how many stations a
target takes; the typed set covering it solves without capacities (``_cover.py``)."""

from siting.optimize.minimum.model import MinimumPlan

__all__ = ["MinimumPlan"]
