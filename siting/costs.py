"""Capital and operating cost of stations, from the scenario's ``[costs]`` section."""

from __future__ import annotations

from siting.sections import CapacityConfig, CostsConfig


def station_costs(costs: CostsConfig | None, capacity: CapacityConfig) -> dict[str, float]:
    """Capital cost of a new station of each type that may be built.

    ``site_works + ports × port[t] + ports × kW[t] × grid_per_kw``; all zero
    without a ``[costs]`` section.

    Parameters
    ----------
    costs
        The scenario's cost figures (one currency).
    capacity
        Ports per station and charger power per type.
    """
    if costs is None:
        return dict.fromkeys(capacity.types, 0.0)
    kw = {"AC": capacity.ac_kw, "DC": capacity.dc_kw}
    ports: dict[str, float] = {str(k): float(v) for k, v in costs.port.items()}
    out: dict[str, float] = {}
    for t in capacity.types:
        port = ports.get(t, 0.0)
        out[t] = costs.site_works + capacity.ports * (port + kw[t] * costs.grid_per_kw)
    return out


def cost_breakdown(costs: CostsConfig | None, capacity: CapacityConfig) -> dict[str, object]:
    """The parts of each station type's capital cost, for kpis.json and the map."""
    per_type = station_costs(costs, capacity)
    kw = {"AC": capacity.ac_kw, "DC": capacity.dc_kw}
    if costs is None:
        return {"currency": None, "station": per_type, "note": "no [costs] section: costs are 0"}
    return {
        "currency": costs.currency,
        "station": {t: round(c, 2) for t, c in per_type.items()},
        "parts": {
            t: {
                "site_works": costs.site_works,
                "ports": round(capacity.ports * dict(costs.port).get(t, 0.0), 2),  # type: ignore[call-overload]
                "grid_connection": round(capacity.ports * kw[t] * costs.grid_per_kw, 2),
            }
            for t in per_type
        },
        "opex_share_year": costs.opex_share_year,
        "source": costs.source,
    }


def opex_year(capital: float, costs: CostsConfig | None) -> float:
    """Yearly operating cost of stations of total capital cost ``capital``."""
    return 0.0 if costs is None else capital * costs.opex_share_year
