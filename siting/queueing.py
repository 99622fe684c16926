"""Station capacity from a queueing model (M/M/c, Erlang C).

A station with ``c`` ports is an M/M/c queue: sessions arrive at rate
:math:`\\lambda` per hour and occupy a port for a mean service time :math:`1/\\mu`
hours (charging plus handling). With offered load :math:`a = \\lambda/\\mu`, the
probability that an arriving driver must wait is Erlang C,

.. math::

    C(c, a) = \\frac{c\\,B(c, a)}{c - a\\,(1 - B(c, a))},

with Erlang B from the recursion :math:`B(0,a)=1`,
:math:`B(k,a) = a B(k-1,a) / (k + a B(k-1,a))`, and the mean wait is
:math:`W_q = C(c,a) / (c\\mu - \\lambda)`.

A station's daily capacity is the largest peak-hour arrival rate that keeps the
service level (probability of waiting, or mean wait, under a bound), divided by
the share of a day's sessions that arrive in the peak hour.
"""

from __future__ import annotations

import math
import operator
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from siting import settings
from siting.errors import InputError

if TYPE_CHECKING:
    import geopandas as gpd

    from siting.sections import CapacityConfig
    from siting.segments import Segment


def check_ports(c: object, name: str = "ports", *, least: int = 1) -> int:
    """``c`` as a number of servers, refused unless a whole number in
    [``least``, :data:`siting.settings.MAX_STATION_PORTS`].

    The Erlang recursions loop once per port, so the ceiling bounds their time.

    Raises
    ------
    InputError
        Naming ``name``, what was expected and what arrived.
    """
    top = settings.MAX_STATION_PORTS
    try:
        n = operator.index(c)  # type: ignore[arg-type]
    except TypeError:
        raise InputError(
            f"{name}: expected a whole number of ports from {least} to {top}, got {c!r}"
        ) from None
    if not least <= n <= top:
        raise InputError(
            f"{name}: expected a whole number of ports from {least} to {top} "
            f"(settings.MAX_STATION_PORTS), got {n}"
        )
    return n


def erlang_b(c: int, a: float) -> float:
    """Blocking probability of an M/M/c/c system with offered load ``a`` (Erlangs).

    Raises
    ------
    InputError
        ``c`` not a whole number in [0, :data:`siting.settings.MAX_STATION_PORTS`], or
        ``a`` not a finite load >= 0.
    """
    c = check_ports(c, "c", least=0)
    if not (math.isfinite(a) and a >= 0):
        raise InputError(f"a: expected a finite offered load >= 0 (Erlangs), got {a}")
    b = 1.0
    for k in range(1, c + 1):
        b = a * b / (k + a * b)
    return b


def erlang_c(c: int, a: float) -> float:
    """Probability of waiting in an M/M/c queue; 1 when the queue is unstable (a >= c).

    Raises
    ------
    InputError
        ``c`` not a whole number in [1, :data:`siting.settings.MAX_STATION_PORTS`].
    """
    c = check_ports(c)
    if a <= 0:
        return 0.0
    if a >= c:
        return 1.0
    b = erlang_b(c, a)
    return c * b / (c - a * (1.0 - b))


def mean_wait_h(c: int, arrival_per_h: float, service_h: float) -> float:
    """Mean wait in queue (hours) of an M/M/c queue; ``inf`` when unstable."""
    c = check_ports(c)
    mu = 1.0 / service_h
    a = arrival_per_h * service_h
    if a >= c:
        return math.inf
    return erlang_c(c, a) / (c * mu - arrival_per_h)


def max_arrival_rate(
    ports: int,
    service_h: float,
    *,
    max_wait_prob: float | None = None,
    max_mean_wait_h: float | None = None,
) -> float:
    """Largest arrival rate (per hour) meeting the service level, by bisection.

    Parameters
    ----------
    ports
        Ports (servers) at the station.
    service_h
        Mean time a session occupies a port, hours.
    max_wait_prob
        Bound on the probability that an arriving driver waits.
    max_mean_wait_h
        Bound on the mean wait, hours.
    """
    ports = check_ports(ports)
    if not (math.isfinite(service_h) and service_h > 0):
        raise InputError(f"service time: expected finite hours > 0, got {service_h}")
    if max_wait_prob is None and max_mean_wait_h is None:
        raise InputError("service level: give max_wait_prob or max_mean_wait_h")
    if max_wait_prob is not None and not 0.0 < max_wait_prob < 1.0:
        raise InputError(f"max_wait_prob: expected a probability in (0, 1), got {max_wait_prob}")

    def ok(lam: float) -> bool:
        a = lam * service_h
        if max_wait_prob is not None and erlang_c(ports, a) > max_wait_prob:
            return False
        return not (
            max_mean_wait_h is not None and mean_wait_h(ports, lam, service_h) > max_mean_wait_h
        )

    lo, hi = 0.0, ports / service_h  # the queue is unstable at hi
    for _ in range(100):
        mid = 0.5 * (lo + hi)
        if ok(mid):
            lo = mid
        else:
            hi = mid
    return lo


