"""The plan's figures per user group (segment): each segment's demand, the demand
covered and served, their shares and energy, and the assumption they rest on."""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from siting.demand import charger_demand
from siting.metrics import within
from siting.segments import Segment
from siting.travel import TravelTimes

#: What the per-segment figures of a plan with station types rest on (kpis.json
#: ``segments.assumption``, the README and the run summary say it too).
SEGMENT_ASSUMPTION = (
    "The capacitated model serves AC and DC sessions at each demand point, not segments: "
    "the AC sessions served at a point are shared among the AC segments there in proportion "
    "to their AC demand at that point, and the DC sessions among the DC segments likewise. "
    "Covered: within the threshold of an open station of a type the segment can use "
    "(AC segments any station, DC segments a DC station)."
)
#: The same for a plan with station designs, where the model serves each segment.
SEGMENT_BASIS_DESIGNS = (
    "The capacitated model with station designs serves each segment as a demand class of "
    "its own: served is the model's. Covered: within the segment's own longest trip "
    "(demand.<segment>.max_trip_min, else optimize.threshold_min) of an open station of a "
    "design it can use."
)
#: The same for a plan without station types or capacities (mclp, pmedian).
SEGMENT_ASSUMPTION_UNTYPED = (
    "The model has no station types or capacities: every segment counts as covered and "
    "served where it is within the threshold of any chosen station (served = covered, as "
    "for the plan's total)."
)


def segment_figures(
    demand: pd.DataFrame,
    segments: dict[str, Segment],
    tt: TravelTimes,
    selected: np.ndarray,
    *,
    threshold_s: float,
    types: np.ndarray | None = None,
    served_ac: np.ndarray | None = None,
    served_dc: np.ndarray | None = None,
    by_segment: dict[str, tuple[float, np.ndarray, np.ndarray]] | None = None,
) -> tuple[dict[str, Any], pd.DataFrame]:
    """Each segment's demand, the demand covered and served, their shares and energy.

    Covered is the segment's demand within ``threshold_s`` of an open station of a
    type it can use: AC segments charge at any station, DC segments at a DC station
    (with no ``types``, at any station). Served, with the model's AC and DC sessions
    served per point (``served_ac``, ``served_dc``: the capacitated model), splits
    each point's AC sessions served over its AC segments in proportion to their
    demand there, and the DC sessions likewise (:data:`SEGMENT_ASSUMPTION`), so the
    segments' served sum to the plan's; without them, served is covered, as for the
    plan's total (:data:`SEGMENT_ASSUMPTION_UNTYPED`).

    Parameters
    ----------
    demand
        Demand points with ``<segment>_sessions_day`` per segment
        (:func:`siting.demand.build_demand`).
    segments
        The demand's segments, by name.
    tt
        Travel times from the demand points to the candidate sites.
    selected
        Candidate indices of the open stations.
    threshold_s
        Drive time within which a station covers a point.
    types
        ``"AC"`` or ``"DC"`` per open station, in the order of ``selected``.
    served_ac, served_dc
        AC and DC sessions per day served at each demand point.
    by_segment
        With station designs, per segment: its own longest trip (seconds), whether
        each open station's design serves it (in the order of ``selected``) and its
        sessions per day served at each point (the model serves each segment as a
        class of its own: no split needed, :data:`SEGMENT_BASIS_DESIGNS`).

    Returns
    -------
    figures
        kpis.json's ``segments`` block: ``basis``, ``assumption`` (and ``note``, its
        short form for the summary and the map) and ``by_segment``
        (per segment ``charger``, ``demand_sessions_day``, ``covered_sessions_day``,
        ``covered_share``, ``served_sessions_day``, ``served_share``,
        ``kwh_per_session``, ``demand_kwh_day``, ``served_kwh_day``).
    per_point
        Per demand point (same order as ``demand``), ``<segment>_covered`` and
        ``<segment>_served`` in sessions per day.
    """
    # kept whole: a short body under its numpydoc docstring (most of its length)
    if by_segment is not None:
        return _own_classes(demand, segments, tt, selected, by_segment)
    sel = np.asarray(selected, dtype=np.int64)
    nb = tt.neighbours(threshold_s)
    near_any = within(nb, sel)
    near = {"AC": near_any, "DC": near_any}
    if types is not None:
        near["DC"] = within(nb, sel[np.asarray(types).astype(str) == "DC"])
    capacitated = served_ac is not None and served_dc is not None
    by_kind = dict(zip(("AC", "DC"), charger_demand(demand, segments), strict=True))
    flows = {"AC": served_ac, "DC": served_dc}
    per_point = pd.DataFrame(index=demand.index)
    rows: dict[str, dict[str, Any]] = {}
    for name, seg in segments.items():
        sess = demand[f"{name}_sessions_day"].to_numpy(float)
        covered = np.where(near[seg.charger], sess, 0.0)
        flow = flows[seg.charger]
        if capacitated and flow is not None:
            kind = by_kind[seg.charger]
            part = np.divide(sess, kind, out=np.zeros(len(sess)), where=kind > 0)
            served = np.asarray(flow, dtype=float) * part
        else:
            served = covered
        per_point[f"{name}_covered"] = covered
        per_point[f"{name}_served"] = served
        rows[name] = _row(seg, sess, covered, served)
    figures = {
        "basis": "capacitated model's AC and DC sessions served, split by segment"
        if capacitated
        else "demand within the threshold (served = covered)",
        "assumption": SEGMENT_ASSUMPTION if capacitated else SEGMENT_ASSUMPTION_UNTYPED,
        "note": "AC (DC) sessions served at a point shared among its AC (DC) segments in "
        "proportion to their demand there"
        if capacitated
        else "served = within the threshold of any chosen station (no types or capacities)",
        "by_segment": rows,
    }
    return figures, per_point


