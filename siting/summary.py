"""The run summary: the few lines the command prints at the end of a run, read from
its ``kpis.json`` figures (plan, coverage, service per segment, costs, station
economics, minimum plans, stages and futures, access, solver)."""

from __future__ import annotations

from typing import Any

from siting.economics import economics_lines
from siting.futures.report import futures_lines, stage_line


def _minimum_text(m: dict[str, Any]) -> str:
    """One minimum plan for the run summary: its size and cost, and how sure it is."""
    text = f"{m['stations']} stations ({m['stations_ac']} AC, {m['stations_dc']} DC)"
    if m.get("capital_cost") is not None:
        text += f", {m['capital_cost']:,.0f}"
    if m["status"] == "optimal":
        return text + " (proven least)"
    bound = m.get("lower_bound")
    if bound is None:
        return text + f" ({m['status']}, no bound proven)"
    what = "cost" if m.get("objective") == "cost" else "station count"
    return (
        text + f" ({m['status']}, not proven: the least {what} is at least {bound:,.0f}, "
        f"gap {100 * (m.get('gap') or 0):.1f}%)"
    )


def summary(kpis: dict[str, Any]) -> str:
    """A few lines for the terminal at the end of a run."""
    solver = kpis["solver"]
    return "\n".join(
        [
            f"plan {kpis['scenario']}: {kpis['stations']} stations "
            f"({kpis['stations_existing']} existing, {kpis['stations_new']} new) "
            f"from {kpis['candidates']} candidates",
            f"  demand within {kpis['threshold_min']:g} min: {100 * kpis['coverage_share']:.1f}% "
            f"of {kpis['demand_total']:,.0f} sessions/day",
            *(
                [
                    f"  out of reach: {100 * reach['share']:.1f}% of demand "
                    f"({reach['points']} points) has no candidate site within "
                    f"{reach['limit_min']:g} min ({reach['field']}); no plan can cover it"
                ]
                if (reach := kpis.get("out_of_reach")) and reach["share"] > 0
                else []
            ),
            *(
                [
                    f"  served under station capacity: {100 * kpis['served']['share']:.1f}% "
                    f"({kpis['served']['sessions_day']:,.0f} sessions/day; stations "
                    + ", ".join(f"{t} {n}" for t, n in kpis["served"]["stations_by_type"].items())
                    + f"; mean utilisation {100 * kpis['served']['mean_utilisation']:.0f}%)"
                ]
                if "served" in kpis
                else []
            ),
            *(
                [
                    "  stations by design: "
                    + ", ".join(
                        f"{n} {k} ({kpis['served']['sessions_day_by_design'][n]:,.0f} sessions/day)"
                        for n, k in kpis["served"]["stations_by_design"].items()
                    )
                ]
                if "stations_by_design" in kpis.get("served", {})
                else []
            ),
            *segment_lines(kpis),
            *controls_lines(kpis.get("controls")),
            *(
                [
                    f"  plans that pay (optimize.viable): the plan builds {v['new_built']} of "
                    f"the {v['new_allowed']} new stations it may, each paying back within the "
                    "lease (the most served with every new station paying back)"
                ]
                if (v := kpis.get("viable") or {}).get("on")
                else []
            ),
            *(
                [
                    f"  capital cost: {c['plan_capital_cost']:,.0f} {c['currency']} "
                    f"({c['cost_per_session_day'] or 0:,.0f} per session/day); plan chosen by "
                    f"{kpis.get('plan_choice', {}).get('rule', '')}"
                    + choice_note(kpis.get("plan_choice", {}))
                ]
                if (c := kpis.get("costs") or {}).get("currency")
                else []
            ),
            *economics_lines(kpis.get("economics") or {}),
            *(
                f"  minimum plan, {m['preset']}, {100 * m['target_share']:.0f}% in reach: "
                + (
                    _minimum_text(m)
                    if m["status"] not in ("infeasible", "not solved")
                    else ("out of reach: " if m["status"] == "infeasible" else "not solved: ")
                    + m["explanation"].split(": ", 1)[-1]
                )
                for m in kpis.get("minimum") or []
            ),
            *(stage_line(st) for st in (kpis.get("staging") or {}).get("stages", [])),
            *(futures_lines(kpis["futures"]) if kpis.get("futures") else []),
            *(
                [f"  existing stations: {ex['note']}"]
                if (ex := kpis.get("existing") or {}).get("note")
                else []
            ),
            f"  access time: mean {kpis['mean_access_min']:.1f} min, "
            f"95th percentile {kpis['p95_access_min']:.1f} min",
            f"  solver: {solver['label']} in {solver['solve_s']:.1f} s"
            + (
                " (read from the cache: the same model solved before)"
                if solver.get("cached")
                else ""
            ),
            *final_order_lines(solver.get("final_order")),
            f"  total {kpis['timings_s']['total']:.1f} s",
        ]
    )