def daily_capacity(
    ports: int,
    service_h: float,
    peak_hour_share: float,
    *,
    max_wait_prob: float | None = None,
    max_mean_wait_h: float | None = None,
) -> float:
    """Sessions per day a station can take with the service level held in the peak hour."""
    if not 0.0 < peak_hour_share <= 1.0:
        raise InputError(f"peak_hour_share: expected a share in (0, 1], got {peak_hour_share}")
    lam = max_arrival_rate(
        ports, service_h, max_wait_prob=max_wait_prob, max_mean_wait_h=max_mean_wait_h
    )
    return lam / peak_hour_share


def port_hours_capacity(
    ports: int,
    service_h: float,
    peak_hour_share: float,
    *,
    max_wait_prob: float | None = None,
    max_mean_wait_h: float | None = None,
) -> float:
    """Port-hours per day a station offers with the service level held in the peak hour.

    ``max_arrival_rate(ports, service_h, ...) × service_h / peak_hour_share``: the
    peak-hour load the station can carry (Erlangs, ports busy on average) spread over
    the day as demand is. Sessions of a group holding a port ``h`` hours each then fill
    it at ``capacity / h`` a day, which is what lets one capacity figure serve groups of
    different session lengths.

    With only ``max_wait_prob`` the figure does not depend on ``service_h``: Erlang C
    depends only on the offered load in Erlangs. A mean-wait bound (hours) scales with
    the service time, so there ``service_h`` matters; for a station used by groups of
    different session lengths the caller gives their demand-weighted mean, an
    approximation that treats the mixed service times as one exponential service time
    with their mean.

    Parameters
    ----------
    ports
        Ports (servers) at the station.
    service_h
        Mean time a session occupies a port, hours.
    peak_hour_share
        Share of a day's sessions that arrive in the peak hour, in (0, 1].
    max_wait_prob
        Bound on the probability that an arriving driver waits.
    max_mean_wait_h
        Bound on the mean wait, hours.

    Raises
    ------
    InputError
        A figure out of range (see :func:`max_arrival_rate`), or ``peak_hour_share``
        not in (0, 1].
    """
    sessions = daily_capacity(
        ports,
        service_h,
        peak_hour_share,
        max_wait_prob=max_wait_prob,
        max_mean_wait_h=max_mean_wait_h,
    )
    return sessions * service_h


def station_capacity(
    cfg: CapacityConfig, segments: dict[str, Segment], peak_hour_share: float
) -> dict[str, float]:
    """Sessions per day of an AC and a DC station, from the queueing model.

    A session holds a port for its energy over the charger power plus the handling
    time; the energy is the demand-weighted mean session of the segments the type
    serves (AC stations: AC segments; DC stations: all segments).
    """
    check_ports(cfg.ports, "optimize.capacity.ports")
    return {
        t: _capacity(
            cfg, segments, peak_hour_share, t, cfg.ports, cfg.ac_kw if t == "AC" else cfg.dc_kw
        )
        for t in cfg.types
    }


def existing_capacity(
    candidates: gpd.GeoDataFrame,
    cfg: CapacityConfig,
    segments: dict[str, Segment],
    peak_hour_share: float,
) -> dict[int, tuple[str, float]]:
    """Type and daily capacity of each existing station whose type is known.

    Its own ports and power when recorded (checked when read, see
    :mod:`siting.existing`), else the scenario's per-station figures.

    Raises
    ------
    InputError
        A recorded figure the queueing model cannot take (a frame not built by
        :func:`siting.candidates.build_candidates`), naming the station.
    """
    out: dict[int, tuple[str, float]] = {}
    frame = candidates.reset_index(drop=True)
    for j in np.flatnonzero(frame["existing"].to_numpy()).tolist():
        t = str(frame.at[j, "type_known"] or "")
        if t not in ("AC", "DC"):
            continue
        ports = frame.at[j, "ports_known"]
        kw = frame.at[j, "kw_known"]
        n = cfg.ports if pd.isna(ports) else ports
        power = (cfg.ac_kw if t == "AC" else cfg.dc_kw) if pd.isna(kw) else float(kw)
        try:
            n = check_ports(int(n) if float(n).is_integer() else n, "ports_known")
            if not (math.isfinite(power) and power > 0):
                raise InputError(f"kw_known: expected a finite power > 0, got {power}")
            out[j] = (t, _capacity(cfg, segments, peak_hour_share, t, n, power))
        except InputError as exc:
            site = frame.at[j, "site_id"] if "site_id" in frame else j
            raise InputError(f"existing station {site}: {exc}") from None
    return out


def _capacity(
    cfg: CapacityConfig,
    segments: dict[str, Segment],
    peak_hour_share: float,
    kind: str,
    ports: int,
    kw: float,
) -> float:
    ac_segments = [s for s in segments.values() if s.charger == "AC"]
    keep = ac_segments if kind == "AC" else list(segments.values())
    total = sum(s.sessions_per_day for s in keep)
    if total <= 0:
        kwh = float(np.mean([s.kwh_per_session for s in segments.values()]))
    else:
        kwh = sum(s.sessions_per_day * s.kwh_per_session for s in keep) / total
    service_h = kwh / kw + cfg.handling_min / 60.0
    wait_h = cfg.max_mean_wait_min / 60.0 if cfg.max_mean_wait_min else None
    return daily_capacity(
        ports, service_h, peak_hour_share, max_wait_prob=cfg.max_wait_prob, max_mean_wait_h=wait_h
    )
