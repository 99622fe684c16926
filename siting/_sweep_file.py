"""The sweep file: read a sweep definition, check it whole and expand it into tasks.

:func:`load_sweep` reads the TOML file (see :mod:`siting.sweep` for its form), checks
every field, key and value against the base scenario and turns the grid and the listed
scenarios into :class:`Task` s of a :class:`Sweep`; nothing runs here
(:func:`siting.sweep.run_sweep` runs them). The names are exported from
:mod:`siting.sweep`.
"""

from __future__ import annotations

import hashlib
import itertools
import json
import re
import tomllib
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from siting import settings
from siting.errors import InputError, MissingFileError, ScenarioError
from siting.scenario import Scenario, load_scenario
from siting.sections import folder_name

#: Makes the error of one sweep file from a message (``sweep <path>: <message>``).
Fail = Callable[[str], ScenarioError]


@dataclass(frozen=True)
class Task:
    """One scenario of a sweep."""

    id: str
    overrides: dict[str, Any]
    scenario: Scenario | None  # None: the overrides do not make a valid scenario
    error: str | None = None


@dataclass
class Sweep:
    """A parsed sweep file."""

    name: str
    base: Scenario
    tasks: list[Task]
    keys: list[str]  # swept fields, in order


def load_sweep(path: Path | str) -> Sweep:
    """Read a sweep file, check it and expand it into tasks.

    Every grid key and every key of a ``[[scenarios]]`` entry must be a scenario
    field, and every value a valid value of it (:meth:`Scenario.check_override`);
    scenarios must differ and have folder names of their own. A combination that
    breaks only a rule between fields (a threshold above the travel cutoff) becomes
    a failed task, and the others still run.

    Raises
    ------
    InputError
        The file is missing, not TOML, or a field, key or value is wrong; one line
        naming it (``[grid]`` or the ``[[scenarios]]`` entry, and the field).
    """
    path = Path(path)
    if not path.is_file():
        raise MissingFileError(f"sweep file not found: {path}")
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise ScenarioError(f"sweep {path}: not valid TOML: {exc}") from None

    def fail(message: str) -> ScenarioError:
        return ScenarioError(f"sweep {path}: {message}")

    name, base = _header(path, data, fail)
    grid, listed = _overrides(base, data, fail)
    combos = expand(grid, listed)
    if not combos:
        raise fail("no scenarios (give a [grid] or [[scenarios]])")
    keys = list(dict.fromkeys(k for c in combos for k in c))
    return Sweep(name, base, _tasks(base, combos, listed, fail), keys)


def _header(path: Path, data: dict[str, Any], fail: Fail) -> tuple[str, Scenario]:
    """The sweep's top-level fields checked: its name and its base scenario, read."""
    unknown = set(data) - {"name", "base", "grid", "scenarios", "description"}
    if unknown:
        known = "name, base, grid, scenarios, description"
        raise fail(f"unknown field {sorted(unknown)[0]!r} (known: {known})")
    for key in ("name", "base", "description"):
        if key in data and not isinstance(data[key], str):
            raise fail(f"field {key!r}: expected a string, got {data[key]!r}")
    name = data.get("name", path.stem)
    try:
        folder_name(name)
    except ValueError as exc:
        raise fail(f"field 'name': {exc}, got {name!r}") from None
    base_path = (
        (path.parent / data["base"]).resolve() if "base" in data else settings.DEFAULT_SCENARIO
    )
    return name, load_scenario(base_path)


def _overrides(
    base: Scenario, data: dict[str, Any], fail: Fail
) -> tuple[dict[str, list[Any]], list[dict[str, Any]]]:
    """The ``[grid]`` and the ``[[scenarios]]`` entries, every key and value checked
    against the base scenario's fields."""
    grid = data.get("grid", {})
    listed = data.get("scenarios", [])
    if not isinstance(grid, dict):
        raise fail(f"[grid]: expected a table of field = [values], got {grid!r}")
    if not isinstance(listed, list) or not all(isinstance(x, dict) for x in listed):
        raise fail("[[scenarios]] must be a list of tables of overrides")
    for key, values in grid.items():
        if not isinstance(values, list) or not values:
            raise fail(
                f"[grid]: field {key!r}: expected a non-empty list of values, got {values!r}"
            )
        for value in values:
            _check(base, key, value, fail, "[grid]")
        for i, value in enumerate(values):
            if value in values[:i]:
                raise fail(f"[grid]: field {key!r}: {value!r} is listed twice")
    for n, entry in enumerate(listed, 1):
        for key, value in entry.items():
            where = f"[[scenarios]] entry {n}"
            if key in grid:
                raise fail(
                    f"{where}: field {key!r} is also in [grid], whose values would replace it"
                )
            _check(base, key, value, fail, where)
    return grid, listed


def _tasks(
    base: Scenario, combos: list[dict[str, Any]], listed: list[dict[str, Any]], fail: Fail
) -> list[Task]:
    """One task per combination; two combinations in one folder are refused, naming
    where each comes from."""
    # where each combination comes from, in the order of expand()
    per_entry = max(1, len(combos) // max(1, len(listed)))
    origins = [
        f"[[scenarios]] entry {k // per_entry + 1}" if listed else "[grid]"
        for k in range(len(combos))
    ]
    tasks: list[Task] = []
    seen: dict[str, int] = {}
    for k, overrides in enumerate(combos):
        task_id = scenario_id(overrides)
        if task_id in seen:
            j = seen[task_id]
            first, other = combos[j], overrides
            same = origins[j] == origins[k]
            who = f"{origins[j]} makes" if same else f"{origins[j]} and {origins[k]} make"
            if first == other:
                raise fail(f"{who} the same scenario {task_id!r}{' twice' if same else ''}")
            raise fail(
                f"{who} two scenarios with the folder name {task_id!r}: "
                f"{json.dumps(first, default=str)} and {json.dumps(other, default=str)}"
            )
        seen[task_id] = k
        try:
            sc = base.with_overrides({**overrides, "name": task_id})
            tasks.append(Task(task_id, overrides, sc))
        except InputError as exc:
            tasks.append(Task(task_id, overrides, None, f"{type(exc).__name__}: {exc}"))
    return tasks


def _check(base: Scenario, key: str, value: Any, fail: Fail, where: str) -> None:
    """Check one override of the sweep file against the base scenario's fields."""
    try:
        base.check_override(key, value)
    except ScenarioError as exc:
        raise fail(f"{where}: {exc}") from None


def expand(grid: dict[str, list[Any]], listed: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Every grid combination, crossed with every listed scenario (either may be empty)."""
    if not grid and not listed:
        return []
    points = [dict(zip(grid, values, strict=True)) for values in itertools.product(*grid.values())]
    if not listed:
        return points
    return [{**item, **point} for item in listed for point in (points or [{}])]


def scenario_id(overrides: dict[str, Any]) -> str:
    """A readable, stable folder name for a set of overrides."""
    if not overrides:
        return "base"
    parts = []
    for key, value in overrides.items():
        if isinstance(value, list):
            text = "-".join(str(v) for v in value) or "none"
        else:
            text = value if isinstance(value, str) else json.dumps(value, default=str)
        parts.append(f"{key.split('.')[-1]}-{text}")
    slug = re.sub(r"[^A-Za-z0-9_.\-]+", "_", "__".join(parts)).strip("_")
    if len(slug) > 80:
        digest = hashlib.sha256(json.dumps(overrides, sort_keys=True).encode()).hexdigest()[:8]
        slug = f"{slug[:70]}-{digest}"
    return slug
