"""Scenario files: one TOML file describes a whole planning run.

A scenario names its data, the demand assumptions, how candidate sites are
found, the travel-time cutoff and the optimisation request. Every field is
validated on load: an unknown key, a wrong type or a value out of range raises
:class:`~siting.errors.ScenarioError` naming the field's path and the value.

Paths
-----
Relative paths are resolved against the folder of the scenario file. The
placeholder ``{data_dir}`` expands to the offline data folder, which is, in
order of precedence, the ``SITING_DATA_DIR`` environment variable, the
scenario's ``data_dir`` key (relative to the scenario file), or the scenario
file's own folder. ``{siting_data}`` expands to siting's own ``data/`` folder
(presets, district totals), so a copied scenario still finds them.
"""

from __future__ import annotations

import difflib
import math
import os
import tomllib
from collections.abc import Sequence
from pathlib import Path
from typing import Any, get_args

from pydantic import BaseModel, Field, ValidationError, model_validator
from pydantic_core import ErrorDetails

from siting import settings
from siting._invariants import present
from siting._section_base import _Strict
from siting.errors import MissingFileError, ScenarioError
from siting.sections import (
    BenefitsConfig,
    CandidatesConfig,
    CostsConfig,
    DemandConfig,
    EconomicsConfig,
    FolderName,
    FuturesConfig,
    NetworkConfig,
    OptimizeConfig,
    SegmentConfig,
    TravelConfig,
)
from siting.segments import SEGMENTS, Segment, design_users, no_design_message


