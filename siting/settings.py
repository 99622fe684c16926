"""Constants of siting: paths, scenario defaults, solver tunables and bounds.

Only the first group below can be changed in a scenario file:

- **Defaults of scenario fields.** ``FALLBACK_SPEED_KPH`` (``network.fallback_speed_kph``),
  ``CONNECTOR_SPEED_KPH`` (``travel.connector_speed_kph``) and ``HIGHWAY_SPEEDS_KPH``
  (the per-class table that ``network.speeds_kph`` overrides class by class) are the
  values used when a scenario is silent; change them in the scenario.
- **Tunables of the code.** No scenario field reaches the rest: the solver paths and
  their thresholds and time shares (``CAPACITATED_DIRECT_PAIRS``, ``PARALLEL_SOLVES``,
  ``HIGHS_THREADS`` (used when ``optimize.threads`` is not given), the ``COVER_*``,
  ``PMEDIAN_*`` and ``SECONDARY_*`` constants, ``FUTURES_SOLVE_LIMIT_S``,
  ``STAGE_RESERVE``, ``MIN_SOLVE_S``, ``HIGHS_MIN_S``, ``HIGHS_LP_SOLVER``,
  ``BUILD_PAIRS_PER_S``, ``MINIMUM_MIP_LP``, ``MINIMUM_TIME_LIMIT_S``,
  ``CANDIDATES_PER_STATION``), the OSM tables (``DRIVE_HIGHWAYS``, ``DRIVE_EXCLUDE``,
  ``CANDIDATE_TAGS``, ``GRID_KIND``), ``NEIGHBOURS``, ``MAX_PORT_KW`` and
  ``CRASH_LOGS_KEPT``. The code reads them when it runs, so a
  Python user can change one by assigning it (``siting.settings.PARALLEL_SOLVES = 1``)
  before a run, in the process that runs it (a sweep's Dask workers are other
  processes). The caches are not keyed on them: after changing an OSM table, run with
  ``network.cache = false``
  or an empty cache folder.
- **Bounds of scenario fields.** ``MAX_STATION_PORTS`` and the ``MAX_*`` / ``MIN_*``
  block at the end limit what a scenario may give. The scenario's checks take them
  when :mod:`siting.sections` is imported; assigning one later does not change what
  a scenario may give.
- **Places.** ``DATA_DIR_ENV`` and ``CACHE_DIR_ENV`` name the environment variables
  that move the data and cache folders; ``PACKAGE_ROOT`` and ``DEFAULT_SCENARIO`` are
  where the checkout and its Almaty scenario are.

Speeds are km/h, times seconds unless named ``_min``.
"""

from __future__ import annotations

import os
from pathlib import Path

#: Environment variable naming the folder of the offline city data. It takes
#: precedence over the scenario's ``data_dir`` so that one scenario file works on
#: machines that keep the data in different places.
DATA_DIR_ENV = "SITING_DATA_DIR"

#: Environment variable naming the cache folder (graphs, travel times).
CACHE_DIR_ENV = "SITING_CACHE_DIR"

#: Repository root when siting runs from a source checkout.
PACKAGE_ROOT = Path(__file__).resolve().parent.parent

#: The Almaty default scenario shipped with the repository.
DEFAULT_SCENARIO = PACKAGE_ROOT / "data" / "almaty.toml"


def cache_dir() -> Path:
    """Return the cache folder: ``$SITING_CACHE_DIR`` or ``~/.cache/siting``."""
    env = os.environ.get(CACHE_DIR_ENV)
    if env:
        return Path(env).expanduser()
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "siting"


#: Capacitated models with more assignment pairs than this are solved by the
#: large-instance path (merged rows, bounds over every candidate, integer program
#: on a reduced candidate set; see ``CapacitatedCoverage._solve_large``).
CAPACITATED_DIRECT_PAIRS = 400_000

#: Independent solves of one run (frontier points, curve sizes) run side by side in
#: this many threads (HiGHS releases the GIL while it solves; CBC runs as its own
#: process); on the 2-core machine two solves side by side take about half the time
#: of the same two in turn.
PARALLEL_SOLVES = min(2, os.cpu_count() or 1)