def _own_classes(
    demand: pd.DataFrame,
    segments: dict[str, Segment],
    tt: TravelTimes,
    selected: np.ndarray,
    by_segment: dict[str, tuple[float, np.ndarray, np.ndarray]],
) -> tuple[dict[str, Any], pd.DataFrame]:
    """:func:`segment_figures` of a plan with designs: each segment its own class."""
    sel = np.asarray(selected, dtype=np.int64)
    per_point = pd.DataFrame(index=demand.index)
    rows: dict[str, dict[str, Any]] = {}
    for name, seg in segments.items():
        sess = demand[f"{name}_sessions_day"].to_numpy(float)
        limit, usable, served = by_segment[name]
        covered = np.where(within(tt.neighbours(limit), sel[np.asarray(usable, bool)]), sess, 0.0)
        per_point[f"{name}_covered"] = covered
        per_point[f"{name}_served"] = np.asarray(served, dtype=float)
        rows[name] = _row(seg, sess, covered, np.asarray(served, dtype=float))
        rows[name]["max_trip_min"] = round(limit / 60.0, 3)
    figures = {
        "basis": "capacitated model with designs: each segment served as a class of its own",
        "assumption": SEGMENT_BASIS_DESIGNS,
        "note": "each segment within its own longest trip of a station design it can use",
        "by_segment": rows,
    }
    return figures, per_point


def _row(seg: Segment, sess: np.ndarray, covered: np.ndarray, served: np.ndarray) -> dict[str, Any]:
    """One segment's figures from its sessions per point: demand, covered, served."""
    total, cov, srv = float(sess.sum()), float(covered.sum()), float(served.sum())
    return {
        "charger": seg.charger,
        "demand_sessions_day": round(total, 3),
        "covered_sessions_day": round(cov, 3),
        "covered_share": round(cov / total, 6) if total else None,
        "served_sessions_day": round(srv, 3),
        "served_share": round(srv / total, 6) if total else None,
        "kwh_per_session": seg.kwh_per_session,
        "demand_kwh_day": round(total * seg.kwh_per_session, 1),
        "served_kwh_day": round(srv * seg.kwh_per_session, 1),
    }