class Scenario(_Strict):
    """A whole planning run, as read from a TOML file."""

    #: Names the run and its default output folder (``out/<name>``).
    name: FolderName
    description: str = ""
    data_dir: str | None = None
    seed: int = 0
    network: NetworkConfig
    demand: DemandConfig
    candidates: CandidatesConfig = CandidatesConfig()
    travel: TravelConfig = TravelConfig()
    optimize: OptimizeConfig = OptimizeConfig()
    costs: CostsConfig | None = None
    benefits: BenefitsConfig | None = None
    #: Station economics (revenue, margin, payback within the lease); ``None``: none.
    economics: EconomicsConfig | None = None
    #: Futures the plan should hold up in; ``None``: none studied.
    futures: FuturesConfig | None = None
    #: Folder of the scenario file; relative paths resolve against it.
    base_dir: Path = Field(default=Path(), exclude=True)

    @model_validator(mode="after")
    def _cutoff_covers_threshold(self) -> Scenario:
        if self.travel.cutoff_min < self.optimize.threshold_min:
            raise ValueError(
                f"travel.cutoff_min ({self.travel.cutoff_min}) must be at least "
                f"optimize.threshold_min ({self.optimize.threshold_min})"
            )
        if self.optimize.objective == "co2" and self.benefits is None:
            raise ValueError(
                "optimize.objective: 'co2' counts CO2 avoided with the [benefits] factors; "
                "expected a [benefits] section, got none"
            )
        c = self.candidates
        controls = c.force or c.exclude or c.exclude_areas or c.force_file or c.exclude_file
        if controls and self.optimize.model != "capacitated":
            raise ValueError(
                f"candidates.force, candidates.exclude: forcing or excluding sites needs "
                f"optimize.model = 'capacitated', got {self.optimize.model!r}"
            )
        if self.optimize.viable and self.economics is None:
            raise ValueError(
                "optimize.viable: every station paying back needs the [economics] "
                "section (price, electricity cost, lease), got none"
            )
        if self.optimize.viable and self.optimize.model != "capacitated":
            raise ValueError(
                f"optimize.viable needs optimize.model = 'capacitated', got {self.optimize.model!r}"
            )
        if self.optimize.objective != "sessions" and self.optimize.model != "capacitated":
            raise ValueError(
                f"optimize.objective: {self.optimize.objective!r} needs optimize.model = "
                f"'capacitated', got {self.optimize.model!r}"
            )
        if self.futures is not None and self.optimize.model != "capacitated":
            raise ValueError(
                f"futures needs optimize.model = 'capacitated', got {self.optimize.model!r}"
            )
        if self.futures is not None and self.futures.ranges:
            # each end of a range must be a value of its field, before anything is solved
            plain = self.model_copy(update={"futures": None})
            for key, ends in self.futures.ranges.items():
                for value in ends:
                    try:
                        plain.check_override(key, value)
                    except ScenarioError as exc:
                        raise ValueError(f"futures.ranges: {exc}") from None
        return self

    @model_validator(mode="after")
    def _one_currency(self) -> Scenario:
        ec, costs = self.economics, self.costs
        if ec is not None and ec.currency and costs is not None and ec.currency != costs.currency:
            raise ValueError(
                f"economics.currency ({ec.currency!r}) must be the currency of the capital "
                f"costs, costs.currency ({costs.currency!r})"
            )
        return self

    def economics_currency(self) -> str:
        """The currency of ``[economics]``: its own, else ``[costs]``'s, else empty."""
        if self.economics is not None and self.economics.currency:
            return self.economics.currency
        return self.costs.currency if self.costs is not None else ""

    @model_validator(mode="after")
    def _groups_have_their_standards(self) -> Scenario:
        """Each group's drive time within the travel cutoff, its designs named, and a
        design for every group (and a group for every design).

        Without ``[[optimize.designs]]`` a group that names no designs may be left
        without one, as before designs (taxis with ``optimize.capacity.types =
        ["AC"]``: their demand goes unserved)."""
        groups = self.groups()
        for name, group in groups.items():
            if group.max_trip_min is not None and group.max_trip_min > self.travel.cutoff_min:
                raise ValueError(
                    f"demand.{name}.max_trip_min ({group.max_trip_min}) must be at most "
                    f"travel.cutoff_min ({self.travel.cutoff_min})"
                )
        names = self.design_names()
        for name, group in groups.items():
            for i, design in enumerate(group.designs or ()):
                if design not in names:
                    close = difflib.get_close_matches(design, names, n=1)
                    hint = f" (did you mean {close[0]!r}?)" if close else ""
                    raise ValueError(
                        f"demand.{name}.designs[{i}]: unknown design {design!r}{hint}; "
                        f"known: {', '.join(names)}"
                    )
        for i, d in enumerate(self.optimize.designs):
            for g in d.segments or ():
                if d.charger == "AC" and g in groups and groups[g].charger != "AC":
                    raise ValueError(
                        f"optimize.designs[{i}].segments: {g!r} charges at DC "
                        f"(demand.{g}.charger), so AC design {d.name!r} cannot serve it"
                    )
            if not design_users(groups, design=d.name, charger=d.charger, serves=d.segments):
                raise ValueError(
                    f"optimize.designs[{i}]: no user group may use design {d.name!r} "
                    f"({d.charger}; its segments, the groups' chargers and designs lists "
                    "leave none)"
                )
        served = {
            g
            for name, charger, serves in self._designs()
            for g in design_users(groups, design=name, charger=charger, serves=serves)
        }
        for name, group in groups.items():
            # the default designs may leave a group out, as the station types always
            # could (taxis with optimize.capacity.types = ["AC"]): unserved, as before
            chosen = bool(self.optimize.designs) or group.designs is not None
            if name not in served and chosen:
                known = [(d, charger) for d, charger, _ in self._designs()]
                raise ValueError(no_design_message(name, group, known))
        return self

    # ------------------------------------------------------------ user groups
    def groups(self) -> dict[str, SegmentConfig]:
        """The scenario's user groups (``[demand.<group>]`` sections given), in order."""
        return {name: cfg for name in SEGMENTS if (cfg := getattr(self.demand, name)) is not None}

    def design_names(self) -> list[str]:
        """The designs a new station may take: the names of ``[[optimize.designs]]``,
        else the defaults, one per ``optimize.capacity.types`` entry named after it."""
        return [name for name, _, _ in self._designs()]

    def _designs(self) -> list[tuple[str, str, Sequence[str] | None]]:
        """Each design's name, charger and own list of groups (see :meth:`design_names`)."""
        if self.optimize.designs:
            return [(d.name, d.charger, d.segments) for d in self.optimize.designs]
        return [(t, t, None) for t in self.optimize.capacity.types]

    # ------------------------------------------------------------------ paths
    @property
    def data_path(self) -> Path:
        """The offline data folder (see the module docstring for precedence)."""
        env = os.environ.get(settings.DATA_DIR_ENV)
        if env:
            return Path(env).expanduser().resolve()
        if self.data_dir:
            return (self.base_dir / self.data_dir).resolve()
        return self.base_dir.resolve()

    def resolve(self, value: str | None, *, field: str, must_exist: bool = True) -> Path | None:
        """Turn a scenario path into an absolute path, checking it exists.

        Parameters
        ----------
        value
            The path as written in the scenario; ``None`` passes through.
        field
            Dotted field name, used in the error message.
        must_exist
            Raise :class:`MissingFileError` when the file is not there.
        """
        if value is None:
            return None
        text = value.replace("{data_dir}", str(self.data_path)).replace(
            "{siting_data}", str(settings.PACKAGE_ROOT / "data")
        )
        path = Path(text).expanduser()
        if not path.is_absolute():
            path = (self.base_dir / path).resolve()
        if must_exist and not path.exists():
            raise MissingFileError(f"{field}: file not found: {path}")
        return path

    def with_overrides(self, overrides: dict[str, Any]) -> Scenario:
        """Return a copy with dotted-key overrides applied and validated again.

        A key inside an optional section the scenario leaves out (``optimize.budget.total``
        without ``[optimize.budget]``) starts that section from its defaults.

        Raises
        ------
        ScenarioError
            A key is not a field, a value is wrong, or the result breaks a rule
            between fields; the message names the field.
        """
        data = self._overridden(overrides)
        return _validate(data, base_dir=self.base_dir, origin="overrides")

    def check_override(self, key: str, value: Any) -> None:
        """Check that ``key`` is a field and ``value`` a valid value of it.

        Only what is wrong with the value itself counts (unknown field, wrong type,
        out of range): a rule between fields (``travel.cutoff_min`` at least
        ``optimize.threshold_min``) may hold once other overrides come with it, and
        is left to :meth:`with_overrides`.

        Parameters
        ----------
        key
            Dotted field name, as in :meth:`with_overrides`.
        value
            Its value.

        Raises
        ------
        ScenarioError
            ``key`` is not a field or ``value`` is not a valid value of it; one line
            naming the field.
        """
        data = self._overridden({key: value})
        parts = key.split(".")
        try:
            Scenario.model_validate({**data, "base_dir": self.base_dir})
        except ValidationError as exc:
            for err in exc.errors():
                if [str(part) for part in err["loc"][: len(parts)]] == parts:
                    raise ScenarioError(_describe_error(err)) from None

    def _overridden(self, overrides: dict[str, Any]) -> dict[str, Any]:
        """The scenario as a dict with the dotted-key overrides applied (not validated)."""
        data = self.model_dump(mode="python")
        for dotted, value in overrides.items():
            node = data
            model: type[BaseModel] | None = Scenario
            *parents, leaf = dotted.split(".")
            for depth, key in enumerate(parents):
                if model is not None and key not in _field_names(model):
                    where = ".".join(parents[: depth + 1])
                    raise ScenarioError(
                        f"override {dotted!r}: unknown field {where!r}"
                        + _suggestion(key, _field_names(model))
                    )
                section = _section(model, key)
                if node.get(key) is None and section is not None:
                    node[key] = {}  # an optional section left out: start from its defaults
                if not isinstance(node.get(key), dict):
                    raise ScenarioError(f"override {dotted!r}: {key!r} is not a section")
                node, model = node[key], section
            node[leaf] = value
        return data