#: HiGHS threads per solve when the caller does not say. One: a run solves several
#: models side by side (above), so the same plan comes out however many solves run
#: beside it. (Each HiGHS run starts its thread's task scheduler afresh with its own
#: count: see :func:`siting.optimize._solvers.fresh_scheduler`.)
HIGHS_THREADS = 1

#: The maximal covering model is solved by Benders decomposition (with HiGHS and no
#: side constraints) from this many demand-site pairs within the threshold. On the
#: synthetic 50,000 x 5,000 agglomeration (1.19 M pairs, 120 s) it ends at a 0.32 % gap
#: against 1.03 % for the Lagrangian and integer program; on small instances both are
#: proven within a second, and the present path is kept.
COVER_BENDERS_MIN_PAIRS = 500_000
#: The covering decomposition's plan search after the linear rounds: rounds of
#: perturbation and swap (a fixed count, so the plan does not depend on the
#: machine's speed), and at most this share of the time left.
COVER_SEARCH_ROUNDS = 100
COVER_SEARCH_SHARE = 0.2
#: Share of a time limit the covering decomposition leaves to the model for its
#: result (each demand point's site and load: about 1 s for 20 million pairs).
COVER_RESULT_SHARE = 0.02

#: Time limit of each future's own plan and each sensitivity plan (seconds; the
#: scenario's limit if lower). On Almaty one of them (peak-hour share 0.08) stops at
#: 120 s 0.07 % from its bound while the others prove in about 2 s; a plan stopped
#: here is reported ``feasible`` with its gap.
FUTURES_SOLVE_LIMIT_S = 30.0

#: ``optimize.time_limit_s`` bounds the whole optimise stage; this share of it is
#: kept for what is not a solver run (building models, reading plans), and a solve
#: started when the time is up still gets ``MIN_SOLVE_S`` to return its warm start.
#: HiGHS's own limit is what is left of a solve's once PuLP has handed it the model,
#: at least ``HIGHS_MIN_S`` (it returns the warm start even at 0.01 s on Almaty).
STAGE_RESERVE = 0.1
MIN_SOLVE_S = 0.25
HIGHS_MIN_S = 0.05

#: HiGHS's method for linear programs (no integer variables): its interior point
#: method. The LP of the most any plan serves on Almaty (72,000 variables, one row per
#: user group over all of them) took 21 s by simplex and 1.4 s by "ipm" (crossover on).
HIGHS_LP_SOLVER = "ipm"

#: Assignment pairs PuLP turns into a capacitated integer program per second, building
#: it, handing it to the solver and reading it back (about 20,000 on the 2-core
#: machine, Almaty's mixed designs: 28,400 pairs in 1.4 s). A solve whose time limit
#: would leave the solver less than ``MIN_SOLVE_S`` after that returns its warm start
#: at once, said so, instead of overrunning its limit to build a model it cannot solve.
BUILD_PAIRS_PER_S = 20_000.0

#: HiGHS's method for the root LP of a capacitated minimum plan solved within a time
#: limit (see ``SolveOptions.mip_lp``). On Almaty's 90 % plan with the programme's
#: design, the simplex root LP ran 21 s past a 5 s limit; by "ipm" the limit held (the
#: greedy start, 6.58 bn KZT, 3.0 % gap at 30 s; simplex: 6.47 bn, 1.4 %, in 25 s).
MINIMUM_MIP_LP = "ipm"

#: Time limit of each minimum-plan solve (seconds; the scenario's limit if lower). On
#: Almaty the 90 % plan stops on it with the greedy warm start (AC upgraded to DC) as its
#: plan and a 29 % gap at 10 s as at 15 s: the bound, not the plan, moves with more time.
MINIMUM_TIME_LIMIT_S = 10.0

#: The capacitated model with its secondary order is solved to this share of the gap
#: tolerance, so that the secondary terms (worth at most half the tolerance) are
#: resolved too.
SECONDARY_GAP_FACTOR = 1e-4

#: The same with station designs or user groups as demand classes: their sessions
#: take different port-hours, the LP bound is no longer met by every full plan, and
#: the proof to a hundred-millionth took over 120 s on Almaty (to 1e-5: 6 s). The
#: secondary order is then a preference among plans within the tolerance, not proven.
SECONDARY_GAP_FACTOR_CLASSES = 0.1

