"""On-disk caches of the costly stages: road graph, demand layers, travel times.

Each entry is one file ``<root>/<kind>/<kind>-<key>.pkl`` whose key is a hash of
everything the stage depends on (input file contents, parameters, library
versions), so a changed input never reads a stale entry. The file starts with a
header line::

    SITING-CACHE <format> <kind> <key> <sha256 of the payload> <payload bytes>

followed by the pickled payload. The checksum is verified *before* unpickling:
a truncated, overwritten or foreign file is reported as a warning, deleted and
rebuilt by the caller, never half-read. Writes go to a temporary file renamed
into place, so a run killed while writing leaves the previous entry (or none).
"""

from __future__ import annotations

import contextlib
import hashlib
import logging
import os
import pickle
import tempfile
import warnings
from pathlib import Path
from typing import Any

from siting import settings

log = logging.getLogger(__name__)

#: Bump when the header or the payload layout changes.
FORMAT = 1
_MAGIC = b"SITING-CACHE"


class CacheWarning(UserWarning):
    """A cache entry was unreadable and is being rebuilt, or could not be written."""


def entry_path(root: Path, kind: str, key: str) -> Path:
    """File of the ``kind`` entry with ``key`` under ``root``."""
    return root / kind / f"{kind}-{key}.pkl"


def load(root: Path, kind: str, key: str) -> Any | None:
    """The cached object, or ``None`` when absent or unusable.

    An unusable file (truncated, corrupted, another key or format) raises a
    :class:`CacheWarning` naming it, is deleted, and ``None`` is returned so that
    the caller rebuilds the entry.
    """
    path = entry_path(root, kind, key)
    if not path.exists():
        return None
    try:
        with path.open("rb") as fh:
            header = fh.readline(512)
            payload = fh.read()
        obj = _decode(header, payload, kind, key)
    except Exception as exc:
        warnings.warn(
            f"{kind} cache {path} is unreadable ({exc}); rebuilding it",
            CacheWarning,
            stacklevel=2,
        )
        with contextlib.suppress(OSError):
            path.unlink(missing_ok=True)
        return None
    log.info("%s: cached %s", kind, path.name)
    return obj


def save(root: Path, kind: str, key: str, obj: Any) -> Path | None:
    """Write ``obj`` as the ``kind`` entry with ``key`` (atomically); its path.

    A cache that cannot be written (a file in its place, read-only, disk full) is
    a :class:`CacheWarning`, not a failure: the run goes on uncached and None is
    returned.
    """
    path = entry_path(root, kind, key)
    try:
        return _write(path, kind, key, obj)
    except OSError as exc:
        warnings.warn(
            f"{kind} cache: cannot write {path} ({exc.strerror or exc}); going on without it "
            f"(set {settings.CACHE_DIR_ENV} to a writable folder, or network.cache = false)",
            CacheWarning,
            stacklevel=2,
        )
        return None


def _write(path: Path, kind: str, key: str, obj: Any) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    payload = pickle.dumps(obj, protocol=pickle.HIGHEST_PROTOCOL)
    digest = hashlib.sha256(payload).hexdigest()
    header = b"%s %d %s %s %s %d\n" % (
        _MAGIC,
        FORMAT,
        kind.encode(),
        key.encode(),
        digest.encode(),
        len(payload),
    )
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=path.name, suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(header)
            fh.write(payload)
        Path(tmp).replace(path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return path


def _decode(header: bytes, payload: bytes, kind: str, key: str) -> Any:
    parts = header.split()
    if len(parts) != 6 or parts[0] != _MAGIC:
        raise ValueError("not a siting cache file")
    fmt, f_kind, f_key, digest, size = parts[1:]
    if int(fmt) != FORMAT:
        raise ValueError(f"cache format {fmt.decode()}, expected {FORMAT}")
    if f_kind.decode() != kind or f_key.decode() != key:
        raise ValueError("entry written for another key")
    if len(payload) != int(size):
        raise ValueError(f"truncated: {len(payload)} of {int(size)} bytes")
    if hashlib.sha256(payload).hexdigest() != digest.decode():
        raise ValueError("checksum mismatch")
    return pickle.loads(payload)
