"""Output folders written whole: a temporary folder renamed into place.

A run writes into ``.NAME.partial-PID-*`` beside the destination and renames it to
the destination only when everything is written; the previous folder is moved
aside and deleted. Folders left by a killed process are cleared by the next run.
Runs into the same folder swap it one at a time, and the folder gets the
permissions of any file the user writes (the umask).

Only a folder that holds siting output of the same kind (a run, a comparison, a
sweep), or an empty one, is ever replaced (:func:`check_target`): a user's folder,
the data folder or the folder of a run being compared is refused, and so is the
current folder or one above it. Each output folder carries a small marker file,
:data:`MARKER`, naming its kind.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import logging
import os
import re
import shutil
import tempfile
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

from siting.errors import InputError

log = logging.getLogger(__name__)

#: The file in every output folder naming what wrote it (``{"kind": "run"}``).
MARKER = ".siting-output.json"

#: Files that mark an output folder written before the marker existed, per kind.
_LEGACY = {
    "run": ("kpis.json", "run.log"),
    "comparison": ("comparison.md", "summary.csv"),
    "sweep": ("results.csv",),
}


@dataclass(frozen=True)
class Protected:
    """A folder an output must never replace: ``what`` names it in the message;
    with ``inside=False`` an output inside it is refused as well."""

    path: Path
    what: str
    inside: bool = True


def scenario_folders(data_path: Path, base_dir: Path) -> list[Protected]:
    """The folders a scenario's output must never replace: its data folder and the
    repository's ``data/`` (nor be written inside them), and its own folder."""
    from siting import settings

    return [
        Protected(data_path, "the data folder", inside=False),
        Protected(settings.PACKAGE_ROOT / "data", "siting's data folder", inside=False),
        Protected(base_dir, "the scenario's folder"),
    ]


def output_kind(folder: Path) -> str | None:
    """The kind of siting output ``folder`` holds (``run``, ``comparison``, ``sweep``),
    or None when it holds none."""
    try:
        kind = json.loads((folder / MARKER).read_text(encoding="utf-8")).get("kind")
    except (OSError, ValueError, AttributeError):
        kind = None
    if isinstance(kind, str):
        return kind
    for name, files in _LEGACY.items():
        if all((folder / f).is_file() for f in files):
            return name
    return None


def write_marker(folder: Path, kind: str) -> None:
    """Mark ``folder`` as siting output of ``kind``."""
    (folder / MARKER).write_text(json.dumps({"kind": kind}) + "\n", encoding="utf-8")


def check_target(
    dest: Path, kind: str, *, field: str = "out", protect: Iterable[Protected] = ()
) -> Path:
    """Refuse an output folder that a run of ``kind`` must not replace; return it resolved.

    ``dest`` may be new, empty, or hold siting output of the same ``kind``. It may not
    be (or hold) the current folder, a file, a folder of other files, or one of
    ``protect``.

    Raises
    ------
    InputError
        Naming ``field``, the folder and why.
    """
    raw = str(dest)
    name = raw.rstrip("/").rsplit("/", 1)[-1]
    if raw.strip() == "" or name in ("", ".", ".."):
        raise InputError(f"{field}: expected a folder name, got {raw!r}")
    real = Path(dest).expanduser().resolve()
    here = Path.cwd().resolve()
    if real == here or real in here.parents or real == Path.home().resolve():
        raise InputError(
            f"{field}: {dest} holds the current folder (or is your home); "
            "expected a folder of its own"
        )
    for p in protect:
        keep = Path(p.path).expanduser().resolve()
        if real == keep or real in keep.parents or (not p.inside and keep in real.parents):
            raise InputError(
                f"{field}: {dest} would replace {p.what} ({keep}); choose another folder"
            )
    if real.exists() and not real.is_dir():
        raise InputError(f"{field}: {dest} exists and is not a folder")
    missing = new_folders(real.parent)
    up = missing[-1].parent if missing else real.parent  # the nearest that exists
    if not up.is_dir():
        raise InputError(f"{field}: cannot make the folder {real.parent}: {up} is a file")
    if not os.access(up, os.W_OK | os.X_OK):
        raise InputError(f"{field}: cannot write in {up}: permission denied")
    if real.is_dir():
        found = output_kind(real)
        if found is not None and found != kind:
            raise InputError(
                f"{field}: {dest} holds a siting {found}, not a {kind}; choose another folder"
            )
        if found is None:
            try:
                entries = sorted(e.name for e in real.iterdir())
            except OSError as exc:
                raise InputError(f"{field}: cannot read {dest}: {exc.strerror}") from None
            if entries:
                shown = ", ".join(entries[:3]) + (", ..." if len(entries) > 3 else "")
                raise InputError(
                    f"{field}: {dest} is not empty and holds no siting {kind} ({shown}); "
                    "expected a new or empty folder, or an earlier output to replace"
                )
    return real