#: With a gap tolerance of 0 the secondary order may still move the served total by
#: half this relative amount.
SECONDARY_MIN_TOLERANCE = 1e-4

#: Weights (alpha, beta) of the secondary order of the capacitated model, after the
#: demand within the threshold: access time of the sessions served (scaled to the
#: threshold) and capital cost (scaled to the dearest station). Access time is off:
#: on Almaty it left the combined model at a 2.5 % gap after 60 s, against 6.6 s to a
#: proven optimum for coverage and cost alone.
SECONDARY_WEIGHTS = (0.0, 1e-4)

#: Candidates kept per station for the large-instance integer program.
CANDIDATES_PER_STATION = 1

#: Most ports (charge points usable at once) a station may have: an existing station's
#: record, a new station's (``optimize.capacity.ports``) and the servers the queueing
#: model (``siting.queueing``) accepts. The largest public charging
#: hubs have a few hundred charge points; a count above this is a typo or a unit slip,
#: and the Erlang recursions loop once per port (a count of 1e9 ran for hours).
MAX_STATION_PORTS = 500

#: Most power per port (kW) an existing station may record: above the megawatt charging
#: of trucks (3.75 MW); more is a unit slip (W or VA given as kW).
MAX_PORT_KW = 5000.0

#: Logs of failed command-line runs kept in ``<cache>/logs/`` (newest first).
CRASH_LOGS_KEPT = 20


#: Highway classes kept for a driving network. Same meaning as OSMnx's
#: ``network_type="drive"`` filter, applied locally to an OSM file.
DRIVE_HIGHWAYS: frozenset[str] = frozenset(
    {
        "motorway",
        "motorway_link",
        "trunk",
        "trunk_link",
        "primary",
        "primary_link",
        "secondary",
        "secondary_link",
        "tertiary",
        "tertiary_link",
        "unclassified",
        "residential",
        "living_street",
        "road",
    }
)

#: Tag values that exclude a way from the driving network (OSMnx "drive").
DRIVE_EXCLUDE: dict[str, frozenset[str]] = {
    "area": frozenset({"yes"}),
    "access": frozenset({"private", "no"}),
    "motor_vehicle": frozenset({"no"}),
    "motorcar": frozenset({"no"}),
    "service": frozenset(
        {"alley", "driveway", "emergency_access", "parking", "parking_aisle", "private"}
    ),
}

#: Fallback free-flow speeds (km/h) per OSM highway class, used where a way has
#: no ``maxspeed``. Almaty's urban limit is 60 km/h; the figures sit below it to
#: stand for signals and junction delay on arterials, and follow common urban
#: practice (e.g. the OSRM car profile's urban defaults) for minor roads.
HIGHWAY_SPEEDS_KPH: dict[str, float] = {
    "motorway": 80.0,
    "motorway_link": 45.0,
    "trunk": 60.0,
    "trunk_link": 40.0,
    "primary": 45.0,
    "primary_link": 30.0,
    "secondary": 40.0,
    "secondary_link": 30.0,
    "tertiary": 35.0,
    "tertiary_link": 25.0,
    "unclassified": 30.0,
    "residential": 25.0,
    "road": 30.0,
    "living_street": 10.0,
}

#: Speed for any highway class not listed above (km/h).
FALLBACK_SPEED_KPH = 30.0

#: Speed on the straight-line connector from a demand point or a site to its
#: nearest road node (km/h): a slow street or car-park approach.
CONNECTOR_SPEED_KPH = 15.0

#: OSM tags that make a feature a candidate site, mapped to the site kind.
#: Order gives priority when two features snap to the same road node.
CANDIDATE_TAGS: tuple[tuple[str, str, str], ...] = (
    ("amenity", "charging_station", "charging_station"),
    ("amenity", "parking", "parking"),
    ("amenity", "fuel", "fuel"),
    ("amenity", "marketplace", "marketplace"),
    ("shop", "mall", "mall"),
    ("shop", "supermarket", "supermarket"),
    ("shop", "department_store", "mall"),
    ("amenity", "bus_station", "transport_hub"),
    ("railway", "station", "transport_hub"),
    ("aeroway", "terminal", "transport_hub"),
    ("leisure", "park", "park"),
    ("amenity", "cafe", "cafe"),
    ("amenity", "restaurant", "cafe"),
    ("amenity", "fast_food", "cafe"),
)