def parse_overrides(items: list[str]) -> dict[str, Any]:
    """``KEY=VALUE`` strings (as given to ``--set``) to a dict of dotted keys.

    The value is read as a TOML value (``5``, ``0.2``, ``true``, ``[150, 311]``,
    ``"text"``); anything TOML cannot read is taken as a plain string, so
    ``demand.preset=growth-2030`` works without quotes.
    """
    out: dict[str, Any] = {}
    for item in items:
        key, sep, text = item.partition("=")
        key = key.strip()
        if not sep or not key or not all(part.isidentifier() for part in key.split(".")):
            raise ScenarioError(f"--set: expected KEY=VALUE with a dotted field name, got {item!r}")
        try:
            out[key] = tomllib.loads(f"v = {text.strip()}")["v"]
        except tomllib.TOMLDecodeError:
            out[key] = text.strip()
    return out


def load_scenario(path: str | Path) -> Scenario:
    """Read and validate a scenario TOML file.

    Raises
    ------
    MissingFileError
        The file does not exist.
    ScenarioError
        The file is not valid TOML or a field is wrong.
    """
    path = Path(path)
    data = _read_scenario(path, missing="scenario file not found", seen=())
    return _validate(data, base_dir=path.resolve().parent, origin=str(path))


def _read_scenario(path: Path, *, missing: str, seen: tuple[Path, ...]) -> dict[str, Any]:
    """A scenario file's fields, over those of the scenario its ``base`` names.

    ``base = "almaty.toml"`` (a path relative to the file's folder) makes the file a
    variant: its tables are merged into the base's key by key, any other value (a
    number, a list, an array of tables) replaces the base's. A base may have its own.
    """
    data = _read_toml(path, missing=missing, what="scenario")
    if "base" not in data:
        return data
    base = data.pop("base")
    if not isinstance(base, str) or not base.strip():
        raise ScenarioError(
            f"scenario {path}: base: expected the path of a scenario file, got {base!r}"
        )
    here = path.resolve()
    base_path = (here.parent / base).resolve()
    if base_path in (*seen, here):
        raise ScenarioError(f"scenario {path}: base: {base} leads back to {path.name}")
    under = _read_scenario(
        base_path, missing=f"scenario {path}: base: scenario file not found", seen=(*seen, here)
    )
    return _merged(under, data)