def final_order_lines(order: dict[str, Any] | None) -> list[str]:
    """The summary's line on the final order among plans of equal value."""
    if not order or not order.get("applied"):
        return []
    return [
        f"  final order: {order['moved']} station(s) moved to preferred sites"
        + (f" ({order['exchanges']} by exchange)" if order.get("exchanges") else "")
        + " without "
        f"changing what the plan serves (demand within reach {order['covered_before']:,.0f} "
        f"-> {order['covered_after']:,.0f} sessions/day), so that solvers and machines "
        "write the same plan (kpis.json solver.final_order)"
    ]


def controls_lines(c: dict[str, Any] | None) -> list[str]:
    """The summary's line on forced and excluded sites against the free optimum."""
    if not c:
        return []
    lost = c["free_served_sessions_day"] - c["served_sessions_day"]
    extra = c["capital_cost"] - c["free_capital_cost"]
    return [
        f"  forced {len(c['forced'])} sites, excluded {c['excluded']}: "
        f"{c['served_sessions_day']:,.0f} sessions/day served against "
        f"{c['free_served_sessions_day']:,.0f} by the best plan without them "
        f"({lost:+,.0f} lost, capital {extra:+,.0f}; {c['sites_differ']} sites differ; "
        f"free optimum {c['free_status']})",
        *(f"    {note}" for note in c.get("notes", [])),
        *(
            f"    swap {w['out']} -> {w['in']}: {w['gain_sessions_day']:+,.1f} sessions/day "
            f"({w['status']})"
            for w in c.get("swaps", [])
        ),
    ]


def choice_note(choice: dict[str, Any]) -> str:
    """What the summary adds to the rule that chose the plan: a straight frontier
    leaves the knee nothing to choose."""
    if not choice.get("straight"):
        return ""
    if choice.get("rule") == "knee":
        return (
            " (the frontier is straight: every step buys about the same, so the knee has "
            "nothing to choose and the cheapest point is taken; choose by 'budget', "
            "'max_served' or 'marginal' with optimize.choose.max_marginal_cost)"
        )
    return " (the frontier is straight: every step buys about the same)"


def segment_lines(kpis: dict[str, Any]) -> list[str]:
    """The summary's lines on each segment's demand served and covered, and the
    assumption they rest on (none for a run without kpis.json ``segments``)."""
    block = kpis.get("segments") or {}
    rows = block.get("by_segment") or {}
    if not rows:
        return []
    own = any("max_trip_min" in r for r in rows.values())
    reach = (
        "within its own longest trip of a station design it can use"
        if own
        else f"within {kpis['threshold_min']:g} min of a station the segment can use"
    )
    lines = [f"  served by segment (covered: {reach})*:"]
    for name, r in rows.items():
        trip = f", {r['max_trip_min']:g} min" if own else ""
        lines.append(
            f"    {name} ({r['charger']}{trip}): {_share(r['served_share'])} served, "
            f"{_share(r['covered_share'])} covered ({_sessions(r['served_sessions_day'])} of "
            f"{_sessions(r['demand_sessions_day'])} sessions/day served)"
        )
    lines.append(f"    * {block.get('note', '')} (kpis.json segments.assumption)")
    return lines


def _share(value: float | None) -> str:
    return "—" if value is None else f"{100 * value:.1f}%"


def _sessions(value: float) -> str:
    """Sessions per day: one decimal below 100, whole numbers above."""
    return f"{value:,.1f}" if abs(value) < 100 else f"{value:,.0f}"
