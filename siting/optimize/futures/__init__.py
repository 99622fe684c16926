"""Plans over futures: stations added year by year on growing demand
(:class:`StagedPlan`, ``staged.py``) and the plan that holds up across demand
futures (``robust.py``)."""

from siting.optimize.futures.robust import RobustPlan
from siting.optimize.futures.staged import StagedPlan, StagedResult, stage_regret

__all__ = ["RobustPlan", "StagedPlan", "StagedResult", "stage_regret"]