#: Kind given to candidates placed by the spacing grid.
GRID_KIND = "road_grid"

#: p-median: subgradient steps of the root Lagrangian bound (Beasley 1993).
PMEDIAN_ROOT_ITERATIONS = 3000

#: p-median: run the Lagrangian branch-and-bound before the integer program when
#: the sites still to choose are few: at most this many, or at most this share of
#: the free candidates (there the LP bound is weak and the search fast); otherwise,
#: and whenever the search stops unfinished, the reduced integer program decides.
PMEDIAN_SEARCH_MAX_SITES = 20
PMEDIAN_SEARCH_SHARE = 0.15

#: p-median: node limit of that search.
PMEDIAN_SEARCH_NODES = 20000

#: Nearest stations (by drive time) listed in each station's map popup.
NEIGHBOURS = 3


# ------------------------------------------------------------ bounds of scenario fields
# The largest (and for speeds and power, smallest) values a scenario may give. They
# only refuse values that mean nothing for a city (and would overflow the solver, the
# projections or the clock long before); each is far beyond any real city's figure.

#: Distances in metres (network buffer, candidate grid spacing, snapping distance,
#: spacing between stations): 100 km is more than a whole metropolitan area's width,
#: and keeps a buffered boundary well inside its UTM zone's valid coordinates.
MAX_DISTANCE_M = 100_000.0

#: The candidate grid's spacing, when on (metres): a grid finer than a street block
#: only repeats the same road nodes, and at 1 m a city's grid has 10^9 points.
MIN_GRID_SPACING_M = 50.0

#: Road speeds (km/h): walking pace to well above any motorway limit; a speed near 0
#: makes every travel time infinite.
MIN_SPEED_KPH = 1.0
MAX_SPEED_KPH = 300.0

#: Durations in minutes (travel cutoff and threshold, handling time, mean wait): a day.
MAX_MINUTES = 1440.0

#: The optimise stage's time limit (seconds): a week.
MAX_TIME_LIMIT_S = 7 * 86_400.0

#: Timeout of one download request (seconds): a day.
MAX_TIMEOUT_S = 86_400.0

#: Vehicles in one demand segment: about the world's whole car fleet.
MAX_VEHICLES = 2e9

#: Public charging sessions per vehicle and day: one every half hour, round the clock.
MAX_SESSIONS_PER_DAY = 48.0

#: Energy of one session (kWh): more than the largest truck batteries (about 1 MWh).
MAX_KWH_PER_SESSION = 2_000.0

#: Charger power per port (kW): from a slow domestic socket (about 1.4 kW) to beyond
#: megawatt truck charging (3.75 MW).
MIN_CHARGER_KW = 1.0
MAX_CHARGER_KW = 5_000.0

#: Stations in a plan (``p``, phases, curve, stages) and stations reported: a plan's
#: integer program has one variable per candidate, and no city has a million sites.
MAX_STATIONS = 1_000_000

#: Solver threads.
MAX_THREADS = 1_024

#: Money in the scenario's currency (costs per item, budgets): 10^15 is about the
#: world's yearly product in US dollars, and still a billion dollars in the currency of
#: smallest unit value; a linear program's numbers stay well below HiGHS's infinity
#: (10^20) with it.
MAX_MONEY = 1e15

#: Years of a staged plan (calendar years, or years counted from 0).
MAX_YEAR = 9_999

#: Weight of a stage's served demand in the staged objective (the defaults are at
#: most 1); larger relative weights only swamp the others.
MAX_STAGE_WEIGHT = 1e6

#: Benefit factors: grid carbon (kg CO2/kWh; coal alone is about 1), EV energy use
#: (kWh/km; an e-bike uses 0.01, a heavy truck about 2), petrol use (L/100 km), CO2 and
#: mass of a litre of petrol (kg/L; 2.3 and 0.74), pollutants (g per kg of fuel), and a
#: station's life (years).
MAX_KG_CO2_PER_KWH = 10.0
MIN_KWH_PER_KM = 0.01
MAX_KWH_PER_KM = 10.0
MAX_L_PER_100KM = 200.0
MAX_KG_PER_L = 10.0
MAX_G_PER_KG_FUEL = 5_000.0
MAX_LIFETIME_YEARS = 100.0
