"""Capital and operating cost of stations, from the scenario's ``[costs]`` section."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Protocol

from siting.sections import CapacityConfig, CostsConfig


class _Design(Protocol):
    """What :func:`design_breakdown` reads of a design (a
    :class:`siting.designs.DesignSpec`, which imports this module)."""

    @property
    def name(self) -> str: ...

    @property
    def charger(self) -> str: ...

    @property
    def ports(self) -> int: ...

    @property
    def kw_per_port(self) -> float: ...

    @property
    def cost(self) -> float: ...

    @property
    def source(self) -> str: ...

    @property
    def capacity_h(self) -> float: ...

    @property
    def cost_parts(self) -> Mapping[str, float]: ...

    @property
    def segments(self) -> Sequence[str]: ...

    @property
    def site_kinds(self) -> Sequence[str] | None: ...

    @property
    def station_kw(self) -> float: ...

    def sessions(self, segment: str) -> float: ...


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


def station_cost_parts(
    costs: CostsConfig | None, capacity: CapacityConfig
) -> dict[str, dict[str, float]]:
    """The parts of :func:`station_costs` per station type: ``site_works``, ``ports``
    (ports × port cost) and ``grid_connection`` (ports × kW × grid cost per kW); no
    parts without a ``[costs]`` section."""
    if costs is None:
        return {t: {} for t in capacity.types}
    kw = {"AC": capacity.ac_kw, "DC": capacity.dc_kw}
    port: dict[str, float] = {str(k): float(v) for k, v in costs.port.items()}
    return {
        t: {
            "site_works": costs.site_works,
            "ports": capacity.ports * port.get(t, 0.0),
            "grid_connection": capacity.ports * kw[t] * costs.grid_per_kw,
        }
        for t in capacity.types
    }


def cost_breakdown(costs: CostsConfig | None, capacity: CapacityConfig) -> dict[str, object]:
    """The parts of each station type's capital cost, for kpis.json and the map."""
    per_type = station_costs(costs, capacity)
    if costs is None:
        return {"currency": None, "station": per_type, "note": "no [costs] section: costs are 0"}
    parts = station_cost_parts(costs, capacity)
    return {
        "currency": costs.currency,
        "station": {t: round(c, 2) for t, c in per_type.items()},
        "parts": {
            t: {
                "site_works": p["site_works"],
                "ports": round(p["ports"], 2),
                "grid_connection": round(p["grid_connection"], 2),
            }
            for t, p in parts.items()
        },
        "opex_share_year": costs.opex_share_year,
        "source": costs.source,
    }


def design_breakdown(specs: Sequence[_Design], costs: CostsConfig | None) -> dict[str, object]:
    """Each station design a plan chooses from, for kpis.json: its capital cost and
    parts, ports, power, charger, the user groups it serves, where it may stand, its
    capacity and the source of its figures.

    Parameters
    ----------
    specs
        The designs (:func:`siting.designs.design_specs`, or existing stations' own).
    costs
        The scenario's ``[costs]`` (its currency and yearly operating share).
    """
    return {
        "currency": None if costs is None else costs.currency,
        "opex_share_year": 0.0 if costs is None else costs.opex_share_year,
        "designs": {
            spec.name: {
                "charger": spec.charger,
                "ports": spec.ports,
                "kw_per_port": spec.kw_per_port,
                "station_kw": spec.station_kw,
                "cost": round(spec.cost, 2),
                "parts": {k: round(v, 2) for k, v in spec.cost_parts.items()},
                "segments": list(spec.segments),
                "site_kinds": None if spec.site_kinds is None else list(spec.site_kinds),
                "capacity_port_h_day": round(spec.capacity_h, 3),
                "sessions_day": {g: round(spec.sessions(g), 3) for g in spec.segments},
                "source": spec.source,
            }
            for spec in specs
        },
    }


def opex_year(capital: float, costs: CostsConfig | None) -> float:
    """Yearly operating cost of stations of total capital cost ``capital``."""
    return 0.0 if costs is None else capital * costs.opex_share_year
