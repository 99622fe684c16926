"""Private: proven plans kept on disk, so that a run solving a model it solved before
(same instance, same solver options, same solver code) reads the plan instead.

A model's key is a digest of everything it holds (arrays by their bytes, sparse
matrices by their structure and values, sets sorted, mappings by their items), the
solver, gap tolerance and threads, the package's version and the source of
:mod:`siting.optimize`: a changed instance or solver code never reads a stale plan.
Only plans proven optimal are kept: one stopped by a time limit depends on the
machine and its load, and another run may do better. A plan read from the cache
says so (``extra["cached"]``), with the time its solve took when it was made.
"""

from __future__ import annotations

import dataclasses
import functools
import hashlib
import logging
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import numpy as np
import scipy.sparse as sp

from siting import _cache
from siting._version import __version__
from siting.optimize.options import SolveOptions
from siting.optimize.result import SolveResult

log = logging.getLogger(__name__)

#: Bump when the cached results change in content or layout.
_FORMAT = 1
KIND = "solve"


def solved(
    model: Any,
    options: SolveOptions,
    *,
    cache_root: Path | None,
    solve: Callable[[], SolveResult] | None = None,
) -> SolveResult:
    """``model.solve(options)`` (or ``solve()``), read from ``cache_root`` when the
    same model was proven optimal before, and kept there when it is now."""
    run = solve or (lambda: model.solve(options))
    if cache_root is None:
        return run()
    try:
        key = model_key(model, options)
    except TypeError as exc:  # a model holding something without a stable digest
        log.debug("solve cache: no key (%s)", exc)
        return run()
    hit = _cache.load(cache_root, KIND, key)
    if isinstance(hit, SolveResult):
        log.info("solve cache: %s read (proven %s, solved in %.1f s)", key, hit.status, hit.solve_s)
        return dataclasses.replace(hit, extra={**hit.extra, "cached": True})
    res = run()
    if res.status == "optimal":
        _cache.save(cache_root, KIND, key, res)
    return res


def model_key(model: Any, options: SolveOptions) -> str:
    """The cache key of solving ``model`` with ``options`` (see the module docstring)."""
    h = hashlib.sha256()
    for part in (
        KIND,
        str(_FORMAT),
        __version__,
        _source_digest(),
        type(model).__qualname__,
        options.solver,
        repr(options.gap),
        repr(options.threads),
        options.mip_lp,
    ):
        h.update(part.encode())
        h.update(b"\0")
    # what a solve leaves on the model (``last_secondary``) is not part of it
    _feed(h, {k: v for k, v in vars(model).items() if not k.startswith("last_")})
    return h.hexdigest()[:24]


def _feed(h: Any, obj: Any) -> None:
    """Add a canonical form of ``obj`` to the hash ``h``; TypeError for anything
    whose form is not stable between processes (a function, an open file)."""
    if obj is None or isinstance(obj, (bool, int, float, str)):
        h.update(f"{type(obj).__name__}:{obj!r};".encode())
    elif isinstance(obj, np.ndarray):
        h.update(f"nd{obj.dtype.str}{obj.shape};".encode())
        if obj.dtype == object:
            _feed(h, obj.tolist())
        else:
            h.update(np.ascontiguousarray(obj).tobytes())
    elif isinstance(obj, np.generic):
        _feed(h, obj.item())
    elif sp.issparse(obj):
        m = sp.csr_array(obj)
        h.update(f"sp{m.shape};".encode())
        for a in (m.indptr, m.indices, m.data):
            _feed(h, np.asarray(a))
    elif isinstance(obj, Mapping):
        h.update(f"map{len(obj)};".encode())
        for k in sorted(obj, key=repr):
            _feed(h, k)
            _feed(h, obj[k])
    elif isinstance(obj, (set, frozenset)):
        h.update(f"set{len(obj)};".encode())
        for k in sorted(obj, key=repr):
            _feed(h, k)
    elif isinstance(obj, (list, tuple)):
        h.update(f"seq{len(obj)};".encode())
        for k in obj:
            _feed(h, k)
    elif dataclasses.is_dataclass(obj) and not isinstance(obj, type):
        h.update(f"dc{type(obj).__qualname__};".encode())
        _feed(h, {f.name: getattr(obj, f.name) for f in dataclasses.fields(obj)})
    elif hasattr(obj, "__dict__") and type(obj).__module__.startswith("siting."):
        h.update(f"obj{type(obj).__qualname__};".encode())
        _feed(h, vars(obj))
    else:
        raise TypeError(f"no stable digest for {type(obj).__qualname__}")


@functools.cache
def _source_digest() -> str:
    """SHA-256 of the solver library's source files (:mod:`siting.optimize`)."""
    root = Path(__file__).parent / "optimize"
    h = hashlib.sha256()
    for path in sorted(root.rglob("*.py")):
        h.update(path.relative_to(root).as_posix().encode())
        h.update(path.read_bytes())
    return h.hexdigest()
