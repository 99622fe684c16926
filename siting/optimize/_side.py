"""Side constraints shared by the models: spacing, district equity, budget."""

from __future__ import annotations

import numpy as np
import pulp

from siting.errors import InfeasibleError, InputError
from siting.optimize._checks import as_real, check_number, shown, site_indices
from siting.optimize._common import _add_p_sites


def close_pairs(xy: np.ndarray, min_spacing: float) -> np.ndarray:
    """Pairs (j, k), j < k, of sites closer than ``min_spacing`` (same units as ``xy``)."""
    from scipy.spatial import cKDTree

    if min_spacing <= 0 or len(xy) < 2:
        return np.empty((0, 2), dtype=np.int64)
    pairs = cKDTree(xy).query_pairs(min_spacing - 1e-9, output_type="ndarray")
    return np.asarray(pairs, dtype=np.int64).reshape(-1, 2)


class _SideConstraints:
    """Spacing and equity rows shared by the covering and capacitated models.

    ``spacing_pairs``: no two sites of a pair may both be open. ``equity``: each
    group of demand points (e.g. a district) must have at least its share of
    demand covered (covering model) or served (capacitated model).
    """

    spacing_pairs: np.ndarray
    groups: np.ndarray | None
    equity_share: float
    budget: float | None

    def set_side_constraints(
        self,
        *,
        spacing_pairs: np.ndarray | None,
        groups: np.ndarray | None,
        equity_share: float,
        fixed: np.ndarray,
        weights: np.ndarray,
        reachable: np.ndarray,
        n_sites: int | None = None,
    ) -> None:
        """Check and keep the spacing pairs (site indices, below ``n_sites`` when
        given) and the equity groups."""
        pairs = np.asarray(spacing_pairs if spacing_pairs is not None else np.empty((0, 2)))
        if pairs.size and (pairs.ndim != 2 or pairs.shape[1] != 2):
            raise InputError(
                f"spacing_pairs: expected (n, 2) pairs of site indices, got shape {pairs.shape}"
            )
        top = int(np.iinfo(np.int64).max) if n_sites is None else n_sites
        self.spacing_pairs = site_indices(pairs, top, "spacing_pairs").reshape(-1, 2)
        fixed_set = set(fixed.tolist())
        for j, k in self.spacing_pairs.tolist():
            if j in fixed_set and k in fixed_set:
                raise InfeasibleError(
                    f"optimize.min_spacing_m: existing stations {j} and {k} are closer than the "
                    "minimum spacing; lower it or drop one of them"
                )
        share = as_real(equity_share)
        if share is None or not 0.0 <= share <= 1.0:
            raise InputError(
                f"optimize.equity_share: expected a share in [0, 1], got {shown(equity_share)}"
            )
        self.groups = None if groups is None else np.asarray(groups, dtype=object)
        self.equity_share = share
        if self.groups is not None and equity_share > 0:
            if len(self.groups) != len(weights):
                raise InputError("groups: expected one district per demand point")
            for g in sorted(set(self.groups.tolist())):
                mask = self.groups == g
                total = float(weights[mask].sum())
                best = float(weights[mask & reachable].sum())
                if total > 0 and best < equity_share * total - 1e-9:
                    raise InfeasibleError(
                        f"optimize.equity_share = {equity_share:g} cannot be met in district "
                        f"{g!r}: only {100 * best / total:.1f}% of its demand has a candidate "
                        "site within the threshold"
                    )

    def set_budget(
        self,
        budget: float | None,
        site_cost: float | np.ndarray | None,
        n_sites: int,
        fixed: np.ndarray,
    ) -> None:
        """A budget on the cost of the new sites; with it, ``p`` is the largest number of sites.

        Existing (fixed) sites are sunk costs: they cost nothing against the budget.
        """
        self.budget = None if budget is None else check_number(budget, "budget", at_least=0.0)
        self.site_cost = None
        if budget is None:
            return
        if site_cost is None:
            raise InputError("site_cost: a budget needs the cost of each site")
        arr = np.asarray(site_cost)
        if arr.dtype.kind not in "iuf" or arr.shape not in ((), (n_sites,)):
            raise InputError(
                f"site_cost: expected one cost or one per site ({n_sites}), finite and >= 0, "
                f"got {shown(site_cost)} ({type(site_cost).__name__})"
            )
        cost = np.broadcast_to(arr.astype(float), (n_sites,)).copy()
        if not np.all(np.isfinite(cost)) or (cost < 0).any():
            raise InputError(f"site_cost: expected finite costs >= 0, got {shown(site_cost)}")
        cost[fixed] = 0.0  # existing stations are sunk costs
        self.site_cost = cost

    def add_budget(self, prob: pulp.LpProblem, y: list[pulp.LpVariable]) -> None:
        """Add the budget row (nothing without a budget)."""
        if self.budget is None or self.site_cost is None:
            return
        prob += pulp.LpConstraint(
            pulp.LpAffineExpression(
                [(v, float(c)) for v, c in zip(y, self.site_cost, strict=True) if c]
            ),
            pulp.LpConstraintLE,
            "budget",
            float(self.budget),
        )

    def explain_infeasible(self, what: str) -> str:
        """Name the side constraints that, with p and the capacities, leave no plan."""
        parts = []
        if self.groups is not None and self.equity_share > 0:
            parts.append(f"optimize.equity_share = {self.equity_share:g} in every district")
        if len(self.spacing_pairs):
            parts.append(f"optimize.min_spacing_m ({len(self.spacing_pairs)} site pairs too close)")
        if getattr(self, "budget", None) is not None:
            parts.append(f"optimize.budget ({self.budget:,.0f})")
        forced = getattr(self, "forced", ())
        if len(forced):
            parts.append(f"the {len(forced)} forced sites")
        if getattr(self, "min_use", None):
            parts.append("each new station's least use (its payback)")
        if not parts:
            return f"{what} has no feasible plan"
        return f"{what} has no plan meeting " + " and ".join(parts) + "; relax one of them"

    def plain(self) -> bool:
        """No spacing, equity or budget rows: the large-instance methods apply."""
        return (
            len(self.spacing_pairs) == 0
            and (self.groups is None or self.equity_share <= 0)
            and self.budget is None
        )

    def add_side_constraints(
        self,
        prob: pulp.LpProblem,
        open_expr: list[pulp.LpAffineExpression],
        served: dict[int, list[tuple[pulp.LpVariable, float]]],
        weights: np.ndarray,
        served_constant: np.ndarray | None = None,
    ) -> None:
        """Add spacing rows (on ``open_expr[j]``) and equity rows.

        Point ``i`` serves ``served[i]`` (terms) plus ``served_constant[i]``.
        """
        for j, k in self.spacing_pairs.tolist():
            prob += pulp.LpConstraint(
                open_expr[j] + open_expr[k], pulp.LpConstraintLE, f"spacing_{j}_{k}", 1.0
            )
        if self.groups is None or self.equity_share <= 0:
            return
        for g in sorted(set(self.groups.tolist())):
            idx = np.flatnonzero(self.groups == g)
            total = float(weights[idx].sum())
            if total <= 0:
                continue
            terms = [t for i in idx.tolist() for t in served.get(i, [])]
            const = float(served_constant[idx].sum()) if served_constant is not None else 0.0
            prob += pulp.LpConstraint(
                pulp.LpAffineExpression(terms),
                pulp.LpConstraintGE,
                f"equity_{g}",
                self.equity_share * total - const,
            )

    def add_site_rows(
        self,
        prob: pulp.LpProblem,
        y: list[pulp.LpVariable],
        p: int,
        served: dict[int, list[tuple[pulp.LpVariable, float]]],
        weights: np.ndarray,
        served_constant: np.ndarray | None,
    ) -> None:
        """The rows every one-type model ends with: spacing and equity, ``p`` sites
        (at most ``p`` with a budget) and the budget."""
        opened = [pulp.LpAffineExpression([(v, 1.0)]) for v in y]
        self.add_side_constraints(prob, opened, served, weights, served_constant)
        _add_p_sites(prob, y, p, at_most=self.budget is not None)
        self.add_budget(prob, y)