def _merged(base: dict[str, Any], over: dict[str, Any]) -> dict[str, Any]:
    """``over`` on ``base``: tables merged key by key, other values replaced."""
    out = dict(base)
    for key, value in over.items():
        below = out.get(key)
        both = isinstance(value, dict) and isinstance(below, dict)
        out[key] = _merged(below, value) if both else value  # type: ignore[arg-type]
    return out


def _read_toml(path: Path, *, missing: str, what: str) -> dict[str, Any]:
    """Parse a TOML file, with one-line errors for a missing or malformed file."""
    if not path.is_file():
        raise MissingFileError(f"{missing}: {path}")
    try:
        return tomllib.loads(path.read_text(encoding="utf-8"))
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise ScenarioError(f"{what} {path}: not valid TOML: {exc}") from None


def _validate(data: dict[str, Any], *, base_dir: Path, origin: str) -> Scenario:
    data = {k: v for k, v in data.items() if k != "base_dir"}
    try:
        return Scenario.model_validate({**data, "base_dir": base_dir})
    except ValidationError as exc:
        raise ScenarioError(f"scenario {origin}: {_describe(exc)}") from None


def _section(model: type[BaseModel] | None, name: str) -> type[BaseModel] | None:
    """The model of the section ``name`` of ``model`` (``None``: not a section)."""
    field = model.model_fields.get(name) if model is not None else None
    ann = field.annotation if field is not None else None
    # a section may be optional (``InboundConfig | None``): look inside the union
    for cand in (ann, *get_args(ann)):
        if isinstance(cand, type) and issubclass(cand, BaseModel):
            return cand
    return None


def _field_names(model: type[BaseModel]) -> list[str]:
    """The fields a scenario file may give in ``model`` (a section, or the scenario)."""
    return [k for k in model.model_fields if k != "base_dir"]


#: British spellings and their American forms, the ones the scenario's field names use
#: (``optimise`` for ``optimize``); tried on a word's endings and inside it, longest first.
_SPELLINGS = (
    ("isation", "ization"),
    ("ising", "izing"),
    ("ised", "ized"),
    ("ise", "ize"),
    ("yse", "yze"),
    ("our", "or"),
    ("tre", "ter"),
)


def _american(word: str) -> str:
    """``word`` with British spellings turned American (``optimise`` -> ``optimize``)."""
    out = word.lower()
    for british, american in _SPELLINGS:
        out = out.replace(british, american)
    return out


def _suggestion(name: str, known: Sequence[str]) -> str:
    """The hint after an unknown field ``name``: `` (did you mean 'x'?)`` for the known
    field it is a spelling variant of (``optimise``: ``optimize``) or closest to, else the
    known fields."""
    same = [k for k in known if _american(k) == _american(name)]
    close = same or difflib.get_close_matches(name, list(known), n=1, cutoff=0.6)
    if close:
        return f" (did you mean {close[0]!r}?)"
    return f" (known: {', '.join(known)})"


#: What a value should have been, for pydantic's type errors (strict types).
_EXPECTED = {
    "int_type": "an integer",
    "float_type": "a number",
    "finite_number": "a finite number",
    "bool_type": "true or false",
    "string_type": "a string",
    "list_type": "a list",
    "dict_type": "a table",
    "model_type": "a table",
}


def _describe(exc: ValidationError) -> str:
    """One line for the first validation error: field path, expectation, value."""
    return _describe_error(exc.errors()[0])