def new_folders(folder: Path) -> list[Path]:
    """``folder`` and its parents that do not exist yet, deepest first."""
    missing = []
    up = Path(folder)
    while not up.exists() and up != up.parent:
        missing.append(up)
        up = up.parent
    return missing


@contextlib.contextmanager
def created_parents(folder: Path, *, field: str = "out") -> Iterator[None]:
    """Make ``folder``'s missing parents; remove the ones made if the block fails.

    Raises
    ------
    InputError
        When a parent cannot be made (read-only, a file in the way).
    """
    missing = new_folders(Path(folder).parent)
    try:
        folder.parent.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        remove_empty(missing)
        raise InputError(
            f"{field}: cannot make the folder {folder.parent}: {exc.strerror or exc}"
        ) from None
    try:
        yield
    except BaseException:
        remove_empty(missing)
        raise


def remove_empty(folders: list[Path]) -> None:
    """Remove ``folders`` (deepest first) while they are empty."""
    for f in folders:
        try:
            f.rmdir()
        except OSError:
            return


@contextlib.contextmanager
def atomic_dir(
    dest: Path,
    *,
    kind: str = "run",
    field: str = "out",
    protect: Iterable[Protected] = (),
) -> Iterator[Path]:
    """Yield a temporary folder that replaces ``dest`` only if the block succeeds.

    ``dest`` is checked first (:func:`check_target`: new, empty, or siting output of
    the same ``kind``); the folder written carries the marker of ``kind``. The
    temporary folders carry the process id; folders left by a process that was
    killed outright (SIGKILL, power loss) are cleaned up by the next run into the
    same ``dest`` (see :func:`clean_stale`). Parent folders made for ``dest`` are
    removed again if the block fails.
    """
    dest = check_target(Path(dest), kind, field=field, protect=protect)
    with created_parents(dest, field=field):
        clean_stale(dest)
        pid = os.getpid()
        try:
            tmp = Path(tempfile.mkdtemp(prefix=f".{dest.name}.partial-{pid}-", dir=dest.parent))
        except OSError as exc:
            raise InputError(f"{field}: cannot write in {dest.parent}: {exc.strerror}") from None
        # mkdtemp makes a private folder (0700); the output is read like any file the
        # user writes (a planning server's other users, a web server publishing maps)
        tmp.chmod(0o777 & ~_umask())
        try:
            yield tmp
            write_marker(tmp, kind)
        except BaseException:
            shutil.rmtree(tmp, ignore_errors=True)
            raise
        old = None
        # runs into the same folder swap it one at a time: the last to finish wins whole
        with _locked(dest.parent):
            if dest.exists():
                try:  # still ours to replace (nothing else moved in while the run ran)
                    check_target(dest, kind, field=field, protect=protect)
                except InputError:
                    shutil.rmtree(tmp, ignore_errors=True)
                    raise
                old = Path(tempfile.mkdtemp(prefix=f".{dest.name}.old-{pid}-", dir=dest.parent))
                dest.replace(old / dest.name)
            Path(tmp).replace(dest)
        if old is not None:
            shutil.rmtree(old, ignore_errors=True)


@contextlib.contextmanager
def _locked(folder: Path) -> Iterator[None]:
    """An exclusive lock on ``folder`` itself (flock on its descriptor; no lock file)."""
    fd = os.open(folder, os.O_RDONLY)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)  # closing releases the lock


def _umask() -> int:
    """The process's umask, read without changing it where the system says it."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("Umask:"):
                return int(line.split()[1], 8)
    except OSError:
        pass
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


def clean_stale(dest: Path) -> None:
    """Remove temporary folders of ``dest`` left by processes no longer running.

    A partial folder is deleted; a folder holding the previous output (killed
    between the two renames) is put back if ``dest`` is missing.
    """
    for folder in sorted(dest.parent.glob(f".{dest.name}.*-*-*")):
        match = re.fullmatch(rf"\.{re.escape(dest.name)}\.(partial|old)-(\d+)-\w+", folder.name)
        if not match or _alive(int(match.group(2))):
            continue
        previous = folder / dest.name
        if match.group(1) == "old" and previous.is_dir() and not dest.exists():
            previous.replace(dest)
            log.warning("%s: restored the previous output left by an interrupted run", dest)
        else:
            log.warning("%s: removed %s left by an interrupted run", dest, folder.name)
        shutil.rmtree(folder, ignore_errors=True)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True