def _describe_error(err: ErrorDetails) -> str:
    """One line for a validation error: field path, expectation, value."""
    loc = "".join(
        f"[{part}]" if isinstance(part, int) else f".{part}" for part in err["loc"]
    ).removeprefix(".")
    kind = err["type"]
    value = err.get("input")
    if kind == "extra_forbidden":
        leaf = str(err["loc"][-1])
        model: type[BaseModel] = Scenario
        for part in err["loc"][:-1]:
            model = _section(model, str(part)) or model
        return f"unknown field {loc!r}{_suggestion(leaf, _field_names(model))}"
    if kind == "missing":
        return f"field {loc!r} is required"
    msg = err["msg"].removeprefix("Value error, ")
    if not loc or (kind == "value_error" and isinstance(value, dict)):
        return msg  # a rule between fields: its message names them
    if kind in _EXPECTED:
        msg = f"expected {_EXPECTED[kind]}"
    return f"field {loc!r}: {msg}, got {_shown(value)}"


def _shown(value: Any) -> str:
    """A value as written in TOML where Python's repr differs (true, inf), else repr."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float) and not math.isfinite(value):
        return "nan" if math.isnan(value) else ("inf" if value > 0 else "-inf")
    text = repr(value)
    return text if len(text) <= 80 else f"{text[:77]}..."


def load_presets(path: Path) -> dict[str, dict[str, Any]]:
    """Adoption presets (EV share per segment) from a TOML file."""
    data = _read_toml(
        path, missing="demand.presets_file: file not found", what="demand.presets_file"
    )
    for name, preset in data.items():
        if not isinstance(preset, dict):
            raise ScenarioError(f"demand.presets_file: [{name}] must be a table")
        for seg, share in preset.items():
            if seg == "description":
                continue
            if seg not in ("residents", "inbound", "taxis"):
                raise ScenarioError(f"demand.presets_file: [{name}] has unknown segment {seg!r}")
            if not isinstance(share, int | float) or not 0.0 <= share <= 1.0:
                raise ScenarioError(
                    f"demand.presets_file: [{name}].{seg} must be a share in [0, 1], got {share!r}"
                )
    return data


def preset_label(scenario: Scenario, preset: str | None = None) -> str:
    """The adoption preset ``preset`` (default: the scenario's) as the outputs name it:
    with the EV shares the scenario sets itself, which the preset does not move, e.g.
    ``growth-2030 (residents.ev_share = 0.05 set)``."""
    dc = scenario.demand
    name = dc.preset if preset is None else preset
    own = [
        f"{seg}.ev_share = {cfg.ev_share:g}"
        for seg in ("residents", "inbound", "taxis")
        if (cfg := getattr(dc, seg)) is not None and cfg.ev_share is not None
    ]
    return f"{name} ({', '.join(own)} set)" if own else name


def resolve_segments(scenario: Scenario) -> dict[str, Segment]:
    """The scenario's demand segments with EV shares filled in from the preset, and
    each one's standards (``max_trip_min``, ``designs``, ``min_served_share``,
    ``weight``, ``car_kw``) as the scenario gives them (``max_trip_min`` ``None``:
    ``optimize.threshold_min``)."""
    dc = scenario.demand
    path = present(
        scenario.resolve(dc.presets_file, field="demand.presets_file"), "demand.presets_file"
    )
    presets = load_presets(path)
    if dc.preset not in presets:
        close = difflib.get_close_matches(dc.preset, list(presets), n=1)
        hint = f" (did you mean {close[0]!r}?)" if close else ""
        raise ScenarioError(
            f"demand.preset: unknown preset {dc.preset!r}{hint}; known: {', '.join(presets)}"
        )
    preset = presets[dc.preset]
    out: dict[str, Segment] = {}
    for name in ("residents", "inbound", "taxis"):
        cfg: SegmentConfig | None = getattr(dc, name)
        if cfg is None:
            continue
        share = cfg.ev_share if cfg.ev_share is not None else preset.get(name)
        if share is None:
            raise ScenarioError(
                f"demand.{name}.ev_share: not given, and preset {dc.preset!r} has no {name} share"
            )
        out[name] = Segment(
            name,
            cfg.count,
            float(share),
            cfg.public_share,
            cfg.sessions_per_ev_day,
            cfg.kwh_per_session,
            cfg.charger,
            max_trip_min=cfg.max_trip_min,
            designs=None if cfg.designs is None else tuple(cfg.designs),
            min_served_share=cfg.min_served_share,
            weight=cfg.weight,
            car_kw={str(k): v for k, v in cfg.car_kw.items()},
        )
    return out
